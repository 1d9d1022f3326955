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
	ID                 string         `json:"id"`
	Name               string         `json:"name"`
	AutoRegisterSiteID string         `json:"auto_register_site_id" doc:"When set, a charger that no tenant knows registers itself into this site on its first connection, keeping the password it presents (at least 16 characters). Empty (the default) refuses unknown chargers. Meant for demos and first installs: turn it off once the stations are known. If more than one tenant of the installation sets it, unknown chargers are refused, since their tenant is ambiguous."`
	Payments           TenantPayments `json:"payments" doc:"The amounts of the payments made at the start of the tenant's sessions, in minor units of each session's currency; 0 in a field means the server's default."`
	CreatedAt          time.Time      `json:"created_at"`
}

// TenantPayments are the tenant's amounts for the payments made at the
// start of its drivers' sessions. Each is in minor units of the session's
// currency (the currency of its tariff), and 0 means the server's default,
// so that a tenant overrides only what it needs to.
type TenantPayments struct {
	CardHold      int64 `json:"card_hold" doc:"The amount held on a driver's card at the start of a session, in minor units of the session's currency: enough for the longest session expected, since the session is stopped before its cost reaches the hold, and the cost, not the hold, is captured. 0 means the server's default, 5000 (50.00 in a currency of two decimals) unless the server is configured otherwise."`
	WalletMinimum int64 `json:"wallet_minimum" doc:"The least a driver's wallet must hold for a session to start, in minor units of the session's currency; a session on a wallet holding less is refused at the charger. 0 means the server's default, 500 (5.00 in a currency of two decimals) unless the server is configured otherwise."`
	AccountLimit  int64 `json:"account_limit" doc:"The most one session on a postpaid account may cost, in minor units of the session's currency: the session is stopped before its cost reaches it. 0 means the server's default, 100000 (1,000.00 in a currency of two decimals) unless the server is configured otherwise."`
}

type tenantPatch struct {
	AutoRegisterSiteID *string              `json:"auto_register_site_id,omitempty" maxLength:"64" doc:"A site of the tenant, or \"\" to refuse unknown chargers."`
	Payments           *tenantPaymentsPatch `json:"payments,omitempty" doc:"The payment settings to change: a field left out keeps its value, 0 returns it to the server's default."`
}

// tenantPaymentsPatch repeats the bounds of evbill.TenantPayments.Check
// that a schema can say, so that clients see them in the OpenAPI
// document; checkTenantPayments applies the one it cannot (a card hold is
// 0 or at least evbill.MinCardHold).
type tenantPaymentsPatch struct {
	CardHold      *int64 `json:"card_hold,omitempty" minimum:"0" maximum:"100000000" doc:"0 (the server's default) or from 100 to 100000000 minor units."`
	WalletMinimum *int64 `json:"wallet_minimum,omitempty" minimum:"0" maximum:"10000000" doc:"0 (the server's default) or up to 10000000 minor units."`
	AccountLimit  *int64 `json:"account_limit,omitempty" minimum:"0" maximum:"1000000000" doc:"0 (the server's default) or up to 1000000000 minor units."`
}

// apply returns cur with the fields the patch gives replaced.
func (p *tenantPaymentsPatch) apply(cur evbill.TenantPayments) evbill.TenantPayments {
	if p.CardHold != nil {
		cur.CardHold = *p.CardHold
	}
	if p.WalletMinimum != nil {
		cur.WalletMinimum = *p.WalletMinimum
	}
	if p.AccountLimit != nil {
		cur.AccountLimit = *p.AccountLimit
	}
	return cur
}

// checkTenantPayments checks each field on its own, so that every field
// out of bounds gets an error at its location, with the domain's message.
func checkTenantPayments(fe *fieldErrors, p evbill.TenantPayments) {
	for _, f := range []struct {
		location string
		alone    evbill.TenantPayments
	}{
		{"body.payments.card_hold", evbill.TenantPayments{CardHold: p.CardHold}},
		{"body.payments.wallet_minimum", evbill.TenantPayments{WalletMinimum: p.WalletMinimum}},
		{"body.payments.account_limit", evbill.TenantPayments{AccountLimit: p.AccountLimit}},
	} {
		if err := f.alone.Check(); err != nil {
			fe.add(f.location, err.Error())
		}
	}
}

func tenantOut(t evbill.Tenant) Tenant {
	return Tenant{ID: t.ID, Name: t.Name, AutoRegisterSiteID: t.AutoRegisterSiteID, CreatedAt: utc(t.CreatedAt),
		Payments: TenantPayments{CardHold: t.Payments.CardHold, WalletMinimum: t.Payments.WalletMinimum, AccountLimit: t.Payments.AccountLimit}}
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
		Description: "Admins only: the settings decide which chargers may connect and how much the payment of a driver's session may take.",
		Tags:        []string{"Tenant"}}, auth.Configure,
		func(ctx context.Context, in *struct{ Body tenantPatch }) (*out[Tenant], error) {
			ten := tenantOf(ctx)
			t, err := s.store.Tenant(ctx, ten)
			if err != nil {
				return nil, err
			}
			// Every field is checked before anything is written, so that a
			// refused request changes nothing and names all its errors.
			var fe fieldErrors
			site := in.Body.AutoRegisterSiteID
			if site != nil && *site != "" {
				if _, err := s.store.Site(ctx, ten, *site); evbill.ErrorCode(err) == evbill.ENOTFOUND {
					fe.add("body.auto_register_site_id", "no site "+*site+" in this tenant")
				} else if err != nil {
					return nil, err
				}
			}
			payments := t.Payments
			if in.Body.Payments != nil {
				payments = in.Body.Payments.apply(t.Payments)
				checkTenantPayments(&fe, payments)
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			if site != nil {
				if err := s.store.SetAutoRegisterSite(ctx, ten, *site); err != nil {
					return nil, err
				}
			}
			if payments != t.Payments {
				if err := s.store.SetTenantPayments(ctx, ten, payments); err != nil {
					return nil, err
				}
			}
			t, err = s.store.Tenant(ctx, ten)
			if err != nil {
				return nil, err
			}
			return &out[Tenant]{tenantOut(t)}, nil
		})
}
