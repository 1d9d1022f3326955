package cdr

import (
	"errors"
	"strconv"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// CDR is one parsed OCPI 2.2.1 CDR: the session the tariff engine prices,
// plus what AppendPriced needs to write the CDR back with costs filled in.
//
// A CDR is meant to be reused: Parse overwrites it and recycles its slices,
// so a loop that parses CDR after CDR into the same value does not allocate
// once the slices have grown. The CDR aliases the bytes given to Parse until
// the next Parse; the caller must not modify them before AppendPriced.
type CDR struct {
	// Session holds start_date_time, end_date_time and the charging periods,
	// with TIME, PARKING_TIME and RESERVATION_TIME converted from hours to
	// seconds. Location is left nil: the CDR carries no time zone (its
	// cdr_location has none), so the caller sets it before pricing.
	Session tariff.Session
	// Currency is the CDR's currency member.
	Currency money.Currency
	// TotalEnergy (kWh) and TotalTime (hours) are the CDR's required totals,
	// kept as received; evbill bills from the periods, not from these.
	TotalEnergy decimal.Decimal
	TotalTime   decimal.Decimal
	// TotalParkingTime (hours) is meaningful only when HasTotalParkingTime.
	TotalParkingTime    decimal.Decimal
	HasTotalParkingTime bool

	raw        []byte       // the input, aliased
	members    []member     // top-level members in input order
	spans      []periodSpan // one per input charging period
	buf        []byte       // scratch for strings with escapes
	currencies map[string]money.Currency
	derived    bool // TIME/PARKING_TIME were derived from the clock
	ok         bool // the last Parse succeeded
}

// member locates one top-level member in the input: key is the offset of
// the key's opening quote, val of the value's first byte, end just past it.
type member struct {
	key, val, end int
	kind          memberKind
}

// periodSpan locates one charging period object in the input so that
// AppendPriced can copy it with only its tariff_id changed.
type periodSpan struct {
	start, end  int // the object, '{' through '}'
	last        int // end of the last member's value, where a tariff_id is inserted
	tid, tidEnd int // the tariff_id value, tid < 0 when absent
}

type memberKind uint8

const (
	kindOther memberKind = iota
	kindStart
	kindEnd
	kindCurrency
	kindPeriods
	kindTotalEnergy
	kindTotalTime
	kindTotalParking
	kindCost // one of the six cost totals, recomputed on output
)

var memberNames = [...]string{
	kindStart:        "start_date_time",
	kindEnd:          "end_date_time",
	kindCurrency:     "currency",
	kindPeriods:      "charging_periods",
	kindTotalEnergy:  "total_energy",
	kindTotalTime:    "total_time",
	kindTotalParking: "total_parking_time",
}

func kindOf(key []byte) memberKind {
	switch string(key) {
	case "start_date_time":
		return kindStart
	case "end_date_time":
		return kindEnd
	case "currency":
		return kindCurrency
	case "charging_periods":
		return kindPeriods
	case "total_energy":
		return kindTotalEnergy
	case "total_time":
		return kindTotalTime
	case "total_parking_time":
		return kindTotalParking
	case "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost",
		"total_parking_cost", "total_reservation_cost":
		return kindCost
	}
	return kindOther
}

// dimType is an OCPI CdrDimensionType.
type dimType uint8

const (
	dimEnergy dimType = iota
	dimTime
	dimParkingTime
	dimReservationTime
	dimMinCurrent
	dimMaxCurrent
	dimMinPower
	dimMaxPower
	// Session-only types: accepted in a CDR, not billed.
	dimCurrent
	dimEnergyExport
	dimEnergyImport
	dimPower
	dimStateOfCharge
	numDimTypes
	dimNone = numDimTypes
)

var dimNames = [...]string{
	dimEnergy: "ENERGY", dimTime: "TIME", dimParkingTime: "PARKING_TIME",
	dimReservationTime: "RESERVATION_TIME", dimMinCurrent: "MIN_CURRENT",
	dimMaxCurrent: "MAX_CURRENT", dimMinPower: "MIN_POWER", dimMaxPower: "MAX_POWER",
	dimCurrent: "CURRENT", dimEnergyExport: "ENERGY_EXPORT", dimEnergyImport: "ENERGY_IMPORT",
	dimPower: "POWER", dimStateOfCharge: "STATE_OF_CHARGE",
}

func dimTypeOf(s []byte) dimType {
	switch string(s) {
	case "ENERGY":
		return dimEnergy
	case "TIME":
		return dimTime
	case "PARKING_TIME":
		return dimParkingTime
	case "RESERVATION_TIME":
		return dimReservationTime
	case "MIN_CURRENT":
		return dimMinCurrent
	case "MAX_CURRENT":
		return dimMaxCurrent
	case "MIN_POWER":
		return dimMinPower
	case "MAX_POWER":
		return dimMaxPower
	case "CURRENT":
		return dimCurrent
	case "ENERGY_EXPORT":
		return dimEnergyExport
	case "ENERGY_IMPORT":
		return dimEnergyImport
	case "POWER":
		return dimPower
	case "STATE_OF_CHARGE":
		return dimStateOfCharge
	}
	return dimNone
}

// Parse parses one OCPI 2.2.1 CDR into a new CDR. Use (*CDR).Parse in a
// loop to avoid allocating.
func Parse(data []byte) (*CDR, error) {
	c := new(CDR)
	if err := c.Parse(data); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse parses one OCPI 2.2.1 CDR into c, replacing what c held. The
// returned error is a *SyntaxError for malformed JSON (reported in
// preference to any other problem) or a *FieldError naming the first
// offending member; both match ErrInvalid. After an error c holds no usable
// CDR, but it can be reused.
func (c *CDR) Parse(data []byte) error {
	c.reset(data)
	p := parser{scanner: scanner{data: data}, c: c}
	p.document()
	if p.errSet {
		return p.syntaxError()
	}
	if p.sem != nil {
		return p.sem
	}
	if err := c.check(p.seen); err != nil {
		return err
	}
	if err := c.derive(); err != nil {
		return err
	}
	c.ok = true
	return nil
}

// Derived reports whether Parse derived the periods' TIME and PARKING_TIME
// from the clock because the CDR reported neither (see the package
// documentation). AppendPriced then writes the derived periods.
func (c *CDR) Derived() bool { return c.derived }

func (c *CDR) reset(data []byte) {
	c.Session = tariff.Session{Periods: c.Session.Periods[:0]}
	c.Currency = money.Currency{}
	c.TotalEnergy, c.TotalTime, c.TotalParkingTime = decimal.Zero, decimal.Zero, decimal.Zero
	c.HasTotalParkingTime = false
	c.raw = data
	c.members = c.members[:0]
	c.spans = c.spans[:0]
	c.derived, c.ok = false, false
}

// parser adds the CDR semantics to the scanner. A semantic problem does not
// stop the scan: the first one is kept and reported only if the whole
// document turns out to be well-formed JSON, so a truncated CDR is always
// reported as such rather than as, say, a missing member.
type parser struct {
	scanner
	c    *CDR
	sem  *FieldError
	seen uint16 // top-level member kinds seen, by 1<<kind
}

// where names a JSON path without building it: the string is made only
// when an error is reported, so valid CDRs cost no allocation.
type where struct {
	period, dim int // -1 when not inside a period or dimension
	member      string
}

func top(member string) where { return where{period: -1, dim: -1, member: member} }

func (w where) String() string {
	switch {
	case w.period < 0:
		return w.member
	case w.dim < 0:
		return periodPath(w.period, w.member)
	}
	return dimensionPath(w.period, w.dim, w.member)
}

func (p *parser) problem(w where, rule string, cause error) {
	if p.sem == nil {
		p.sem = &FieldError{Path: w.String(), Rule: rule, Err: cause}
	}
}

// key scans an object key and returns its value, decoding escapes into the
// CDR's scratch buffer (valid until the next decode).
func (p *parser) key() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, p.failChar(p.pos, "expected a string object key, found")
	}
	raw, esc, ok := p.str()
	if !ok || !p.colon() {
		return nil, false
	}
	if esc {
		p.c.buf = decode(p.c.buf[:0], raw)
		return p.c.buf, true
	}
	return raw, true
}

// stringValue scans the value at the current position. isStr is false when
// the value is not a string; it has then been skipped.
func (p *parser) stringValue() (s []byte, isStr, ok bool) {
	if p.peek() != '"' {
		return nil, false, p.skip()
	}
	raw, esc, ok := p.str()
	if !ok {
		return nil, false, false
	}
	if esc {
		p.c.buf = decode(p.c.buf[:0], raw)
		return p.c.buf, true, true
	}
	return raw, true, true
}

// numberValue is stringValue for numbers: it returns the number's text.
func (p *parser) numberValue() (text []byte, isNum, ok bool) {
	if c := p.peek(); c == '-' || isDigit(c) {
		text, ok = p.number()
		return text, ok, ok
	}
	return nil, false, p.skip()
}

func (p *parser) dateTime(w where) (time.Time, bool) {
	s, isStr, ok := p.stringValue()
	if !ok {
		return time.Time{}, false
	}
	if !isStr {
		p.problem(w, `must be an OCPI DateTime string such as "2015-06-29T20:39:09Z"`, nil)
		return time.Time{}, true
	}
	t, err := tariff.ParseDateTime(unsafeString(s))
	if err != nil {
		// err is a static value that does not hold s.
		p.problem(w, err.Error(), nil)
	}
	return t, true
}

// document parses the top-level CDR object.
func (p *parser) document() {
	p.ws()
	if p.peek() != '{' {
		if p.skip() {
			p.trailer()
			p.problem(top(""), "a CDR must be a JSON object", nil)
		}
		return
	}
	if !p.open() {
		return
	}
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			keyStart := p.pos
			key, ok := p.key()
			if !ok {
				return
			}
			kind := kindOf(key)
			valStart := p.pos
			if !p.member(kind) {
				return
			}
			p.c.members = append(p.c.members, member{key: keyStart, val: valStart, end: p.pos, kind: kind})
			more, ok := p.next('}')
			if !ok {
				return
			}
			if !more {
				break
			}
		}
	}
	p.depth--
	p.trailer()
}

func (p *parser) trailer() {
	p.ws()
	if p.pos < len(p.data) {
		p.failChar(p.pos, "unexpected data after the top-level value:")
	}
}

// member parses the value of one top-level member.
func (p *parser) member(kind memberKind) bool {
	if kind == kindOther || kind == kindCost {
		return p.skip()
	}
	w := top(memberNames[kind])
	bit := uint16(1) << kind
	if p.seen&bit != 0 {
		// Two values for a member evbill interprets are ambiguous: parsers
		// differ on which one wins, so the CDR is refused.
		p.problem(w, "duplicate member", nil)
	}
	p.seen |= bit
	c := p.c
	switch kind {
	case kindStart:
		t, ok := p.dateTime(w)
		c.Session.Start = t
		return ok
	case kindEnd:
		t, ok := p.dateTime(w)
		c.Session.End = t
		return ok
	case kindCurrency:
		return p.currency(w)
	case kindPeriods:
		return p.periods()
	}
	if kind == kindTotalParking && p.isNull() {
		p.seen &^= bit // an optional member given as null is absent
		return true
	}
	d, ok := p.quantity(w, "must be a number >= 0", true)
	switch kind {
	case kindTotalEnergy:
		c.TotalEnergy = d
	case kindTotalTime:
		c.TotalTime = d
	case kindTotalParking:
		c.TotalParkingTime, c.HasTotalParkingTime = d, true
	}
	return ok
}

func (p *parser) currency(w where) bool {
	s, isStr, ok := p.stringValue()
	if !ok {
		return false
	}
	if !isStr {
		p.problem(w, "must be an ISO 4217 currency code string", nil)
		return true
	}
	c := p.c
	// The map lookup with string(s) does not allocate; a miss copies the
	// code once, so steady-state parsing of a few currencies is free and
	// c.Currency never aliases the input.
	if cur, hit := c.currencies[string(s)]; hit {
		c.Currency = cur
		return true
	}
	cur, err := money.ParseCurrency(string(s))
	if err != nil {
		p.problem(w, err.Error(), err)
		return true
	}
	if c.currencies == nil {
		c.currencies = make(map[string]money.Currency)
	}
	c.currencies[cur.Code()] = cur
	c.Currency = cur
	return true
}

// quantity parses a number member exactly. rule is reported when the value
// is not a number, or is negative and nonNeg is set.
func (p *parser) quantity(w where, rule string, nonNeg bool) (decimal.Decimal, bool) {
	text, isNum, ok := p.numberValue()
	if !ok {
		return decimal.Zero, false
	}
	if !isNum {
		p.problem(w, rule, nil)
		return decimal.Zero, true
	}
	d, bad, cause := exactDecimal(text)
	switch {
	case bad != "":
		p.problem(w, bad, cause)
	case nonNeg && d.IsNeg():
		p.problem(w, rule, nil)
	}
	return d, true
}

// exactDecimal parses a JSON number with money.ParseDecimal and refuses
// any number a decimal cannot hold exactly. It returns a rule on failure.
func exactDecimal(text []byte) (decimal.Decimal, string, error) {
	if money.FractionDigits(unsafeString(text)) > decimal.MaxScale {
		return decimal.Zero, "must be a number with at most 19 decimal places", money.ErrPrecision
	}
	d, err := money.ParseDecimal(unsafeString(text))
	if err != nil {
		// err may hold the text, which aliases the caller's buffer: it is
		// not returned, only classified.
		if errors.Is(err, money.ErrPrecision) {
			return decimal.Zero, "must be a number with at most 19 significant digits", money.ErrPrecision
		}
		return decimal.Zero, "must be a number that fits an exact 19-digit decimal", money.ErrPrecision
	}
	return d, "", nil
}

// periods parses charging_periods.
func (p *parser) periods() bool {
	w := top("charging_periods")
	if p.peek() != '[' {
		if !p.skip() {
			return false
		}
		p.problem(w, "must be an array of ChargingPeriod objects", nil)
		return true
	}
	if !p.open() {
		return false
	}
	if p.peek() == ']' {
		p.pos++
		p.depth--
		p.problem(w, "must contain at least one charging period", nil)
		return true
	}
	for i := 0; ; i++ {
		if p.peek() != '{' {
			if !p.skip() {
				return false
			}
			p.problem(where{period: i, dim: -1}, "must be a ChargingPeriod object", nil)
		} else if !p.period(i) {
			return false
		}
		more, ok := p.next(']')
		if !ok {
			return false
		}
		if !more {
			p.depth--
			return true
		}
	}
}

// period parses the charging period object at the current '{'.
func (p *parser) period(i int) bool {
	span := periodSpan{start: p.pos, tid: -1}
	var per tariff.Period
	if !p.open() {
		return false
	}
	var seen uint8 // 1 start_date_time, 2 dimensions, 4 tariff_id
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			key, ok := p.key()
			if !ok {
				return false
			}
			switch string(key) {
			case "start_date_time":
				w := where{period: i, dim: -1, member: "start_date_time"}
				if seen&1 != 0 {
					p.problem(w, "duplicate member", nil)
				}
				seen |= 1
				if per.Start, ok = p.dateTime(w); !ok {
					return false
				}
			case "dimensions":
				if seen&2 != 0 {
					p.problem(where{period: i, dim: -1, member: "dimensions"}, "duplicate member", nil)
				}
				seen |= 2
				if !p.dimensions(i, &per) {
					return false
				}
			case "tariff_id":
				if seen&4 != 0 {
					// AppendPriced replaces the tariff_id; with two there is
					// no single one to replace.
					p.problem(where{period: i, dim: -1, member: "tariff_id"}, "duplicate member", nil)
				}
				seen |= 4
				span.tid = p.pos
				if !p.skip() {
					return false
				}
				span.tidEnd = p.pos
			default:
				if !p.skip() {
					return false
				}
			}
			span.last = p.pos
			more, ok := p.next('}')
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	p.depth--
	span.end = p.pos
	if seen&1 == 0 {
		p.problem(where{period: i, dim: -1, member: "start_date_time"}, "required", nil)
	}
	if seen&2 == 0 {
		p.problem(where{period: i, dim: -1, member: "dimensions"}, "required", nil)
	}
	p.c.Session.Periods = append(p.c.Session.Periods, per)
	p.c.spans = append(p.c.spans, span)
	return true
}

// dimensions parses a period's dimensions array into per.
func (p *parser) dimensions(i int, per *tariff.Period) bool {
	w := where{period: i, dim: -1, member: "dimensions"}
	if p.peek() != '[' {
		if !p.skip() {
			return false
		}
		p.problem(w, "must be an array of CdrDimension objects", nil)
		return true
	}
	if !p.open() {
		return false
	}
	if p.peek() == ']' {
		p.pos++
		p.depth--
		p.problem(w, "must contain at least one dimension", nil)
		return true
	}
	var seen uint16 // dimension types seen in this period
	for j := 0; ; j++ {
		if p.peek() != '{' {
			if !p.skip() {
				return false
			}
			p.problem(where{period: i, dim: j}, "must be a CdrDimension object", nil)
		} else if !p.dimension(i, j, per, &seen) {
			return false
		}
		more, ok := p.next(']')
		if !ok {
			return false
		}
		if !more {
			p.depth--
			return true
		}
	}
}

// dimension parses one CdrDimension. Its volume is interpreted only once
// the object is complete, because "volume" may come before "type".
func (p *parser) dimension(i, j int, per *tariff.Period, seenTypes *uint16) bool {
	if !p.open() {
		return false
	}
	typ := dimNone
	var vol []byte
	hasType, hasVol, volIsNum := false, false, false
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			key, ok := p.key()
			if !ok {
				return false
			}
			switch string(key) {
			case "type":
				w := where{period: i, dim: j, member: "type"}
				if hasType {
					p.problem(w, "duplicate member", nil)
				}
				hasType = true
				s, isStr, ok := p.stringValue()
				if !ok {
					return false
				}
				switch {
				case !isStr:
					p.problem(w, "must be a CdrDimensionType string", nil)
				default:
					if typ = dimTypeOf(s); typ == dimNone {
						p.problem(w, "unknown CdrDimensionType "+strconv.Quote(string(s)), nil)
					}
				}
			case "volume":
				if hasVol {
					p.problem(where{period: i, dim: j, member: "volume"}, "duplicate member", nil)
				}
				hasVol = true
				if vol, volIsNum, ok = p.numberValue(); !ok {
					return false
				}
			default:
				if !p.skip() {
					return false
				}
			}
			more, ok := p.next('}')
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	p.depth--
	wType := where{period: i, dim: j, member: "type"}
	wVol := where{period: i, dim: j, member: "volume"}
	if !hasType {
		p.problem(wType, "required", nil)
	}
	if !hasVol {
		p.problem(wVol, "required", nil)
	}
	if typ == dimNone {
		return true
	}
	bit := uint16(1) << typ
	if *seenTypes&bit != 0 {
		p.problem(wType, "duplicate "+dimNames[typ]+" dimension in the same charging period", nil)
	}
	*seenTypes |= bit
	if !hasVol || typ > dimMaxPower {
		// Session-only types are accepted and ignored, but their volume
		// must still be a number.
		if hasVol && !volIsNum {
			p.problem(wVol, "must be a number", nil)
		}
		return true
	}
	nonNeg := typ <= dimReservationTime
	rule := "must be a number"
	if nonNeg {
		// Negative quantities mean vehicle-to-grid export, which evbill does
		// not bill.
		rule = "must be a number >= 0"
	}
	if !volIsNum {
		p.problem(wVol, rule, nil)
		return true
	}
	d, bad, cause := exactDecimal(vol)
	switch {
	case bad != "":
		p.problem(wVol, bad, cause)
		return true
	case nonNeg && d.IsNeg():
		p.problem(wVol, rule, nil)
		return true
	}
	switch typ {
	case dimEnergy:
		per.Energy, per.Has = d, per.Has|tariff.HasEnergy
	case dimMinCurrent:
		per.MinCurrent, per.Has = d, per.Has|tariff.HasMinCurrent
	case dimMaxCurrent:
		per.MaxCurrent, per.Has = d, per.Has|tariff.HasMaxCurrent
	case dimMinPower:
		per.MinPower, per.Has = d, per.Has|tariff.HasMinPower
	case dimMaxPower:
		per.MaxPower, per.Has = d, per.Has|tariff.HasMaxPower
	default:
		sec, err := hoursToSeconds(d)
		if err != nil {
			p.problem(wVol, "hours × 3600 must fit an exact 19-digit decimal", money.ErrPrecision)
			return true
		}
		switch typ {
		case dimTime:
			per.Time, per.Has = sec, per.Has|tariff.HasTime
		case dimParkingTime:
			per.ParkingTime, per.Has = sec, per.Has|tariff.HasParkingTime
		case dimReservationTime:
			per.ReservationTime, per.Has = sec, per.Has|tariff.HasReservationTime
		}
	}
	return true
}

var d3600 = decimal.MustNew(3600, 0)

// hoursToSeconds converts exactly: an hour volume with 19 significant
// digits may not have a representable product, and that is an error, not
// a rounding. The product h × 3600 ends in two zeros, so it may lose two
// decimal places, and only those, to fit.
func hoursToSeconds(h decimal.Decimal) (decimal.Decimal, error) {
	h = h.Trim(0)
	s, err := h.MulExact(d3600, max(h.Scale()-2, 0))
	if err != nil {
		return decimal.Decimal{}, err
	}
	return s.Trim(0), nil
}

var errNotParsed = errors.New("cdr: the CDR has not been parsed successfully")

// check applies the cross-member rules once the whole document is read.
func (c *CDR) check(seen uint16) error {
	for _, k := range [...]memberKind{kindStart, kindEnd, kindCurrency, kindPeriods, kindTotalEnergy, kindTotalTime} {
		if seen&(1<<k) == 0 {
			return &FieldError{Path: memberNames[k], Rule: "required"}
		}
	}
	s := &c.Session
	if s.End.Before(s.Start) {
		return &FieldError{Path: "end_date_time", Rule: "must not be before start_date_time"}
	}
	for i := range s.Periods {
		t := s.Periods[i].Start
		switch {
		case t.Before(s.Start):
			return &FieldError{Path: periodPath(i, "start_date_time"), Rule: "must not be before the CDR's start_date_time"}
		case t.After(s.End):
			return &FieldError{Path: periodPath(i, "start_date_time"), Rule: "must not be after the CDR's end_date_time"}
		case i > 0 && t.Before(s.Periods[i-1].Start):
			return &FieldError{Path: periodPath(i, "start_date_time"), Rule: "must not be before the start of charging_periods[" + strconv.Itoa(i-1) + "]"}
		}
	}
	return nil
}
