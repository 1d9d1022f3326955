package charging

import (
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/tariff"
)

func parseTariff(t *testing.T, doc string) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

const tariffHead = `{"country_code":"NL","party_id":"EVB","id":"T1","currency":"EUR","last_updated":"2025-01-01T00:00:00Z",`

// TestPriceTexts: the operator's own text wins, English first and the
// other languages as extras; without one, the price components are
// described, with when each applies.
func TestPriceTexts(t *testing.T) {
	tf := parseTariff(t, tariffHead+`"tariff_alt_text":[{"language":"nl","text":"€0,45/kWh"},{"language":"en","text":"€0.45/kWh"}],`+
		`"elements":[{"price_components":[{"type":"ENERGY","price":0.45,"step_size":1}]}]}`)
	text, extra := priceTexts(tf)
	if text != "€0.45/kWh" || len(extra) != 1 || extra[0] != (ocpp.CostText{Format: "UTF8", Language: "nl", Content: "€0,45/kWh"}) {
		t.Errorf("alt text: %q %+v", text, extra)
	}

	for _, tc := range []struct{ elements, want string }{
		{`[{"price_components":[{"type":"FLAT","price":0.35,"vat":21,"step_size":1}]},` +
			`{"price_components":[{"type":"ENERGY","price":0.45,"vat":21,"step_size":1},{"type":"TIME","price":0.6,"vat":21,"step_size":60}],` +
			`"restrictions":{"start_time":"07:00","end_time":"19:00","day_of_week":["MONDAY","TUESDAY"]}},` +
			`{"price_components":[{"type":"ENERGY","price":0.32,"vat":21,"step_size":1}]},` +
			`{"price_components":[{"type":"PARKING_TIME","price":6,"vat":21,"step_size":300}],"restrictions":{"min_duration":7200}},` +
			`{"price_components":[{"type":"TIME","price":9,"vat":21,"step_size":1}],"restrictions":{"reservation":"RESERVATION"}}]`,
			"EUR 0.35 per session, EUR 0.45/kWh + EUR 0.60/h (Mon, Tue 07:00–19:00), EUR 0.32/kWh (otherwise), " +
				"EUR 6.00/h idle (conditions apply). Prices excl. 21% VAT."},
		{`[{"price_components":[{"type":"ENERGY","price":0.2975,"step_size":1}]}]`, "EUR 0.2975/kWh."},
		{`[{"price_components":[{"type":"ENERGY","price":0.3,"vat":21,"step_size":1},{"type":"FLAT","price":1,"vat":9,"step_size":1}]}]`,
			"EUR 0.30/kWh + EUR 1.00 per session. Prices excl. VAT."},
	} {
		text, extra := priceTexts(parseTariff(t, tariffHead+`"elements":`+tc.elements+`}`))
		if text != tc.want || extra != nil {
			t.Errorf("described %q %+v\nwant      %q", text, extra, tc.want)
		}
	}
}

// TestFinalText: the total with the energy and time of the session.
func TestFinalText(t *testing.T) {
	start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
	stop := start.Add(2*time.Hour + 15*time.Minute + 20*time.Second)
	sess := evbill.Session{MeterStartWh: "1000", MeterStopWh: "17050", StartedAt: start, StoppedAt: &stop}
	eur := money.MustCurrency("EUR")
	amount := money.Amount{Minor: 1234, Currency: eur}.Decimal()
	got := finalText(sess, evbill.CDR{TotalExclVAT: "10.2000", TotalInclVAT: "12.3420"}, eur, amount)
	if want := "Total EUR 12.34 incl. VAT for 16.05 kWh in 2 h 15 min."; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	got = finalText(sess, evbill.CDR{TotalExclVAT: "12.3400", TotalInclVAT: "12.3400"}, eur, amount)
	if want := "Total EUR 12.34 for 16.05 kWh in 2 h 15 min."; got != want {
		t.Errorf("without VAT: %q, want %q", got, want)
	}
	for d, want := range map[time.Duration]string{45 * time.Second: "45 s", 12 * time.Minute: "12 min", time.Hour: "1 h 0 min"} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestRunningCostThrottle: the first running cost is sent; then one a
// minute after the last sent, or sooner when the cost moved by 0.10 or
// more either way; bursts coalesce into one more round.
func TestRunningCostThrottle(t *testing.T) {
	var d displayState
	at := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
	if !d.begin(7) || d.begin(7) {
		t.Fatal("a second goroutine claimed the transaction")
	}
	for i, tc := range []struct {
		after time.Duration
		cost  string
		want  bool
	}{
		{0, "1.00", true},
		{10 * time.Second, "1.09", false}, // up by 0.09
		{20 * time.Second, "1.10", true},  // up by 0.10
		{30 * time.Second, "1.01", false}, // down by 0.09
		{40 * time.Second, "1.00", true},  // down by 0.10
		{99 * time.Second, "1.00", false}, // 59 s after the last sent
		{100 * time.Second, "1.00", true}, // a minute after it
	} {
		if got := d.due(7, at.Add(tc.after), at.Add(tc.after), decimal.MustParse(tc.cost)); got != tc.want {
			t.Errorf("%d: at +%v cost %s: due %v, want %v", i, tc.after, tc.cost, got, tc.want)
		}
	}
	// The reading last shown, read again a minute later: not sent twice.
	if d.due(7, at.Add(200*time.Second), at.Add(100*time.Second), decimal.MustParse("1.50")) {
		t.Error("a running cost as of the reading already shown is due again")
	}
	if !d.finish(7) { // the second begin asked for another round
		t.Error("readings that came meanwhile were not read again")
	}
	if d.finish(7) || !d.begin(7) {
		t.Error("the transaction stayed claimed")
	}
	d.forget(7)
	if d.due(7, at, at.Add(time.Hour), decimal.MustParse("1.00")) {
		t.Error("a forgotten transaction's running cost is due")
	}
}
