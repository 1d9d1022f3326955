// Package receipt assembles a driver's receipt for a charging session from
// records already stored: the CDR with its itemization, the session, its
// station, site and connector, the tariff, the payment and the signed
// meter values. It does no I/O and computes no price: every amount comes
// from the itemization made when the CDR was priced, checked against the
// CDR, so the receipt cannot disagree with what was billed. The JSON of
// the API and any later HTML or PDF page are views of one Receipt.
package receipt

import (
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// Inputs are the records a receipt is made of. CDR, Session, Station, Site
// and Itemization are required; the rest may be left zero.
type Inputs struct {
	// Operator is the charge point operator's name (the tenant's).
	Operator string
	CDR      evbill.CDR
	Session  evbill.Session
	Station  evbill.Station
	Site     evbill.Site
	// Location is the site's time zone, in which times are shown; nil is
	// the site's TimeZone loaded by name, or UTC.
	Location *time.Location
	// Connector is the connector record of the session's connector
	// number; zero when there is none.
	Connector evbill.Connector
	// Tariff is the tariff version the session was priced under, for its
	// text; nil when not at hand.
	Tariff *tariff.Tariff
	// Itemization is the CDR's (see Itemize).
	Itemization Itemization
	// Payment is the session's payment; nil when it has none.
	Payment *evbill.Payment
	// Signed are the session's signed meter values, in the order received.
	Signed []evbill.SignedValue
}

// Receipt is a driver's receipt for one CDR.
type Receipt struct {
	// CDRID and SessionID are the records the receipt is of.
	CDRID     string `json:"cdr_id"`
	SessionID string `json:"session_id"`
	// Operator, Site, Station and Connector say who billed and where.
	Operator  Operator    `json:"operator"`
	Site      Location    `json:"site"`
	Station   ChargePoint `json:"station"`
	Connector Plug        `json:"connector"`
	// Start and End are in the site's time zone.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// TimeZone is the site's IANA time zone, e.g. Europe/Amsterdam.
	TimeZone string `json:"time_zone"`
	// DurationSeconds is from start to end, in whole seconds.
	DurationSeconds int64 `json:"duration_seconds"`
	// EnergyKWh is the energy billed, the CDR's total_energy.
	EnergyKWh string `json:"energy_kwh"`
	// Tariff is the tariff version the session was priced under.
	Tariff AppliedTariff `json:"tariff"`
	// Currency is the CDR's, ISO 4217.
	Currency string `json:"currency"`
	// Lines are the priced quantities, in the order of the charging
	// periods; each period's Start is in the site's time zone.
	Lines []Line `json:"lines"`
	// Categories, Subtotal and Adjustment are the itemization's.
	Categories Categories  `json:"categories"`
	Subtotal   Amounts     `json:"subtotal"`
	Adjustment *Adjustment `json:"adjustment,omitempty"`
	// Total equals the CDR's total_cost, to the last place.
	Total Amounts `json:"total"`
	// VAT is the total by rate; empty when the tariff states no VAT.
	VAT []VATRow `json:"vat,omitempty"`
	// Charge is the amount charged with its net and VAT in the currency's
	// minor unit, split by the ledger's one rule.
	Charge Charge `json:"charge"`
	// Payment is the session's payment; nil when it has none.
	Payment *Settlement `json:"payment,omitempty"`
	// Signed is what the signed meter values (OCMF) say, with the records.
	Signed Signed `json:"ocmf"`
	// Flags are the session's flags, signature_invalid among them when a
	// record failed.
	Flags []string `json:"flags,omitempty"`
}

// Operator is who billed the session: the tenant, and the OCPI party the
// CDR names.
type Operator struct {
	// Name is the tenant's; CountryCode and PartyID are the OCPI party
	// the CDR names.
	Name        string `json:"name"`
	CountryCode string `json:"country_code,omitempty"`
	PartyID     string `json:"party_id,omitempty"`
}

// Location is the site where the station stands; Country is ISO 3166-1
// alpha-2.
type Location struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Address    string `json:"address,omitempty"`
	City       string `json:"city,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// ChargePoint is the station; ChargePointID is its OCPP identity.
type ChargePoint struct {
	ID            string `json:"id"`
	ChargePointID string `json:"charge_point_id"`
	Vendor        string `json:"vendor,omitempty"`
	Model         string `json:"model,omitempty"`
}

// Plug is the connector the session used.
type Plug struct {
	// Number is the OCPP connectorId.
	Number int `json:"number"`
	// Standard, PowerType and MaxPowerKW are the connector record's (OCPI
	// ConnectorType and PowerType, kW as an exact decimal); empty when the
	// station has no record of the connector.
	Standard   string `json:"standard,omitempty"`
	PowerType  string `json:"power_type,omitempty"`
	MaxPowerKW string `json:"max_power_kw,omitempty"`
}

// AppliedTariff is the tariff the session was priced under, with the text
// the operator gave it (OCPI tariff_alt_text).
type AppliedTariff struct {
	// ID and Version are evbill's: the version in force at the start.
	ID      string `json:"id"`
	Version int    `json:"version"`
	// Text is the tariff's tariff_alt_text in every language given, and
	// URL its tariff_alt_url.
	Text []tariff.DisplayText `json:"text,omitempty"`
	URL  string               `json:"url,omitempty"`
}

// Charge is the amount charged, at the currency's precision: Net is the
// total excluding VAT rounded to the minor unit and VAT the rest, the
// split the ledger posts.
type Charge struct {
	// Amount is what is charged, incl. VAT when the tariff states VAT;
	// AmountMinor is the same in minor units, the CDR's amount.
	Amount      string `json:"amount"`
	AmountMinor int64  `json:"amount_minor"`
	Net         string `json:"net"`
	VAT         string `json:"vat"`
}

// Settlement is how the session was paid: its payment.
type Settlement struct {
	// ID is the payment's.
	ID string `json:"id"`
	// Method is card, wallet or account.
	Method string `json:"method" enum:"card,wallet,account"`
	// Gateway is the card processor (stripe, sandbox); empty for a wallet
	// or an account.
	Gateway string `json:"gateway,omitempty"`
	// State is the payment's (hold_pending, held, captured, …): a receipt
	// may be asked for before the capture.
	State    string `json:"state"`
	Currency string `json:"currency"`
	// Captured and Refunded are at the currency's precision, and in minor
	// units.
	Captured      string `json:"captured"`
	CapturedMinor int64  `json:"captured_minor"`
	Refunded      string `json:"refunded,omitempty"`
	RefundedMinor int64  `json:"refunded_minor,omitempty"`
}

// Build assembles the receipt. It refuses (EINTERNAL) an itemization whose
// totals are not the CDR's: a receipt that disagrees with the bill is
// worse than none.
func Build(in Inputs) (Receipt, error) {
	c, it, s := in.CDR, in.Itemization, in.Session
	if it.Total.ExclVAT != c.TotalExclVAT || it.Total.InclVAT != c.TotalInclVAT || it.AmountMinor != c.AmountMinor || it.Currency != c.Currency {
		return Receipt{}, evbill.Errorf(evbill.EINTERNAL, "CDR %s: its itemization totals %s %s/%s (%d) but the CDR %s %s/%s (%d)",
			c.ID, it.Currency, it.Total.ExclVAT, it.Total.InclVAT, it.AmountMinor, c.Currency, c.TotalExclVAT, c.TotalInclVAT, c.AmountMinor)
	}
	if s.StoppedAt == nil {
		return Receipt{}, evbill.Errorf(evbill.EINTERNAL, "CDR %s: session %s has not ended", c.ID, s.ID)
	}
	loc := in.Location
	if loc == nil {
		loc = time.UTC
		if l, err := time.LoadLocation(in.Site.TimeZone); err == nil && in.Site.TimeZone != "" {
			loc = l
		}
	}
	r := Receipt{
		CDRID: c.ID, SessionID: s.ID, Operator: Operator{Name: in.Operator},
		Site: Location{ID: in.Site.ID, Name: in.Site.Name, Address: in.Site.Address, City: in.Site.City,
			PostalCode: in.Site.PostalCode, Country: in.Site.Country},
		Station: ChargePoint{ID: in.Station.ID, ChargePointID: in.Station.ChargePointID, Vendor: in.Station.Vendor, Model: in.Station.Model},
		Connector: Plug{Number: s.ConnectorNumber, Standard: in.Connector.Standard,
			PowerType: in.Connector.PowerType, MaxPowerKW: in.Connector.MaxPowerKW},
		Start: s.StartedAt.In(loc), End: s.StoppedAt.In(loc), TimeZone: loc.String(),
		DurationSeconds: int64(s.StoppedAt.Sub(s.StartedAt) / time.Second),
		Tariff:          AppliedTariff{ID: s.TariffID, Version: s.TariffVersion},
		Currency:        c.Currency, Lines: make([]Line, len(it.Lines)), Categories: it.Categories,
		Subtotal: it.Subtotal, Adjustment: it.Adjustment, Total: it.Total, VAT: it.VAT, Flags: s.Flags,
	}
	if in.Tariff != nil {
		r.Tariff.Text, r.Tariff.URL = in.Tariff.AltText, in.Tariff.AltURL
	}
	facts, err := readCDR(c.Document)
	if err != nil {
		return Receipt{}, err
	}
	r.Operator.CountryCode, r.Operator.PartyID, r.EnergyKWh = facts.CountryCode, facts.PartyID, facts.TotalEnergy.String()
	for i, l := range it.Lines {
		l.Start = l.Start.In(loc)
		r.Lines[i] = l
	}

	charge, err := ledger.ChargeOfCDR(c)
	if err != nil {
		return Receipt{}, err
	}
	cur, err := money.ParseCurrency(c.Currency)
	if err != nil {
		return Receipt{}, evbill.Errorf(evbill.EINVALID, "CDR %s: %v", c.ID, err)
	}
	minor := func(n int64) string { return money.Amount{Minor: n, Currency: cur}.Decimal().String() }
	r.Charge = Charge{Amount: minor(charge.Total), AmountMinor: charge.Total, Net: minor(charge.Net), VAT: minor(charge.VAT())}

	billedWh, err := BilledWh(c.Document)
	if err != nil {
		return Receipt{}, err
	}
	r.Signed = CheckSigned(in.Signed, in.Station.MeterPublicKey, billedWh)

	if p := in.Payment; p != nil {
		pc, err := money.ParseCurrency(p.Currency)
		if err != nil {
			return Receipt{}, evbill.Errorf(evbill.EINVALID, "payment %s: %v", p.ID, err)
		}
		r.Payment = &Settlement{ID: p.ID, Method: evbill.PayByCard, Gateway: p.Gateway, State: p.State, Currency: p.Currency,
			Captured: money.Amount{Minor: p.Captured, Currency: pc}.Decimal().String(), CapturedMinor: p.Captured}
		if p.Gateway == evbill.PayByWallet || p.Gateway == evbill.PayByAccount {
			r.Payment.Method, r.Payment.Gateway = p.Gateway, ""
		}
		if p.Refunded != 0 {
			r.Payment.Refunded = money.Amount{Minor: p.Refunded, Currency: pc}.Decimal().String()
			r.Payment.RefundedMinor = p.Refunded
		}
	}
	return r, nil
}
