package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
)

// Session is a charging session as the charger reported it.
type Session struct {
	ID              string     `json:"id"`
	StationID       string     `json:"station_id"`
	ConnectorNumber int        `json:"connector_number"`
	TransactionID   int64      `json:"transaction_id" doc:"The OCPP transaction id evbill gave the charger."`
	IDTag           string     `json:"id_tag"`
	TokenID         string     `json:"token_id,omitempty"`
	TariffID        string     `json:"tariff_id,omitempty"`
	TariffVersion   int        `json:"tariff_version,omitempty" doc:"The tariff version in force when the session started, which prices it."`
	MeterStartWh    string     `json:"meter_start_wh"`
	MeterStopWh     string     `json:"meter_stop_wh,omitempty"`
	StartedAt       time.Time  `json:"started_at"`
	ParkingFrom     *time.Time `json:"parking_started_at,omitempty"`
	StoppedAt       *time.Time `json:"stopped_at,omitempty"`
	State           string     `json:"state" enum:"active,parking,ended"`
	StopReason      string     `json:"stop_reason,omitempty"`
	Flags           []string   `json:"flags,omitempty" doc:"Why the session is held back from billing, if it is."`
}

// LiveSession is a session with what its driver sees: energy, power,
// duration and the cost from the engine that bills it.
type LiveSession struct {
	Session
	AsOf            time.Time `json:"as_of" doc:"The last meter reading the figures are as of."`
	EnergyKWh       Decimal   `json:"energy_kwh"`
	PowerKW         *Decimal  `json:"power_kw,omitempty"`
	DurationSeconds int64     `json:"duration_seconds"`
	Cost            *Cost     `json:"cost,omitempty" doc:"Running cost while the session runs (step_size applies at the end), the final price once it has ended; absent without a tariff."`
	LivePath        string    `json:"live_path,omitempty" doc:"The path of the session's live page for its driver, on this server: an unguessable link that needs no login, showing the figures as they change and the receipt once the session ends. Anyone with it can see the session."`
}

// Cost is a priced amount: OCPI totals and the amount to charge.
type Cost struct {
	Currency      string   `json:"currency"`
	ExclVAT       Decimal  `json:"excl_vat"`
	InclVAT       Decimal  `json:"incl_vat"`
	Amount        string   `json:"amount" doc:"The amount to charge, in the currency's minor unit precision."`
	Final         bool     `json:"final"`
	RateDimension string   `json:"rate_dimension,omitempty" doc:"The dimension priced last: ENERGY, TIME, PARKING_TIME, FLAT."`
	RatePrice     *Decimal `json:"rate_unit_price,omitempty" doc:"Its unit price excl. VAT, per kWh, per hour or per fee."`
}

// CDR is the sealed, priced record of an ended session.
type CDR struct {
	ID           string    `json:"id"`
	SessionID    string    `json:"session_id"`
	Currency     string    `json:"currency"`
	TotalExclVAT string    `json:"total_excl_vat"`
	TotalInclVAT string    `json:"total_incl_vat"`
	AmountMinor  int64     `json:"amount_minor" doc:"The amount to charge in minor units of the currency."`
	CreatedAt    time.Time `json:"created_at"`
}

func sessionOut(s evbill.Session) Session {
	return Session{ID: s.ID, StationID: s.StationID, ConnectorNumber: s.ConnectorNumber, TransactionID: s.TransactionID,
		IDTag: s.IDTag, TokenID: s.TokenID, TariffID: s.TariffID, TariffVersion: s.TariffVersion,
		MeterStartWh: s.MeterStartWh, MeterStopWh: s.MeterStopWh, StartedAt: utc(s.StartedAt), ParkingFrom: s.ParkingStartedAt,
		StoppedAt: s.StoppedAt, State: s.State, StopReason: s.StopReason, Flags: s.Flags}
}

func cdrOut(c evbill.CDR) CDR {
	return CDR{ID: c.ID, SessionID: c.SessionID, Currency: c.Currency, TotalExclVAT: c.TotalExclVAT,
		TotalInclVAT: c.TotalInclVAT, AmountMinor: c.AmountMinor, CreatedAt: utc(c.CreatedAt)}
}

func (s *server) liveOut(l charging.Live) (LiveSession, error) {
	out := LiveSession{Session: sessionOut(l.Session), AsOf: utc(l.AsOf), EnergyKWh: Decimal{Decimal: l.EnergyKWh},
		DurationSeconds: int64(l.Duration / time.Second)}
	if s.livePath != nil {
		out.LivePath = s.livePath(l.Session.TenantID, l.Session.ID)
	}
	if l.HasPower {
		out.PowerKW = &Decimal{Decimal: l.PowerKW}
	}
	if r := l.Result; r != nil {
		excl, incl, err := r.Total.Round(4)
		if err != nil {
			return out, err
		}
		out.Cost = &Cost{Currency: l.Currency, ExclVAT: Decimal{Decimal: excl}, InclVAT: Decimal{Decimal: incl},
			Amount: r.Charge.Decimal().String(), Final: r.Final}
		if l.Rate != nil {
			p := Decimal{Decimal: l.Rate.UnitPrice()}
			out.Cost.RateDimension, out.Cost.RatePrice = l.Rate.Dimension.String(), &p
		}
	}
	return out, nil
}

// rawCDR is a CDR's OCPI document or its explanation, sent as stored.
type rawCDR struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *server) registerSessions() {
	if s.charging == nil || s.sessions == nil {
		return
	}
	register(s, huma.Operation{OperationID: "list-sessions", Method: http.MethodGet, Path: Prefix + "/sessions", Summary: "List charging sessions",
		Tags: []string{"Sessions"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Session]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.Session, error) { return s.sessions.ListSessions(ctx, tenantOf(ctx), p) },
				func(r evbill.Session) string { return r.ID }, sessionOut)
		})
	register(s, huma.Operation{OperationID: "get-session", Method: http.MethodGet, Path: Prefix + "/sessions/{id}", Summary: "Get a session, live",
		Description: "Energy, power, duration and cost as of the last meter reading, from the engine that bills the session.",
		Tags:        []string{"Sessions"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" doc:"The record's ID."`
		}) (*out[LiveSession], error) {
			l, err := s.charging.Live(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			o, err := s.liveOut(l)
			if err != nil {
				return nil, err
			}
			return &out[LiveSession]{o}, nil
		})
	s.registerSessionEvents()
	register(s, huma.Operation{OperationID: "list-cdrs", Method: http.MethodGet, Path: Prefix + "/cdrs", Summary: "List CDRs",
		Tags: []string{"CDRs"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[CDR]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.CDR, error) { return s.sessions.ListCDRs(ctx, tenantOf(ctx), p) },
				func(r evbill.CDR) string { return r.ID }, cdrOut)
		})
	register(s, huma.Operation{OperationID: "get-cdr", Method: http.MethodGet, Path: Prefix + "/cdrs/{id}", Summary: "Get a CDR",
		Description: "The OCPI 2.2.1 CDR as stored, or with ?format=explain the engine's breakdown as plain text.",
		Tags:        []string{"CDRs"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID     string `path:"id" maxLength:"64" doc:"The record's ID."`
			Format string `query:"format" enum:"ocpi,explain" default:"ocpi" doc:"ocpi (JSON) or explain (text)."`
		}) (*rawCDR, error) {
			c, err := s.sessions.CDR(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			if in.Format != "explain" {
				return &rawCDR{ContentType: "application/json", Body: c.Document}, nil
			}
			var b struct {
				Explanation string `json:"explanation"`
			}
			_ = json.Unmarshal(c.Breakdown, &b)
			return &rawCDR{ContentType: "text/plain; charset=utf-8", Body: []byte(b.Explanation)}, nil
		})
}
