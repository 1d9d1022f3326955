package tariff

import (
	"os"
	"testing"
	"time"
)

// benchSession is the shipped example: a 4-period CDR (two charging
// periods either side of a time-of-use boundary, two parking periods either
// side of the end of the idle-fee window) under a time-of-use tariff with
// FLAT, ENERGY, TIME and PARKING_TIME components.
func benchSession(b *testing.B) (*Tariff, *Session) {
	data, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		b.Fatal(err)
	}
	tf, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2025, 3, 14, 17, 15, 0, 0, time.UTC)
	s := newSession(ams, start).
		charge(45*time.Minute, "8.25", "MAX_POWER=11.04").
		charge(45*time.Minute, "7.8", "MAX_POWER=10.9").
		park(15 * time.Minute).
		park(30 * time.Minute).session()
	return tf, s
}

func BenchmarkPrice(b *testing.B) {
	tf, s := benchSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tf.Price(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}

func BenchmarkPriceInto(b *testing.B) {
	tf, s := benchSession(b)
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		if err := tf.PriceInto(s, &r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}

func BenchmarkPeriods(b *testing.B) {
	tf, _ := benchSession(b)
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	start := time.Date(2025, 3, 14, 17, 15, 0, 0, time.UTC)
	m := &Metered{Start: start, MeterStartWh: dec("1000"), Location: ams, End: start.Add(135 * time.Minute),
		ParkingStart: start.Add(90 * time.Minute), MeterStopWh: dec("17050"), HasMeterStop: true}
	for i := 1; i <= 90; i++ {
		m.Samples = append(m.Samples, sample(start.Add(time.Duration(i)*time.Minute), dec("1000").String(), "W", "11000", "A", "48"))
		m.Samples[i-1].EnergyWh = decMust(int64(1000 + i*178))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tf.Periods(m); err != nil {
			b.Fatal(err)
		}
	}
}
