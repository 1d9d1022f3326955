package tariff

import (
	"testing"
	"time"
)

// TestRestrictions checks each restriction type on its own, with the
// boundary value on both sides. Each tariff charges 10/h when its first
// element applies and 1/h otherwise, over one hour of charging, so the
// total tells which element priced the period.
func TestRestrictions(t *testing.T) {
	ams := loadLoc(t, "Europe/Amsterdam")
	tariffWith := func(restrictions string) *Tariff {
		return mustTariff(t, `{"country_code":"NL","party_id":"EVB","id":"r","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
			{"price_components":[{"type":"TIME","price":10,"step_size":1}],"restrictions":`+restrictions+`},
			{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	}
	wed := func(clock string) time.Time { return at(t, ams, "2024-05-15 "+clock) } // a Wednesday
	tests := []struct {
		name         string
		restrictions string
		start        time.Time
		before       string // kWh consumed before the priced hour, "" for none
		dims         []string
		want         string // 10.00 when the restricted element applies, 1.00 otherwise
	}{
		{"start_time inclusive", `{"start_time":"18:00"}`, wed("18:00"), "", nil, "10.00"},
		{"before start_time", `{"start_time":"18:00"}`, wed("17:59"), "", nil, "1.00"},
		{"end_time exclusive", `{"end_time":"18:00"}`, wed("18:00"), "", nil, "1.00"},
		{"before end_time", `{"end_time":"18:00"}`, wed("17:59"), "", nil, "10.00"},
		{"window past midnight, late", `{"start_time":"22:00","end_time":"06:00"}`, wed("23:30"), "", nil, "10.00"},
		{"window past midnight, early", `{"start_time":"22:00","end_time":"06:00"}`, wed("05:59"), "", nil, "10.00"},
		{"window past midnight, day", `{"start_time":"22:00","end_time":"06:00"}`, wed("06:00"), "", nil, "1.00"},
		{"end_time 00:00 is end of day", `{"start_time":"20:00","end_time":"00:00"}`, wed("23:59"), "", nil, "10.00"},
		{"equal times mean all day", `{"start_time":"08:00","end_time":"08:00"}`, wed("03:00"), "", nil, "10.00"},
		{"start_date inclusive", `{"start_date":"2024-05-15"}`, wed("00:00"), "", nil, "10.00"},
		{"start_date local, not UTC", `{"start_date":"2024-05-16"}`, at(t, ams, "2024-05-16 01:00"), "", nil, "10.00"},
		{"end_date exclusive", `{"end_date":"2024-05-15"}`, wed("00:00"), "", nil, "1.00"},
		{"weekday", `{"day_of_week":["WEDNESDAY"]}`, wed("12:00"), "", nil, "10.00"},
		{"weekend", `{"day_of_week":["SATURDAY","SUNDAY"]}`, wed("12:00"), "", nil, "1.00"},
		{"weekend, Saturday", `{"day_of_week":["SATURDAY","SUNDAY"]}`, at(t, ams, "2024-05-18 12:00"), "", nil, "10.00"},
		{"weekday in local time", `{"day_of_week":["THURSDAY"]}`, at(t, ams, "2024-05-16 00:30"), "", nil, "10.00"},
		{"min_kwh reached", `{"min_kwh":20}`, wed("12:00"), "20", nil, "10.00"},
		{"min_kwh not reached", `{"min_kwh":20}`, wed("12:00"), "19.9999", nil, "1.00"},
		{"max_kwh exclusive", `{"max_kwh":20}`, wed("12:00"), "20", nil, "1.00"},
		{"max_kwh below", `{"max_kwh":20}`, wed("12:00"), "19.9", nil, "10.00"},
		{"min_current", `{"min_current":32}`, wed("12:00"), "", []string{"MIN_CURRENT=32", "MAX_CURRENT=48"}, "10.00"},
		{"min_current, below", `{"min_current":32}`, wed("12:00"), "", []string{"MIN_CURRENT=16", "MAX_CURRENT=31"}, "1.00"},
		{"max_current", `{"max_current":32}`, wed("12:00"), "", []string{"MAX_CURRENT=31.9"}, "10.00"},
		{"max_current, at the limit", `{"max_current":32}`, wed("12:00"), "", []string{"MIN_CURRENT=32", "MAX_CURRENT=32"}, "1.00"},
		{"max_current, current unknown", `{"max_current":32}`, wed("12:00"), "", nil, "1.00"},
		{"min_power", `{"min_power":50}`, wed("12:00"), "", []string{"MIN_POWER=50", "MAX_POWER=150"}, "10.00"},
		{"max_power, rising to the limit", `{"max_power":50}`, wed("12:00"), "", []string{"MIN_POWER=20", "MAX_POWER=50"}, "10.00"},
		{"max_power, above", `{"max_power":50}`, wed("12:00"), "", []string{"MIN_POWER=50", "MAX_POWER=60"}, "1.00"},
		{"min_duration inclusive", `{"min_duration":1800}`, wed("12:00"), "", nil, "10.00"},
		{"max_duration exclusive", `{"max_duration":1800}`, wed("12:00"), "", nil, "1.00"},
		{"all together", `{"start_time":"10:00","end_time":"14:00","day_of_week":["WEDNESDAY"],"min_kwh":5,"max_power":22}`, wed("12:00"), "5", []string{"MAX_POWER=11"}, "10.00"},
		{"all but one", `{"start_time":"10:00","end_time":"14:00","day_of_week":["WEDNESDAY"],"min_kwh":5,"max_power":22}`, wed("12:00"), "4", []string{"MAX_POWER=11"}, "1.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The priced hour starts 30 minutes into the session, after a
			// period that is free (it carries no TIME) and consumed tc.before kWh.
			sessionStart := tc.start.Add(-30 * time.Minute)
			b := newSession(ams, sessionStart)
			energy := "0"
			if tc.before != "" {
				energy = tc.before
			}
			b.s.Periods = append(b.s.Periods, Period{Start: sessionStart, Energy: dec(energy), Has: HasEnergy})
			b.now = tc.start
			b.charge(time.Hour, "", tc.dims...)
			excl, _, r := rounded(t, tariffWith(tc.restrictions), b.session())
			if excl != tc.want {
				t.Errorf("total %s, want %s\n%s", excl, tc.want, explainForTest(tariffWith(tc.restrictions), b.session(), r))
			}
		})
	}
}

func TestZeroDecimalAndThreeDecimalCurrencies(t *testing.T) {
	start := at(t, time.UTC, "2024-05-15 12:00")
	for _, tc := range []struct{ currency, price, kwh, want string }{
		{"JPY", "25.5", "10.01", "JPY 255"},     // 255.255 → 255
		{"JPY", "25.5", "10.02", "JPY 256"},     // 255.51 → 256
		{"JPY", "50", "0.01", "JPY 1"},          // 0.5 → 1, half away from zero
		{"BHD", "0.0125", "10.04", "BHD 0.126"}, // 0.1255 → 0.126
		{"KWD", "0.0125", "10.03", "KWD 0.125"}, // 0.125375 → 0.125
		{"EUR", "0.25", "0.02", "EUR 0.01"},     // 0.005 → 0.01
	} {
		tf := mustTariff(t, `{"country_code":"JP","party_id":"EVB","id":"c","currency":"`+tc.currency+`","last_updated":"2024-01-01T00:00:00Z",
			"elements":[{"price_components":[{"type":"ENERGY","price":`+tc.price+`,"step_size":1}]}]}`)
		// A step of 1 Wh: quantities are whole Wh so the step adds nothing.
		_, _, r := rounded(t, tf, newSession(time.UTC, start).charge(time.Hour, tc.kwh).session())
		if got := r.Charge.String(); got != tc.want {
			t.Errorf("%s %s × %s kWh: charge %s, want %s", tc.currency, tc.price, tc.kwh, got, tc.want)
		}
	}
}

func TestZeroEnergySession(t *testing.T) {
	tf := exampleTariff(t, "tariff_9_025kwh_start.json") // 0.50 start fee + 0.25/kWh
	excl, incl, r := rounded(t, tf, newSession(time.UTC, at(t, time.UTC, "2024-05-15 12:00")).charge(5*time.Minute, "0").session())
	if excl != "0.50" || incl != "0.60" {
		t.Errorf("a session without energy costs %s/%s, want the start fee 0.50/0.60", excl, incl)
	}
	for _, l := range r.Lines {
		if l.Dimension == Energy {
			t.Errorf("zero energy produced a line: %+v", l)
		}
	}
}

// TestThirtyHourSession crosses two midnights and the day-time windows of
// the example tariff: 30 hours of charging at a constant 1 kWh per hour.
func TestThirtyHourSession(t *testing.T) {
	ams := loadLoc(t, "Europe/Amsterdam")
	tf := mustTariff(t, `{"country_code":"NL","party_id":"EVB","id":"tou","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
		{"price_components":[{"type":"ENERGY","price":0.40,"step_size":1}],"restrictions":{"start_time":"07:00","end_time":"23:00","day_of_week":["MONDAY","TUESDAY","WEDNESDAY","THURSDAY","FRIDAY"]}},
		{"price_components":[{"type":"ENERGY","price":0.20,"step_size":1}]}]}`)
	start := at(t, ams, "2024-05-17 18:00") // Friday
	m := &Metered{Start: start, End: start.Add(30 * time.Hour), Location: ams, MeterStartWh: dec("0"), MeterStopWh: dec("30000"), HasMeterStop: true}
	r, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		t.Fatal(err)
	}
	// Friday 18:00–23:00 peak (5 kWh at 0.40); then the weekend at 0.20 (25 kWh).
	if excl, _, _ := r.Total.Round(4); excl.Trim(2).String() != "7.00" {
		t.Errorf("total %s, want 7.00", excl)
	}
	// Boundaries at 23:00 Fri, 00:00 Sat, 07:00 Sat and 23:00 Sat; the
	// session ends at 00:00 Sun.
	if len(periods) != 5 {
		t.Errorf("%d periods, want 5", len(periods))
	}
}
