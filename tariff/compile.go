package tariff

import (
	"fmt"
	"sort"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// compiled is a validated tariff turned into lookup tables: per dimension,
// the candidate price components in element order, each with its
// restrictions in numeric form and its prices pre-scaled for exact
// arithmetic (see cost).
type compiled struct {
	currency money.Currency
	hasVAT   bool
	// session[d] lists the components of dimension d in non-reservation elements.
	session [numDimensions][]candidate
	// reserved[k][d] lists the components of reservation elements; k is
	// ReservationActive-1 or ReservationExpires-1.
	reserved [2][numDimensions][]candidate
	min, max *bound
	splits   splitPoints
	// needsKWh is set when some rule reads the energy consumed so far, the
	// only condition that costs an addition per period to keep.
	needsKWh bool
	// needs is the union of all rules' restriction bits: the conditions
	// worth computing for a period.
	needs uint16
}

type bound struct {
	exclX, inclX money.Fixed
	hasIncl      bool
}

// candidate is one price component that may price a period.
type candidate struct {
	element, component int
	rule               *rule // nil: the element has no restrictions
	price              decimal.Decimal
	vat                decimal.Decimal
	hasVAT             bool
	// unitX and unitInclX are the cost of one unit (kWh, second or fee)
	// times 3600, excluding and including VAT. Scaling by 3600 keeps the
	// cost of a second exact: 2.00/h for 7 s is 14/3600, not a finite decimal.
	unitX, unitInclX decimal.Decimal
	step             int64
}

// Restriction presence bits.
const (
	hasStartTime uint16 = 1 << iota
	hasEndTime
	hasStartDate
	hasEndDate
	hasMinKWh
	hasMaxKWh
	hasMinCurrent
	hasMaxCurrent
	hasMinPower
	hasMaxPower
	hasMinDuration
	hasMaxDuration
	hasDayOfWeek
)

type rule struct {
	mask               uint16
	startSec, endSec   int32 // seconds after local midnight; an end of 00:00 is 86400
	startDay, endDay   int32 // local days since 1970-01-01
	days               uint8 // bit per time.Weekday
	minKWh, maxKWh     decimal.Decimal
	minCurrent         decimal.Decimal
	maxCurrent         decimal.Decimal
	minPower, maxPower decimal.Decimal
	minDur, maxDur     time.Duration
}

// splitPoints are the values at which a restriction can change its
// verdict; the period splitter starts a new period at each of them.
type splitPoints struct {
	clock     []int32 // seconds after local midnight, always including 0
	durations []time.Duration
	kwh       []decimal.Decimal
	power     []decimal.Decimal
	current   []decimal.Decimal
}

var (
	d3600 = decimal.MustNew(3600, 0)
	d1000 = decimal.MustNew(1000, 0)
)

func compile(t *Tariff) (*compiled, error) {
	c := &compiled{currency: t.Currency}
	var sp splitPoints
	sp.clock = append(sp.clock, 0)
	for ei, e := range t.Elements {
		var r *rule
		resv := NoReservation
		if e.Restrictions != nil {
			r = compileRule(e.Restrictions, &sp)
			resv = e.Restrictions.Reservation
			if r != nil {
				c.needs |= r.mask
			}
		}
		for ci, pc := range e.PriceComponents {
			cand, err := compileCandidate(ei, ci, r, pc)
			if err != nil {
				return nil, fmt.Errorf("elements[%d].price_components[%d]: %w", ei, ci, err)
			}
			if pc.HasVAT {
				c.hasVAT = true
			}
			if resv == NoReservation {
				c.session[pc.Type] = append(c.session[pc.Type], cand)
			} else {
				c.reserved[resv-1][pc.Type] = append(c.reserved[resv-1][pc.Type], cand)
			}
		}
	}
	var err error
	if c.min, err = compileBound(t.MinPrice); err != nil {
		return nil, fmt.Errorf("min_price: %w", err)
	}
	if c.max, err = compileBound(t.MaxPrice); err != nil {
		return nil, fmt.Errorf("max_price: %w", err)
	}
	sp.normalize()
	c.splits = sp
	c.needsKWh = len(sp.kwh) > 0
	return c, nil
}

func compileBound(p *Price) (*bound, error) {
	if p == nil {
		return nil, nil
	}
	b := &bound{hasIncl: p.HasInclVAT}
	var err error
	if b.exclX, err = money.MulDecimals(p.ExclVAT, d3600); err != nil {
		return nil, err
	}
	if p.HasInclVAT {
		if b.inclX, err = money.MulDecimals(p.InclVAT, d3600); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func compileCandidate(ei, ci int, r *rule, pc PriceComponent) (candidate, error) {
	cand := candidate{element: ei, component: ci, rule: r, price: pc.Price, vat: pc.VAT, hasVAT: pc.HasVAT, step: pc.StepSize}
	var err error
	switch pc.Type {
	case Time, ParkingTime: // quantity in seconds: price/h × s = cost × 3600
		cand.unitX = pc.Price
	default: // ENERGY per kWh, FLAT per fee
		if cand.unitX, err = mulExact(pc.Price, d3600); err != nil {
			return cand, err
		}
	}
	cand.unitX = cand.unitX.Trim(0)
	cand.unitInclX = cand.unitX
	if pc.HasVAT {
		factor, err := vatFactor(pc.VAT)
		if err != nil {
			return cand, err
		}
		if cand.unitInclX, err = mulExact(cand.unitX, factor); err != nil {
			return cand, err
		}
		cand.unitInclX = cand.unitInclX.Trim(0)
	}
	if pc.Type == Flat || cand.step < 1 {
		cand.step = 1
	}
	return cand, nil
}

// vatFactor returns 1 + vat/100 exactly.
func vatFactor(vat decimal.Decimal) (decimal.Decimal, error) {
	pct, err := vat.Add(hundred)
	if err != nil {
		return decimal.Decimal{}, err
	}
	// Dividing by 100 only moves the decimal point, so it is exact.
	return decimal.New(int64(pct.Coef()), pct.Scale()+2)
}

func compileRule(rs *Restrictions, sp *splitPoints) *rule {
	r := &rule{}
	if s, ok := parseClock(rs.StartTime); ok {
		r.mask |= hasStartTime
		r.startSec = s
		sp.clock = append(sp.clock, s)
	}
	if e, ok := parseClock(rs.EndTime); ok {
		r.mask |= hasEndTime
		if e == 0 {
			e = 86400
		}
		r.endSec = e
		sp.clock = append(sp.clock, e%86400)
	}
	if d, ok := parseDate(rs.StartDate); ok {
		r.mask |= hasStartDate
		r.startDay = d
	}
	if d, ok := parseDate(rs.EndDate); ok {
		r.mask |= hasEndDate
		r.endDay = d
	}
	set := func(bit uint16, src *decimal.Decimal, dst *decimal.Decimal, list *[]decimal.Decimal) {
		if src != nil {
			r.mask |= bit
			*dst = *src
			*list = append(*list, *src)
		}
	}
	set(hasMinKWh, rs.MinKWh, &r.minKWh, &sp.kwh)
	set(hasMaxKWh, rs.MaxKWh, &r.maxKWh, &sp.kwh)
	set(hasMinCurrent, rs.MinCurrent, &r.minCurrent, &sp.current)
	set(hasMaxCurrent, rs.MaxCurrent, &r.maxCurrent, &sp.current)
	set(hasMinPower, rs.MinPower, &r.minPower, &sp.power)
	set(hasMaxPower, rs.MaxPower, &r.maxPower, &sp.power)
	if rs.MinDuration != nil {
		r.mask |= hasMinDuration
		r.minDur = time.Duration(*rs.MinDuration) * time.Second
		sp.durations = append(sp.durations, r.minDur)
	}
	if rs.MaxDuration != nil {
		r.mask |= hasMaxDuration
		r.maxDur = time.Duration(*rs.MaxDuration) * time.Second
		sp.durations = append(sp.durations, r.maxDur)
	}
	if len(rs.DayOfWeek) > 0 {
		r.mask |= hasDayOfWeek
		for _, d := range rs.DayOfWeek {
			r.days |= 1 << uint(d)
		}
	}
	if r.mask == 0 {
		// Only a reservation restriction (or an empty object): always applies.
		return nil
	}
	return r
}

func (sp *splitPoints) normalize() {
	sort.Slice(sp.clock, func(i, j int) bool { return sp.clock[i] < sp.clock[j] })
	sp.clock = uniq(sp.clock, func(a, b int32) bool { return a == b })
	sort.Slice(sp.durations, func(i, j int) bool { return sp.durations[i] < sp.durations[j] })
	sp.durations = uniq(sp.durations, func(a, b time.Duration) bool { return a == b })
	for _, l := range []*[]decimal.Decimal{&sp.kwh, &sp.power, &sp.current} {
		sort.Slice(*l, func(i, j int) bool { return (*l)[i].Cmp((*l)[j]) < 0 })
		*l = uniq(*l, func(a, b decimal.Decimal) bool { return a.Cmp(b) == 0 })
	}
}

func uniq[T any](s []T, eq func(a, b T) bool) []T {
	out := s[:0]
	for i, v := range s {
		if i == 0 || !eq(v, out[len(out)-1]) {
			out = append(out, v)
		}
	}
	return out
}

// conditions is what a restriction is checked against: the state of the
// session at the start of a charging period.
type conditions struct {
	secOfDay int32 // local
	day      int32 // local days since 1970-01-01
	weekday  time.Weekday
	elapsed  time.Duration // since the session started
	kwh      decimal.Decimal
	current  spread
	power    spread
}

// spread is the lowest and highest value of a quantity during a period.
type spread struct {
	lo, hi decimal.Decimal
	known  bool
}

// below reports whether the period stays below x: every value is under x,
// except that the highest may touch x at an edge of the period. A period
// split exactly where a rising or falling value crosses x touches x at its
// edge; that instant belongs to neither side.
func (s spread) below(x decimal.Decimal) bool {
	return s.lo.Cmp(x) < 0 && s.hi.Cmp(x) <= 0
}

func (r *rule) matches(c *conditions) bool {
	m := r.mask
	if m&(hasStartTime|hasEndTime) != 0 {
		if !r.clockMatches(c.secOfDay) {
			return false
		}
	}
	if m&hasStartDate != 0 && c.day < r.startDay {
		return false
	}
	if m&hasEndDate != 0 && c.day >= r.endDay {
		return false
	}
	if m&hasDayOfWeek != 0 && r.days&(1<<uint(c.weekday)) == 0 {
		return false
	}
	if m&hasMinDuration != 0 && c.elapsed < r.minDur {
		return false
	}
	if m&hasMaxDuration != 0 && c.elapsed >= r.maxDur {
		return false
	}
	if m&hasMinKWh != 0 && c.kwh.Cmp(r.minKWh) < 0 {
		return false
	}
	if m&hasMaxKWh != 0 && c.kwh.Cmp(r.maxKWh) >= 0 {
		return false
	}
	if m&(hasMinCurrent|hasMaxCurrent) != 0 {
		if !c.current.known ||
			(m&hasMinCurrent != 0 && c.current.below(r.minCurrent)) ||
			(m&hasMaxCurrent != 0 && !c.current.below(r.maxCurrent)) {
			return false
		}
	}
	if m&(hasMinPower|hasMaxPower) != 0 {
		if !c.power.known ||
			(m&hasMinPower != 0 && c.power.below(r.minPower)) ||
			(m&hasMaxPower != 0 && !c.power.below(r.maxPower)) {
			return false
		}
	}
	return true
}

// clockMatches applies start_time (inclusive) and end_time (exclusive); an
// end before the start wraps past midnight, and equal times mean all day.
func (r *rule) clockMatches(sec int32) bool {
	switch r.mask & (hasStartTime | hasEndTime) {
	case hasStartTime:
		return sec >= r.startSec
	case hasEndTime:
		return sec < r.endSec
	}
	if r.startSec < r.endSec {
		return sec >= r.startSec && sec < r.endSec
	}
	return sec >= r.startSec || sec < r.endSec
}

// mulExact returns a×b or ErrPrecision; it never rounds. Operands are
// trimmed of trailing zeros only when the product would not fit otherwise,
// which keeps the common path free of extra work.
func mulExact(a, b decimal.Decimal) (decimal.Decimal, error) {
	s := a.Scale() + b.Scale()
	if s <= decimal.MaxScale {
		if p, err := a.MulExact(b, s); err == nil {
			return p, nil
		}
	}
	a, b = a.Trim(0), b.Trim(0)
	s = a.Scale() + b.Scale()
	if s <= decimal.MaxScale {
		if p, err := a.MulExact(b, s); err == nil {
			return p, nil
		}
	}
	return decimal.Decimal{}, fmt.Errorf("%w: %s × %s", money.ErrPrecision, a, b)
}

// addExact returns a+b or ErrPrecision; it never rounds.
func addExact(a, b decimal.Decimal) (decimal.Decimal, error) {
	if r, err := a.AddExact(b, max(a.Scale(), b.Scale())); err == nil {
		return r, nil
	}
	a, b = a.Trim(0), b.Trim(0)
	if r, err := a.AddExact(b, max(a.Scale(), b.Scale())); err == nil {
		return r, nil
	}
	return decimal.Decimal{}, fmt.Errorf("%w: %s + %s", money.ErrPrecision, a, b)
}
