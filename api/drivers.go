package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/mail"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// DriverGroup groups drivers (a fleet, a staff plan) for tariffs.
type DriverGroup struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Driver is a person who charges.
type Driver struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	GroupID   string    `json:"group_id,omitempty" doc:"The driver's group, whose tariffs apply to the driver's tokens that name no group of their own."`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Token identifies a driver at a charger: an RFID card's UID or an app's
// token. Only ACCEPTED tokens that have not expired are quoted and
// authorised.
type Token struct {
	ID        string     `json:"id"`
	UID       string     `json:"uid" doc:"Unique in the tenant; the OCPP idTag or OCPI token uid."`
	Type      string     `json:"type" doc:"OCPI TokenType."`
	DriverID  string     `json:"driver_id,omitempty"`
	GroupID   string     `json:"group_id,omitempty" doc:"The group whose tariffs apply; when absent, the driver's group."`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

type groupBody struct {
	Name string `json:"name" minLength:"1" maxLength:"255"`
}

type groupPatch struct {
	Name *string `json:"name,omitempty" minLength:"1" maxLength:"255"`
}

type driverCreate struct {
	Name    string `json:"name" minLength:"1" maxLength:"255"`
	Email   string `json:"email,omitempty" maxLength:"254"`
	GroupID string `json:"group_id,omitempty" maxLength:"64"`
}

// driverPatch: an empty email or group_id removes it.
type driverPatch struct {
	Name    *string `json:"name,omitempty" minLength:"1" maxLength:"255"`
	Email   *string `json:"email,omitempty" maxLength:"254" doc:"An empty string removes the email."`
	GroupID *string `json:"group_id,omitempty" maxLength:"64" doc:"An empty string removes the driver from its group."`
}

type tokenCreate struct {
	UID       string     `json:"uid" minLength:"1" maxLength:"36" doc:"OCPI CiString(36)."`
	Type      string     `json:"type" enum:"RFID,APP_USER,AD_HOC_USER,OTHER"`
	DriverID  string     `json:"driver_id,omitempty" maxLength:"64"`
	GroupID   string     `json:"group_id,omitempty" maxLength:"64"`
	Status    string     `json:"status,omitempty" enum:"ACCEPTED,BLOCKED,EXPIRED" default:"ACCEPTED"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// tokenPatch: an empty driver_id or group_id removes it; a null
// expires_at removes the expiry.
type tokenPatch struct {
	UID       *string    `json:"uid,omitempty" minLength:"1" maxLength:"36"`
	Type      *string    `json:"type,omitempty" enum:"RFID,APP_USER,AD_HOC_USER,OTHER"`
	DriverID  *string    `json:"driver_id,omitempty" maxLength:"64" doc:"An empty string removes the driver."`
	GroupID   *string    `json:"group_id,omitempty" maxLength:"64" doc:"An empty string removes the group."`
	Status    *string    `json:"status,omitempty" enum:"ACCEPTED,BLOCKED,EXPIRED"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" nullable:"true" doc:"null removes the expiry."`
}

func groupOut(g evbill.DriverGroup) DriverGroup {
	return DriverGroup{ID: g.ID, Name: g.Name, CreatedAt: utc(g.CreatedAt), UpdatedAt: utc(g.UpdatedAt)}
}

func driverOut(d evbill.Driver) Driver {
	return Driver{ID: d.ID, Name: d.Name, Email: d.Email, GroupID: d.GroupID, CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt)}
}

func tokenOut(t evbill.Token) Token {
	return Token{ID: t.ID, UID: t.UID, Type: t.Type, DriverID: t.DriverID, GroupID: t.GroupID, Status: t.Status,
		ExpiresAt: utcPtr(t.ExpiresAt), CreatedAt: utc(t.CreatedAt), UpdatedAt: utc(t.UpdatedAt)}
}

// checkEmail accepts a bare address (no display name, no angle brackets)
// that net/mail parses back to itself.
func checkEmail(fe *fieldErrors, email string) {
	if email == "" {
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		fe.add("body.email", "must be an email address such as driver@example.com")
	}
}

// isNull reports whether the request body sets the field to null, which
// decoding into a pointer cannot tell from the field's absence.
func isNull(ctx context.Context, field string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(rawBody(ctx), &m) != nil {
		return false
	}
	v, ok := m[field]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func (s *server) checkGroup(ctx context.Context, fe *fieldErrors, loc, id string) error {
	if id == "" {
		return nil
	}
	_, err := s.store.DriverGroup(ctx, tenantOf(ctx), id)
	return checkRef(fe, loc, "driver group", err)
}

func (s *server) checkDriver(ctx context.Context, fe *fieldErrors, loc, id string) error {
	if id == "" {
		return nil
	}
	_, err := s.store.Driver(ctx, tenantOf(ctx), id)
	return checkRef(fe, loc, "driver", err)
}

func (s *server) registerDrivers() {
	// Driver groups.
	register(s, huma.Operation{OperationID: "create-driver-group", Method: http.MethodPost, Path: Prefix + "/driver-groups", Summary: "Create a driver group",
		DefaultStatus: http.StatusCreated, Tags: []string{"Drivers"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body groupBody }) (*out[DriverGroup], error) {
			rec := evbill.DriverGroup{TenantID: tenantOf(ctx), Name: in.Body.Name}
			if err := s.store.CreateDriverGroup(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[DriverGroup]{groupOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "list-driver-groups", Method: http.MethodGet, Path: Prefix + "/driver-groups", Summary: "List driver groups",
		Tags: []string{"Drivers"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[DriverGroup]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.DriverGroup, error) {
				return s.store.ListDriverGroups(ctx, tenantOf(ctx), p)
			},
				func(r evbill.DriverGroup) string { return r.ID }, groupOut)
		})
	register(s, huma.Operation{OperationID: "get-driver-group", Method: http.MethodGet, Path: Prefix + "/driver-groups/{id}", Summary: "Get a driver group",
		Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[DriverGroup], error) {
			rec, err := s.store.DriverGroup(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[DriverGroup]{groupOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "update-driver-group", Method: http.MethodPatch, Path: Prefix + "/driver-groups/{id}", Summary: "Change a driver group",
		Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body groupPatch
		}) (*out[DriverGroup], error) {
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			rec, err := s.store.DriverGroup(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			set(&rec.Name, in.Body.Name)
			if err := s.store.UpdateDriverGroup(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[DriverGroup]{groupOut(rec)}, nil
		})

	// Drivers.
	register(s, huma.Operation{OperationID: "create-driver", Method: http.MethodPost, Path: Prefix + "/drivers", Summary: "Create a driver",
		DefaultStatus: http.StatusCreated, Tags: []string{"Drivers"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body driverCreate }) (*out[Driver], error) {
			b := in.Body
			var fe fieldErrors
			checkEmail(&fe, b.Email)
			if err := s.checkGroup(ctx, &fe, "body.group_id", b.GroupID); err != nil {
				return nil, err
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec := evbill.Driver{TenantID: tenantOf(ctx), Name: b.Name, Email: b.Email, GroupID: b.GroupID}
			if err := s.store.CreateDriver(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[Driver]{driverOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "list-drivers", Method: http.MethodGet, Path: Prefix + "/drivers", Summary: "List drivers",
		Tags: []string{"Drivers"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Driver]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.Driver, error) { return s.store.ListDrivers(ctx, tenantOf(ctx), p) },
				func(r evbill.Driver) string { return r.ID }, driverOut)
		})
	register(s, huma.Operation{OperationID: "get-driver", Method: http.MethodGet, Path: Prefix + "/drivers/{id}", Summary: "Get a driver",
		Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Driver], error) {
			rec, err := s.store.Driver(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Driver]{driverOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "update-driver", Method: http.MethodPatch, Path: Prefix + "/drivers/{id}", Summary: "Change a driver",
		Description: "Changes the fields present in the body; absent fields keep their value.",
		Tags:        []string{"Drivers"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body driverPatch
		}) (*out[Driver], error) {
			b := in.Body
			var fe fieldErrors
			if b.Email != nil {
				checkEmail(&fe, *b.Email)
			}
			if b.GroupID != nil {
				if err := s.checkGroup(ctx, &fe, "body.group_id", *b.GroupID); err != nil {
					return nil, err
				}
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			rec, err := s.store.Driver(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			set(&rec.Name, b.Name)
			set(&rec.Email, b.Email)
			set(&rec.GroupID, b.GroupID)
			if err := s.store.UpdateDriver(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[Driver]{driverOut(rec)}, nil
		})

	// Tokens.
	register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: Prefix + "/tokens", Summary: "Create a token",
		DefaultStatus: http.StatusCreated, Tags: []string{"Tokens"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body tokenCreate }) (*out[Token], error) {
			b := in.Body
			var fe fieldErrors
			if err := s.checkDriver(ctx, &fe, "body.driver_id", b.DriverID); err != nil {
				return nil, err
			}
			if err := s.checkGroup(ctx, &fe, "body.group_id", b.GroupID); err != nil {
				return nil, err
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			if b.Status == "" {
				b.Status = evbill.TokenAccepted
			}
			rec := evbill.Token{TenantID: tenantOf(ctx), UID: b.UID, Type: b.Type, DriverID: b.DriverID, GroupID: b.GroupID,
				Status: b.Status, ExpiresAt: utcPtr(b.ExpiresAt)}
			if err := s.store.CreateToken(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[Token]{tokenOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: Prefix + "/tokens", Summary: "List tokens",
		Tags: []string{"Tokens"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Token]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.Token, error) { return s.store.ListTokens(ctx, tenantOf(ctx), p) },
				func(r evbill.Token) string { return r.ID }, tokenOut)
		})
	register(s, huma.Operation{OperationID: "get-token", Method: http.MethodGet, Path: Prefix + "/tokens/{id}", Summary: "Get a token",
		Tags: []string{"Tokens"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Token], error) {
			rec, err := s.store.Token(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Token]{tokenOut(rec)}, nil
		})
	register(s, huma.Operation{OperationID: "update-token", Method: http.MethodPatch, Path: Prefix + "/tokens/{id}", Summary: "Change a token",
		Description: "Changes the fields present in the body; absent fields keep their value. Block a lost card with {\"status\":\"BLOCKED\"}.",
		Tags:        []string{"Tokens"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body tokenPatch
		}) (*out[Token], error) {
			b := in.Body
			var fe fieldErrors
			if b.DriverID != nil {
				if err := s.checkDriver(ctx, &fe, "body.driver_id", *b.DriverID); err != nil {
					return nil, err
				}
			}
			if b.GroupID != nil {
				if err := s.checkGroup(ctx, &fe, "body.group_id", *b.GroupID); err != nil {
					return nil, err
				}
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			rec, err := s.store.Token(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			set(&rec.UID, b.UID)
			set(&rec.Type, b.Type)
			set(&rec.DriverID, b.DriverID)
			set(&rec.GroupID, b.GroupID)
			set(&rec.Status, b.Status)
			switch {
			case b.ExpiresAt != nil:
				rec.ExpiresAt = utcPtr(b.ExpiresAt)
			case isNull(ctx, "expires_at"):
				rec.ExpiresAt = nil
			}
			if err := s.store.UpdateToken(ctx, &rec); err != nil {
				return nil, err
			}
			return &out[Token]{tokenOut(rec)}, nil
		})
}
