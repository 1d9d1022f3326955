package money

import (
	"testing"

	"github.com/govalues/decimal"
	"pgregory.net/rapid"
)

func genDec(t *rapid.T, label string) decimal.Decimal {
	coef := rapid.Int64Range(-1e15, 1e15).Draw(t, label)
	scale := rapid.IntRange(0, 9).Draw(t, label+"_scale")
	return decimal.MustNew(coef, scale)
}

// TestFixedMatchesDecimal: Fixed products, sums and the final rounding
// agree with the decimal library's exact operations and Round.
func TestFixedMatchesDecimal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c, d := genDec(t, "a"), genDec(t, "b"), genDec(t, "c"), genDec(t, "d")
		ab, err1 := MulDecimals(a, b)
		cd, err2 := MulDecimals(c, d)
		if err1 != nil || err2 != nil {
			t.Skip("out of range")
		}
		sum, err := ab.Add(cd)
		if err != nil {
			t.Skip("out of range")
		}
		pab, err1 := a.MulExact(b, a.Scale()+b.Scale())
		pcd, err2 := c.MulExact(d, c.Scale()+d.Scale())
		if err1 != nil || err2 != nil {
			t.Skip("decimal cannot hold it")
		}
		want, err := pab.Add(pcd)
		if err != nil || want.Scale() < max(pab.Scale(), pcd.Scale()) {
			t.Skip("decimal cannot hold it exactly")
		}
		if got := sum.String(); got != want.Trim(0).String() {
			t.Fatalf("%s×%s + %s×%s = %s, decimal says %s", a, b, c, d, got, want)
		}
		den := rapid.SampledFrom([]uint64{1, 3, 7, 100, 3600}).Draw(t, "den")
		scale := rapid.IntRange(0, 4).Draw(t, "scale")
		got, err := sum.QuoRound(den, scale)
		if err != nil {
			t.Skip(err)
		}
		ref, err := QuoRound(want, int64(den), scale)
		if err != nil {
			t.Skip(err)
		}
		if got.Cmp(ref) != 0 {
			t.Fatalf("(%s)/%d to %d places: fixed %s, decimal %s", want, den, scale, got, ref)
		}
	})
}

func TestFixedRoundsHalfAwayFromZero(t *testing.T) {
	for _, tc := range []struct {
		x     string
		den   uint64
		scale int
		want  string
	}{
		{"0.125", 1, 2, "0.13"},
		{"-0.125", 1, 2, "-0.13"},
		{"0.124999999999999999", 1, 2, "0.12"},
		{"18", 3600, 2, "0.01"},    // 0.005 → 0.01
		{"17.99", 3600, 2, "0.00"}, // 0.004997…
		{"-18", 3600, 2, "-0.01"},
		{"44550", 3600, 4, "12.375"},
		{"7", 3600, 0, "0"},
	} {
		f, err := FixedFromDecimal(decimal.MustParse(tc.x))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.QuoRound(tc.den, tc.scale)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cmp(decimal.MustParse(tc.want)) != 0 {
			t.Errorf("%s/%d to %d places = %s, want %s", tc.x, tc.den, tc.scale, got, tc.want)
		}
	}
}

func TestFixedRefusesInexact(t *testing.T) {
	a := decimal.MustParse("0.0000000001")   // 10 decimals
	b := decimal.MustParse("0.000000000123") // 12 decimals
	if _, err := MulDecimals(a, b); err == nil {
		t.Error("a product with 22 significant decimals was accepted")
	}
	big := decimal.MustParse("9999999999999999999")
	x, err := MulDecimals(big, big)
	if err == nil {
		t.Errorf("out-of-range product accepted: %s", x)
	}
	max := Fixed{hi: 1<<63 - 1, lo: 1<<64 - 1}
	if _, err := max.Add(Fixed{lo: 1}); err == nil {
		t.Error("overflowing sum accepted")
	}
}
