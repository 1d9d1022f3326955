// Package tariff is evbill's pricing engine: the OCPI 2.2.1 Tariff model
// with its validation, the splitting of a metered session into OCPI charging
// periods, and the pricing of those periods, final or running.
//
// The package does no I/O. Every amount is an exact decimal until the one
// documented rounding step (see Result); nothing uses float64.
package tariff

import (
	"encoding/json"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// Dimension is an OCPI TariffDimensionType: what a price component prices.
type Dimension uint8

// The OCPI 2.2.1 tariff dimensions.
const (
	Energy      Dimension = iota // ENERGY, priced per kWh, step_size in Wh
	Flat                         // FLAT, a fixed fee, at most once per session
	ParkingTime                  // PARKING_TIME, priced per hour not charging, step_size in seconds
	Time                         // TIME, priced per hour charging (or reserved), step_size in seconds
	numDimensions
)

var dimensionNames = [...]string{Energy: "ENERGY", Flat: "FLAT", ParkingTime: "PARKING_TIME", Time: "TIME"}

// String returns the OCPI name of the dimension.
func (d Dimension) String() string {
	if int(d) < len(dimensionNames) {
		return dimensionNames[d]
	}
	return "UNKNOWN"
}

func parseDimension(s string) (Dimension, bool) {
	for i, n := range dimensionNames {
		if n == s {
			return Dimension(i), true
		}
	}
	return 0, false
}

// Reservation is an OCPI ReservationRestrictionType; NoReservation means the
// element prices the charging session, not a reservation.
type Reservation uint8

// The reservation restriction values.
const (
	NoReservation      Reservation = iota
	ReservationActive              // RESERVATION: prices the time a reservation was held
	ReservationExpires             // RESERVATION_EXPIRES: prices a reservation that expired unused
)

var reservationNames = [...]string{ReservationActive: "RESERVATION", ReservationExpires: "RESERVATION_EXPIRES"}

// String returns the OCPI name, or "" for NoReservation.
func (r Reservation) String() string { return reservationNames[r] }

// Tariff is an OCPI 2.2.1 Tariff object. Obtain one from Parse, which
// validates it; a Tariff built by hand must go through Validate before
// pricing.
type Tariff struct {
	CountryCode   string
	PartyID       string
	ID            string
	Currency      money.Currency
	Type          string // OCPI TariffType, "" when omitted (valid for all sessions)
	AltText       []DisplayText
	AltURL        string
	MinPrice      *Price
	MaxPrice      *Price
	Elements      []Element
	StartDateTime time.Time // zero when omitted
	EndDateTime   time.Time // zero when omitted
	EnergyMix     *EnergyMix
	LastUpdated   time.Time

	raw      []byte    // the JSON as received, echoed back so unknown fields survive
	compiled *compiled // the matching tables built by Validate
}

// Price is an OCPI Price: an amount excluding VAT and, optionally, including VAT.
type Price struct {
	ExclVAT    decimal.Decimal
	InclVAT    decimal.Decimal
	HasInclVAT bool
}

// DisplayText is an OCPI DisplayText: a text in one language.
type DisplayText struct {
	Language string `json:"language"`
	Text     string `json:"text"`
}

// Element is an OCPI TariffElement: price components sharing restrictions.
type Element struct {
	PriceComponents []PriceComponent
	Restrictions    *Restrictions // nil when the element always applies
}

// PriceComponent is an OCPI PriceComponent: how one dimension is priced.
type PriceComponent struct {
	Type     Dimension
	Price    decimal.Decimal // per kWh, per hour, or per fee, excluding VAT
	VAT      decimal.Decimal // percentage, meaningful only when HasVAT
	HasVAT   bool            // false: no VAT applies, which differs from a VAT of 0 %
	StepSize int64           // Wh for ENERGY, seconds for TIME and PARKING_TIME; ignored for FLAT
}

// Restrictions is an OCPI TariffRestrictions object. Every restriction that
// is set must hold for the element to apply (logical AND).
type Restrictions struct {
	StartTime   string // "HH:MM" local time, inclusive; "" when not set
	EndTime     string // "HH:MM" local time, exclusive; before StartTime wraps past midnight
	StartDate   string // "YYYY-MM-DD" local date, inclusive
	EndDate     string // "YYYY-MM-DD" local date, exclusive
	MinKWh      *decimal.Decimal
	MaxKWh      *decimal.Decimal
	MinCurrent  *decimal.Decimal
	MaxCurrent  *decimal.Decimal
	MinPower    *decimal.Decimal
	MaxPower    *decimal.Decimal
	MinDuration *int64 // seconds, inclusive
	MaxDuration *int64 // seconds, exclusive
	DayOfWeek   []time.Weekday
	Reservation Reservation
}

// EnergyMix is the OCPI EnergyMix class, kept as data for display.
type EnergyMix struct {
	IsGreenEnergy     bool            `json:"is_green_energy"`
	EnergySources     []EnergySource  `json:"energy_sources,omitempty"`
	EnvironImpact     []EnvironImpact `json:"environ_impact,omitempty"`
	SupplierName      string          `json:"supplier_name,omitempty"`
	EnergyProductName string          `json:"energy_product_name,omitempty"`
}

// EnergySource is one OCPI EnergySource entry.
type EnergySource struct {
	Source     string      `json:"source"`
	Percentage json.Number `json:"percentage"`
}

// EnvironImpact is one OCPI EnvironmentalImpact entry.
type EnvironImpact struct {
	Category string      `json:"category"`
	Amount   json.Number `json:"amount"`
}
