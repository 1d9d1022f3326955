package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/tariff"
)

// Quote is the price of a planned session under the tariff that applies,
// computed by the same engine that bills sessions, with its breakdown.
type Quote struct {
	TariffID        string      `json:"tariff_id"`
	Version         int         `json:"version"`
	AssignmentID    string      `json:"assignment_id"`
	Currency        string      `json:"currency"`
	StartTime       time.Time   `json:"start_time"`
	EndTime         time.Time   `json:"end_time"`
	TimeZone        string      `json:"time_zone"`
	Total           QuoteTotal  `json:"total" doc:"The exact total rounded half away from zero to 4 decimals, as OCPI reports it, written with 4 decimals."`
	AmountToCharge  QuoteAmount `json:"amount_to_charge" doc:"The total rounded once to the currency's minor unit: what would be charged."`
	MinPriceApplied bool        `json:"min_price_applied"`
	MaxPriceApplied bool        `json:"max_price_applied"`
	Lines           []QuoteLine `json:"lines" nullable:"false"`
	Explanation     string      `json:"explanation" doc:"The engine's plain-text account of the computation."`
}

// QuoteTotal is an amount excluding and, when the tariff states VAT,
// including VAT.
type QuoteTotal struct {
	ExclVAT Decimal  `json:"excl_vat"`
	InclVAT *Decimal `json:"incl_vat,omitempty" doc:"Absent when the tariff states no VAT."`
}

// QuoteAmount is an amount to charge, as a decimal string in major units
// and as an integer in minor units, the two forms payment systems take.
type QuoteAmount struct {
	Amount      string `json:"amount" doc:"Decimal string in major units, e.g. \"12.38\"."`
	MinorUnits  int64  `json:"minor_units" doc:"Integer minor units, e.g. 1238."`
	Currency    string `json:"currency"`
	IncludesVAT bool   `json:"includes_vat"`
}

// QuoteLine is one priced quantity: one dimension of one charging period
// under one price component.
type QuoteLine struct {
	Period      int       `json:"period" doc:"Zero-based index of the charging period."`
	StartsAt    time.Time `json:"starts_at" doc:"When the period starts."`
	Dimension   string    `json:"dimension" doc:"ENERGY, TIME, PARKING_TIME or FLAT."`
	Reservation bool      `json:"reservation,omitempty" doc:"Priced by a reservation element."`
	Element     int       `json:"element" doc:"Zero-based index of the tariff element that priced the line."`
	Component   int       `json:"component" doc:"Zero-based index of the price component within the element."`
	Quantity    Decimal   `json:"quantity" doc:"In unit; includes step_size rounding."`
	Unit        string    `json:"unit" doc:"kWh for ENERGY, s (seconds) for TIME and PARKING_TIME, fee for FLAT."`
	UnitPrice   Decimal   `json:"unit_price" doc:"Excluding VAT, per kWh, per hour or per fee."`
	VAT         *Decimal  `json:"vat,omitempty" doc:"VAT percentage; absent when the component states none."`
	ExclVAT     Decimal   `json:"excl_vat" doc:"Rounded to 4 decimals for display; totals come from the exact values, not from these."`
	InclVAT     *Decimal  `json:"incl_vat,omitempty"`
}

type quoteRequest struct {
	StationID       string     `json:"station_id" minLength:"1" maxLength:"64"`
	ConnectorID     string     `json:"connector_id,omitempty" maxLength:"64" doc:"The connector, for connector assignments."`
	TokenUID        string     `json:"token_uid,omitempty" maxLength:"36" doc:"The driver's token: its group (or its driver's) applies, and it must be ACCEPTED and not expired."`
	GroupID         string     `json:"group_id,omitempty" maxLength:"64" doc:"The driver group, when no token is given or to override the token's."`
	StartTime       *time.Time `json:"start_time,omitempty" doc:"When the session would start; now when absent."`
	EnergyKWh       Decimal    `json:"energy_kwh" minimum:"0" maximum:"100000" doc:"Expected energy in kWh, exact."`
	ChargingMinutes Decimal    `json:"charging_minutes" minimum:"0" maximum:"44640" doc:"Expected charging time in minutes; a whole number of milliseconds."`
	ParkingMinutes  Decimal    `json:"parking_minutes,omitempty" minimum:"0" maximum:"44640" doc:"Expected time plugged in after charging, in minutes."`
}

// minutes converts exact minutes into a duration, refusing what is not a
// whole number of milliseconds rather than rounding it.
func minutes(fe *fieldErrors, loc string, d Decimal) time.Duration {
	if d.IsNeg() {
		fe.add(loc, "expected number >= 0")
		return 0
	}
	ms, err := d.Mul(decimal.MustNew(60000, 0))
	if err == nil {
		ms = ms.Trim(0)
	}
	whole, _, ok := ms.Int64(0)
	if err != nil || ms.Scale() != 0 || !ok {
		fe.add(loc, "must be a whole number of milliseconds")
		return 0
	}
	return time.Duration(whole) * time.Millisecond
}

func quoteOut(q pricing.Quote) (Quote, error) {
	r := &q.Result
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	o := Quote{TariffID: q.Version.TariffID, Version: q.Version.Version, AssignmentID: q.Assignment.ID, Currency: r.Currency.Code(),
		StartTime: utc(q.Session.Start), EndTime: utc(q.Session.End), TimeZone: loc.String(),
		MinPriceApplied: r.MinApplied, MaxPriceApplied: r.MaxApplied, Lines: make([]QuoteLine, len(r.Lines))}
	excl, incl, err := r.Total.Round(4)
	if err != nil {
		return Quote{}, err
	}
	o.Total.ExclVAT = Decimal{Decimal: excl.Pad(4)}
	if r.HasVAT {
		o.Total.InclVAT = &Decimal{Decimal: incl.Pad(4)}
	}
	o.AmountToCharge = QuoteAmount{Amount: string(money.FormatDecimal(nil, r.Charge.Decimal(), r.Charge.Currency.Exponent())),
		MinorUnits: r.Charge.Minor, Currency: r.Charge.Currency.Code(), IncludesVAT: r.HasVAT}
	for i := range r.Lines {
		l := &r.Lines[i]
		excl, incl, err := l.Cost.Round(4)
		if err != nil {
			return Quote{}, err
		}
		ql := QuoteLine{Period: int(l.Period), Dimension: l.Dimension.String(), Reservation: l.Reservation,
			Element: l.Element(), Component: l.Component(), Quantity: Decimal{Decimal: l.Quantity}, Unit: unitOf(l.Dimension),
			UnitPrice: Decimal{Decimal: l.UnitPrice()}, ExclVAT: Decimal{Decimal: excl.Pad(4)}}
		if int(l.Period) < len(q.Session.Periods) {
			ql.StartsAt = utc(q.Session.Periods[l.Period].Start)
		}
		if v, ok := l.VAT(); ok {
			ql.VAT = &Decimal{Decimal: v}
		}
		if r.HasVAT {
			ql.InclVAT = &Decimal{Decimal: incl.Pad(4)}
		}
		o.Lines[i] = ql
	}
	o.Explanation = string(tariff.AppendExplanation(nil, q.Tariff, &q.Session, r))
	return o, nil
}

func unitOf(d tariff.Dimension) string {
	switch d {
	case tariff.Energy:
		return "kWh"
	case tariff.Flat:
		return "fee"
	}
	return "s"
}

func (s *server) registerQuotes() {
	register(s, huma.Operation{OperationID: "create-quote", Method: http.MethodPost, Path: Prefix + "/quotes", Summary: "Price a planned session",
		Description: "What a driver sees before plugging in: the tariff that applies to the station (connector, token or group) at the start time, and the price of the expected energy and durations, computed by the billing engine. " +
			"Energy flows at constant power over the charging time, then the vehicle parks. Nothing is stored, so read-only keys may ask.",
		Tags: []string{"Quotes"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct{ Body quoteRequest }) (*out[Quote], error) {
			b, ten := in.Body, tenantOf(ctx)
			var fe fieldErrors
			charging := minutes(&fe, "body.charging_minutes", b.ChargingMinutes)
			parking := minutes(&fe, "body.parking_minutes", b.ParkingMinutes)
			if b.EnergyKWh.IsNeg() {
				fe.add("body.energy_kwh", "expected number >= 0")
			}
			if b.TokenUID != "" {
				_, err := s.store.TokenByUID(ctx, ten, b.TokenUID)
				if err := checkRef(&fe, "body.token_uid", "token", err); err != nil {
					return nil, err
				}
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			if err := s.checkTarget(ctx, ten, b.StationID, b.ConnectorID, b.GroupID, "body.connector_id", "body.group_id"); err != nil {
				return nil, err
			}
			start := time.Now()
			if b.StartTime != nil {
				start = *b.StartTime
			}
			q, err := s.resolver.Quote(ctx, pricing.QuoteRequest{
				Target:   pricing.Target{TenantID: ten, StationID: b.StationID, ConnectorID: b.ConnectorID, GroupID: b.GroupID},
				TokenUID: b.TokenUID, Start: start.UTC(), EnergyKWh: b.EnergyKWh.Decimal, Charging: charging, Parking: parking,
			})
			if err != nil {
				return nil, err
			}
			o, err := quoteOut(q)
			if err != nil {
				return nil, evbill.Errorf(evbill.EINTERNAL, "format quote: %w", err)
			}
			return &out[Quote]{o}, nil
		})
}
