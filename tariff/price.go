package tariff

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// Period is one OCPI charging period: what the session consumed from Start
// until the next period's Start (the last one until the session's End).
// Quantities are exact decimals in the units the engine prices in: kWh for
// energy and seconds for time. Has tells which OCPI dimensions the period
// reported; a restriction on a quantity the period does not report does
// not match.
type Period struct {
	Start           time.Time
	Energy          decimal.Decimal // ENERGY, kWh
	Time            decimal.Decimal // TIME, seconds charging
	ParkingTime     decimal.Decimal // PARKING_TIME, seconds connected but not charging
	ReservationTime decimal.Decimal // RESERVATION_TIME, seconds reserved before the session
	MinCurrent      decimal.Decimal // MIN_CURRENT, A, all phases
	MaxCurrent      decimal.Decimal // MAX_CURRENT, A, all phases
	MinPower        decimal.Decimal // MIN_POWER, kW
	MaxPower        decimal.Decimal // MAX_POWER, kW
	Has             Has
}

// Has is a set of OCPI CDR dimensions a period reports.
type Has uint16

// The dimensions a Period can report.
const (
	HasEnergy Has = 1 << iota
	HasTime
	HasParkingTime
	HasReservationTime
	HasMinCurrent
	HasMaxCurrent
	HasMinPower
	HasMaxPower
)

// Session is what the engine prices: a session's span, its charging
// periods in time order, and the location's time zone, in which the
// time-of-day, date and day-of-week restrictions are read.
type Session struct {
	Start, End time.Time
	Periods    []Period
	Location   *time.Location // nil means UTC
	// ReservationExpired marks a reservation that ended without a charging
	// session, priced by RESERVATION_EXPIRES elements first.
	ReservationExpired bool
	// Running marks a session still in progress. Its price is the cost of
	// what was consumed so far: step_size, a once-per-session rule, is
	// applied only when the session has ended, so a running price never
	// decreases and the running price of the ended session is its final price.
	Running bool
}

// Category groups costs the way an OCPI CDR totals them.
type Category uint8

// The OCPI CDR cost totals.
const (
	CategoryFixed       Category = iota // total_fixed_cost: FLAT fees of the session
	CategoryEnergy                      // total_energy_cost
	CategoryTime                        // total_time_cost: charging time
	CategoryParking                     // total_parking_cost
	CategoryReservation                 // total_reservation_cost: reservation time and fees
	NumCategories
)

// Cost is an exact amount excluding and including VAT. It is held as 3600
// times the amount, so that the price of any whole or fractional second is
// exact (2.00/h for 7 s is 14/3600, which no finite decimal holds); Round
// turns it into a decimal.
type Cost struct {
	exclX, inclX money.Fixed
}

// Round returns the cost excluding and including VAT rounded half away from
// zero to scale decimals.
func (c Cost) Round(scale int) (excl, incl decimal.Decimal, err error) {
	if excl, err = c.exclX.QuoRound(3600, scale); err != nil {
		return
	}
	incl, err = c.inclX.QuoRound(3600, scale)
	return
}

// IsZero reports whether the cost is exactly zero.
func (c Cost) IsZero() bool { return c.exclX.IsZero() && c.inclX.IsZero() }

// Cmp compares the costs excluding VAT.
func (c Cost) Cmp(d Cost) int { return c.exclX.Cmp(d.exclX) }

// Add returns c + d exactly, so that a receipt can total lines by VAT rate
// without rounding them first; money.ErrPrecision when the sum does not fit.
func (c Cost) Add(d Cost) (Cost, error) {
	excl, err := c.exclX.Add(d.exclX)
	if err != nil {
		return Cost{}, err
	}
	incl, err := c.inclX.Add(d.inclX)
	if err != nil {
		return Cost{}, err
	}
	return Cost{exclX: excl, inclX: incl}, nil
}

// Sub returns c − d exactly: for example what min_price or max_price added
// to or took from the sum of the lines (Total − Subtotal).
func (c Cost) Sub(d Cost) (Cost, error) {
	excl, err := c.exclX.Sub(d.exclX)
	if err != nil {
		return Cost{}, err
	}
	incl, err := c.inclX.Sub(d.inclX)
	if err != nil {
		return Cost{}, err
	}
	return Cost{exclX: excl, inclX: incl}, nil
}

// Line is one priced quantity: one dimension of one charging period under
// one price component. It is the explanation a receipt prints.
type Line struct {
	Period      int32 // index into Session.Periods
	Dimension   Dimension
	Reservation bool // priced by a reservation element
	// Quantity is kWh for ENERGY, seconds for TIME and PARKING_TIME and 1
	// for FLAT. It includes StepExtra, the quantity step_size rounding added.
	Quantity  decimal.Decimal
	StepExtra decimal.Decimal
	Cost      Cost
	cand      *candidate
}

// Element returns the index of the tariff element that priced the line.
func (l *Line) Element() int { return l.cand.element }

// Component returns the index of the price component within its element.
func (l *Line) Component() int { return l.cand.component }

// UnitPrice returns the price excluding VAT per kWh, per hour or per fee.
func (l *Line) UnitPrice() decimal.Decimal { return l.cand.price }

// VAT returns the VAT percentage and whether the component states one.
func (l *Line) VAT() (decimal.Decimal, bool) { return l.cand.vat, l.cand.hasVAT }

// StepSize returns the component's step_size (Wh or seconds; 1 for FLAT).
func (l *Line) StepSize() int64 { return l.cand.step }

// Result is a priced session.
//
// Rounding rule: every line is computed exactly, excluding and including
// VAT at its own component's rate; the lines are summed exactly; min_price
// and max_price are applied to the exact sums (excl. and incl. VAT each
// against its own bound); only then is anything rounded. OCPI price fields
// are rounded to 4 decimals, and the amount to charge (incl. VAT when the
// tariff states VAT, else excl.) is rounded once to the currency's minor
// unit. Both roundings are half away from zero.
type Result struct {
	TariffID string
	Currency money.Currency
	HasVAT   bool // some price component states VAT; OCPI incl_vat is output only then
	Final    bool // step_size was applied: the session has ended
	Lines    []Line
	// ByCategory holds the exact OCPI totals before min/max price.
	ByCategory [NumCategories]Cost
	Subtotal   Cost // exact sum of the lines
	Total      Cost // Subtotal after min_price and max_price
	MinApplied bool // min_price raised the total (excl. or incl. VAT)
	MaxApplied bool // max_price lowered the total (excl. or incl. VAT)
	Charge     money.Amount
}

// Errors returned by Price for a session that cannot be priced.
var (
	ErrNotValidated   = errors.New("tariff has not been validated")
	ErrInvalidSession = errors.New("invalid session")
)

// Price prices a session under the tariff. It allocates only the result's
// lines; PriceInto reuses them.
func (t *Tariff) Price(s *Session) (Result, error) {
	var r Result
	err := t.PriceInto(s, &r)
	return r, err
}

// PriceInto prices a session into r, reusing r's line storage.
func (t *Tariff) PriceInto(s *Session, r *Result) error {
	c := t.compiled
	if c == nil {
		return ErrNotValidated
	}
	lines := r.Lines[:0]
	*r = Result{TariffID: t.ID, Currency: c.currency, HasVAT: c.hasVAT, Final: !s.Running}
	if err := checkSession(s); err != nil {
		return err
	}
	if cap(lines) < 2*len(s.Periods)+2 {
		// Most periods bill two dimensions (energy and time, or parking)
		// and a session has at most two fees; append grows it otherwise.
		lines = make([]Line, 0, 2*len(s.Periods)+2)
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	expired := s.ReservationExpired || reservationOnly(s)
	var cond conditions
	var zone zoneCache
	var sessionFlat, reservationFlat bool
	cond.kwh = decimal.Zero
	for i := range s.Periods {
		p := &s.Periods[i]
		cond.set(s.Start, p, loc, &zone, c.needs)
		if p.Has&HasReservationTime != 0 {
			if !reservationFlat {
				if cand := c.reservation(Flat, expired, &cond); cand != nil {
					lines = append(lines, newLine(i, Flat, true, cand, decimal.One))
					reservationFlat = true
				}
			}
			if p.ReservationTime.IsPos() {
				if cand := c.reservation(Time, expired, &cond); cand != nil {
					lines = append(lines, newLine(i, Time, true, cand, p.ReservationTime))
				}
			}
		}
		if !expired && (p.Has&HasReservationTime == 0 || p.Has&(HasEnergy|HasTime|HasParkingTime) != 0) {
			if !sessionFlat {
				if cand := c.find(Flat, &cond); cand != nil {
					lines = append(lines, newLine(i, Flat, false, cand, decimal.One))
					sessionFlat = true
				}
			}
			if p.Energy.IsPos() {
				if cand := c.find(Energy, &cond); cand != nil {
					lines = append(lines, newLine(i, Energy, false, cand, p.Energy))
				}
			}
			if p.Time.IsPos() {
				if cand := c.find(Time, &cond); cand != nil {
					lines = append(lines, newLine(i, Time, false, cand, p.Time))
				}
			}
			if p.ParkingTime.IsPos() {
				if cand := c.find(ParkingTime, &cond); cand != nil {
					lines = append(lines, newLine(i, ParkingTime, false, cand, p.ParkingTime))
				}
			}
		}
		if c.needsKWh {
			var err error
			if cond.kwh, err = addExact(cond.kwh, p.Energy); err != nil {
				return err
			}
		}
	}
	r.Lines = lines
	if r.Final {
		if err := applySteps(lines); err != nil {
			return err
		}
	}
	return r.total(c)
}

func newLine(period int, d Dimension, reservation bool, cand *candidate, qty decimal.Decimal) Line {
	return Line{Period: int32(period), Dimension: d, Reservation: reservation, Quantity: qty, cand: cand}
}

func checkSession(s *Session) error {
	if len(s.Periods) == 0 {
		return fmt.Errorf("%w: no charging periods", ErrInvalidSession)
	}
	if s.End.Before(s.Start) {
		return fmt.Errorf("%w: ends before it starts", ErrInvalidSession)
	}
	for i := range s.Periods {
		p := &s.Periods[i]
		if p.Start.Before(s.Start) || p.Start.After(s.End) {
			return fmt.Errorf("%w: charging_periods[%d] starts outside the session", ErrInvalidSession, i)
		}
		if i > 0 && p.Start.Before(s.Periods[i-1].Start) {
			return fmt.Errorf("%w: charging_periods[%d] starts before the period before it", ErrInvalidSession, i)
		}
		if p.Energy.IsNeg() || p.Time.IsNeg() || p.ParkingTime.IsNeg() || p.ReservationTime.IsNeg() {
			return fmt.Errorf("%w: charging_periods[%d] has a negative quantity", ErrInvalidSession, i)
		}
	}
	return nil
}

// reservationOnly reports whether the session is a reservation that was
// never followed by charging: it reports reservation time and nothing else.
func reservationOnly(s *Session) bool {
	resv := false
	for i := range s.Periods {
		p := &s.Periods[i]
		if p.Has&(HasEnergy|HasTime|HasParkingTime) != 0 && (p.Energy.IsPos() || p.Time.IsPos() || p.ParkingTime.IsPos()) {
			return false
		}
		if p.Has&HasReservationTime != 0 {
			resv = true
		}
	}
	return resv
}

// zoneCache remembers the UTC offset in force over a stretch of time, so
// that the periods of one session, which nearly always share one offset,
// look up the time zone once.
type zoneCache struct {
	from, until int64 // Unix seconds; until is exclusive, 0 for no end
	offset      int64
	valid       bool
}

func (z *zoneCache) offsetAt(t time.Time, loc *time.Location) int64 {
	sec := t.Unix()
	if z.valid && sec >= z.from && (z.until == 0 || sec < z.until) {
		return z.offset
	}
	local := t.In(loc)
	_, off := local.Zone()
	from, until := local.ZoneBounds()
	z.from, z.until = math.MinInt64, 0
	if !from.IsZero() {
		z.from = from.Unix()
	}
	if !until.IsZero() {
		z.until = until.Unix()
	}
	z.offset, z.valid = int64(off), true
	return z.offset
}

func (c *conditions) set(sessionStart time.Time, p *Period, loc *time.Location, z *zoneCache, needs uint16) {
	if needs&(hasStartTime|hasEndTime|hasStartDate|hasEndDate|hasDayOfWeek) != 0 {
		local := p.Start.Unix() + z.offsetAt(p.Start, loc)
		day := local / 86400
		if local < 0 && local%86400 != 0 {
			day--
		}
		c.day = int32(day)
		c.secOfDay = int32(local - day*86400)
		c.weekday = time.Weekday((day%7 + 11) % 7) // 1970-01-01 was a Thursday
	}
	if needs&(hasMinDuration|hasMaxDuration) != 0 {
		c.elapsed = p.Start.Sub(sessionStart)
	}
	if needs&(hasMinCurrent|hasMaxCurrent) != 0 {
		c.current = spreadOf(p.MinCurrent, p.MaxCurrent, p.Has&HasMinCurrent != 0, p.Has&HasMaxCurrent != 0)
	}
	if needs&(hasMinPower|hasMaxPower) != 0 {
		c.power = spreadOf(p.MinPower, p.MaxPower, p.Has&HasMinPower != 0, p.Has&HasMaxPower != 0)
	}
}

func spreadOf(lo, hi decimal.Decimal, hasLo, hasHi bool) spread {
	switch {
	case hasLo && hasHi:
		return spread{lo: lo, hi: hi, known: true}
	case hasLo:
		return spread{lo: lo, hi: lo, known: true}
	case hasHi:
		return spread{lo: hi, hi: hi, known: true}
	}
	return spread{}
}

// find returns the first session component of dimension d whose element's
// restrictions hold, or nil: that dimension is then free for the period.
func (c *compiled) find(d Dimension, cond *conditions) *candidate {
	cands := c.session[d]
	for i := range cands {
		if cands[i].rule == nil || cands[i].rule.matches(cond) {
			return &cands[i]
		}
	}
	return nil
}

// reservation returns the reservation component for d. An expired
// reservation looks in RESERVATION_EXPIRES elements first (OCPI 2.2.1,
// ReservationRestrictionType note), then in RESERVATION elements.
func (c *compiled) reservation(d Dimension, expired bool, cond *conditions) *candidate {
	lists := [2][]candidate{c.reserved[ReservationActive-1][d]}
	if expired {
		lists = [2][]candidate{c.reserved[ReservationExpires-1][d], c.reserved[ReservationActive-1][d]}
	}
	for _, cands := range lists {
		for i := range cands {
			if cands[i].rule == nil || cands[i].rule.matches(cond) {
				return &cands[i]
			}
		}
	}
	return nil
}

// applySteps applies step_size once per session (OCPI 2.2.1 CDR, step_size):
// once for ENERGY, once for TIME and PARKING_TIME together, and once for
// reservation time. The total billed quantity of the dimension is rounded
// up to a multiple of the step_size of the last line that billed it, and
// the extra is billed in that last line. For time, only the dimension of
// the last time-based line is rounded, so charging time followed by parking
// is not rounded and parking is.
func applySteps(lines []Line) error {
	lastEnergy, lastTime, lastResv := -1, -1, -1
	for i := range lines {
		switch l := &lines[i]; {
		case l.Dimension == Flat:
		case l.Reservation:
			lastResv = i
		case l.Dimension == Energy:
			lastEnergy = i
		default:
			lastTime = i
		}
	}
	if lastEnergy >= 0 {
		if err := roundUp(lines, lastEnergy, 1000); err != nil {
			return err
		}
	}
	if lastTime >= 0 {
		if err := roundUp(lines, lastTime, 1); err != nil {
			return err
		}
	}
	if lastResv >= 0 {
		if err := roundUp(lines, lastResv, 1); err != nil {
			return err
		}
	}
	return nil
}

// roundUp rounds the total quantity of the lines like lines[last] up to
// lines[last]'s step. perUnit converts the quantity to step units: 1000 Wh
// per kWh, or 1 second per second.
func roundUp(lines []Line, last int, perUnit uint64) error {
	ref := &lines[last]
	stepSize := ref.cand.step
	total := decimal.Zero
	var err error
	for i := range lines {
		if l := &lines[i]; l.Dimension == ref.Dimension && l.Reservation == ref.Reservation {
			if total, err = addExact(total, l.Quantity); err != nil {
				return err
			}
		}
	}
	// In integers: total is coef·10^-scale, so in step units it is
	// coef·perUnit·10^-scale, and the step is step·10^scale of those.
	scale := total.Scale()
	hi, units := bits.Mul64(total.Coef(), perUnit)
	shi, step := bits.Mul64(uint64(stepSize), pow10[scale])
	if hi != 0 || shi != 0 || scale > 18 {
		return fmt.Errorf("%w: step_size rounding of %s", money.ErrPrecision, total)
	}
	rem := units % step
	if rem == 0 {
		return nil
	}
	extraScale := scale
	if perUnit == 1000 {
		extraScale += 3 // back from Wh to kWh
	}
	extra, err := decimal.New(int64(step-rem), extraScale)
	if err != nil {
		return fmt.Errorf("%w: step extra of %s", money.ErrPrecision, total)
	}
	ref.StepExtra = extra.Trim(0)
	ref.Quantity, err = addExact(ref.Quantity, ref.StepExtra)
	return err
}

var pow10 = func() [19]uint64 {
	var p [19]uint64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// total prices the lines and applies min/max price and rounding.
func (r *Result) total(c *compiled) error {
	r.ByCategory = [NumCategories]Cost{}
	var err error
	for i := range r.Lines {
		l := &r.Lines[i]
		if l.Cost.exclX, err = money.MulDecimals(l.cand.unitX, l.Quantity); err != nil {
			return err
		}
		if !l.cand.hasVAT {
			l.Cost.inclX = l.Cost.exclX
		} else if l.Cost.inclX, err = money.MulDecimals(l.cand.unitInclX, l.Quantity); err != nil {
			return err
		}
		cat := &r.ByCategory[l.category()]
		if cat.exclX, err = cat.exclX.Add(l.Cost.exclX); err != nil {
			return err
		}
		if cat.inclX, err = cat.inclX.Add(l.Cost.inclX); err != nil {
			return err
		}
	}
	r.Subtotal = Cost{}
	for i := range r.ByCategory {
		cat := &r.ByCategory[i]
		if r.Subtotal.exclX, err = r.Subtotal.exclX.Add(cat.exclX); err != nil {
			return err
		}
		if r.Subtotal.inclX, err = r.Subtotal.inclX.Add(cat.inclX); err != nil {
			return err
		}
	}
	r.Total = r.Subtotal
	if b := c.min; b != nil {
		if r.Total.exclX.Cmp(b.exclX) < 0 {
			r.Total.exclX, r.MinApplied = b.exclX, true
		}
		if c.hasVAT && b.hasIncl && r.Total.inclX.Cmp(b.inclX) < 0 {
			r.Total.inclX, r.MinApplied = b.inclX, true
		}
	}
	if b := c.max; b != nil {
		if r.Total.exclX.Cmp(b.exclX) > 0 {
			r.Total.exclX, r.MaxApplied = b.exclX, true
		}
		if c.hasVAT && b.hasIncl && r.Total.inclX.Cmp(b.inclX) > 0 {
			r.Total.inclX, r.MaxApplied = b.inclX, true
		}
	}
	if !c.hasVAT {
		r.Total.inclX = r.Total.exclX
	}
	amount, err := r.Total.inclX.QuoRound(3600, c.currency.Exponent())
	if err != nil {
		return err
	}
	r.Charge, err = money.AmountFromDecimal(amount, c.currency)
	return err
}

func (l *Line) category() Category {
	switch {
	case l.Reservation:
		return CategoryReservation
	case l.Dimension == Energy:
		return CategoryEnergy
	case l.Dimension == Time:
		return CategoryTime
	case l.Dimension == ParkingTime:
		return CategoryParking
	}
	return CategoryFixed
}

// ValidAt reports whether the tariff's start_date_time and end_date_time
// (inclusive and exclusive) cover the instant.
func (t *Tariff) ValidAt(at time.Time) bool {
	return (t.StartDateTime.IsZero() || !at.Before(t.StartDateTime)) &&
		(t.EndDateTime.IsZero() || at.Before(t.EndDateTime))
}

// ErrNoTariff is returned by Select when no tariff is valid at the instant.
var ErrNoTariff = errors.New("no tariff is valid at the session's start")

// Select returns the first tariff valid at the instant a session started: a
// driver is billed under the tariff in force when they began charging.
func Select(tariffs []*Tariff, sessionStart time.Time) (*Tariff, error) {
	for _, t := range tariffs {
		if t.ValidAt(sessionStart) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w (%s)", ErrNoTariff, sessionStart.UTC().Format(time.RFC3339))
}
