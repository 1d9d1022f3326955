package forecast

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The backtests below are the package's accuracy claims. Each synthetic
// series knows its own shape, so a model that misses a part of it (the
// yearly swing, the trend, the holidays, the gaps) scores visibly worse
// than these thresholds; the thresholds leave room only for the noise.

// TestBacktestSeasonalTrend is the one-year claim: on a commuter series
// with trend, yearly swing, holidays, outages and noise, a one-year
// forecast from each of four origins must score a MASE under 0.8 and
// clearly under the seasonal naive forecast's, with honest intervals.
func TestBacktestSeasonalTrend(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		a, err := Backtest(defaultSynth(seed).series(), 365, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: MASE %.3f, seasonal naive %.3f, coverage %.2f over %d points", seed, a.MASE, a.NaiveMASE, a.Coverage80, a.Points)
		if a.Origins != 4 || a.Points != 4*365 {
			t.Errorf("seed %d: scored %d origins, %d points; want 4, 1460", seed, a.Origins, a.Points)
		}
		if a.MASE >= 0.8 {
			t.Errorf("seed %d: MASE %.3f, want < 0.8", seed, a.MASE)
		}
		if a.MASE >= 0.6*a.NaiveMASE {
			t.Errorf("seed %d: MASE %.3f does not clearly beat the seasonal naive %.3f", seed, a.MASE, a.NaiveMASE)
		}
		if a.Coverage80 < 0.7 || a.Coverage80 > 0.9 {
			t.Errorf("seed %d: 80 %% intervals cover %.2f", seed, a.Coverage80)
		}
	}
}

// TestBacktestPureWeekly: with nothing but a weekly pattern and noise,
// last week's value carries the pattern too, and the model can only win by
// averaging the noise away, by about a factor of sqrt(2) in theory. It
// must not invent a trend or a season that is not there.
func TestBacktestPureWeekly(t *testing.T) {
	g := defaultSynth(7)
	g.days, g.growth, g.yearly, g.holiday, g.outages = 2*365, 0, 0, 0, 0
	a, err := Backtest(g.series(), 91, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MASE %.3f, seasonal naive %.3f, coverage %.2f", a.MASE, a.NaiveMASE, a.Coverage80)
	if a.MASE >= 0.8 || a.MASE >= 0.8*a.NaiveMASE {
		t.Errorf("MASE %.3f against seasonal naive %.3f", a.MASE, a.NaiveMASE)
	}
	if a.Coverage80 < 0.7 || a.Coverage80 > 0.9 {
		t.Errorf("80 %% intervals cover %.2f", a.Coverage80)
	}
}

// TestBacktestGaps: a fifth of the days missing at random and a six-week
// hole (a broken meter) must not break the model or its accuracy.
func TestBacktestGaps(t *testing.T) {
	g := defaultSynth(3)
	g.missing, g.gapStart, g.gapDays = 0.2, 500, 42
	s := g.series()
	a, err := Backtest(s, 365, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MASE %.3f, seasonal naive %.3f, coverage %.2f over %d points", a.MASE, a.NaiveMASE, a.Coverage80, a.Points)
	if a.MASE >= 0.8 || a.MASE >= 0.6*a.NaiveMASE {
		t.Errorf("MASE %.3f against seasonal naive %.3f", a.MASE, a.NaiveMASE)
	}
	if a.Points >= 4*365 || a.Points < 4*365*7/10 {
		t.Errorf("scored %d points; the missing ones must be skipped", a.Points)
	}
}

// TestShortHistory: under two weeks the forecast is the level, flat, and
// the notes say so; with a few weeks it has a weekday pattern but no yearly
// one, and says that.
func TestShortHistory(t *testing.T) {
	g := defaultSynth(1)
	s := g.series()

	s.Values, s.Holidays = s.Values[:10], nil
	m, err := Fit(s)
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(m, "no weekly seasonality") || !hasNote(m, "level, flat") {
		t.Errorf("notes %q do not say the weekday pattern was left out", m.Notes())
	}
	fc := m.Forecast(14)
	for _, p := range fc {
		if p.Forecast != fc[0].Forecast {
			t.Fatalf("a 10-day history gave a forecast that is not flat: %v", fc)
		}
		if p.Lo80 >= p.Forecast || p.Hi80 <= p.Forecast {
			t.Fatalf("a 10-day history gave a zero-width interval: %+v", p)
		}
	}
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if fc[0].Forecast < lo || fc[0].Forecast > hi {
		t.Errorf("flat forecast %.1f outside the history's range %.1f..%.1f", fc[0].Forecast, lo, hi)
	}

	s = g.series()
	s.Values = s.Values[:70]
	if m, err = Fit(s); err != nil {
		t.Fatal(err)
	}
	if !hasNote(m, "no yearly seasonality") || hasNote(m, "no weekly") {
		t.Errorf("notes for 70 days: %q", m.Notes())
	}
	fc = m.Forecast(7)
	byDay := map[time.Weekday]float64{}
	for _, p := range fc {
		byDay[p.Time.Weekday()] = p.Forecast
	}
	if byDay[time.Sunday] >= 0.8*byDay[time.Tuesday] {
		t.Errorf("70 days of commuter data: Sunday %.0f against Tuesday %.0f, want the weekday pattern", byDay[time.Sunday], byDay[time.Tuesday])
	}

	s.Values = s.Values[:1]
	if m, err = Fit(s); err != nil {
		t.Fatal(err)
	}
	p := m.Forecast(1)[0]
	if v := s.Values[0]; math.Abs(p.Forecast-v) > 1e-9*v || p.Lo80 != 0 || math.Abs(p.Hi80-2*v) > 1e-9*v {
		t.Errorf("one observation %.1f: got %+v, want it back with a 0..2× interval", s.Values[0], p)
	}
}

// TestTrendHeldAfterStep: a network that lost half its demand in one
// month and then stayed level must not be forecast to keep falling.
func TestTrendHeldAfterStep(t *testing.T) {
	g := defaultSynth(5)
	g.days, g.growth, g.yearly = 300, 0, 0
	s := g.series()
	for i := range s.Values {
		if i >= 120 {
			s.Values[i] *= 0.5
		} else if i >= 90 {
			s.Values[i] *= 1 - 0.5*float64(i-90)/30
		}
	}
	m, err := Fit(s)
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(m, "trend is held flat") {
		t.Errorf("notes %q do not say the trend was held", m.Notes())
	}
	fc := m.Forecast(365)
	var recent, late float64
	for i := 300 - 28; i < 300; i++ {
		recent += s.Values[i] / 28
	}
	for _, p := range fc[365-28:] {
		late += p.Forecast / 28
	}
	if late < 0.8*recent {
		t.Errorf("a year on the forecast averages %.0f against %.0f in the last four weeks: the step was extrapolated", late, recent)
	}
}

// TestHolidays: a holiday in the future is forecast low once the history
// has shown holidays to be low.
func TestHolidays(t *testing.T) {
	g := defaultSynth(2)
	g.days = 2*365 + 100 // ends in mid-April of the third year
	s := g.series()
	m, err := Fit(s)
	if err != nil {
		t.Fatal(err)
	}
	var memorial, before Point
	for _, p := range m.Forecast(60) {
		if p.Time.Month() == time.May && p.Time.Weekday() == time.Monday {
			before, memorial = memorial, p // the last Monday of May wins
		}
	}
	if memorial.Forecast >= 0.7*before.Forecast {
		t.Errorf("Memorial Day %v forecast %.0f against %.0f the Monday before", memorial.Time, memorial.Forecast, before.Forecast)
	}
}

// TestHourly: an hourly series with a commuter day and week, across a
// change to summer time, keeps its local-clock profile, steps one hour of
// absolute time at a time, and beats last week's values.
func TestHourly(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 2, 3, 0, 0, 0, 0, ams)
	n := 10 * 7 * 24
	s := Series{Start: start, Freq: Hourly, Values: make([]float64, n)}
	g := defaultSynth(4)
	for i := range s.Values {
		at := start.Add(time.Duration(i) * time.Hour)
		h := at.Hour()
		shape := 0.2 + math.Exp(-sq(float64(h)-8.5)/4) + 0.8*math.Exp(-sq(float64(h)-17.5)/5)
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			shape = 0.2 + 0.6*math.Exp(-sq(float64(h)-13)/12)
		}
		s.Values[i] = 20 * shape * math.Exp(0.15*g.noiseAt(i))
	}
	a, err := Backtest(s, 7*24, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hourly: MASE %.3f, seasonal naive %.3f, coverage %.2f", a.MASE, a.NaiveMASE, a.Coverage80)
	if a.MASE >= 0.85*a.NaiveMASE {
		t.Errorf("hourly MASE %.3f against seasonal naive %.3f", a.MASE, a.NaiveMASE)
	}
	m, err := Fit(s)
	if err != nil {
		t.Fatal(err)
	}
	fc := m.Forecast(24 * 7)
	for k, p := range fc {
		if want := start.Add(time.Duration(n+k) * time.Hour); !p.Time.Equal(want) {
			t.Fatalf("point %d at %v, want %v", k, p.Time, want)
		}
	}
	// 2025-04-14 is a Monday: the morning peak at 08:00–09:00 local time.
	var peak Point
	for _, p := range fc[:24] {
		if p.Forecast > peak.Forecast {
			peak = p
		}
	}
	if h := peak.Time.In(ams).Hour(); h < 7 || h > 9 {
		t.Errorf("Monday's peak forecast at %v, want the morning commute", peak.Time.In(ams))
	}
}

func sq(x float64) float64 { return x * x }

// TestDailyDates: forecast dates follow the history's last date, whatever
// the location or the time of day Start carries.
func TestDailyDates(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s := Series{Start: time.Date(2025, 3, 1, 23, 30, 0, 0, ny), Values: make([]float64, 40)}
	for i := range s.Values {
		s.Values[i] = float64(10 + i%7)
	}
	m, err := Fit(s)
	if err != nil {
		t.Fatal(err)
	}
	fc := m.Forecast(400)
	for k, p := range fc {
		if want := time.Date(2025, 4, 10+k, 0, 0, 0, 0, time.UTC); !p.Time.Equal(want) {
			t.Fatalf("point %d dated %v, want %v", k, p.Time, want)
		}
	}
}

func TestErrors(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, s := range map[string]Series{
		"empty":       {Start: start},
		"all missing": {Start: start, Values: []float64{1, 2}, Missing: []bool{true, true}},
		"all NaN":     {Start: start, Values: []float64{math.NaN(), math.Inf(1)}},
	} {
		if _, err := Fit(s); !errors.Is(err, ErrNoData) {
			t.Errorf("%s: Fit error %v, want ErrNoData", name, err)
		}
	}
	if _, err := Fit(Series{Start: start, Values: []float64{1, 2}, Missing: []bool{false}}); err == nil {
		t.Error("Fit accepted one missing flag for two values")
	}
	if _, err := Fit(Series{Start: start, Freq: 9, Values: []float64{1}}); err == nil {
		t.Error("Fit accepted an unknown frequency")
	}
	week := Series{Start: start, Values: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	if _, err := Backtest(week, 7, 1); !errors.Is(err, ErrTooShort) {
		t.Errorf("backtest of 10 days at horizon 7: %v, want ErrTooShort", err)
	}
	flat := Series{Start: start, Values: make([]float64, 60)}
	if _, err := Backtest(flat, 7, 2); !errors.Is(err, errNoScale) {
		t.Errorf("backtest of a constant series: %v, want errNoScale", err)
	}
	for _, c := range [][2]int{{0, 1}, {MaxHorizon + 1, 1}, {7, 0}, {7, MaxOrigins + 1}} {
		if _, err := Backtest(defaultSynth(1).series(), c[0], c[1]); err == nil {
			t.Errorf("Backtest accepted horizon %d, origins %d", c[0], c[1])
		}
	}
	m, err := Fit(week)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Forecast(0); got != nil {
		t.Errorf("Forecast(0) = %v", got)
	}
	if got := len(m.Forecast(MaxHorizon + 5)); got != MaxHorizon {
		t.Errorf("Forecast beyond MaxHorizon returned %d points", got)
	}
}

func hasNote(m *Model, s string) bool {
	for _, n := range m.Notes() {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// BenchmarkFitForecast fits three years of daily data and forecasts a year,
// the work behind one API call.
func BenchmarkFitForecast(b *testing.B) {
	g := defaultSynth(1)
	g.days = 3 * 365
	s := g.series()
	b.ReportAllocs()
	for b.Loop() {
		m, err := Fit(s)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Forecast(365)) != 365 {
			b.Fatal("short forecast")
		}
	}
}
