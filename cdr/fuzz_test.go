package cdr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// fuzzTariffs holds one simple tariff per currency the fuzzer reaches.
var fuzzTariffs sync.Map // currency code → *tariff.Tariff

func fuzzTariff(t *testing.T, currency string) *tariff.Tariff {
	if tf, ok := fuzzTariffs.Load(currency); ok {
		return tf.(*tariff.Tariff)
	}
	tf := propTariff(t, currency)
	fuzzTariffs.Store(currency, tf)
	return tf
}

// FuzzParse checks that Parse never panics, that it agrees with
// encoding/json about what is well-formed JSON, and that every CDR it
// accepts is written back as valid JSON that parses to the same session.
// The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var c CDR
		err := c.Parse(data)
		var se *SyntaxError
		if errors.As(err, &se) {
			if json.Valid(data) && utf8.Valid(data) && !strings.HasPrefix(se.Msg, "nesting deeper") {
				t.Fatalf("Parse calls valid JSON malformed: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepts malformed JSON (err = %v)", err)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}

		tf := fuzzTariff(t, c.Currency.Code())
		var r tariff.Result
		if err := tf.PriceInto(&c.Session, &r); err != nil {
			if errors.Is(err, money.ErrPrecision) {
				return // amounts beyond 19 digits are refused, not rounded
			}
			t.Fatalf("PriceInto: %v", err)
		}
		out, err := AppendPriced(nil, &c, &r)
		if err != nil {
			if errors.Is(err, money.ErrPrecision) {
				return
			}
			t.Fatalf("AppendPriced: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output:\n%s", out)
		}
		var again CDR
		if err := again.Parse(out); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		tol := decimal.Zero
		if c.Derived() {
			// Derived hours are rounded to 6 decimals: 1.8 ms.
			tol = decimal.MustNew(18, 4)
		}
		if d := approxSessionDiff(&c.Session, &again.Session, tol); d != "" {
			t.Fatalf("round trip: %s\nout: %s", d, out)
		}
		if !c.Derived() {
			// Without derivation, writing is idempotent.
			out2, err := AppendPriced(nil, &again, &r)
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("second write differs (%v):\n%s\n%s", err, out, out2)
			}
		}
	})
}

// approxSessionDiff is sessionDiff with a tolerance in seconds for the
// time quantities.
func approxSessionDiff(a, b *tariff.Session, tol decimal.Decimal) string {
	if tol.IsZero() || len(a.Periods) != len(b.Periods) {
		return sessionDiff(a, b)
	}
	x, y := *a, *b
	x.Periods = append([]tariff.Period(nil), a.Periods...)
	for i := range x.Periods {
		p, q := &x.Periods[i], &y.Periods[i]
		for _, f := range [][2]*decimal.Decimal{{&p.Time, &q.Time}, {&p.ParkingTime, &q.ParkingTime}, {&p.ReservationTime, &q.ReservationTime}} {
			if d, err := f[0].SubAbs(*f[1]); err == nil && d.Cmp(tol) <= 0 {
				*f[0] = *f[1]
			}
		}
	}
	return sessionDiff(&x, &y)
}
