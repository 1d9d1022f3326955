package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// APIKey is a tenant's credential as lists show it: never the secret, only
// its prefix.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Prefix    string    `json:"prefix" doc:"The first characters of the secret, to recognise the key."`
	CreatedAt time.Time `json:"created_at"`
}

// NewAPIKey is a key just created: the only response that ever contains
// its secret.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret" doc:"The key to send as Authorization: Bearer <secret>. Shown this once; store it now."`
}

type apiKeyCreate struct {
	Name string `json:"name" minLength:"1" maxLength:"100"`
	Role string `json:"role" enum:"admin,operator,finance,readonly"`
}

func apiKeyOut(k evbill.APIKey) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Role: string(k.Role), Prefix: k.Prefix, CreatedAt: utc(k.CreatedAt)}
}

func (s *server) registerAPIKeys() {
	s.noReplay["POST "+Prefix+"/api-keys"] = true
	register(s, huma.Operation{OperationID: "create-api-key", Method: http.MethodPost, Path: Prefix + "/api-keys", Summary: "Create an API key",
		Description:   "Admins only. The response holds the secret, which is stored only as a hash and cannot be shown again.",
		DefaultStatus: http.StatusCreated, Tags: []string{"API keys"}, Errors: []int{http.StatusConflict}}, auth.ManageKeys,
		func(ctx context.Context, in *struct{ Body apiKeyCreate }) (*out[NewAPIKey], error) {
			secret, prefix, hash := auth.NewAPIKey()
			k := evbill.APIKey{TenantID: tenantOf(ctx), Name: in.Body.Name, Role: evbill.Role(in.Body.Role), Prefix: prefix}
			if err := s.store.CreateAPIKey(ctx, &k, hash); err != nil {
				return nil, err
			}
			return &out[NewAPIKey]{NewAPIKey{APIKey: apiKeyOut(k), Secret: secret}}, nil
		})

	register(s, huma.Operation{OperationID: "list-api-keys", Method: http.MethodGet, Path: Prefix + "/api-keys", Summary: "List API keys",
		Description: "Admins only. Shows each key's prefix, never its secret.",
		Tags:        []string{"API keys"}}, auth.ManageKeys,
		func(ctx context.Context, in *listParams) (*out[ListBody[APIKey]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.APIKey, error) { return s.store.ListAPIKeys(ctx, tenantOf(ctx), p) },
				func(r evbill.APIKey) string { return r.ID }, apiKeyOut)
		})
}
