package ocmf

import (
	"fmt"
	"strings"
)

// EnergyOutcome is what an energy comparison concluded. The zero value is
// no outcome, so that an unfilled Comparison never reads as a match.
type EnergyOutcome int

// The outcomes of CompareEnergy and CompareSessionEnergy.
const (
	// Match means the billed energy equals the metered energy exactly.
	Match EnergyOutcome = iota + 1
	// Mismatch means both are known and differ; Comparison has both.
	Mismatch
	// NotComparable means the records give no usable metered energy for a
	// session; Comparison.Reason says why.
	NotComparable
)

// String names the outcome.
func (o EnergyOutcome) String() string {
	switch o {
	case Match:
		return "match"
	case Mismatch:
		return "mismatch"
	case NotComparable:
		return "not comparable"
	}
	return "no outcome"
}

// Comparison is the answer of CompareEnergy and CompareSessionEnergy. All
// energies are exact decimals in Wh, written without exponent or trailing
// fractional zeros ("29500", "0.1"); they are empty when not known.
type Comparison struct {
	// Outcome is Match, Mismatch or NotComparable.
	Outcome EnergyOutcome
	// Reason says why the outcome is NotComparable or Mismatch.
	Reason string
	// Register is the RI of the readings compared, as written; empty when
	// the records name no register for their energy readings.
	Register string
	// Begin and End are the begin (TX=B) and end (TX=E, L, R, A or P)
	// readings compared; zero when not found.
	Begin, End Reading
	// BeginWh and EndWh are those readings' values in Wh.
	BeginWh, EndWh string
	// MeteredWh is EndWh − BeginWh, signed: a meter that went backwards
	// gives a negative value, which no bill matches.
	MeteredWh string
	// BilledWh is the billed energy as the caller gave it.
	BilledWh string
	// DifferenceWh is billed − metered.
	DifferenceWh string
	// LossWh is the cable loss the meter accumulated over the session (CL
	// at the end less CL at the begin), when the end reading gives CL. It
	// is reported, not subtracted: the spec leaves open whether RV already
	// has the loss taken off, and a record that compensates for cable loss
	// also carries the device register (B1, B3), which the comparison
	// prefers.
	LossWh string
}

// String formats the comparison for a log line or a dispute note.
func (c Comparison) String() string {
	switch c.Outcome {
	case Match:
		return fmt.Sprintf("match: %s Wh (register %s)", c.MeteredWh, registerName(c.Register))
	case Mismatch, NotComparable:
		return c.Outcome.String() + ": " + c.Reason
	}
	return c.Outcome.String()
}

func registerName(ri string) string {
	if ri == "" {
		return "without RI"
	}
	return ri
}

// registerKind classifies the energy import registers a record can carry.
type registerKind int

const (
	kindOther registerKind = iota
	kindDeviceTotal
	kindDeviceTransaction
	kindMainsTotal
	kindMainsTransaction
	kindUnnamed
)

// registerPriority is the order in which the comparison picks a register
// when a record carries several (the spec's example carries 1.8.0, B1 and
// B3 together). The energy the vehicle received, after the cable's loss,
// is what the driver pays for, so the device registers come first; then
// the mains registers, the classic 1-0:1.8.0 among them; last, energy
// readings that name no register at all, since RI is optional.
var registerPriority = []registerKind{kindDeviceTotal, kindDeviceTransaction, kindMainsTotal, kindMainsTransaction, kindUnnamed}

// classifyRegister reads an OBIS code in either spelling meters use: the
// classic decimal "1-0:1.8.0*255" (with B written as a letter by some, as
// in KEBA's "1-b:1.8.0") and OCMF 1.4's hexadecimal "01-00:B1.08.00*FF".
// Only C, D and E matter here: C is the quantity (1 active import, B0–B3
// OCMF's import registers), D = 8 the time integral, E = 0 the total over
// all tariffs.
func classifyRegister(ri string) registerKind {
	if ri == "" {
		return kindUnnamed
	}
	code, _, _ := strings.Cut(ri, "*")
	code, _, _ = strings.Cut(code, "&")
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	parts := strings.Split(code, ".")
	if len(parts) != 3 {
		return kindOther
	}
	for i, p := range parts {
		p = strings.ToUpper(strings.TrimLeft(strings.TrimSpace(p), "0"))
		if p == "" {
			p = "0"
		}
		parts[i] = p
	}
	if parts[1] != "8" || parts[2] != "0" {
		return kindOther
	}
	switch parts[0] {
	case "1", "B0":
		return kindMainsTotal
	case "B1":
		return kindDeviceTotal
	case "B2":
		return kindMainsTransaction
	case "B3":
		return kindDeviceTransaction
	}
	return kindOther
}

// unitExponent gives the power of ten that turns the unit into Wh.
func unitExponent(unit string) (int, bool) {
	switch unit {
	case "Wh":
		return 0, true
	case "kWh":
		return 3, true
	}
	return 0, false
}

// CompareEnergy compares the energy billed for a session, in Wh as a
// decimal string, with the energy between the begin and end readings of
// one record that holds both (the spec's "MR", multiple readings, mode).
// It does not verify the signature: compare only a Verified record.
func CompareEnergy(r Record, billedWh string) Comparison {
	return CompareSessionEnergy([]Record{r}, billedWh)
}

type located struct {
	rec int // index into the records
	idx int // index into the record's readings
	r   Reading
}

func (l located) where() string { return fmt.Sprintf("record %d RD[%d]", l.rec, l.idx) }

// CompareSessionEnergy is CompareEnergy over the records of one session,
// for chargers that sign the begin and the end separately (the spec's
// "SR", single reading, mode: one record from StartTransaction or
// MeterValues, one at the stop). Records from different meters, an end
// before the begin, or pagination going backwards between them make the
// session NotComparable, as does any reading whose flags or meter state
// say its energy may not be billed.
func CompareSessionEnergy(records []Record, billedWh string) Comparison {
	c := Comparison{BilledWh: billedWh}
	notComparable := func(format string, args ...any) Comparison {
		c.Outcome, c.Reason = NotComparable, fmt.Sprintf(format, args...)
		return c
	}
	billed, err := parseDecimal(billedWh)
	if err != nil {
		return notComparable("billed energy: %v", err)
	}
	if len(records) == 0 {
		return notComparable("no records")
	}
	for i := 1; i < len(records); i++ {
		a, b := records[0].Payload, records[i].Payload
		if a.MeterSerial != b.MeterSerial || a.GatewaySerial != b.GatewaySerial {
			return notComparable("records 0 and %d come from different meters (MS %q/%q, GS %q/%q)", i, a.MeterSerial, b.MeterSerial, a.GatewaySerial, b.GatewaySerial)
		}
	}
	for ri, rec := range records {
		for i, rd := range rec.Payload.Readings {
			if rd.EnergyUnusable() {
				return notComparable("record %d RD[%d] (TX=%s, EF=%q) marks energy as no longer usable for billing", ri, i, rd.Reason, rd.ErrorFlags)
			}
		}
	}

	var begins, ends []located
	var partial string
	for _, kind := range registerPriority {
		begins, ends = nil, nil
		for ri, rec := range records {
			for i, rd := range rec.Payload.Readings {
				if classifyRegister(rd.ID) != kind || rd.Value == "" {
					continue
				}
				if kind == kindUnnamed {
					if _, ok := unitExponent(rd.Unit); !ok {
						continue // a nameless reading counts as energy only by its unit
					}
				}
				switch {
				case rd.Reason == ReasonBegin:
					begins = append(begins, located{ri, i, rd})
				case rd.Reason.Ends():
					ends = append(ends, located{ri, i, rd})
				}
			}
		}
		if len(begins) > 0 && len(ends) > 0 {
			break
		}
		if partial == "" && len(begins) > 0 {
			partial = fmt.Sprintf("register %s has a begin reading (%s) but no end reading (TX=E, L, R, A or P)", registerName(begins[0].r.ID), begins[0].where())
		}
		if partial == "" && len(ends) > 0 {
			partial = fmt.Sprintf("register %s has an end reading (%s) but no begin reading (TX=B)", registerName(ends[0].r.ID), ends[0].where())
		}
		begins, ends = nil, nil
	}
	if len(begins) == 0 {
		if partial != "" {
			return notComparable("%s", partial)
		}
		return notComparable("no begin (TX=B) and end (TX=E) readings of an energy import register (OBIS 1.8.0, or OCMF's B0.08.00 to B3.08.00) in the records")
	}
	if len(begins) > 1 {
		return notComparable("register %s has %d begin readings (%s, %s): a session has one", registerName(begins[0].r.ID), len(begins), begins[0].where(), begins[1].where())
	}
	if len(ends) > 1 {
		return notComparable("register %s has %d end readings (%s, %s): a session has one", registerName(ends[0].r.ID), len(ends), ends[0].where(), ends[1].where())
	}
	b, e := begins[0], ends[0]
	c.Register, c.Begin, c.End = b.r.ID, b.r, e.r

	for _, l := range []struct {
		name string
		at   located
	}{{"begin", b}, {"end", e}} {
		if l.at.r.Status != StatusOK {
			return notComparable("the meter's state at the %s reading (%s) is %s, not G (OK)", l.name, l.at.where(), l.at.r.Status)
		}
		if _, ok := unitExponent(l.at.r.Unit); !ok {
			return notComparable("the %s reading (%s) is in %q: only Wh and kWh are compared", l.name, l.at.where(), l.at.r.Unit)
		}
	}
	if e.r.Time.At.Before(b.r.Time.At) {
		return notComparable("the end reading (%s, %s) is earlier than the begin reading (%s, %s)", e.where(), e.r.Time, b.where(), b.r.Time)
	}
	if b.rec != e.rec {
		bp, ep := records[b.rec].Payload, records[e.rec].Payload
		if bp.Pagination.Context != "T" || ep.Pagination.Context != "T" {
			return notComparable("begin and end are in different records whose pagination is not both in the transaction context (PG %s, %s)", bp.Pagination, ep.Pagination)
		}
		if ep.Pagination.Number <= bp.Pagination.Number {
			return notComparable("the end's record (PG %s) does not come after the begin's (PG %s)", ep.Pagination, bp.Pagination)
		}
		if bp.IdentificationData != "" && ep.IdentificationData != "" && bp.IdentificationData != ep.IdentificationData {
			return notComparable("begin and end records identify different users (ID %q, %q)", bp.IdentificationData, ep.IdentificationData)
		}
	}

	beginWh, err := readingWh(b.r.Value, b.r.Unit)
	if err != nil {
		return notComparable("begin reading (%s) RV: %v", b.where(), err)
	}
	endWh, err := readingWh(e.r.Value, e.r.Unit)
	if err != nil {
		return notComparable("end reading (%s) RV: %v", e.where(), err)
	}
	metered := endWh.sub(beginWh)
	c.BeginWh, c.EndWh, c.MeteredWh = beginWh.String(), endWh.String(), metered.String()
	if e.r.CumulatedLoss != "" {
		if loss, err := lossWh(b.r, e.r); err == nil {
			c.LossWh = loss.String()
		}
	}
	diff := billed.sub(metered)
	c.DifferenceWh = diff.String()
	if diff.sign() == 0 {
		c.Outcome = Match
		return c
	}
	c.Outcome = Mismatch
	c.Reason = fmt.Sprintf("billed %s Wh, metered %s Wh (register %s, %s to %s): difference %s Wh",
		billedWh, c.MeteredWh, registerName(c.Register), c.BeginWh, c.EndWh, c.DifferenceWh)
	if metered.sign() < 0 {
		c.Reason += "; the end reading is below the begin reading"
	}
	if c.LossWh != "" {
		c.Reason += "; the meter reports a cable loss of " + c.LossWh + " Wh"
	}
	return c
}

func readingWh(value, unit string) (decimal, error) {
	d, err := parseDecimal(value)
	if err != nil {
		return decimal{}, err
	}
	n, _ := unitExponent(unit)
	return d.shift(n), nil
}

// lossWh is CL at the end less CL at the begin, each in its reading's unit;
// CL is reset at the begin, so a begin without CL counts as zero.
func lossWh(begin, end Reading) (decimal, error) {
	endLoss, err := readingWh(end.CumulatedLoss, end.Unit)
	if err != nil {
		return decimal{}, err
	}
	if begin.CumulatedLoss == "" {
		return endLoss, nil
	}
	beginLoss, err := readingWh(begin.CumulatedLoss, begin.Unit)
	if err != nil {
		return decimal{}, err
	}
	return endLoss.sub(beginLoss), nil
}
