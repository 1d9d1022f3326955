package money

import (
	"errors"
	"testing"

	"github.com/govalues/decimal"
)

func TestCurrencyExponents(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3, "CLF": 4} {
		c, err := ParseCurrency(code)
		if err != nil {
			t.Errorf("%s: %v", code, err)
			continue
		}
		if c.Exponent() != want || c.Code() != code {
			t.Errorf("%s: exponent %d, want %d", code, c.Exponent(), want)
		}
	}
	for _, bad := range []string{"", "EU", "EURO", "eur", "XAU", "XXX", "ZZZ", "E1R"} {
		if _, err := ParseCurrency(bad); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("%q: got %v, want ErrUnknownCurrency", bad, err)
		}
	}
}

func TestAmounts(t *testing.T) {
	eur, jpy := MustCurrency("EUR"), MustCurrency("JPY")
	sum, err := Amount{Minor: 1238, Currency: eur}.Add(Amount{Minor: 62, Currency: eur})
	if err != nil || sum.String() != "EUR 13.00" {
		t.Errorf("12.38 + 0.62 = %v, %v", sum, err)
	}
	if _, err := (Amount{Minor: 1, Currency: eur}).Add(Amount{Minor: 1, Currency: jpy}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("EUR + JPY: got %v, want ErrCurrencyMismatch", err)
	}
	if _, err := (Amount{Minor: 1 << 62, Currency: eur}).Add(Amount{Minor: 1 << 62, Currency: eur}); !errors.Is(err, ErrPrecision) {
		t.Errorf("overflow: got %v", err)
	}
	if got := (Amount{Minor: 1238, Currency: jpy}).String(); got != "JPY 1238" {
		t.Errorf("JPY 1238 formats as %q", got)
	}
	for _, tc := range []struct {
		d, code string
		minor   int64
	}{{"12.38", "EUR", 1238}, {"-0.05", "EUR", -5}, {"7", "JPY", 7}, {"1.234", "BHD", 1234}, {"12.3", "EUR", 1230}, {"12.380", "EUR", 1238}} {
		a, err := AmountFromDecimal(decimal.MustParse(tc.d), MustCurrency(tc.code))
		if err != nil || a.Minor != tc.minor {
			t.Errorf("%s %s → %d, %v; want %d", tc.code, tc.d, a.Minor, err, tc.minor)
		}
	}
	if _, err := AmountFromDecimal(decimal.MustParse("12.385"), eur); !errors.Is(err, ErrPrecision) {
		t.Errorf("an unrounded amount was accepted: %v", err)
	}
}

func TestRoundHalfAwayFromZero(t *testing.T) {
	for _, tc := range []struct {
		d     string
		scale int
		want  string
	}{
		{"0.125", 2, "0.13"}, {"-0.125", 2, "-0.13"}, {"0.124", 2, "0.12"}, {"0.135", 2, "0.14"},
		{"2.5", 0, "3"}, {"-2.5", 0, "-3"}, {"0.5", 0, "1"}, {"12.375", 2, "12.38"}, {"4.997", 2, "5.00"}, {"1.2", 4, "1.2"},
	} {
		if got := Round(decimal.MustParse(tc.d), tc.scale); got.Cmp(decimal.MustParse(tc.want)) != 0 {
			t.Errorf("Round(%s, %d) = %s, want %s", tc.d, tc.scale, got, tc.want)
		}
	}
	q, err := QuoRound(decimal.MustParse("44550"), 3600, 2) // 12.375
	if err != nil || q.String() != "12.38" {
		t.Errorf("QuoRound = %s, %v", q, err)
	}
}

func TestParseDecimalRefusesToRound(t *testing.T) {
	if _, err := ParseDecimal("0.12345678901234567890123"); !errors.Is(err, ErrPrecision) {
		t.Errorf("got %v, want ErrPrecision", err)
	}
	for _, s := range []string{"1e-30", "0.00000000000000000001", "123e-25"} {
		if _, err := ParseDecimal(s); !errors.Is(err, ErrPrecision) {
			t.Errorf("%s: got %v, want ErrPrecision rather than a rounded value", s, err)
		}
	}
	for _, s := range []string{"1e-19", "0.1000000000000000000000", "0e-40", "12.5e-3"} {
		if _, err := ParseDecimal(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if d, err := ParseDecimal("1.5e2"); err != nil || d.String() != "150" {
		t.Errorf("1.5e2 → %s, %v", d, err)
	}
	if _, err := ParseDecimal("abc"); err == nil {
		t.Error("abc accepted")
	}
}
