package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// Station is a charge point. ChargePointID is its OCPP identity, unique in
// the tenant. The OCPP password is write-only: HasPassword tells whether
// one is set.
type Station struct {
	ID            string    `json:"id"`
	SiteID        string    `json:"site_id"`
	ChargePointID string    `json:"charge_point_id" doc:"The OCPP charge point identity."`
	Vendor        string    `json:"vendor"`
	Model         string    `json:"model"`
	CostDisplay   bool      `json:"cost_display" doc:"Whether evbill sends the station the driver's price and costs for its own display (OCPP 1.6 California Pricing DataTransfer messages)."`
	MeterKey      string    `json:"meter_public_key" doc:"The public key of the station's calibration-law meter, which signs its readings (OCMF): the hex of its DER SubjectPublicKeyInfo, as the transparency software takes it; empty when none is set."`
	HasPassword   bool      `json:"has_password" doc:"Whether an OCPP password is set (PUT /stations/{id}/password)."`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// chargePointIDPattern is the OCPP identity rule: 1 to 48 printable ASCII
// characters without ':' (it separates the identity from the password in
// Basic authentication) or '/' (the identity is the last segment of the
// WebSocket URL). Space is left out too: an identity in a URL that ends in
// a space is a support call, not an identity.
const chargePointIDPattern = `^[!-.0-9;-~]{1,48}$`

const chargePointIDRule = "1 to 48 printable ASCII characters without space, ':' or '/'"

type stationCreate struct {
	SiteID        string `json:"site_id" minLength:"1" maxLength:"64"`
	ChargePointID string `json:"charge_point_id" pattern:"^[!-.0-9;-~]{1,48}$" patternDescription:"1 to 48 printable ASCII characters without space, ':' or '/'"`
	Vendor        string `json:"vendor,omitempty" maxLength:"100"`
	Model         string `json:"model,omitempty" maxLength:"100"`
	CostDisplay   bool   `json:"cost_display,omitempty" doc:"Send the station the driver's price at Authorize, the running cost during the session and the final cost after it (OCPP 1.6 California Pricing: DataTransfer, vendorId org.openchargealliance.costmsg). Only for chargers that support it; off by default."`
	MeterKey      string `json:"meter_public_key,omitempty" maxLength:"4096" doc:"The public key of the station's calibration-law meter, which signs its readings (OCMF), so that receipts can say whether they verify: the hex of its DER SubjectPublicKeyInfo (as the transparency software and meter labels give it) or a PEM PUBLIC KEY block; stored as upper-case hex. ECDSA on secp256r1 (P-256) or secp384r1 (P-384) only: Go's standard library has no brainpool or secp256k1 curves, so such keys are refused."`
}

type stationPatch struct {
	SiteID        *string `json:"site_id,omitempty" minLength:"1" maxLength:"64"`
	ChargePointID *string `json:"charge_point_id,omitempty" pattern:"^[!-.0-9;-~]{1,48}$" patternDescription:"1 to 48 printable ASCII characters without space, ':' or '/'"`
	Vendor        *string `json:"vendor,omitempty" maxLength:"100"`
	Model         *string `json:"model,omitempty" maxLength:"100"`
	CostDisplay   *bool   `json:"cost_display,omitempty" doc:"Send the station the driver's price at Authorize, the running cost during the session and the final cost after it (OCPP 1.6 California Pricing: DataTransfer, vendorId org.openchargealliance.costmsg). Only for chargers that support it; off by default."`
	MeterKey      *string `json:"meter_public_key,omitempty" maxLength:"4096" doc:"The public key of the station's calibration-law meter, which signs its readings (OCMF), so that receipts can say whether they verify: the hex of its DER SubjectPublicKeyInfo (as the transparency software and meter labels give it) or a PEM PUBLIC KEY block; stored as upper-case hex. ECDSA on secp256r1 (P-256) or secp384r1 (P-384) only: Go's standard library has no brainpool or secp256k1 curves, so such keys are refused. An empty string removes the key."`
}

type stationPassword struct {
	Password string `json:"password" minLength:"16" maxLength:"40" writeOnly:"true" doc:"The OCPP Basic authentication password, 16 to 40 characters. Stored hashed, never returned."`
}

func stationOut(s evbill.Station) Station {
	return Station{ID: s.ID, SiteID: s.SiteID, ChargePointID: s.ChargePointID, Vendor: s.Vendor, Model: s.Model,
		CostDisplay: s.CostDisplay, MeterKey: s.MeterPublicKey, HasPassword: s.HasPassword, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)}
}

func (s *server) registerStations() {
	register(s, huma.Operation{OperationID: "create-station", Method: http.MethodPost, Path: Prefix + "/stations", Summary: "Create a station",
		DefaultStatus: http.StatusCreated, Tags: []string{"Stations"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body stationCreate }) (*out[Station], error) {
			b, ten := in.Body, tenantOf(ctx)
			var fe fieldErrors
			_, err := s.store.Site(ctx, ten, b.SiteID)
			if err := checkRef(&fe, "body.site_id", "site", err); err != nil {
				return nil, err
			}
			key := meterKey(&fe, "body.meter_public_key", b.MeterKey)
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec := evbill.Station{TenantID: ten, SiteID: b.SiteID, ChargePointID: b.ChargePointID, Vendor: b.Vendor, Model: b.Model,
				CostDisplay: b.CostDisplay, MeterPublicKey: key}
			if err := s.store.CreateStation(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Station]{stationOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "list-stations", Method: http.MethodGet, Path: Prefix + "/stations", Summary: "List stations", Tags: []string{"Stations"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Station]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.Station, error) { return s.store.ListStations(ctx, tenantOf(ctx), p) },
				func(r evbill.Station) string { return r.ID }, stationOut)
		})

	register(s, huma.Operation{OperationID: "get-station", Method: http.MethodGet, Path: Prefix + "/stations/{id}", Summary: "Get a station",
		Tags: []string{"Stations"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Station], error) {
			rec, err := s.store.Station(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Station]{stationOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "update-station", Method: http.MethodPatch, Path: Prefix + "/stations/{id}", Summary: "Change a station",
		Description: "Changes the fields present in the body; absent fields keep their value.",
		Tags:        []string{"Stations"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body stationPatch
		}) (*out[Station], error) {
			b, ten := in.Body, tenantOf(ctx)
			defer s.records.lock(ten + "\x00" + in.ID)()
			rec, err := s.store.Station(ctx, ten, in.ID)
			if err != nil {
				return nil, err
			}
			var fe fieldErrors
			if b.SiteID != nil && *b.SiteID != rec.SiteID {
				_, err := s.store.Site(ctx, ten, *b.SiteID)
				if err := checkRef(&fe, "body.site_id", "site", err); err != nil {
					return nil, err
				}
			}
			if b.MeterKey != nil {
				key := meterKey(&fe, "body.meter_public_key", *b.MeterKey)
				b.MeterKey = &key
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			set(&rec.SiteID, b.SiteID)
			set(&rec.ChargePointID, b.ChargePointID)
			set(&rec.Vendor, b.Vendor)
			set(&rec.Model, b.Model)
			set(&rec.CostDisplay, b.CostDisplay)
			set(&rec.MeterPublicKey, b.MeterKey)
			if err := s.store.UpdateStation(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Station]{stationOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "set-station-password", Method: http.MethodPut, Path: Prefix + "/stations/{id}/password",
		Summary:       "Set a station's OCPP password",
		Description:   "Sets the password the station presents in OCPP Basic authentication. It is stored as a salted PBKDF2 hash and never returned.",
		DefaultStatus: http.StatusNoContent, Tags: []string{"Stations"}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body stationPassword
		}) (*struct{}, error) {
			ten := tenantOf(ctx)
			// Look the station up first: hashing costs tens of
			// milliseconds, which a request for a missing station
			// should not be able to spend.
			if _, err := s.store.Station(ctx, ten, in.ID); err != nil {
				return nil, err
			}
			h, err := auth.HashPassword(in.Body.Password)
			if err != nil {
				return nil, err
			}
			if err := s.store.SetStationPassword(ctx, ten, in.ID, h); err != nil {
				return nil, err
			}
			return &struct{}{}, nil
		})
}
