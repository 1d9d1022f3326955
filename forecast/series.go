package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Frequency is how far apart the values of a series are.
type Frequency int

const (
	// Daily series have one value per calendar day.
	Daily Frequency = iota
	// Hourly series have one value per hour of absolute time, so a day on
	// which the clocks change has 23 or 25 of them.
	Hourly
)

// String returns "daily" or "hourly".
func (f Frequency) String() string {
	switch f {
	case Daily:
		return "daily"
	case Hourly:
		return "hourly"
	}
	return fmt.Sprintf("Frequency(%d)", int(f))
}

// perDay is the number of periods in a (clock-change free) day.
func (f Frequency) perDay() int {
	if f == Hourly {
		return 24
	}
	return 1
}

// week is the seasonal period of the seasonal naive forecast: the same
// weekday (and hour) one week earlier.
func (f Frequency) week() int { return 7 * f.perDay() }

// Limits that keep hostile input from exhausting memory or overflowing
// time arithmetic (an hourly index must stay within time.Duration's 292
// years). They are far beyond any real use.
const (
	// MaxLength is the longest history Fit and Backtest accept, in periods.
	MaxLength = 1_000_000
	// MaxHorizon is the most periods Forecast returns; a longer horizon is
	// cut to it.
	MaxHorizon = 30_000
)

// Series is a history of equally spaced values, oldest first.
//
// A period with no observation is marked in Missing; its value is ignored. A NaN or infinite value
// counts as missing too, so that one bad reading cannot poison a forecast.
type Series struct {
	// Start is the first period. For a daily series only its year, month
	// and day count (in Start's own location); for an hourly series it is
	// the first hour, and Start's location gives the local clock that
	// weekday and hour-of-day effects follow, daylight saving included.
	Start time.Time
	// Freq is Daily (the zero value) or Hourly.
	Freq Frequency
	// Values holds one value per period.
	Values []float64
	// Missing is nil when every period was observed; otherwise it has one
	// entry per value, true where the period has no observation.
	Missing []bool
	// Holidays are dates (year, month and day in their own location) on
	// which demand follows a holiday pattern, such as public holidays where
	// the sites are. Give past and future ones: the model learns the
	// holiday effect from the past ones in the history and applies it to
	// the future ones in the forecast. Optional.
	Holidays []time.Time
}

// Errors that Fit and Backtest return for unusable input.
var (
	// ErrNoData means the series has no observed, finite value.
	ErrNoData = errors.New("forecast: the series has no observed value")
	// ErrTooShort means a backtest has no origin with enough history
	// before it and enough periods after it.
	ErrTooShort = errors.New("forecast: the series is too short for a backtest at this horizon")
)

// check rejects a series that cannot be read as a history at all.
func (s *Series) check() error {
	switch {
	case s.Freq != Daily && s.Freq != Hourly:
		return fmt.Errorf("forecast: unknown frequency %d", int(s.Freq))
	case len(s.Values) > MaxLength:
		return fmt.Errorf("forecast: %d periods of history; at most %d are accepted", len(s.Values), MaxLength)
	case s.Missing != nil && len(s.Missing) != len(s.Values):
		return fmt.Errorf("forecast: %d missing flags for %d values; give one per value, or none", len(s.Missing), len(s.Values))
	}
	return nil
}

// observed reports whether period i has a usable value.
func (s *Series) observed(i int) bool {
	if s.Missing != nil && s.Missing[i] {
		return false
	}
	v := s.Values[i]
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

// clock turns period indexes into times and calendar facts. Daily series
// count civil days, which no time zone or clock change can disturb.
type clock struct {
	freq  Frequency
	start time.Time // daily: midnight UTC of the start date; hourly: as given
	day0  int64     // daily: civil day number of period 0
	wday0 int       // daily: weekday of period 0
}

func newClock(s *Series) clock {
	c := clock{freq: s.Freq, start: s.Start}
	if s.Freq == Daily {
		y, m, d := s.Start.Date()
		c.start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		c.day0 = civilDay(y, m, d)
		c.wday0 = int(c.start.Weekday())
	}
	return c
}

// at returns the time of period i.
func (c clock) at(i int) time.Time {
	if c.freq == Daily {
		return c.start.AddDate(0, 0, i)
	}
	return c.start.Add(time.Duration(i) * time.Hour)
}

// calendar is what the model needs to know of one period.
type calendar struct {
	day     int64   // civil day number (days since 1970-01-01)
	weekday int     // 0 = Sunday
	hour    int     // local hour of day; 0 for daily series
	years   float64 // days since 1970-01-01 as a fraction, for yearly terms
}

func (c clock) calendar(i int) calendar {
	if c.freq == Daily {
		d := c.day0 + int64(i)
		return calendar{day: d, weekday: (c.wday0 + i%7) % 7, years: float64(d)}
	}
	t := c.at(i)
	y, m, d := t.Date()
	day := civilDay(y, m, d)
	h := t.Hour()
	return calendar{day: day, weekday: int(t.Weekday()), hour: h, years: float64(day) + float64(h)/24}
}

// civilDay counts days from 1970-01-01 to the date, negative before it.
func civilDay(y int, m time.Month, d int) int64 {
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	q := u / 86400
	if u%86400 < 0 {
		q--
	}
	return q
}

// Point is one forecast period: the forecast and its 80 % prediction
// interval, the range the value is expected to fall in four times out of
// five if the future behaves like the history did.
type Point struct {
	// Time is the period: midnight UTC of the date for a daily series, the
	// hour (in the history's location) for an hourly one.
	Time time.Time
	// Forecast is the median estimate, so half the outcomes are expected
	// above and half below; it is what minimises absolute error, which the
	// backtest's MASE measures.
	Forecast float64
	// Lo80 and Hi80 are the 10th and 90th percentile estimates, with
	// Lo80 <= Forecast <= Hi80.
	Lo80, Hi80 float64
}
