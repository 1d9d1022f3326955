package tariff

import (
	"time"

	"github.com/govalues/decimal"
)

// Ceiling is the fastest a running session's cost can grow under a tariff:
// the highest price per kWh of its ENERGY components, the highest per
// hour of its TIME components plus the highest of its PARKING_TIME ones,
// and the highest flat fee, each price the larger of its amounts
// excluding and including VAT.
//
// The engine prices each charging period under the element in force at
// the period's start, so a later reading adds periods or lengthens the
// last one and leaves the cost of the earlier ones as it was. The running
// cost at a later reading is then at most the cost known at an earlier
// one plus these rates times the energy and the time between them: what
// lets a caller skip pricing a reading that cannot have moved the cost
// far. It holds only while the earlier readings keep their meaning; a
// reading that arrives out of order, or one that reclassifies idle time
// as charging (or the reverse), changes earlier periods, and the caller
// must price again. A flat fee is billed once, but it may first be due in
// a later period (its element restricted to a day, say), so it counts
// until a priced cost has one (see Result.HasFlat). min_price is in any
// running cost once it has been priced, and max_price only lowers it.
type Ceiling struct {
	PerKWh  decimal.Decimal
	PerHour decimal.Decimal
	Flat    decimal.Decimal
	known   bool // the zero Ceiling bounds nothing
}

// Ceiling returns the tariff's ceiling; for a tariff that has not been
// validated, the zero Ceiling, whose Growth is never ok.
func (t *Tariff) Ceiling() Ceiling {
	c := t.compiled
	if c == nil {
		return Ceiling{}
	}
	// unitX and unitInclX are scaled by 3600 (see candidate): per kWh
	// or fee × 3600 for ENERGY and FLAT, per hour for TIME and
	// PARKING_TIME.
	maxOf := func(d Dimension) decimal.Decimal {
		m := decimal.Zero
		for _, list := range [][]candidate{c.session[d], c.reserved[0][d], c.reserved[1][d]} {
			for i := range list {
				m = m.Max(list[i].unitX.Max(list[i].unitInclX))
			}
		}
		return m
	}
	perKWh, err := maxOf(Energy).Quo(d3600)
	if err != nil {
		return Ceiling{}
	}
	perHour, err := maxOf(Time).Add(maxOf(ParkingTime))
	if err != nil {
		return Ceiling{}
	}
	flat, err := maxOf(Flat).Quo(d3600)
	if err != nil {
		return Ceiling{}
	}
	return Ceiling{PerKWh: perKWh.Trim(0), PerHour: perHour.Trim(0), Flat: flat.Trim(0), known: true}
}

// Growth returns an upper bound, in minor units of a currency with scale
// fraction digits, of how much a running charge can grow over energyWh
// more energy and elapsed more time, and the flat fee when flatDue (the
// earlier cost has none, see Result.HasFlat): the rates times the
// quantities, rounded up, plus two minor units, one for the rounding of each of the
// two charges compared, one for the 19 significant digits a quotient
// keeps. Negative quantities count as none. ok is false when the bound
// is not known (the zero Ceiling) or does not fit the arithmetic: the
// caller must then price.
func (c Ceiling) Growth(energyWh decimal.Decimal, elapsed time.Duration, flatDue bool, scale int) (minor int64, ok bool) {
	if !c.known {
		return 0, false
	}
	if energyWh.IsNeg() {
		energyWh = decimal.Zero
	}
	if elapsed < 0 {
		elapsed = 0
	}
	e, err := energyWh.Mul(c.PerKWh)
	if err != nil {
		return 0, false
	}
	if e, err = e.Quo(thousand); err != nil {
		return 0, false
	}
	ms := decimal.MustNew(elapsed.Milliseconds()+1, 0) // +1: the part of a millisecond dropped
	t, err := ms.Mul(c.PerHour)
	if err != nil {
		return 0, false
	}
	if t, err = t.Quo(msPerHour); err != nil {
		return 0, false
	}
	sum, err := e.Add(t)
	if err != nil {
		return 0, false
	}
	if flatDue {
		if sum, err = sum.Add(c.Flat); err != nil {
			return 0, false
		}
	}
	// Quo rounds to 19 significant digits, possibly down: a unit of the
	// next scale up covers it, then the whole is rounded up.
	up := sum.Ceil(scale)
	if scale < 0 || scale >= len(pow10) {
		return 0, false
	}
	units, err := up.Mul(decimal.MustNew(int64(pow10[scale]), 0))
	if err != nil {
		return 0, false
	}
	whole, frac, ok := units.Int64(0)
	if !ok || frac != 0 || whole > 1<<60 {
		return 0, false
	}
	return whole + 2, true
}

var (
	thousand  = decimal.MustNew(1000, 0)
	msPerHour = decimal.MustNew(3_600_000, 0)
)

// HasFlat reports whether the result bills a flat fee, which a session
// pays at most once.
func (r *Result) HasFlat() bool {
	for i := range r.Lines {
		if r.Lines[i].Dimension == Flat {
			return true
		}
	}
	return false
}
