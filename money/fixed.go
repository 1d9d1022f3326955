package money

import (
	"fmt"
	"math/bits"

	"github.com/govalues/decimal"
)

// FixedScale is the number of decimal digits after the point that a Fixed holds.
const FixedScale = 18

// Fixed is an exact signed decimal with FixedScale digits after the point,
// held as a two's-complement 128-bit count of 10^-18 units: up to ±1.7·10^20.
//
// It is the accumulator of the pricing hot path. Prices and quantities are
// decimals; their products and sums are Fixed, which adds and compares in a
// few machine instructions and never rounds: a product with more than 18
// decimals that are not zeros, or a result out of range, is ErrPrecision.
// The zero value is 0.
type Fixed struct {
	hi int64
	lo uint64
}

var pow10u = func() [20]uint64 {
	var p [20]uint64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// MulDecimals returns a×b exactly as a Fixed.
func MulDecimals(a, b decimal.Decimal) (Fixed, error) {
	hi, lo := bits.Mul64(a.Coef(), b.Coef())
	scale := a.Scale() + b.Scale()
	var err error
	switch {
	case scale > FixedScale:
		// Only exact if the surplus digits are zeros.
		var rem uint64
		if hi, lo, rem, err = divU128(hi, lo, pow10u[scale-FixedScale]); err != nil || rem != 0 {
			return Fixed{}, fmt.Errorf("%w: %s × %s has more than %d decimals", ErrPrecision, a, b, FixedScale)
		}
	case scale < FixedScale:
		if hi, lo, err = mulU128(hi, lo, pow10u[FixedScale-scale]); err != nil {
			return Fixed{}, fmt.Errorf("%w: %s × %s", ErrPrecision, a, b)
		}
	}
	if hi>>63 != 0 {
		return Fixed{}, fmt.Errorf("%w: %s × %s", ErrPrecision, a, b)
	}
	f := Fixed{hi: int64(hi), lo: lo}
	if a.IsNeg() != b.IsNeg() {
		f = f.neg()
	}
	return f, nil
}

// FixedFromDecimal converts d exactly.
func FixedFromDecimal(d decimal.Decimal) (Fixed, error) {
	return MulDecimals(d, decimal.One)
}

// Add returns f+g, or ErrPrecision if the sum is out of range.
func (f Fixed) Add(g Fixed) (Fixed, error) {
	lo, carry := bits.Add64(f.lo, g.lo, 0)
	hi := f.hi + g.hi + int64(carry)
	// Signed overflow: both operands share a sign the result lacks.
	if (f.hi >= 0) == (g.hi >= 0) && (hi >= 0) != (f.hi >= 0) {
		return Fixed{}, fmt.Errorf("%w: sum out of range", ErrPrecision)
	}
	return Fixed{hi: hi, lo: lo}, nil
}

// Sub returns f−g, or ErrPrecision if the difference is out of range.
func (f Fixed) Sub(g Fixed) (Fixed, error) { return f.Add(g.neg()) }

// Cmp returns -1, 0 or 1 as f is less than, equal to or greater than g.
func (f Fixed) Cmp(g Fixed) int {
	switch {
	case f.hi < g.hi:
		return -1
	case f.hi > g.hi:
		return 1
	case f.lo < g.lo:
		return -1
	case f.lo > g.lo:
		return 1
	}
	return 0
}

// IsZero reports whether f is 0.
func (f Fixed) IsZero() bool { return f.hi == 0 && f.lo == 0 }

// Sign returns -1, 0 or 1.
func (f Fixed) Sign() int { return f.Cmp(Fixed{}) }

func (f Fixed) neg() Fixed {
	lo, borrow := bits.Sub64(0, f.lo, 0)
	return Fixed{hi: -f.hi - int64(borrow), lo: lo}
}

func (f Fixed) abs() (hi, lo uint64, neg bool) {
	if f.hi < 0 {
		g := f.neg()
		return uint64(g.hi), g.lo, true
	}
	return uint64(f.hi), f.lo, false
}

// QuoRound returns f/den rounded half away from zero to scale digits after
// the point (0 ≤ scale ≤ 18), exactly: the one rounding step of a price.
func (f Fixed) QuoRound(den uint64, scale int) (decimal.Decimal, error) {
	if den == 0 || scale < 0 || scale > FixedScale {
		return decimal.Decimal{}, fmt.Errorf("money: QuoRound(%d, %d)", den, scale)
	}
	hi, lo, neg := f.abs()
	// f is in 10^-18 units; the result is in 10^-scale units: divide by
	// den·10^(18−scale), in two steps that both fit in 64 bits.
	hi, lo, rem1, err := divU128(hi, lo, pow10u[FixedScale-scale])
	if err != nil {
		return decimal.Decimal{}, err
	}
	qhi, qlo, rem2, err := divU128(hi, lo, den)
	if err != nil {
		return decimal.Decimal{}, err
	}
	// The exact remainder, in units of 10^-18 of the divisor den·10^(18−scale),
	// is rem2·10^(18−scale) + rem1; round up when it is at least half.
	rhi, rlo := bits.Mul64(rem2, pow10u[FixedScale-scale])
	rlo, c := bits.Add64(rlo, rem1, 0)
	rhi += c
	// Compare 2·remainder with den·10^(18−scale).
	dhi, dlo := bits.Mul64(den, pow10u[FixedScale-scale])
	thi, tlo := rhi<<1|rlo>>63, rlo<<1
	if rhi>>63 != 0 || thi > dhi || (thi == dhi && tlo >= dlo) {
		var carry uint64
		qlo, carry = bits.Add64(qlo, 1, 0)
		qhi += carry
	}
	if qhi != 0 || qlo > 1<<63-1 {
		return decimal.Decimal{}, fmt.Errorf("%w: result does not fit in 64 bits", ErrPrecision)
	}
	q := int64(qlo)
	if neg {
		q = -q
	}
	return decimal.New(q, scale)
}

// String formats f with all 18 decimals trimmed of trailing zeros.
func (f Fixed) String() string {
	hi, lo, neg := f.abs()
	qhi, qlo, rem, _ := divU128(hi, lo, pow10u[FixedScale])
	s := ""
	if neg {
		s = "-"
	}
	whole := fmt.Sprint(qlo)
	if qhi != 0 {
		whole = fmt.Sprintf("%d·2^64+%d", qhi, qlo)
	}
	frac := fmt.Sprintf("%018d", rem)
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if frac == "" {
		return s + whole
	}
	return s + whole + "." + frac
}

// mulU128 returns (hi,lo)·m or an error if the product exceeds 128 bits.
func mulU128(hi, lo, m uint64) (uint64, uint64, error) {
	h1, l1 := bits.Mul64(lo, m)
	h2, l2 := bits.Mul64(hi, m)
	if h2 != 0 {
		return 0, 0, ErrPrecision
	}
	rhi, carry := bits.Add64(l2, h1, 0)
	if carry != 0 {
		return 0, 0, ErrPrecision
	}
	return rhi, l1, nil
}

// divU128 returns (hi,lo)/d and the remainder.
func divU128(hi, lo, d uint64) (qhi, qlo, rem uint64, err error) {
	if d == 0 {
		return 0, 0, 0, ErrPrecision
	}
	qhi, r := bits.Div64(0, hi, d)
	qlo, rem = bits.Div64(r, lo, d)
	return qhi, qlo, rem, nil
}
