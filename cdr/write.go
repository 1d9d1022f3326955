package cdr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// costNames are the OCPI CDR members for the Result's categories.
var costNames = [tariff.NumCategories]string{
	tariff.CategoryFixed:       "total_fixed_cost",
	tariff.CategoryEnergy:      "total_energy_cost",
	tariff.CategoryTime:        "total_time_cost",
	tariff.CategoryParking:     "total_parking_cost",
	tariff.CategoryReservation: "total_reservation_cost",
}

// priceScale is the number of decimals OCPI price fields are rounded to
// (Result's rounding rule).
const priceScale = 4

// AppendPriced appends c as an OCPI 2.2.1 CDR priced by r and returns the
// extended buffer. Every top-level member of the input is copied byte for
// byte in input order, except that the six cost members are dropped and
// charging_periods is rewritten: each period object is copied with its
// tariff_id set to r.TariffID, replaced where present and appended where
// absent. When Parse derived the periods' TIME and PARKING_TIME from the
// clock (CDR.Derived), the priced periods are written out instead, so that
// the CDR shows what was billed: start_date_time, the billing dimensions
// (hours exact when seconds/3600 is a finite decimal, else rounded half away
// from zero to 6 decimals) and tariff_id; the input periods' other members
// and session-only dimensions are then not kept.
//
// total_cost (from r.Total) and, for each category with at least one line
// in r.Lines, its total (from r.ByCategory) are appended at the end as OCPI
// Price objects: JSON numbers rounded half away from zero to 4 decimals and
// written with at least 2, incl_vat only when r.HasVAT. A Result priced in
// another currency than the CDR's is an error.
//
// On error dst is returned unchanged in length, so a caller building a
// batch can write an error line in place of the CDR.
func AppendPriced(dst []byte, c *CDR, r *tariff.Result) ([]byte, error) {
	if c == nil || !c.ok {
		return dst, errNotParsed
	}
	if r == nil {
		return dst, errors.New("cdr: nil Result")
	}
	if !r.Currency.IsZero() && r.Currency != c.Currency {
		return dst, &FieldError{Path: "currency", Rule: fmt.Sprintf("the CDR is in %s but was priced in %s", c.Currency, r.Currency)}
	}
	// Round everything before writing, so an error leaves dst untouched.
	costs, err := roundCosts(r)
	if err != nil {
		return dst, err
	}
	mark := len(dst)
	d := c.raw
	dst = append(dst, '{')
	first := true
	for _, m := range c.members {
		if m.kind == kindCost {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if m.kind != kindPeriods {
			dst = append(dst, d[m.key:m.end]...)
			continue
		}
		dst = append(dst, d[m.key:m.val]...)
		if c.derived {
			if dst, err = c.appendDerivedPeriods(dst, r.TariffID); err != nil {
				return dst[:mark], err
			}
		} else {
			dst = c.appendPeriods(dst, r.TariffID)
		}
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = costs.append(dst, r.HasVAT)
	return append(dst, '}'), nil
}

// roundedCosts are a Result's OCPI cost totals, rounded: total_cost and
// the total of every category that has a line.
type roundedCosts struct {
	present [tariff.NumCategories]bool
	total   [1 + tariff.NumCategories]struct{ excl, incl decimal.Decimal }
}

func roundCosts(r *tariff.Result) (*roundedCosts, error) {
	c := &roundedCosts{}
	for i := range r.Lines {
		c.present[category(&r.Lines[i])] = true
	}
	var err error
	if c.total[0].excl, c.total[0].incl, err = r.Total.Round(priceScale); err != nil {
		return nil, fmt.Errorf("cdr: total_cost: %w", err)
	}
	for k, ok := range c.present {
		if ok {
			if c.total[1+k].excl, c.total[1+k].incl, err = r.ByCategory[k].Round(priceScale); err != nil {
				return nil, fmt.Errorf("cdr: %s: %w", costNames[k], err)
			}
		}
	}
	return c, nil
}

// append writes total_cost and the category totals as JSON members.
func (c *roundedCosts) append(dst []byte, vat bool) []byte {
	dst = appendPrice(dst, "total_cost", c.total[0].excl, c.total[0].incl, vat)
	for k, ok := range c.present {
		if ok {
			dst = append(dst, ',')
			dst = appendPrice(dst, costNames[k], c.total[1+k].excl, c.total[1+k].incl, vat)
		}
	}
	return dst
}

// category maps a line to its OCPI total, as the engine's ByCategory does.
func category(l *tariff.Line) tariff.Category {
	switch {
	case l.Reservation:
		return tariff.CategoryReservation
	case l.Dimension == tariff.Energy:
		return tariff.CategoryEnergy
	case l.Dimension == tariff.Time:
		return tariff.CategoryTime
	case l.Dimension == tariff.ParkingTime:
		return tariff.CategoryParking
	}
	return tariff.CategoryFixed
}

func appendPrice(dst []byte, name string, excl, incl decimal.Decimal, vat bool) []byte {
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":{"excl_vat":`...)
	dst = money.FormatDecimal(dst, excl, 2)
	if vat {
		dst = append(dst, `,"incl_vat":`...)
		dst = money.FormatDecimal(dst, incl, 2)
	}
	return append(dst, '}')
}

// appendPeriods copies the input periods, each with its tariff_id set.
func (c *CDR) appendPeriods(dst []byte, tariffID string) []byte {
	d := c.raw
	dst = append(dst, '[')
	for i, sp := range c.spans {
		if i > 0 {
			dst = append(dst, ',')
		}
		if sp.tid >= 0 {
			dst = append(dst, d[sp.start:sp.tid]...)
			dst = appendString(dst, tariffID)
			dst = append(dst, d[sp.tidEnd:sp.end]...)
			continue
		}
		dst = append(dst, d[sp.start:sp.last]...)
		dst = append(dst, `,"tariff_id":`...)
		dst = appendString(dst, tariffID)
		dst = append(dst, d[sp.last:sp.end]...)
	}
	return append(dst, ']')
}

// appendDerivedPeriods writes the periods as priced, dimensions included.
// Members of the input period objects other than start_date_time,
// dimensions and tariff_id, and session-only dimensions, are not kept: the
// derived periods do not correspond one to one to the input's.
func (c *CDR) appendDerivedPeriods(dst []byte, tariffID string) ([]byte, error) {
	return appendPeriodObjects(dst, c.Session.Periods, tariffID)
}

// appendPeriodObjects writes periods as OCPI ChargingPeriod objects.
func appendPeriodObjects(dst []byte, periods []tariff.Period, tariffID string) ([]byte, error) {
	dst = append(dst, '[')
	for i := range periods {
		p := &periods[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"start_date_time":"`...)
		dst = tariff.AppendDateTime(dst, p.Start)
		dst = append(dst, `","dimensions":[`...)
		n := 0
		dim := func(name string, v decimal.Decimal) {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, `{"type":"`...)
			dst = append(dst, name...)
			dst = append(dst, `","volume":`...)
			dst, _ = v.AppendText(dst) // never fails
			dst = append(dst, '}')
		}
		if p.Has&tariff.HasEnergy != 0 {
			dim("ENERGY", p.Energy)
		}
		for _, t := range [...]struct {
			has  tariff.Has
			name string
			sec  decimal.Decimal
		}{
			{tariff.HasTime, "TIME", p.Time},
			{tariff.HasParkingTime, "PARKING_TIME", p.ParkingTime},
			{tariff.HasReservationTime, "RESERVATION_TIME", p.ReservationTime},
		} {
			if p.Has&t.has != 0 {
				h, err := secondsToHours(t.sec)
				if err != nil {
					return dst, fmt.Errorf("cdr: %s of charging period %d: %w", t.name, i, err)
				}
				dim(t.name, h)
			}
		}
		if p.Has&tariff.HasMinCurrent != 0 {
			dim("MIN_CURRENT", p.MinCurrent)
		}
		if p.Has&tariff.HasMaxCurrent != 0 {
			dim("MAX_CURRENT", p.MaxCurrent)
		}
		if p.Has&tariff.HasMinPower != 0 {
			dim("MIN_POWER", p.MinPower)
		}
		if p.Has&tariff.HasMaxPower != 0 {
			dim("MAX_POWER", p.MaxPower)
		}
		dst = append(dst, `],"tariff_id":`...)
		dst = appendString(dst, tariffID)
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// hourDecimals is the precision of an hour volume that is not a finite
// decimal: 6 decimals are 3.6 ms.
const hourDecimals = 6

// secondsToHours returns sec/3600 exactly when that is a finite decimal
// that fits, otherwise rounded half away from zero to 6 decimals. It works
// on the coefficient with integer arithmetic: the decimal library reports
// an inexact quotient through an allocated error, and derived periods,
// common in real CDRs, come through here.
func secondsToHours(sec decimal.Decimal) (decimal.Decimal, error) {
	coef, scale := sec.Coef(), sec.Scale()
	var h decimal.Decimal
	var err error
	// sec/3600 = coef / (9 · 400 · 10^scale): finite exactly when 9 divides
	// coef, and then it is (coef/9) · 25 / 10^(scale+4).
	n, s := coef/9*25, scale+4
	for n%10 == 0 && s > 0 {
		n, s = n/10, s-1
	}
	if coef%9 == 0 && coef/9 <= math.MaxInt64/25 && s <= decimal.MaxScale {
		h, err = decimal.New(int64(n), s)
	} else {
		h, err = roundedHours(coef, scale)
	}
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s s in hours", money.ErrPrecision, sec)
	}
	if sec.IsNeg() {
		h = h.Neg()
	}
	return h.Trim(0), nil
}

// roundedHours returns coef / 10^scale / 3600 rounded half away from zero
// to hourDecimals, in 128-bit integer arithmetic.
func roundedHours(coef uint64, scale int) (decimal.Decimal, error) {
	// hours·10^6 = coef·10^6 / (3600·10^scale)
	var q, r, den uint64
	if scale >= hourDecimals {
		den = 3600 * pow10[scale-hourDecimals]
		q, r = coef/den, coef%den
	} else {
		den = 3600
		hi, lo := bits.Mul64(coef, pow10[hourDecimals-scale])
		if hi >= den {
			return decimal.Decimal{}, money.ErrPrecision
		}
		q, r = bits.Div64(hi, lo, den)
	}
	if r >= den-r { // 2r >= den without overflow
		q++
	}
	if q > math.MaxInt64 {
		return decimal.Decimal{}, money.ErrPrecision
	}
	return decimal.New(int64(q), hourDecimals)
}

// pow10 holds the powers of ten up to 10^19.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return
}()

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
