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

// SessionEventPayload is the payload of a session event about s.
func SessionEventPayload(s Session) json.RawMessage {
	data, err := json.Marshal(SessionEventData{ID: s.ID, StationID: s.StationID, ConnectorNumber: s.ConnectorNumber,
		TransactionID: s.TransactionID, IDTag: s.IDTag, TokenID: s.TokenID, DriverID: s.DriverID, TariffID: s.TariffID,
		TariffVersion: s.TariffVersion, MeterStartWh: s.MeterStartWh, MeterStopWh: s.MeterStopWh, StartedAt: s.StartedAt.UTC(),
		ParkingFrom: utcPtr(s.ParkingStartedAt), StoppedAt: utcPtr(s.StoppedAt), State: s.State, StopReason: s.StopReason, Flags: s.Flags})
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
