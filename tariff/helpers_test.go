package tariff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"
)

// exampleTariff loads one of the OCPI 2.2.1 example tariffs.
func exampleTariff(t testing.TB, name string) *Tariff {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ocpi-2.2.1", name))
	if err != nil {
		t.Fatal(err)
	}
	tf, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tf
}

func mustTariff(t testing.TB, js string) *Tariff {
	t.Helper()
	tf, err := Parse([]byte(js))
	if err != nil {
		t.Fatalf("tariff: %v\n%s", err, js)
	}
	return tf
}

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

// at parses a local wall time "2006-01-02 15:04" in loc.
func at(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// sessionBuilder builds a Session period by period. Durations are wall
// time: each TIME or PARKING_TIME period advances the clock by its length.
type sessionBuilder struct {
	s   Session
	now time.Time
}

func newSession(loc *time.Location, start time.Time) *sessionBuilder {
	return &sessionBuilder{s: Session{Start: start, End: start, Location: loc}, now: start}
}

// charge adds a charging period of d with kwh energy and extra dimensions
// given as "MAX_CURRENT=16" and the like.
func (b *sessionBuilder) charge(d time.Duration, kwh string, dims ...string) *sessionBuilder {
	p := Period{Start: b.now, Time: seconds(d), Has: HasTime}
	if kwh != "" {
		p.Energy, p.Has = dec(kwh), p.Has|HasEnergy
	}
	b.add(p, d, dims)
	return b
}

func (b *sessionBuilder) park(d time.Duration, dims ...string) *sessionBuilder {
	b.add(Period{Start: b.now, ParkingTime: seconds(d), Has: HasParkingTime}, d, dims)
	return b
}

func (b *sessionBuilder) reserve(d time.Duration) *sessionBuilder {
	b.add(Period{Start: b.now, ReservationTime: seconds(d), Has: HasReservationTime}, d, nil)
	return b
}

func (b *sessionBuilder) add(p Period, d time.Duration, dims []string) {
	for _, kv := range dims {
		k, v, _ := strings.Cut(kv, "=")
		x := dec(v)
		switch k {
		case "MIN_CURRENT":
			p.MinCurrent, p.Has = x, p.Has|HasMinCurrent
		case "MAX_CURRENT":
			p.MaxCurrent, p.Has = x, p.Has|HasMaxCurrent
		case "MIN_POWER":
			p.MinPower, p.Has = x, p.Has|HasMinPower
		case "MAX_POWER":
			p.MaxPower, p.Has = x, p.Has|HasMaxPower
		default:
			panic("unknown dimension " + k)
		}
	}
	b.s.Periods = append(b.s.Periods, p)
	b.now = b.now.Add(d)
	b.s.End = b.now
}

func (b *sessionBuilder) session() *Session { s := b.s; return &s }

func seconds(d time.Duration) decimal.Decimal {
	return decimal.MustNew(int64(d/time.Millisecond), 3).Trim(0)
}

// rounded prices s under tf and returns the 4-decimal excl./incl. totals.
func rounded(t testing.TB, tf *Tariff, s *Session) (string, string, Result) {
	t.Helper()
	r, err := tf.Price(s)
	if err != nil {
		t.Fatalf("price: %v", err)
	}
	excl, incl, err := r.Total.Round(4)
	if err != nil {
		t.Fatal(err)
	}
	return excl.Trim(2).String(), incl.Trim(2).String(), r
}

func decMust(n int64) decimal.Decimal { return decimal.MustNew(n, 0) }
