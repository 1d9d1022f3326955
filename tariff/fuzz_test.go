package tariff

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the tariff parser. It must never
// panic; whatever it accepts must echo back, re-encode to a tariff that
// parses again, and price a session without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "ocpi-2.2.1", "tariff*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	start := time.Date(2024, 3, 31, 0, 30, 0, 0, time.UTC)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := tf.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(tf.encode()); err != nil {
			t.Fatalf("accepted tariff re-encodes to an invalid one: %v\n%s", err, tf.encode())
		}
		s := newSession(ams, start).reserve(10*time.Minute).charge(95*time.Minute, "31.4", "MAX_CURRENT=16", "MAX_POWER=11").park(7 * time.Hour).session()
		_, _ = tf.Price(s)
		m := &Metered{Start: start, End: start.Add(30 * time.Hour), Location: ams, MeterStartWh: dec("100"),
			Samples:      []Sample{sample(start.Add(time.Hour), "5100", "W", "11000", "A", "48"), sample(start.Add(2*time.Hour), "9000", "W", "0", "A", "0")},
			ParkingStart: start.Add(2 * time.Hour), MeterStopWh: dec("9000"), HasMeterStop: true}
		_, _, _ = tf.PriceMetered(m, false)
	})
}
