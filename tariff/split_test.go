package tariff

import (
	"testing"
	"time"
)

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func sample(tm time.Time, wh string, extra ...string) Sample {
	s := Sample{Time: tm, EnergyWh: dec(wh)}
	for i := 0; i+1 < len(extra); i += 2 {
		switch extra[i] {
		case "W":
			s.PowerW, s.HasPower = dec(extra[i+1]), true
		case "A":
			s.CurrentA, s.HasCurrent = dec(extra[i+1]), true
		}
	}
	return s
}

func TestPeriodsSplitAtTimeOfUse(t *testing.T) {
	ams := loadLoc(t, "Europe/Amsterdam")
	tf := mustTariff(t, `{"country_code":"NL","party_id":"EVB","id":"tou","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
		{"price_components":[{"type":"ENERGY","price":0.20,"step_size":1}],"restrictions":{"start_time":"07:00","end_time":"17:00"}},
		{"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}]}]}`)
	start := at(t, ams, "2024-06-03 16:00")
	m := &Metered{
		Start: start, MeterStartWh: dec("1000"), Location: ams,
		Samples:      []Sample{sample(start.Add(30*time.Minute), "6000")},
		End:          start.Add(2 * time.Hour),
		MeterStopWh:  dec("21000"),
		HasMeterStop: true,
	}
	r, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		t.Fatal(err)
	}
	// 16:00–17:00: 5 kWh in the first half hour, then 15 kWh over 1.5 h → 5 kWh more by 17:00.
	want := []struct {
		start  string
		energy string
	}{{"16:00", "10"}, {"17:00", "10"}}
	if len(periods) != len(want) {
		t.Fatalf("got %d periods, want %d: %+v", len(periods), len(want), periods)
	}
	for i, w := range want {
		if got := periods[i].Start.In(ams).Format("15:04"); got != w.start {
			t.Errorf("period %d starts %s, want %s", i, got, w.start)
		}
		if got := periods[i].Energy.Trim(0).String(); got != w.energy {
			t.Errorf("period %d energy %s kWh, want %s", i, got, w.energy)
		}
	}
	if excl, _, _ := r.Total.Round(4); excl.Trim(2).String() != "5.00" {
		t.Errorf("total %s, want 5.00", excl)
	}
}

// TestPeriodsAcrossDST checks time-of-use windows on days whose wall clock
// skips or repeats an hour: a window that starts inside the skipped hour
// begins when the clock jumps, and a window inside the repeated hour
// applies twice.
func TestPeriodsAcrossDST(t *testing.T) {
	window := func(from, to string) *Tariff {
		return mustTariff(t, `{"country_code":"NL","party_id":"EVB","id":"dst","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
			{"price_components":[{"type":"TIME","price":10,"step_size":1}],"restrictions":{"start_time":"`+from+`","end_time":"`+to+`"}},
			{"price_components":[{"type":"TIME","price":1,"step_size":1}]}]}`)
	}
	tests := []struct {
		zone, from, to string
		start, end     string // UTC
		want           string
	}{
		// Amsterdam, 2024-03-31: 02:00 CET → 03:00 CEST at 01:00 UTC.
		// 01:00–05:00 local is 3 real hours; 02:30–03:30 local is 01:00–01:30 UTC.
		{"Europe/Amsterdam", "02:30", "03:30", "2024-03-31T00:00:00Z", "2024-03-31T03:00:00Z", "7.50"},
		// Amsterdam, 2024-10-27: 03:00 CEST → 02:00 CET at 01:00 UTC. 02:00–02:30 happens twice.
		{"Europe/Amsterdam", "02:00", "02:30", "2024-10-26T23:00:00Z", "2024-10-27T03:00:00Z", "13.00"},
		// Los Angeles, 2024-03-10: 02:00 PST → 03:00 PDT at 10:00 UTC; 23:00–01:00 wraps midnight.
		{"America/Los_Angeles", "23:00", "01:00", "2024-03-10T06:00:00Z", "2024-03-10T12:00:00Z", "24.00"},
		// Los Angeles, 2024-11-03: 02:00 PDT → 01:00 PST at 09:00 UTC. 01:00–02:00 lasts two real hours.
		{"America/Los_Angeles", "01:00", "02:00", "2024-11-03T07:00:00Z", "2024-11-03T11:00:00Z", "22.00"},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.from+"-"+tc.to, func(t *testing.T) {
			loc := loadLoc(t, tc.zone)
			start, _ := ParseDateTime(tc.start)
			end, _ := ParseDateTime(tc.end)
			m := &Metered{Start: start, End: end, Location: loc, MeterStartWh: dec("0"), MeterStopWh: dec("0"), HasMeterStop: true}
			r, periods, err := window(tc.from, tc.to).PriceMetered(m, false)
			if err != nil {
				t.Fatal(err)
			}
			excl, _, _ := r.Total.Round(4)
			if excl.Trim(2).String() != tc.want {
				s := &Session{Start: start, End: end, Periods: periods, Location: loc}
				t.Errorf("total %s, want %s\n%s", excl, tc.want, explainForTest(window(tc.from, tc.to), s, r))
			}
		})
	}
}

func TestPeriodsSplitAtEnergyTier(t *testing.T) {
	tf := mustTariff(t, `{"country_code":"NL","party_id":"EVB","id":"tier","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
		{"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}],"restrictions":{"max_kwh":10}},
		{"price_components":[{"type":"ENERGY","price":0.20,"step_size":1}]}]}`)
	start := at(t, time.UTC, "2024-06-03 10:00")
	m := &Metered{Start: start, MeterStartWh: dec("123456.7"), End: start.Add(3 * time.Hour), MeterStopWh: dec("138456.7"), HasMeterStop: true}
	r, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(periods) != 2 || periods[0].Energy.Trim(0).String() != "10" || periods[1].Energy.Trim(0).String() != "5" {
		t.Fatalf("periods %+v, want 10 kWh then 5 kWh", periods)
	}
	if got := periods[1].Start.Sub(start); got != 2*time.Hour {
		t.Errorf("tier boundary after %s, want 2h", got)
	}
	if excl, _, _ := r.Total.Round(4); excl.Trim(2).String() != "4.00" {
		t.Errorf("total %s, want 4.00", excl)
	}
}

func TestPeriodsSplitAtPowerThreshold(t *testing.T) {
	tf := exampleTariff(t, "tariffrestriction_example_max_power.json") // < 16 kW: 0.20, < 32 kW: 0.35, else 0.50
	start := at(t, time.UTC, "2024-06-03 10:00")
	m := &Metered{
		Start: start, MeterStartWh: dec("0"),
		Samples: []Sample{
			sample(start, "0", "W", "8000"),
			sample(start.Add(time.Hour), "24000", "W", "40000"),  // rises through 16 and 32 kW
			sample(start.Add(2*time.Hour), "48000", "W", "8000"), // and falls back
		},
		End: start.Add(2 * time.Hour), MeterStopWh: dec("48000"), HasMeterStop: true,
	}
	r, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		t.Fatal(err)
	}
	// Crossings: 16 kW at 15 min and 1h45, 32 kW at 45 min and 1h15.
	wantStarts := []time.Duration{0, 15 * time.Minute, 45 * time.Minute, 75 * time.Minute, 105 * time.Minute}
	wantElem := []int{0, 1, 2, 1, 0}
	if len(periods) != len(wantStarts) {
		t.Fatalf("got %d periods, want %d", len(periods), len(wantStarts))
	}
	for i := range periods {
		if got := periods[i].Start.Sub(start); got != wantStarts[i] {
			t.Errorf("period %d starts after %s, want %s", i, got, wantStarts[i])
		}
	}
	var got []int
	for _, l := range r.Lines {
		got = append(got, l.Element())
	}
	if len(got) != len(wantElem) {
		t.Fatalf("elements %v, want %v", got, wantElem)
	}
	for i := range got {
		if got[i] != wantElem[i] {
			t.Errorf("elements %v, want %v", got, wantElem)
			break
		}
	}
}

func TestPeriodsRejectBadMeterData(t *testing.T) {
	tf := exampleTariff(t, "tariff_8_simple_025kwh.json")
	start := at(t, time.UTC, "2024-06-03 10:00")
	tests := []struct {
		name string
		m    Metered
	}{
		{"end before start", Metered{Start: start, End: start.Add(-time.Second)}},
		{"meter runs backwards", Metered{Start: start, MeterStartWh: dec("100"), End: start.Add(time.Hour),
			Samples: []Sample{sample(start.Add(time.Minute), "99")}}},
		{"sample out of order", Metered{Start: start, End: start.Add(time.Hour),
			Samples: []Sample{sample(start.Add(2*time.Minute), "1"), sample(start.Add(time.Minute), "2")}}},
		{"sample after end", Metered{Start: start, End: start.Add(time.Hour),
			Samples: []Sample{sample(start.Add(2*time.Hour), "1")}}},
		{"stop below last sample", Metered{Start: start, End: start.Add(time.Hour), HasMeterStop: true, MeterStopWh: dec("5"),
			Samples: []Sample{sample(start.Add(time.Minute), "10")}}},
		{"parking outside session", Metered{Start: start, End: start.Add(time.Hour), ParkingStart: start.Add(2 * time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tf.Periods(&tc.m); err == nil {
				t.Error("accepted")
			}
		})
	}
}
