// Package money holds evbill's exact money arithmetic: ISO 4217 currencies
// with their minor-unit exponents, amounts in integer minor units, and the
// one rounding rule every price goes through.
//
// Nothing here uses float64. Unit prices and intermediate results are exact
// decimals (github.com/govalues/decimal); an operation that would lose a
// significant digit returns ErrPrecision instead of rounding silently.
package money

import (
	"errors"
	"fmt"
)

// Currency is an ISO 4217 currency with the number of digits of its minor
// unit. The zero Currency is invalid; obtain one from ParseCurrency or MustCurrency.
type Currency struct {
	code     string
	exponent int8
}

// Code returns the three-letter ISO 4217 code, for example "EUR".
func (c Currency) Code() string { return c.code }

// Exponent returns the number of decimal digits of the minor unit: 2 for EUR, 0 for JPY, 3 for BHD.
func (c Currency) Exponent() int { return int(c.exponent) }

// IsZero reports whether c is the zero (invalid) Currency.
func (c Currency) IsZero() bool { return c.code == "" }

// String returns the ISO 4217 code.
func (c Currency) String() string { return c.code }

// ErrUnknownCurrency is returned for a code that is not an active ISO 4217
// currency with a minor unit.
var ErrUnknownCurrency = errors.New("unknown ISO 4217 currency")

// ParseCurrency returns the Currency for an ISO 4217 code. The code must be
// exactly three upper-case letters and name an active currency; funds and
// metals without a minor unit (XAU, XDR, …) are rejected.
func ParseCurrency(code string) (Currency, error) {
	if len(code) != 3 {
		return Currency{}, fmt.Errorf("%w: %q is not a three-letter code", ErrUnknownCurrency, code)
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return Currency{}, fmt.Errorf("%w: %q must be three upper-case letters", ErrUnknownCurrency, code)
		}
	}
	exp, ok := exponents[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	return Currency{code: code, exponent: exp}, nil
}

// MustCurrency is ParseCurrency for codes known to be valid, such as constants in tests.
// It panics on an unknown code.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// exponents lists the active ISO 4217 currencies (list one, 2024 amendments)
// by the number of digits of their minor unit. Codes whose minor unit is
// "N.A." (precious metals, SDR, testing codes) are left out on purpose: they
// cannot be charged in minor units.
var exponents = func() map[string]int8 {
	m := make(map[string]int8, 180)
	for _, c := range []string{
		"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
	} {
		m[c] = 0
	}
	for _, c := range []string{"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"} {
		m[c] = 3
	}
	for _, c := range []string{"CLF", "UYW"} {
		m[c] = 4
	}
	for _, c := range []string{
		"AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN",
		"BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
		"CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
		"DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
		"GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
		"IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
		"LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
		"MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
		"PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB",
		"SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC",
		"SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS",
		"UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
	} {
		m[c] = 2
	}
	return m
}()
