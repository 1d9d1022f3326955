package forecast

import (
	"math"
	"math/rand/v2"
	"time"
)

// synth describes a synthetic daily charging series. Public EV-charging
// histories long enough for a one-year backtest (three years or more of
// daily figures) could not be had where these tests run, so the tests
// build series with the shape such data has: a level that grows (the EV
// fleet does), a commuter week (busy Monday to Friday, quiet weekend), a
// yearly swing (more driving in summer, cold batteries in winter), and
// multiplicative noise, since a busy day's spread is wider in kWh than a
// quiet day's. Everything is seeded, so a failure reproduces.
type synth struct {
	seed     uint64
	start    time.Time
	days     int
	level    float64    // value on an average day at the start
	growth   float64    // relative growth per year, linear in the level
	weekly   [7]float64 // multipliers, Sunday first
	yearly   float64    // amplitude of the yearly swing, relative
	peakDay  int        // day of year of the yearly peak
	noise    float64    // standard deviation of the log noise
	outages  float64    // share of days on which most chargers were down
	holiday  float64    // multiplier on public holidays (0: no holidays)
	missing  float64    // share of days without a figure
	gapStart int        // a block of missing days from here (0: none)
	gapDays  int
}

// commuter is the weekly profile of sites used for commuting and errands.
var commuter = [7]float64{0.62, 1.10, 1.16, 1.15, 1.12, 1.05, 0.80}

func defaultSynth(seed uint64) synth {
	return synth{
		seed:    seed,
		start:   time.Date(2022, 1, 3, 0, 0, 0, 0, time.UTC),
		days:    4 * 365,
		level:   1200,
		growth:  0.10,
		weekly:  commuter,
		yearly:  0.18,
		peakDay: 200,
		noise:   0.10,
		outages: 0.01,
		holiday: 0.45,
	}
}

// holidays returns the public holidays of the years from..to: fixed dates
// and the Monday or Thursday ones, like the calendars sites follow.
func holidays(from, to int) []time.Time {
	var out []time.Time
	nth := func(y int, m time.Month, wd time.Weekday, n int) time.Time {
		t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		for t.Weekday() != wd {
			t = t.AddDate(0, 0, 1)
		}
		return t.AddDate(0, 0, 7*(n-1))
	}
	lastMon := func(y int, m time.Month) time.Time {
		t := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)
		for t.Weekday() != time.Monday {
			t = t.AddDate(0, 0, -1)
		}
		return t
	}
	for y := from; y <= to; y++ {
		d := func(m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
		out = append(out, d(1, 1), nth(y, 1, time.Monday, 3), lastMon(y, 5), d(7, 4), nth(y, 9, time.Monday, 1),
			nth(y, 11, time.Thursday, 4), nth(y, 11, time.Thursday, 4).AddDate(0, 0, 1), d(12, 24), d(12, 25), d(12, 26), d(12, 31))
	}
	return out
}

// mean is the expected value of day i, before noise.
func (g synth) mean(i int) float64 {
	t := g.start.AddDate(0, 0, i)
	yd := float64(t.YearDay())
	season := 1 + g.yearly*math.Cos(2*math.Pi*(yd-float64(g.peakDay))/365.25)
	trend := 1 + g.growth*float64(i)/365
	return g.level * trend * season * g.weekly[t.Weekday()]
}

func (g synth) series() Series {
	rng := rand.New(rand.NewPCG(g.seed, 0x5eed))
	s := Series{Start: g.start, Values: make([]float64, g.days)}
	hol := map[time.Time]bool{}
	if g.holiday > 0 {
		end := g.start.AddDate(0, 0, g.days)
		s.Holidays = holidays(g.start.Year(), end.Year()+1)
		for _, h := range s.Holidays {
			hol[h] = true
		}
	}
	if g.missing > 0 || g.gapDays > 0 {
		s.Missing = make([]bool, g.days)
	}
	for i := range s.Values {
		v := g.mean(i) * math.Exp(g.noise*rng.NormFloat64()-g.noise*g.noise/2)
		if hol[g.start.AddDate(0, 0, i)] {
			v *= g.holiday
		}
		if g.outages > 0 && rng.Float64() < g.outages {
			v *= 0.1 + 0.3*rng.Float64()
		}
		s.Values[i] = v
		if s.Missing != nil && (rng.Float64() < g.missing || (g.gapDays > 0 && i >= g.gapStart && i < g.gapStart+g.gapDays)) {
			s.Missing[i] = true
		}
	}
	return s
}

// noiseAt is a standard normal draw fixed by the seed and the index, for
// series built outside series().
func (g synth) noiseAt(i int) float64 {
	return rand.New(rand.NewPCG(g.seed, uint64(i))).NormFloat64()
}
