package ocmf

import (
	"fmt"
	"math/big"
	"strings"
)

// decimal is an exact decimal, coef × 10^exp. Readings are JSON number
// literals and billed energy is decimal text; a float64 would turn
// 2935.600 − 2935.599 into 0.0010000000002037268, and a bill is either
// equal to the meter or not.
type decimal struct {
	coef *big.Int
	exp  int
}

// Bounds on what parseDecimal takes, so that a hostile "1e999999999" in a
// record cannot make the comparison build a number of a billion digits.
// Real readings have a dozen digits and no exponent.
const (
	maxDecimalDigits   = 60
	maxDecimalExponent = 60
)

// parseDecimal reads a JSON number literal, or a plain decimal with an
// optional sign: [+-]digits[.digits][(e|E)[+-]digits].
func parseDecimal(s string) (decimal, error) {
	bad := fmt.Errorf("%q is not a decimal number", s)
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	digits := s[intStart:i]
	if digits == "" {
		return decimal{}, bad
	}
	exp := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == fracStart {
			return decimal{}, bad
		}
		digits += s[fracStart:i]
		exp = -(i - fracStart)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		eStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		e := strings.TrimLeft(s[eStart:i], "0")
		if i == eStart || len(e) > 4 {
			return decimal{}, fmt.Errorf("%q: exponent out of range", s)
		}
		n := 0
		for j := 0; j < len(e); j++ {
			n = n*10 + int(e[j]-'0')
		}
		if eneg {
			n = -n
		}
		exp += n
	}
	if i != len(s) {
		return decimal{}, bad
	}
	if len(strings.TrimLeft(digits, "0")) > maxDecimalDigits || exp > maxDecimalExponent || exp < -maxDecimalExponent-maxDecimalDigits {
		return decimal{}, fmt.Errorf("%q: out of the range this package compares", s)
	}
	coef, ok := new(big.Int).SetString(digits, 10)
	if !ok { // unreachable: digits are ASCII digits
		return decimal{}, bad
	}
	if neg {
		coef.Neg(coef)
	}
	return decimal{coef: coef, exp: exp}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

var bigTen = big.NewInt(10)

// scaled returns coef × 10^(exp−e) for e ≤ exp: the value in units of 10^e.
func (d decimal) scaled(e int) *big.Int {
	p := new(big.Int).Exp(bigTen, big.NewInt(int64(d.exp-e)), nil)
	return p.Mul(p, d.coef)
}

func (d decimal) sub(o decimal) decimal {
	e := min(d.exp, o.exp)
	return decimal{coef: new(big.Int).Sub(d.scaled(e), o.scaled(e)), exp: e}
}

// shift multiplies by 10^n, exactly: kWh to Wh is shift(3).
func (d decimal) shift(n int) decimal { return decimal{coef: d.coef, exp: d.exp + n} }

func (d decimal) sign() int { return d.coef.Sign() }

// String writes the value with no exponent and no trailing fractional
// zeros, so equal values print alike: 29.500 kWh is "29500" Wh.
func (d decimal) String() string {
	c := new(big.Int).Set(d.coef)
	e := d.exp
	m := new(big.Int)
	for e < 0 && c.Sign() != 0 {
		q, r := new(big.Int).QuoRem(c, bigTen, m)
		if r.Sign() != 0 {
			break
		}
		c, e = q, e+1
	}
	if c.Sign() == 0 {
		return "0"
	}
	neg := c.Sign() < 0
	s := new(big.Int).Abs(c).String()
	switch {
	case e >= 0:
		s += strings.Repeat("0", e)
	case -e < len(s):
		s = s[:len(s)+e] + "." + s[len(s)+e:]
	default:
		s = "0." + strings.Repeat("0", -e-len(s)) + s
	}
	if neg {
		s = "-" + s
	}
	return s
}
