package cdr

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/govalues/decimal"
	"pgregory.net/rapid"

	"github.com/evbill/evbill/tariff"
)

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type kv struct {
	key string
	raw json.RawMessage
}

// topMembers returns the top-level members of a JSON object in order,
// each value byte for byte as it appears in data.
func topMembers(t tb, data []byte) []kv {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var out []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, kv{tok.(string), raw})
	}
	return out
}

// exampleTariff is the tariff embedded in cdr_example.json, with an id
// that needs escaping.
const exampleTariff = `{"country_code":"BE","party_id":"BEC","id":"12\"x","currency":"EUR",
	"elements":[{"price_components":[{"type":"TIME","price":2.00,"vat":10.0,"step_size":300}]}],
	"last_updated":"2015-02-02T14:15:01Z"}`

func priced(t testing.TB, tf *tariff.Tariff, data []byte) ([]byte, *CDR, tariff.Result) {
	t.Helper()
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tf.Price(&c.Session)
	if err != nil {
		t.Fatal(err)
	}
	out, err := AppendPriced(nil, c, &r)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON:\n%s", out)
	}
	return out, c, r
}

func TestAppendPricedSpecExample(t *testing.T) {
	in := readSpec(t, "cdr_example.json")
	out, _, _ := priced(t, mustTariff(t, exampleTariff), in)

	costs := map[string]bool{"total_cost": true, "total_fixed_cost": true, "total_energy_cost": true,
		"total_time_cost": true, "total_parking_cost": true, "total_reservation_cost": true}
	var want []kv
	for _, m := range topMembers(t, in) {
		if !costs[m.key] {
			want = append(want, m)
		}
	}
	got := topMembers(t, out)
	if len(got) != len(want)+2 {
		t.Fatalf("%d members, want %d", len(got), len(want)+2)
	}
	for i, w := range want {
		g := got[i]
		if g.key != w.key {
			t.Errorf("member %d is %q, want %q", i, g.key, w.key)
			continue
		}
		if g.key == "charging_periods" {
			wantPeriods := strings.Replace(string(w.raw), `"tariff_id": "12"`, `"tariff_id": "12\"x"`, 1)
			if string(g.raw) != wantPeriods {
				t.Errorf("charging_periods:\n got %s\nwant %s", g.raw, wantPeriods)
			}
			continue
		}
		if !bytes.Equal(g.raw, w.raw) {
			t.Errorf("%s changed:\n got %s\nwant %s", g.key, g.raw, w.raw)
		}
	}
	// 1.973 h = 7102.8 s, rounded up to the 300 s step: 2 h at EUR 2.00, VAT 10 %.
	tail := `"total_cost":{"excl_vat":4.00,"incl_vat":4.40},"total_time_cost":{"excl_vat":4.00,"incl_vat":4.40}}`
	if !bytes.HasSuffix(out, []byte(","+tail)) {
		t.Errorf("output does not end with %s:\n%s", tail, out)
	}
	if out[len(out)-1] != '}' {
		t.Error("trailing bytes after the object")
	}
}

func TestAppendPricedTariffID(t *testing.T) {
	tf := mustTariff(t, `{"country_code":"DE","party_id":"ALL","id":"T1","currency":"EUR",
		"elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}],"last_updated":"2024-01-01T00:00:00Z"}`)
	tests := []struct{ name, period, want string }{
		{"absent", `{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}]}`,
			`{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}],"tariff_id":"T1"}`},
		{"present", `{"tariff_id":"old","start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}],"x":[1]}`,
			`{"tariff_id":"T1","start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}],"x":[1]}`},
		{"null with whitespace", `{ "start_date_time" : "2024-03-01T10:00:00Z" , "dimensions" : [{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}] , "tariff_id" : null }`,
			`{ "start_date_time" : "2024-03-01T10:00:00Z" , "dimensions" : [{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}] , "tariff_id" : "T1" }`},
		{"absent with whitespace", `{ "start_date_time":"2024-03-01T10:00:00Z", "dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}]
			}`, `{ "start_date_time":"2024-03-01T10:00:00Z", "dimensions":[{"type":"ENERGY","volume":2},{"type":"TIME","volume":1}],"tariff_id":"T1"
			}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `{"start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T11:00:00Z","currency":"EUR",` +
				`"charging_periods":[ ` + tt.period + ` , ` + tt.period + ` ],"total_energy":4,"total_time":1}`
			out, _, _ := priced(t, tf, []byte(in))
			want := `{"start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T11:00:00Z","currency":"EUR",` +
				`"charging_periods":[` + tt.want + `,` + tt.want + `],"total_energy":4,"total_time":1,` +
				`"total_cost":{"excl_vat":1.00},"total_energy_cost":{"excl_vat":1.00}}`
			if string(out) != want {
				t.Errorf("\n got %s\nwant %s", out, want)
			}
		})
	}
}

func TestAppendPricedCosts(t *testing.T) {
	tests := []struct {
		name, tariff, cdr string
		want              string // the appended cost members
	}{
		{
			name:   "rounding half away from zero, no VAT",
			tariff: `"elements":[{"price_components":[{"type":"ENERGY","price":0.12345,"step_size":1}]}]`,
			cdr:    cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", "", "2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":1},{"type":"TIME","volume":0}`),
			want:   `"total_cost":{"excl_vat":0.1235},"total_energy_cost":{"excl_vat":0.1235}`,
		},
		{
			name:   "four decimals kept, whole amounts padded",
			tariff: `"elements":[{"price_components":[{"type":"FLAT","price":5,"vat":0,"step_size":1},{"type":"ENERGY","price":0.25,"vat":0,"step_size":1}]}]`,
			cdr:    cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", "", "2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":24.95}`),
			want:   `"total_cost":{"excl_vat":11.2375,"incl_vat":11.2375},"total_fixed_cost":{"excl_vat":5.00,"incl_vat":5.00},"total_energy_cost":{"excl_vat":6.2375,"incl_vat":6.2375}`,
		},
		{
			name:   "a dimension without a price has no total; half away from zero",
			tariff: `"elements":[{"price_components":[{"type":"TIME","price":0.5,"vat":20,"step_size":1}]}]`,
			cdr:    cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T10:00:09Z", "", "2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":3},{"type":"TIME","volume":0.0025}`),
			want:   `"total_cost":{"excl_vat":0.0013,"incl_vat":0.0015},"total_time_cost":{"excl_vat":0.0013,"incl_vat":0.0015}`,
		},
		{
			name:   "min_price lifts the total only",
			tariff: `"min_price":{"excl_vat":10,"incl_vat":11},"elements":[{"price_components":[{"type":"PARKING_TIME","price":2,"vat":10,"step_size":1}]}]`,
			cdr:    cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", "", "2024-03-01T10:00:00Z", `{"type":"PARKING_TIME","volume":1}`),
			want:   `"total_cost":{"excl_vat":10.00,"incl_vat":11.00},"total_parking_cost":{"excl_vat":2.00,"incl_vat":2.20}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tf := mustTariff(t, `{"country_code":"DE","party_id":"ALL","id":"T","currency":"EUR",`+tt.tariff+`,"last_updated":"2024-01-01T00:00:00Z"}`)
			out, _, _ := priced(t, tf, []byte(tt.cdr))
			if !bytes.HasSuffix(out, []byte(","+tt.want+"}")) {
				t.Errorf("got %s\nwant suffix %s", out, tt.want)
			}
		})
	}
}

func TestAppendPricedCategories(t *testing.T) {
	// tariff_4_complex: a start fee, TIME by current and PARKING_TIME on
	// weekdays 09:00-18:00. 2024-03-01 is a Friday.
	in := cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", "",
		"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":20},{"type":"TIME","volume":1.5},{"type":"MAX_CURRENT","volume":16}`,
		"2024-03-01T11:30:00Z", `{"type":"PARKING_TIME","volume":0.5}`)
	out, _, r := priced(t, specTariff(t, "tariff_4_complex.json"), []byte(in))
	var names []string
	for _, m := range topMembers(t, out) {
		if strings.HasPrefix(m.key, "total_") && strings.HasSuffix(m.key, "_cost") {
			names = append(names, m.key+"="+string(m.raw))
		}
	}
	// 2.50 + 1.5 h × 1.00 + 0.5 h × 5.00 = 6.50 excl. VAT.
	want := []string{
		`total_cost={"excl_vat":6.50,"incl_vat":7.425}`,
		`total_fixed_cost={"excl_vat":2.50,"incl_vat":2.875}`,
		`total_time_cost={"excl_vat":1.50,"incl_vat":1.80}`,
		`total_parking_cost={"excl_vat":2.50,"incl_vat":2.75}`,
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("cost members:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if r.TariffID != "14" || !bytes.Contains(out, []byte(`"tariff_id":"14"`)) {
		t.Errorf("tariff_id not set: %s", out)
	}

	// A reservation: tariff_15 prices RESERVATION_TIME at 5.00 per hour.
	in = cdrJSON("2024-03-01T09:30:00Z", "2024-03-01T11:00:00Z", "",
		"2024-03-01T09:30:00Z", `{"type":"RESERVATION_TIME","volume":0.5}`,
		"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":10},{"type":"TIME","volume":1}`)
	out, _, _ = priced(t, specTariff(t, "tariff_15_reservation_5_euro_per_hour.json"), []byte(in))
	if !bytes.HasSuffix(out, []byte(`"total_cost":{"excl_vat":5.50,"incl_vat":6.35},"total_fixed_cost":{"excl_vat":0.50,"incl_vat":0.60},"total_energy_cost":{"excl_vat":2.50,"incl_vat":2.75},"total_reservation_cost":{"excl_vat":2.50,"incl_vat":3.00}}`)) {
		t.Errorf("reservation costs: %s", out)
	}
}

func TestAppendPricedDerived(t *testing.T) {
	in := cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:30:00Z", `,"total_parking_time":0.75`,
		"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5},{"type":"CURRENT","volume":16}`,
		"2024-03-01T11:00:00.5Z", `{"type":"ENERGY","volume":3},{"type":"MAX_CURRENT","volume":16}`)
	out, c, _ := priced(t, specTariff(t, "tariff_13_simple_3hour_5parking.json"), []byte(in))
	wantPeriods := `"charging_periods":[` +
		`{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":5},{"type":"TIME","volume":1.000139}],"tariff_id":"21"},` +
		`{"start_date_time":"2024-03-01T11:00:00.5Z","dimensions":[{"type":"ENERGY","volume":3},{"type":"TIME","volume":0.749861},{"type":"MAX_CURRENT","volume":16}],"tariff_id":"21"},` +
		`{"start_date_time":"2024-03-01T11:45:00Z","dimensions":[{"type":"PARKING_TIME","volume":0.75},{"type":"MAX_CURRENT","volume":16}],"tariff_id":"21"}]`
	if !bytes.Contains(out, []byte(wantPeriods)) {
		t.Errorf("got %s\nwant periods %s", out, wantPeriods)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if again.Derived() {
		t.Error("the written CDR still needs derivation")
	}
	// 3600.5 s and 2699.5 s are no finite number of hours; rounded to 6
	// decimals they come back within 1.8 ms.
	if d := sessionDiff(&c.Session, &again.Session); d != "period 0: Time 3600.5 != 3600.5004; period 1: Time 2699.5 != 2699.4996" {
		t.Errorf("round trip: %s", d)
	}
}

func TestAppendPricedErrors(t *testing.T) {
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	usd := mustTariff(t, `{"country_code":"DE","party_id":"ALL","id":"U","currency":"USD",
		"elements":[{"price_components":[{"type":"ENERGY","price":1,"step_size":1}]}],"last_updated":"2024-01-01T00:00:00Z"}`)
	r, err := usd.Price(&c.Session)
	if err != nil {
		t.Fatal(err)
	}
	dst := []byte("prefix")
	out, err := AppendPriced(dst, c, &r)
	if err == nil || err.Error() != "currency: the CDR is in EUR but was priced in USD" {
		t.Errorf("error = %v", err)
	}
	if string(out) != "prefix" {
		t.Errorf("dst changed to %q", out)
	}
	if _, err := AppendPriced(nil, c, nil); err == nil {
		t.Error("nil Result accepted")
	}
	if _, err := AppendPriced(nil, new(CDR), &r); err == nil {
		t.Error("unparsed CDR accepted")
	}
}

func TestAppendString(t *testing.T) {
	got := string(appendString(nil, "a\"b\\c\n\x01é\xff😀"))
	want := `"a\"b\\c\n\u0001é\ufffd😀"`
	if got != want {
		t.Errorf("got %s want %s", got, want)
	}
	var s string
	if err := json.Unmarshal([]byte(got), &s); err != nil || s != "a\"b\\c\n\x01é\uFFFD😀" {
		t.Errorf("round trip %q %v", s, err)
	}
}

func TestSecondsToHours(t *testing.T) {
	tests := []struct{ sec, want string }{
		{"7102.8", "1.973"},
		{"0", "0"},
		{"9", "0.0025"},
		{"36", "0.01"},
		{"0.0018", "0.0000005"},
		{"1", "0.000278"},
		{"3600.5", "1.000139"},
		{"0.0017", "0"},
		{"1.00000000000000008", "0.0002777777777777778"},
		{"1.000000000000000008", "0.000278"},
		{"9223372036.854775807", "2562047.788015"},
		{"0.000000001", "0"},
		{"1800000.0000000018", "500.0000000000005"},
	}
	for _, tt := range tests {
		h, err := secondsToHours(dec(tt.sec))
		if err != nil || h.Cmp(dec(tt.want)) != 0 {
			t.Errorf("secondsToHours(%s) = %s, %v; want %s", tt.sec, h, err, tt.want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		coef := rapid.Uint64Range(0, 9_999_999_999_999_999_999).Draw(t, "coef")
		scale := rapid.IntRange(0, 19).Draw(t, "scale")
		sec, err := decimal.New(int64(coef>>1), scale)
		if err != nil {
			t.Skip()
		}
		got, err := secondsToHours(sec)
		// Reference: the exact rational, then the documented rule.
		x := new(big.Rat).SetFrac(new(big.Int).SetUint64(sec.Coef()), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
		x.Quo(x, big.NewRat(3600, 1))
		if exact, err2 := decimal.Parse(x.FloatString(23)); err == nil && err2 == nil && exact.Trim(0).Cmp(got) == 0 {
			return
		}
		micro := new(big.Rat).Mul(x, big.NewRat(1_000_000, 1))
		q, r := new(big.Int).QuoRem(micro.Num(), micro.Denom(), new(big.Int))
		if new(big.Int).Lsh(r, 1).Cmp(micro.Denom()) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		if !q.IsInt64() {
			if err == nil {
				t.Fatalf("secondsToHours(%s) = %s, want an error", sec, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", sec, err)
		}
		want := decimal.MustNew(q.Int64(), 6)
		if got.Cmp(want) != 0 {
			t.Fatalf("secondsToHours(%s) = %s, want %s (exact %s)", sec, got, want, x.FloatString(25))
		}
	})
}
