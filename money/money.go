package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/govalues/decimal"
)

// ErrCurrencyMismatch is returned when amounts of different currencies meet.
// evbill never converts between currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// ErrPrecision is returned when an exact result would need more than the 19
// significant digits a decimal holds. evbill refuses rather than round.
var ErrPrecision = errors.New("amount exceeds exact decimal precision")

// Amount is an amount of money in integer minor units of its currency:
// {Minor: 1238, Currency: EUR} is EUR 12.38, {Minor: 1238, Currency: JPY} is JPY 1238.
type Amount struct {
	Minor    int64
	Currency Currency
}

// Add returns a+b. Adding amounts of different currencies is an error.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, a.Currency, b.Currency)
	}
	s := a.Minor + b.Minor
	if (s > a.Minor) != (b.Minor > 0) {
		return Amount{}, fmt.Errorf("%w: sum overflows int64", ErrPrecision)
	}
	return Amount{Minor: s, Currency: a.Currency}, nil
}

// Decimal returns the amount in major units as an exact decimal, 12.38 for EUR 12.38.
func (a Amount) Decimal() decimal.Decimal {
	d, err := decimal.New(a.Minor, a.Currency.Exponent())
	if err != nil { // unreachable: exponents are at most 4
		panic(err)
	}
	return d
}

// String formats the amount as "EUR 12.38".
func (a Amount) String() string {
	return a.Currency.code + " " + a.Decimal().String()
}

// AmountFromDecimal converts a decimal in major units to an Amount. The
// decimal must already have no more digits than the currency's minor unit;
// use Round first.
func AmountFromDecimal(d decimal.Decimal, c Currency) (Amount, error) {
	if d.Scale() > c.Exponent() && !d.Equal(d.Trunc(c.Exponent())) {
		return Amount{}, fmt.Errorf("%w: %s has more digits than %s's minor unit", ErrPrecision, d, c)
	}
	whole, frac, ok := d.Pad(c.Exponent()).Int64(c.Exponent())
	if !ok {
		return Amount{}, fmt.Errorf("%w: %s does not fit in minor units", ErrPrecision, d)
	}
	minor := whole
	for i := 0; i < c.Exponent(); i++ {
		minor *= 10
	}
	if whole != 0 && minor/whole != pow10(c.Exponent()) {
		return Amount{}, fmt.Errorf("%w: %s does not fit in minor units", ErrPrecision, d)
	}
	if d.IsNeg() {
		minor -= abs(frac)
	} else {
		minor += frac
	}
	return Amount{Minor: minor, Currency: c}, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// Round rounds d to scale digits after the decimal point, half away from
// zero: 0.125 → 0.13, -0.125 → -0.13, 0.124 → 0.12. This is evbill's one
// rounding rule; the decimal library's own Round rounds half to even.
func Round(d decimal.Decimal, scale int) decimal.Decimal {
	if d.Scale() <= scale {
		return d
	}
	t := d.Trunc(scale)
	rest, err := d.Sub(t)
	if err != nil { // unreachable: |rest| < 1
		panic(err)
	}
	// rest is below one unit of the last kept digit; compare 2·|rest| with that unit.
	twice, err := rest.Abs().Mul(two)
	if err != nil {
		panic(err)
	}
	unit := decimal.MustNew(1, scale)
	if twice.Cmp(unit) >= 0 {
		if d.IsNeg() {
			t, err = t.Sub(unit)
		} else {
			t, err = t.Add(unit)
		}
		if err != nil {
			panic(err)
		}
	}
	return t
}

var two = decimal.MustNew(2, 0)

// QuoRound returns num/den rounded half away from zero to scale digits, computed
// exactly: the quotient is never rounded twice. den must be positive.
func QuoRound(num decimal.Decimal, den int64, scale int) (decimal.Decimal, error) {
	if den <= 0 {
		return decimal.Decimal{}, errors.New("money: QuoRound with a non-positive divisor")
	}
	shifted, err := num.MulExact(decimal.MustNew(pow10(scale), 0), num.Scale())
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s", ErrPrecision, num)
	}
	d := decimal.MustNew(den, 0)
	q, r, err := shifted.QuoRem(d)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s / %d", ErrPrecision, num, den)
	}
	twice, err := r.Abs().Mul(two)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s / %d", ErrPrecision, num, den)
	}
	if twice.Cmp(d) >= 0 {
		if num.IsNeg() {
			q, err = q.Sub(decimal.One)
		} else {
			q, err = q.Add(decimal.One)
		}
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("%w: %s / %d", ErrPrecision, num, den)
		}
	}
	// q is an integer count of 10^-scale units.
	whole, _, ok := q.Int64(0)
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("%w: %s / %d", ErrPrecision, num, den)
	}
	return decimal.New(whole, scale)
}

// FormatDecimal writes d as a plain JSON/CSV number without exponent and
// without trailing zeros beyond minScale digits: FormatDecimal(2.5, 2) is "2.50".
func FormatDecimal(dst []byte, d decimal.Decimal, minScale int) []byte {
	if d.Scale() < minScale {
		d = d.Pad(minScale)
	} else if d.Scale() > minScale {
		d = d.Trim(minScale)
	}
	out, _ := d.AppendText(dst) // AppendText never fails
	return out
}

// ParseDecimal parses a plain decimal number such as "0.25", "-3", "1.5e2".
// It rejects numbers that need more than 19 significant digits instead of
// rounding them.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if significantDigits(s) > decimal.MaxPrec {
		return decimal.Decimal{}, fmt.Errorf("%w: %s has more than %d significant digits", ErrPrecision, s, decimal.MaxPrec)
	}
	if FractionDigits(s) > decimal.MaxScale {
		return decimal.Decimal{}, fmt.Errorf("%w: %s has more than %d decimals", ErrPrecision, s, decimal.MaxScale)
	}
	d, err := decimal.Parse(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("not a number: %q", s)
	}
	return d, nil
}

// FractionDigits returns how many digits after the point s needs exactly:
// its fraction up to the last non-zero digit, less its exponent. 1e-30
// needs 30, which a decimal cannot hold and would silently round to 0.
func FractionDigits(s string) int {
	mantissa, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0 // malformed; decimal.Parse reports it
		}
		exp = e
	}
	frac, lastNonZero := 0, 0
	point := false
	for i := 0; i < len(mantissa); i++ {
		switch c := mantissa[i]; {
		case c == '.':
			point = true
		case c >= '0' && c <= '9' && point:
			frac++
			if c != '0' {
				lastNonZero = frac
			}
		}
	}
	if significantDigits(mantissa) == 0 {
		return 0
	}
	return lastNonZero - exp
}

// significantDigits counts the mantissa digits of s between its first and
// last non-zero digit, the digits a decimal must hold to represent s exactly.
func significantDigits(s string) int {
	first, last, n := -1, -1, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = n
			}
			last = n
		}
		n++
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// Thousandth returns d/1000 exactly (Wh to kWh, W to kW): dividing by a
// power of ten only moves the decimal point. ErrPrecision if the result
// would need more than 19 decimals.
func Thousandth(d decimal.Decimal) (decimal.Decimal, error) {
	d = d.Trim(0)
	r, err := decimal.New(int64(d.Coef()), d.Scale()+3)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s/1000", ErrPrecision, d)
	}
	if d.IsNeg() {
		r = r.Neg()
	}
	return r.Trim(0), nil
}
