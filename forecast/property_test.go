package forecast

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// checkForecast holds the promises every forecast keeps, whatever the
// history: h points, one period apart, finite, Lo80 <= Forecast <= Hi80,
// and not below zero for a history that never was.
func checkForecast(t interface{ Fatalf(string, ...any) }, s Series, m *Model, h int) {
	fc := m.Forecast(h)
	if len(fc) != min(h, MaxHorizon) {
		t.Fatalf("Forecast(%d) returned %d points", h, len(fc))
	}
	nonneg := true
	for i, v := range s.Values {
		if s.observed(i) && v < 0 {
			nonneg = false
		}
	}
	clk := newClock(&s)
	for k, p := range fc {
		if want := clk.at(len(s.Values) + k); !p.Time.Equal(want) {
			t.Fatalf("point %d at %v, want %v", k, p.Time, want)
		}
		for _, v := range []float64{p.Forecast, p.Lo80, p.Hi80} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("point %d is not finite: %+v", k, p)
			}
		}
		if !(p.Lo80 <= p.Forecast && p.Forecast <= p.Hi80) {
			t.Fatalf("point %d out of order: %+v", k, p)
		}
		if nonneg && p.Lo80 < 0 {
			t.Fatalf("point %d below zero for a history that never was: %+v", k, p)
		}
	}
}

// TestPropertyForecast draws histories of any length and shape — zeros,
// negatives, spikes, NaN, huge and tiny magnitudes, gaps, both
// frequencies — and checks the invariants of checkForecast.
func TestPropertyForecast(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		freq := rapid.SampledFrom([]Frequency{Daily, Daily, Hourly}).Draw(t, "freq")
		n := rapid.IntRange(0, 900).Draw(t, "n")
		magnitude := math.Pow(10, float64(rapid.IntRange(-300, 300).Draw(t, "exp")))
		style := rapid.IntRange(0, 3).Draw(t, "style")
		s := Series{
			Start: time.Date(rapid.IntRange(1, 9999).Draw(t, "year"), time.March, 30, rapid.IntRange(0, 23).Draw(t, "hour"), 0, 0, 0, ams),
			Freq:  freq,
		}
		for i := range n {
			var v float64
			switch style {
			case 0: // a weekly pattern with noise
				v = magnitude * (1 + 0.5*math.Sin(float64(i)*2*math.Pi/float64(freq.week())) + 0.2*rapid.Float64Range(-1, 1).Draw(t, "noise"))
			case 1: // sparse counts, mostly zero
				v = float64(rapid.SampledFrom([]int{0, 0, 0, 1, 2, 7}).Draw(t, "count"))
			case 2: // anything at all
				v = rapid.Float64().Draw(t, "v")
			default: // a few values, special ones included
				v = rapid.SampledFrom([]float64{0, -1, 1, magnitude, -magnitude, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1)}).Draw(t, "special")
			}
			s.Values = append(s.Values, v)
		}
		if rapid.Bool().Draw(t, "gaps") {
			s.Missing = rapid.SliceOfN(rapid.Bool(), n, n).Draw(t, "missing")
		}
		if rapid.Bool().Draw(t, "holidays") {
			for range rapid.IntRange(1, 20).Draw(t, "nholidays") {
				s.Holidays = append(s.Holidays, s.Start.AddDate(0, 0, rapid.IntRange(-10, 1500).Draw(t, "holiday")))
			}
		}
		m, err := Fit(s)
		observed := false
		for i := range s.Values {
			observed = observed || s.observed(i)
		}
		if !observed {
			if err != ErrNoData {
				t.Fatalf("no observation, error %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Fit: %v", err)
		}
		checkForecast(t, s, m, rapid.IntRange(0, 800).Draw(t, "h"))

		h := rapid.IntRange(1, 60).Draw(t, "bh")
		a, err := Backtest(s, h, rapid.IntRange(1, 5).Draw(t, "origins"))
		if err != nil {
			return // too short or flat: said, not guessed
		}
		for _, v := range []float64{a.MASE, a.NaiveMASE, a.Coverage80} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("backtest figure not a finite non-negative number: %+v", a)
			}
		}
		if a.Coverage80 > 1 || a.Points < 1 || a.Origins < 1 {
			t.Fatalf("backtest counts: %+v", a)
		}
	})
}

// FuzzFit reads bytes as a history: the first byte picks the frequency,
// the horizon and whether zero bytes mark gaps, then each 8 bytes are one
// float64 value, whatever bit pattern that makes. Fit, Forecast and
// Backtest must never panic and must keep checkForecast's promises.
func FuzzFit(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f})
	f.Add(append([]byte{3}, floats(1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3)...))
	f.Add(append([]byte{0x81}, floats(0, 0, 0, 5, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 9)...))
	f.Add(append([]byte{0x42}, floats(math.MaxFloat64, -math.MaxFloat64, math.NaN(), math.Inf(-1), 1e-308, 0, 1)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ctl, data := data[0], data[1:]
		s := Series{Start: time.Date(2024, 10, 27, 0, 0, 0, 0, time.UTC)}
		if ctl&1 == 1 {
			s.Freq = Hourly
		}
		gaps := ctl&0x80 != 0
		for len(data) >= 8 && len(s.Values) < 5000 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			s.Values = append(s.Values, v)
			if gaps {
				s.Missing = append(s.Missing, v == 0)
			}
			data = data[8:]
		}
		h := 1 + int(ctl>>1&0x3f)*7
		m, err := Fit(s)
		if err != nil {
			return
		}
		checkForecast(t, s, m, h)
		if a, err := Backtest(s, h, 3); err == nil {
			if math.IsNaN(a.MASE) || math.IsNaN(a.NaiveMASE) || math.IsNaN(a.Coverage80) {
				t.Fatalf("backtest NaN: %+v", a)
			}
		}
	})
}

func floats(v ...float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}
