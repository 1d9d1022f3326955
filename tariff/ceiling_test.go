package tariff

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestCeilingOfExamples(t *testing.T) {
	tests := []struct {
		file                  string
		perKWh, perHour, flat string
	}{
		// Each price is the larger of excl. and incl. VAT: these all state VAT.
		{"tariff_1_simple_2hour.json", "0", "2.2", "0"},                     // 2.00/h + 10 %
		{"tariff_8_simple_025kwh.json", "0.275", "0", "0"},                  // 0.25/kWh + 10 %
		{"tariff_13_simple_3hour_5parking.json", "0", "9.3", "0"},           // TIME 3.30/h plus PARKING_TIME 6.00/h
		{"tariff_4_complex.json", "0", "9", "2.875"},                        // the dearest TIME 2.40/h plus PARKING_TIME 6.60/h; FLAT 2.50 + 15 %
		{"tariff_5_free_of_charge.json", "0", "0", "0"},                     // free: the cost never moves
		{"tariff_12_025kwh_min_price.json", "0.275", "0", "0"},              // min_price is in the first priced cost
		{"tariff_15_reservation_5_euro_per_hour.json", "0.275", "6", "0.6"}, // reservation time counts too
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := exampleTariff(t, tt.file).Ceiling()
			if c.PerKWh.Cmp(dec(tt.perKWh)) != 0 || c.PerHour.Cmp(dec(tt.perHour)) != 0 || c.Flat.Cmp(dec(tt.flat)) != 0 {
				t.Errorf("ceiling = %s/kWh, %s/h, %s flat; want %s/kWh, %s/h, %s", c.PerKWh, c.PerHour, c.Flat, tt.perKWh, tt.perHour, tt.flat)
			}
		})
	}
}

func TestCeilingGrowth(t *testing.T) {
	c := Ceiling{PerKWh: dec("0.25"), PerHour: dec("2.40"), Flat: dec("0.50"), known: true}
	tests := []struct {
		wh      string
		elapsed time.Duration
		flatDue bool
		scale   int
		want    int64
	}{
		// 1 kWh × 0.25 + 30 min and the dropped millisecond × 2.40/h =
		// 1.4500007 → 146 cents, +2 for the roundings.
		{"1000", 30 * time.Minute, false, 2, 148},
		// 0.3 Wh and 10 ms: 0.000075 + 0.0000073 → rounds up to 1 cent.
		{"0.3", 10 * time.Millisecond, false, 2, 3},
		{"0", 0, false, 2, 3}, // the extra millisecond alone rounds up to a cent
		{"-500", -time.Minute, false, 2, 3},
		{"0", 0, true, 2, 53},            // a flat fee of 0.50 still due
		{"1000", time.Hour, false, 0, 5}, // JPY-like: 2.65 → 3, +2
	}
	for _, tt := range tests {
		got, ok := c.Growth(dec(tt.wh), tt.elapsed, tt.flatDue, tt.scale)
		if !ok || got != tt.want {
			t.Errorf("Growth(%s Wh, %v, scale %d) = %d, %v; want %d", tt.wh, tt.elapsed, tt.scale, got, ok, tt.want)
		}
	}
	if _, ok := (Ceiling{}).Growth(dec("1"), time.Second, true, 2); ok {
		t.Error("the zero Ceiling bounds growth")
	}
}

// TestPropertyCeiling: between any two readings of a running session,
// whose earlier readings keep their meaning, the running charge grows by
// at most the ceiling's Growth over the energy and time between them.
func TestPropertyCeiling(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf := genTariff(t)
		full := genMetered(t)
		ceil := tf.Ceiling()
		scale := tf.Currency.Exponent()
		// Power and current restrictions cannot match before the first
		// reading of them (see TestPropertyRunningCost).
		first := 0
		if len(full.Samples) > 0 && (full.Samples[0].HasPower || full.Samples[0].HasCurrent) {
			first = 1
		}
		type point struct {
			at      time.Time
			charge  int64
			hasFlat bool
		}
		var points []point
		for k := first; k <= len(full.Samples); k++ {
			m := *full
			m.Samples = full.Samples[:k]
			m.HasMeterStop = false
			m.End = full.Start
			if k > 0 {
				m.End = full.Samples[k-1].Time
			}
			if !m.ParkingStart.IsZero() && m.ParkingStart.After(m.End) {
				m.ParkingStart = time.Time{}
			}
			periods, err := tf.Periods(&m)
			if err != nil {
				t.Fatalf("periods: %v", err)
			}
			r := priceOrSkip(t, tf, &Session{Start: m.Start, End: m.End, Periods: periods, Location: m.Location, Running: true})
			points = append(points, point{m.End, r.Charge.Minor, r.HasFlat()})
		}
		wh := func(k int) string { // the register as of prefix k (k samples)
			if k == 0 {
				return full.MeterStartWh.String()
			}
			return full.Samples[k-1].EnergyWh.String()
		}
		for i := range points {
			for j := i + 1; j < len(points); j++ {
				ki, kj := i+first, j+first
				de, err := dec(wh(kj)).Sub(dec(wh(ki)))
				if err != nil {
					t.Skip(err)
				}
				g, ok := ceil.Growth(de, points[j].at.Sub(points[i].at), !points[i].hasFlat, scale)
				if !ok {
					continue // the caller prices
				}
				if grew := points[j].charge - points[i].charge; grew > g {
					t.Fatalf("charge grew by %d minor units from reading %d to %d, over the ceiling's %d (%s Wh, %v; %s/kWh, %s/h)\n%s",
						grew, ki, kj, g, de, points[j].at.Sub(points[i].at), ceil.PerKWh, ceil.PerHour, tf.encode())
				}
			}
		}
	})
}
