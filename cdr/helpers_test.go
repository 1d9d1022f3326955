package cdr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

const specDir = "../tariff/testdata/ocpi-2.2.1"

func readSpec(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(specDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func specTariff(t testing.TB, name string) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse(readSpec(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tf
}

func mustTariff(t testing.TB, js string) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse([]byte(js))
	if err != nil {
		t.Fatalf("tariff: %v\n%s", err, js)
	}
	return tf
}

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := tariff.ParseDateTime(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return tm
}

// sessionDiff describes how two sessions differ by value (decimal scale and
// time representation ignored), or returns "".
func sessionDiff(a, b *tariff.Session) string {
	var d []string
	if !a.Start.Equal(b.Start) {
		d = append(d, fmt.Sprintf("Start %v != %v", a.Start, b.Start))
	}
	if !a.End.Equal(b.End) {
		d = append(d, fmt.Sprintf("End %v != %v", a.End, b.End))
	}
	if len(a.Periods) != len(b.Periods) {
		return strings.Join(append(d, fmt.Sprintf("%d periods != %d", len(a.Periods), len(b.Periods))), "; ")
	}
	for i := range a.Periods {
		if s := periodDiff(&a.Periods[i], &b.Periods[i]); s != "" {
			d = append(d, fmt.Sprintf("period %d: %s", i, s))
		}
	}
	return strings.Join(d, "; ")
}

func periodDiff(p, q *tariff.Period) string {
	var d []string
	if !p.Start.Equal(q.Start) {
		d = append(d, fmt.Sprintf("Start %v != %v", p.Start, q.Start))
	}
	if p.Has != q.Has {
		d = append(d, fmt.Sprintf("Has %b != %b", p.Has, q.Has))
	}
	for _, f := range []struct {
		name string
		x, y decimal.Decimal
	}{
		{"Energy", p.Energy, q.Energy}, {"Time", p.Time, q.Time},
		{"ParkingTime", p.ParkingTime, q.ParkingTime}, {"ReservationTime", p.ReservationTime, q.ReservationTime},
		{"MinCurrent", p.MinCurrent, q.MinCurrent}, {"MaxCurrent", p.MaxCurrent, q.MaxCurrent},
		{"MinPower", p.MinPower, q.MinPower}, {"MaxPower", p.MaxPower, q.MaxPower},
	} {
		if f.x.Cmp(f.y) != 0 {
			d = append(d, fmt.Sprintf("%s %s != %s", f.name, f.x, f.y))
		}
	}
	return strings.Join(d, ", ")
}
