package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// Tenant is the operator the API key belongs to, with its settings.
type Tenant struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	AutoRegisterSiteID string    `json:"auto_register_site_id" doc:"When set, a charger that no tenant knows registers itself into this site on its first connection, keeping the password it presents (at least 16 characters). Empty (the default) refuses unknown chargers. Meant for demos and first installs: turn it off once the stations are known. If more than one tenant of the installation sets it, unknown chargers are refused, since their tenant is ambiguous."`
	CreatedAt          time.Time `json:"created_at"`
}

type tenantPatch struct {
	AutoRegisterSiteID *string `json:"auto_register_site_id,omitempty" maxLength:"64" doc:"A site of the tenant, or \"\" to refuse unknown chargers."`
}

func tenantOut(t evbill.Tenant) Tenant {
	return Tenant{ID: t.ID, Name: t.Name, AutoRegisterSiteID: t.AutoRegisterSiteID, CreatedAt: utc(t.CreatedAt)}
}

func (s *server) registerTenant() {
	register(s, huma.Operation{OperationID: "get-tenant", Method: http.MethodGet, Path: Prefix + "/tenant", Summary: "Get the tenant and its settings",
		Tags: []string{"Tenant"}}, auth.Read,
		func(ctx context.Context, _ *struct{}) (*out[Tenant], error) {
			t, err := s.store.Tenant(ctx, tenantOf(ctx))
			if err != nil {
				return nil, err
			}
			return &out[Tenant]{tenantOut(t)}, nil
		})

	register(s, huma.Operation{OperationID: "update-tenant", Method: http.MethodPatch, Path: Prefix + "/tenant", Summary: "Change the tenant's settings",
		Description: "Admins only: the settings decide which chargers may connect.",
		Tags:        []string{"Tenant"}}, auth.Configure,
		func(ctx context.Context, in *struct{ Body tenantPatch }) (*out[Tenant], error) {
			if site := in.Body.AutoRegisterSiteID; site != nil {
				if err := s.store.SetAutoRegisterSite(ctx, tenantOf(ctx), *site); err != nil {
					if evbill.ErrorCode(err) == evbill.ENOTFOUND && *site != "" {
						var fe fieldErrors
						fe.add("body.auto_register_site_id", "no site "+*site+" in this tenant")
						return nil, fe.err()
					}
					return nil, err
				}
			}
			t, err := s.store.Tenant(ctx, tenantOf(ctx))
			if err != nil {
				return nil, err
			}
			return &out[Tenant]{tenantOut(t)}, nil
		})
}
