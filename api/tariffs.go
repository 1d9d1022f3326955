package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/tariff"
)

// Tariff is one version of a tariff. Versions never change: an update
// stores the next version, and whatever was priced keeps the version it
// was priced with.
type Tariff struct {
	ID        string          `json:"id"`
	Version   int             `json:"version" doc:"1 for the tariff as created, one more for each update."`
	Currency  string          `json:"currency" doc:"ISO 4217 code, from the document."`
	CreatedAt time.Time       `json:"created_at" doc:"When this version was stored; it applies to sessions starting from then on."`
	Tariff    json.RawMessage `json:"tariff" doc:"The OCPI 2.2.1 Tariff object as it was sent, unknown fields included."`
}

// ocpiTariff is the request body of tariff writes. Its schema is an open
// object: the document is validated by tariff.Parse, which knows OCPI,
// and every field, known or not, is kept. The handler stores the request
// body as received, not this value.
type ocpiTariff struct{}

// Schema describes the body as any JSON object, so huma neither rejects
// OCPI's fields nor other fields partners add.
func (ocpiTariff) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "An OCPI 2.2.1 Tariff object (https://github.com/ocpi/ocpi/blob/2.2.1/mod_tariffs.asciidoc#131-tariff-object)."}
}

// UnmarshalJSON accepts the document; the raw request body is what is used.
func (*ocpiTariff) UnmarshalJSON([]byte) error { return nil }

func tariffOut(v evbill.TariffVersion) Tariff {
	return Tariff{ID: v.TariffID, Version: v.Version, Currency: v.Currency, CreatedAt: utc(v.CreatedAt), Tariff: v.Document}
}

// parseTariff validates the request body with the pricing engine's own
// parser, so that whatever is stored can be priced.
func parseTariff(ctx context.Context) (*tariff.Tariff, []byte, error) {
	raw := rawBody(ctx)
	t, err := tariff.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	return t, raw, nil
}

func (s *server) registerTariffs() {
	register(s, huma.Operation{OperationID: "create-tariff", Method: http.MethodPost, Path: Prefix + "/tariffs", Summary: "Create a tariff",
		Description:   "Stores version 1 of a new tariff. The body is an OCPI 2.2.1 Tariff object; every rule it breaks is listed in the problem's errors, located at body.<JSON path>.",
		DefaultStatus: http.StatusCreated, Tags: []string{"Tariffs"}}, auth.Write,
		func(ctx context.Context, in *struct{ Body ocpiTariff }) (*out[Tariff], error) {
			t, raw, err := parseTariff(ctx)
			if err != nil {
				return nil, err
			}
			v := evbill.TariffVersion{TenantID: tenantOf(ctx), Currency: t.Currency.Code(), Document: raw}
			if err := s.store.CreateTariff(ctx, &v); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(v.TenantID)
			return &out[Tariff]{tariffOut(v)}, nil
		})

	register(s, huma.Operation{OperationID: "update-tariff", Method: http.MethodPut, Path: Prefix + "/tariffs/{id}", Summary: "Store a new version of a tariff",
		Description: "Stores the body as the tariff's next version. Earlier versions stay readable and keep pricing what they priced; the new version applies to sessions that start after it was stored.",
		Tags:        []string{"Tariffs"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body ocpiTariff
		}) (*out[Tariff], error) {
			ten := tenantOf(ctx)
			// 404 before 422: whether the tariff exists does not depend on
			// the body.
			if _, err := s.store.TariffVersion(ctx, ten, in.ID, 0); err != nil {
				return nil, err
			}
			t, raw, err := parseTariff(ctx)
			if err != nil {
				return nil, err
			}
			v := evbill.TariffVersion{TenantID: ten, TariffID: in.ID, Currency: t.Currency.Code(), Document: raw}
			if err := s.store.AddTariffVersion(ctx, &v); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Tariff]{tariffOut(v)}, nil
		})

	register(s, huma.Operation{OperationID: "list-tariffs", Method: http.MethodGet, Path: Prefix + "/tariffs", Summary: "List tariffs at their latest versions",
		Tags: []string{"Tariffs"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Tariff]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.TariffVersion, error) { return s.store.ListTariffs(ctx, tenantOf(ctx), p) },
				func(r evbill.TariffVersion) string { return r.TariffID }, tariffOut)
		})

	register(s, huma.Operation{OperationID: "get-tariff", Method: http.MethodGet, Path: Prefix + "/tariffs/{id}", Summary: "Get a tariff",
		Description: "Returns the latest version, or the one asked for with ?version=.",
		Tags:        []string{"Tariffs"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID      string `path:"id" maxLength:"64" doc:"The record's ID."`
			Version int    `query:"version" minimum:"1" maximum:"2147483647" doc:"The version to return; the latest when absent."`
		}) (*out[Tariff], error) {
			v, err := s.store.TariffVersion(ctx, tenantOf(ctx), in.ID, in.Version)
			if err != nil {
				return nil, err
			}
			return &out[Tariff]{tariffOut(v)}, nil
		})

	register(s, huma.Operation{OperationID: "list-tariff-versions", Method: http.MethodGet, Path: Prefix + "/tariffs/{id}/versions",
		Summary: "List every version of a tariff", Description: "Oldest first. A tariff has few versions, so the list is not paginated.",
		Tags: []string{"Tariffs"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[ListBody[Tariff]], error) {
			vs, err := s.store.ListTariffVersions(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			o := &out[ListBody[Tariff]]{}
			o.Body.Items = make([]Tariff, len(vs))
			for i, v := range vs {
				o.Body.Items[i] = tariffOut(v)
			}
			return o, nil
		})
}
