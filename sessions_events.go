package evbill

import (
	"encoding/json"
	"time"
)

// Outbox event types of sessions, written by the store in the
// transaction that starts or ends the session.
const (
	EventSessionStarted = "session.started"
	EventSessionEnded   = "session.ended"
)

// SessionEventData is the payload of a session event: the session as the
// API shows it.
type SessionEventData struct {
	ID              string     `json:"id"`
	StationID       string     `json:"station_id"`
	ConnectorNumber int        `json:"connector_number"`
	TransactionID   int64      `json:"transaction_id"`
	IDTag           string     `json:"id_tag"`
	TokenID         string     `json:"token_id,omitempty"`
	DriverID        string     `json:"driver_id,omitempty"`
	TariffID        string     `json:"tariff_id,omitempty"`
	TariffVersion   int        `json:"tariff_version,omitempty"`
	MeterStartWh    string     `json:"meter_start_wh"`
	MeterStopWh     string     `json:"meter_stop_wh,omitempty"`
	StartedAt       time.Time  `json:"started_at"`
	ParkingFrom     *time.Time `json:"parking_started_at,omitempty"`
	StoppedAt       *time.Time `json:"stopped_at,omitempty"`
	State           string     `json:"state"`
	StopReason      string     `json:"stop_reason,omitempty"`
	Flags           []string   `json:"flags,omitempty"`
}

// NewSessionEventData returns s as session events show it.
func NewSessionEventData(s Session) SessionEventData {
	return SessionEventData{ID: s.ID, StationID: s.StationID, ConnectorNumber: s.ConnectorNumber,
		TransactionID: s.TransactionID, IDTag: s.IDTag, TokenID: s.TokenID, DriverID: s.DriverID, TariffID: s.TariffID,
		TariffVersion: s.TariffVersion, MeterStartWh: s.MeterStartWh, MeterStopWh: s.MeterStopWh, StartedAt: s.StartedAt.UTC(),
		ParkingFrom: utcPtr(s.ParkingStartedAt), StoppedAt: utcPtr(s.StoppedAt), State: s.State, StopReason: s.StopReason, Flags: s.Flags}
}

// SessionEventPayload is the payload of a session event about s.
func SessionEventPayload(s Session) json.RawMessage {
	data, err := json.Marshal(NewSessionEventData(s))
	if err != nil {
		panic(err) // strings, integers and times always marshal
	}
	return data
}

// SessionEvent returns the outbox event of type typ (EventSessionStarted
// or EventSessionEnded) about s, made at at.
func SessionEvent(typ string, s Session, at time.Time) Event {
	return Event{ID: NewID(PrefixEvent), TenantID: s.TenantID, Type: typ, Payload: SessionEventPayload(s), CreatedAt: at}
}

// Outbox event types of a running session, written with the readings
// that caused them (see SampleWrite.Events).
const (
	// EventSessionUpdated reports a running session's energy and cost,
	// throttled: with a reading 30 s or more after the last one reported,
	// or 0.5 kWh or 0.10 of the currency more than it.
	EventSessionUpdated = "session.updated"
	// EventHoldNearlyExhausted reports, once per session, that its running
	// cost reached eight tenths of its payment's hold; at nine tenths the
	// charger is told to stop.
	EventHoldNearlyExhausted = "hold.nearly_exhausted"
)

// SessionUpdateData is the payload of session.updated: the session as
// GET /api/v1/sessions/{id} shows it while it runs, with the same field
// names and exact decimal numbers.
type SessionUpdateData struct {
	SessionEventData
	AsOf            time.Time    `json:"as_of"`
	EnergyKWh       json.Number  `json:"energy_kwh"`
	PowerKW         *json.Number `json:"power_kw,omitempty"`
	DurationSeconds int64        `json:"duration_seconds"`
	Cost            *CostData    `json:"cost,omitempty"`
}

// CostData is a running or final cost as the API shows it: OCPI totals
// rounded to 4 decimals, and the amount to charge at the currency's
// precision.
type CostData struct {
	Currency      string       `json:"currency"`
	ExclVAT       json.Number  `json:"excl_vat"`
	InclVAT       json.Number  `json:"incl_vat"`
	Amount        string       `json:"amount"`
	Final         bool         `json:"final"`
	RateDimension string       `json:"rate_dimension,omitempty"`
	RatePrice     *json.Number `json:"rate_unit_price,omitempty"`
}

// HoldEventData is the payload of hold.nearly_exhausted, in integer minor
// units as the API shows payments.
type HoldEventData struct {
	SessionID   string    `json:"session_id"`
	PaymentID   string    `json:"payment_id"`
	Currency    string    `json:"currency"`
	HoldAmount  int64     `json:"hold_amount"`
	RunningCost int64     `json:"running_cost"`
	AsOf        time.Time `json:"as_of"`
}

// SessionUpdateEvent returns the session.updated event of tenantID
// carrying data, made at at.
func SessionUpdateEvent(tenantID string, data SessionUpdateData, at time.Time) (Event, error) {
	payload, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: NewID(PrefixEvent), TenantID: tenantID, Type: EventSessionUpdated, Payload: payload, CreatedAt: at}, nil
}

// HoldEvent returns the hold.nearly_exhausted event of tenantID carrying
// data, made at at.
func HoldEvent(tenantID string, data HoldEventData, at time.Time) Event {
	data.AsOf = data.AsOf.UTC()
	payload, err := json.Marshal(data)
	if err != nil {
		panic(err) // strings, integers and a time always marshal
	}
	return Event{ID: NewID(PrefixEvent), TenantID: tenantID, Type: EventHoldNearlyExhausted, Payload: payload, CreatedAt: at}
}
