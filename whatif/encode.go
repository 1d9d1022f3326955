package whatif

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/tariff"
)

// A record is what a what-if reads of one CDR, as the stores keep it next
// to each CDR (evbill.WhatIfCDR.Record): the session's ID and start, what
// the CDR charged, and the charging periods it was priced on. A what-if
// reads a million of them, so a record is compact and alone in one column:
// parsing a million OCPI documents (a kilobyte or two each, durations in
// rounded hours) would take longer than the whole budget, and with
// SQLite every column read costs about as much as decoding the periods.
//
//	byte     1, the version
//	uvarint  length, then the session ID
//	uvarint  length, then the currency code
//	varint   the amount charged, minor units
//	varint   the session's start as stored, Unix microseconds
//	varint   the priced session's start, Unix nanoseconds
//	uvarint  its end − start, nanoseconds
//	uvarint  number of periods
//	per period:
//	  uvarint  start − the previous period's start (the session's for the first), nanoseconds
//	  byte     the tariff.Has bits the period reports
//	  one decimal per bit set, in the order of the tariff.Has constants
//	    (energy kWh, time s, parking time s, reservation time s, min/max
//	    current A, min/max power kW)
//	decimal: byte scale<<1 | sign, uvarint coefficient
//
// Every quantity is the engine's own exact decimal, so pricing the decoded
// periods under the tariff that priced the CDR gives its amount again, to
// the minor unit.
//
// A CDR stored before records existed has a legacy record instead, which
// the stores' migrations make in SQL from the CDR's columns:
//
//	"L" amount " " start-microseconds " " session-ID " " currency "\n" OCPI-document
//
// Its periods are parsed from the document the slow way (see Encode).
const (
	recordV1     = 1
	recordLegacy = 'L'
)

// ErrRecord reports a record in no known form.
var ErrRecord = errors.New("whatif: not a what-if record")

// hasAll is every Has bit the encoding carries, in the order of the
// tariff.Has constants.
const hasAll = tariff.HasEnergy | tariff.HasTime | tariff.HasParkingTime | tariff.HasReservationTime |
	tariff.HasMinCurrent | tariff.HasMaxCurrent | tariff.HasMinPower | tariff.HasMaxPower

// Header is the part of a record that says whose session it is and what
// was charged. Its byte slices alias the record.
type Header struct {
	// SessionID is the evbill session the CDR is of.
	SessionID []byte
	// Currency is the CDR's ISO 4217 code.
	Currency []byte
	// Amount is what the CDR charged, in minor units of Currency.
	Amount int64
	// StartedAt is the session's start as stored, Unix microseconds.
	StartedAt int64
}

// AppendRecord appends the record of a session that charged amount in
// currency and was priced on the session s (its Location is not kept: a
// site's time zone is the site's, read when the periods are priced).
func AppendRecord(dst []byte, sessionID string, startedAt time.Time, currency string, amount int64, s *tariff.Session) ([]byte, error) {
	dst = append(dst, recordV1)
	dst = binary.AppendUvarint(dst, uint64(len(sessionID)))
	dst = append(dst, sessionID...)
	dst = binary.AppendUvarint(dst, uint64(len(currency)))
	dst = append(dst, currency...)
	dst = binary.AppendVarint(dst, amount)
	dst = binary.AppendVarint(dst, startedAt.UnixMicro())
	dst = binary.AppendVarint(dst, s.Start.UnixNano())
	span := s.End.Sub(s.Start)
	if span < 0 {
		return dst, fmt.Errorf("whatif: the session ends before it starts")
	}
	dst = binary.AppendUvarint(dst, uint64(span))
	dst = binary.AppendUvarint(dst, uint64(len(s.Periods)))
	prev := s.Start
	for i := range s.Periods {
		p := &s.Periods[i]
		d := p.Start.Sub(prev)
		if d < 0 {
			return dst, fmt.Errorf("whatif: charging period %d starts before the one before it", i)
		}
		prev = p.Start
		if p.Has&^hasAll != 0 {
			return dst, fmt.Errorf("whatif: charging period %d reports an unknown dimension", i)
		}
		dst = binary.AppendUvarint(dst, uint64(d))
		dst = append(dst, byte(p.Has))
		for _, q := range quantities(p) {
			if p.Has&q.has != 0 {
				dst = appendDecimal(dst, *q.v)
			}
		}
	}
	return dst, nil
}

// quantity is one of a period's decimals with the bit that says it is
// reported.
type quantity struct {
	has tariff.Has
	v   *decimal.Decimal
}

// quantities lists the period's decimals in encoding order.
func quantities(p *tariff.Period) [8]quantity {
	return [8]quantity{
		{tariff.HasEnergy, &p.Energy}, {tariff.HasTime, &p.Time}, {tariff.HasParkingTime, &p.ParkingTime},
		{tariff.HasReservationTime, &p.ReservationTime}, {tariff.HasMinCurrent, &p.MinCurrent},
		{tariff.HasMaxCurrent, &p.MaxCurrent}, {tariff.HasMinPower, &p.MinPower}, {tariff.HasMaxPower, &p.MaxPower},
	}
}

func appendDecimal(dst []byte, d decimal.Decimal) []byte {
	b := byte(d.Scale()) << 1
	if d.IsNeg() {
		b |= 1
	}
	dst = append(dst, b)
	return binary.AppendUvarint(dst, d.Coef())
}

// Encode returns the record of a CDR whose OCPI document evbill wrote
// (charging's CDRs, cdr.AppendNew): the store calls it when it inserts
// the CDR, with the session's ID and stored start and the CDR's currency
// and amount. The engine priced that session with its instants truncated
// to the millisecond (tariff.PriceMetered), and so are the session's start
// and end here. The document states TIME and PARKING_TIME in hours,
// rounded to 6 decimals when seconds/3600 is not a finite decimal;
// evbill's periods charge or park for exactly their span between
// millisecond boundaries (tariff.Periods), so a duration within that
// rounding of the span is the span, recovered exactly. Encode refuses a
// document cdr.Parse refuses.
func Encode(doc []byte, sessionID string, startedAt time.Time, currency string, amount int64) ([]byte, error) {
	c := parsers.Get().(*cdr.CDR)
	defer parsers.Put(c)
	if err := c.Parse(doc); err != nil {
		return nil, err
	}
	if err := recoverSpans(&c.Session); err != nil {
		return nil, err
	}
	return AppendRecord(make([]byte, 0, 128), sessionID, startedAt, currency, amount, &c.Session)
}

// parsers keeps parsed CDRs for Encode to parse into: a CDR reused
// parses without allocating, and Encode runs on the path that ends
// sessions.
var parsers = sync.Pool{New: func() any { return new(cdr.CDR) }}

// Record returns the record the store keeps for a CDR: Encode's, or,
// for a document Encode refuses (none of charging's; a CDR that did not
// come from the engine), the legacy record around the document, so that
// a what-if names the session it cannot re-price and says why.
func Record(doc []byte, sessionID string, startedAt time.Time, currency string, amount int64) []byte {
	rec, err := Encode(doc, sessionID, startedAt, currency, amount)
	if err != nil {
		return LegacyRecord(doc, sessionID, startedAt, currency, amount)
	}
	return rec
}

// LegacyRecord returns the legacy record of a CDR, as the stores'
// migrations make it in SQL for the CDRs stored before records existed.
func LegacyRecord(doc []byte, sessionID string, startedAt time.Time, currency string, amount int64) []byte {
	b := fmt.Appendf(nil, "L%d %d %s %s\n", amount, startedAt.UnixMicro(), sessionID, currency)
	return append(b, doc...)
}

// halfRoundingUnit is half the unit of an hour volume rounded to 6
// decimals, in seconds: 0.5 × 10⁻⁶ h = 1.8 ms.
var halfRoundingUnit = decimal.MustNew(18, 4)

// recoverSpans truncates the session's start and end to the millisecond,
// as the engine did when it priced them, and replaces each TIME and
// PARKING_TIME that is its period's span up to the hour rounding of the
// document by the exact span.
func recoverSpans(s *tariff.Session) error {
	s.Start, s.End = s.Start.Truncate(time.Millisecond), s.End.Truncate(time.Millisecond)
	if len(s.Periods) > 0 && s.Periods[0].Start.Before(s.Start) {
		return fmt.Errorf("whatif: charging period 0 starts before the session")
	}
	for i := range s.Periods {
		p := &s.Periods[i]
		if p.Has&(tariff.HasTime|tariff.HasParkingTime) == 0 {
			continue
		}
		next := s.End
		if i+1 < len(s.Periods) {
			next = s.Periods[i+1].Start
		}
		span, err := seconds(next.Truncate(time.Millisecond).Sub(p.Start.Truncate(time.Millisecond)))
		if err != nil {
			return err
		}
		for _, v := range [...]*decimal.Decimal{&p.Time, &p.ParkingTime} {
			if v.IsZero() || v.Equal(span) {
				continue
			}
			diff, err := v.Sub(span)
			if err != nil {
				continue // too far apart to be a rounding
			}
			if diff.Abs().Cmp(halfRoundingUnit) <= 0 {
				*v = span
			}
		}
	}
	return nil
}

// seconds returns a duration in seconds as an exact decimal, as
// tariff.Periods computes a period's time.
func seconds(d time.Duration) (decimal.Decimal, error) {
	s, err := decimal.New(int64(d), 9)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return s.Trim(0), nil
}

// Decoder reads records. It keeps its buffers between calls, so one
// Decoder per goroutine decodes without allocating once they have grown.
type Decoder struct {
	periods []tariff.Period
	doc     cdr.CDR
	rest    []byte // after the header: the periods, or the document
	legacy  bool
	// FromDocument counts the sessions whose periods were parsed from an
	// OCPI document (legacy records).
	FromDocument int64
}

// Header decodes a record's header; Periods then decodes the rest of the
// same record. A what-if reads every header and skips the periods of a
// CDR in another currency.
func (d *Decoder) Header(rec []byte) (Header, error) {
	d.rest = nil
	if len(rec) == 0 {
		return Header{}, ErrRecord
	}
	switch rec[0] {
	case recordV1:
		r := reader{b: rec[1:]}
		h := Header{SessionID: r.bytes(), Currency: r.bytes(), Amount: r.varint(), StartedAt: r.varint()}
		if r.err != nil {
			return Header{}, ErrRecord
		}
		d.rest, d.legacy = r.b, false
		return h, nil
	case recordLegacy:
		line, doc, ok := bytes.Cut(rec[1:], []byte{'\n'})
		fields := bytes.Fields(line)
		if !ok || len(fields) != 4 {
			return Header{}, ErrRecord
		}
		amount, err1 := strconv.ParseInt(string(fields[0]), 10, 64)
		start, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
		if err1 != nil || err2 != nil {
			return Header{}, ErrRecord
		}
		d.rest, d.legacy = doc, true
		return Header{SessionID: fields[2], Currency: fields[3], Amount: amount, StartedAt: start}, nil
	}
	return Header{}, ErrRecord
}

// Periods decodes into s (Start, End, Periods; Location is left as it is)
// the periods of the record whose Header was decoded last. They are valid
// until the next call.
func (d *Decoder) Periods(s *tariff.Session) error {
	if d.rest == nil {
		return ErrRecord
	}
	if d.legacy {
		if err := d.doc.Parse(d.rest); err != nil {
			return err
		}
		if err := recoverSpans(&d.doc.Session); err != nil {
			return err
		}
		loc := s.Location
		*s = d.doc.Session
		s.Location = loc
		d.FromDocument++
		return nil
	}
	return d.periodsV1(s)
}

// Decode decodes a whole record: its header and, into s, its periods.
func (d *Decoder) Decode(rec []byte, s *tariff.Session) (Header, error) {
	h, err := d.Header(rec)
	if err != nil {
		return Header{}, err
	}
	return h, d.Periods(s)
}

func (d *Decoder) periodsV1(s *tariff.Session) error {
	r := reader{b: d.rest}
	start := r.varint()
	span := r.uvarint()
	n := r.uvarint()
	if r.err != nil || span > math.MaxInt64 || n > uint64(len(r.b)) {
		return ErrRecord
	}
	s.Start = time.Unix(0, start).UTC()
	s.End = s.Start.Add(time.Duration(span))
	s.ReservationExpired, s.Running = false, false
	if cap(d.periods) < int(n) {
		d.periods = make([]tariff.Period, n)
	}
	ps := d.periods[:n]
	at := s.Start
	for i := range ps {
		delta := r.uvarint()
		if delta > math.MaxInt64 {
			return ErrRecord
		}
		at = at.Add(time.Duration(delta))
		p := &ps[i]
		*p = tariff.Period{Start: at, Has: tariff.Has(r.byte())}
		if p.Has&^hasAll != 0 {
			return ErrRecord
		}
		for _, q := range quantities(p) {
			if p.Has&q.has != 0 {
				*q.v = r.decimal()
			}
		}
		if r.err != nil {
			return r.err
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return ErrRecord
	}
	s.Periods = ps
	return nil
}

// reader reads the encoding, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	r.err, r.b = ErrRecord, nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) decimal() decimal.Decimal {
	head := r.byte()
	coef := r.uvarint()
	if r.err != nil {
		return decimal.Decimal{}
	}
	scale := int(head >> 1)
	var d decimal.Decimal
	var err error
	if coef <= math.MaxInt64 {
		d, err = decimal.New(int64(coef), scale)
	} else {
		// Coefficients above 2⁶³ (19 digits, rare) go through text.
		d, err = decimal.Parse(pointed(strconv.FormatUint(coef, 10), scale))
	}
	if err != nil {
		r.fail()
		return decimal.Decimal{}
	}
	if head&1 != 0 {
		d = d.Neg()
	}
	return d
}

// pointed places a decimal point scale digits from the end of digits.
func pointed(digits string, scale int) string {
	if scale <= 0 {
		return digits
	}
	for len(digits) <= scale {
		digits = "0" + digits
	}
	return digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}
