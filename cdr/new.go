package cdr

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

// Token is an OCPI CdrToken.
type Token struct {
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	UID         string `json:"uid"`
	Type        string `json:"type"`
	ContractID  string `json:"contract_id"`
}

// Location is an OCPI CdrLocation: where the session took place.
type Location struct {
	ID                 string      `json:"id"`
	Name               string      `json:"name,omitempty"`
	Address            string      `json:"address"`
	City               string      `json:"city"`
	PostalCode         string      `json:"postal_code,omitempty"`
	Country            string      `json:"country"` // ISO 3166-1 alpha-3
	Coordinates        Coordinates `json:"coordinates"`
	EVSEUID            string      `json:"evse_uid"`
	EVSEID             string      `json:"evse_id"`
	ConnectorID        string      `json:"connector_id"`
	ConnectorStandard  string      `json:"connector_standard"`
	ConnectorFormat    string      `json:"connector_format"`
	ConnectorPowerType string      `json:"connector_power_type"`
}

// Coordinates are an OCPI GeoLocation, decimal degrees as strings.
type Coordinates struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
}

// Header is everything an OCPI CDR states besides its charging periods,
// totals and costs.
type Header struct {
	CountryCode string            `json:"country_code"`
	PartyID     string            `json:"party_id"`
	ID          string            `json:"id"`
	Start       time.Time         `json:"-"`
	End         time.Time         `json:"-"`
	SessionID   string            `json:"session_id,omitempty"`
	Token       Token             `json:"cdr_token"`
	AuthMethod  string            `json:"auth_method"`
	Location    Location          `json:"cdr_location"`
	MeterID     string            `json:"meter_id,omitempty"`
	Currency    string            `json:"currency"`
	Tariffs     []json.RawMessage `json:"tariffs,omitempty"` // the tariff documents that priced it
	LastUpdated time.Time         `json:"-"`
}

// AppendNew appends a new OCPI 2.2.1 CDR for a session evbill priced: the
// header's fields, the session's charging periods (tariff_id set), the
// totals (total_energy in kWh, total_time and total_parking_time in hours)
// and the cost fields of r, written as AppendPriced writes them.
func AppendNew(dst []byte, h *Header, s *tariff.Session, r *tariff.Result) ([]byte, error) {
	if h == nil || s == nil || r == nil {
		return dst, errors.New("cdr: AppendNew needs a header, a session and a result")
	}
	if r.Currency.Code() != h.Currency {
		return dst, &FieldError{Path: "currency", Rule: fmt.Sprintf("the CDR is in %s but was priced in %s", h.Currency, r.Currency)}
	}
	costs, err := roundCosts(r)
	if err != nil {
		return dst, err
	}
	head, err := json.Marshal(h)
	if err != nil {
		return dst, fmt.Errorf("cdr: header: %w", err)
	}
	energy, parking := decimal.Zero, decimal.Zero
	for i := range s.Periods {
		p := &s.Periods[i]
		if energy, err = energy.Add(p.Energy); err != nil {
			return dst, fmt.Errorf("cdr: total_energy: %w", err)
		}
		if parking, err = parking.Add(p.ParkingTime); err != nil {
			return dst, fmt.Errorf("cdr: total_parking_time: %w", err)
		}
	}
	total := durationSeconds(h.End.Sub(h.Start))
	totalHours, err := secondsToHours(total)
	if err != nil {
		return dst, fmt.Errorf("cdr: total_time: %w", err)
	}
	parkingHours, err := secondsToHours(parking)
	if err != nil {
		return dst, fmt.Errorf("cdr: total_parking_time: %w", err)
	}
	mark := len(dst)
	dst = append(dst, head[:len(head)-1]...) // without its closing brace
	dst = append(dst, `,"start_date_time":"`...)
	dst = tariff.AppendDateTime(dst, h.Start)
	dst = append(dst, `","end_date_time":"`...)
	dst = tariff.AppendDateTime(dst, h.End)
	dst = append(dst, `","charging_periods":`...)
	if dst, err = appendPeriodObjects(dst, s.Periods, r.TariffID); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"total_energy":`...)
	dst, _ = energy.Trim(0).AppendText(dst)
	dst = append(dst, `,"total_time":`...)
	dst, _ = totalHours.AppendText(dst)
	dst = append(dst, `,"total_parking_time":`...)
	dst, _ = parkingHours.AppendText(dst)
	dst = append(dst, ',')
	dst = costs.append(dst, r.HasVAT)
	dst = append(dst, `,"last_updated":"`...)
	dst = tariff.AppendDateTime(dst, h.LastUpdated)
	return append(dst, `"}`...), nil
}
