package tariff

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"pgregory.net/rapid"

	"github.com/evbill/evbill/money"
)

var zones = []string{"UTC", "Europe/Amsterdam", "America/Los_Angeles"}

func genDecimal(t *rapid.T, label string, maxUnits int64, scale int) decimal.Decimal {
	return decimal.MustNew(rapid.Int64Range(0, maxUnits).Draw(t, label), scale).Trim(0)
}

func optDec(t *rapid.T, label string, maxUnits int64, scale int) *decimal.Decimal {
	if !rapid.Bool().Draw(t, label+"?") {
		return nil
	}
	d := genDecimal(t, label, maxUnits, scale)
	return &d
}

func clockString(t *rapid.T, label string) string {
	return fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, label+"h"), 15*rapid.IntRange(0, 3).Draw(t, label+"m"))
}

// genTariff draws a valid tariff using every kind of restriction.
func genTariff(t *rapid.T) *Tariff {
	currency := rapid.SampledFrom([]string{"EUR", "JPY", "BHD"}).Draw(t, "currency")
	tf := &Tariff{CountryCode: "NL", PartyID: "EVB", ID: "gen", Currency: money.MustCurrency(currency),
		LastUpdated: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	vats := []string{"", "0", "5.2", "10", "19", "21"}
	nElem := rapid.IntRange(1, 6).Draw(t, "elements")
	for i := 0; i < nElem; i++ {
		var e Element
		reservation := NoReservation
		if rapid.IntRange(0, 9).Draw(t, "reservation?") == 0 {
			reservation = Reservation(rapid.IntRange(1, 2).Draw(t, "reservation"))
		}
		nComp := rapid.IntRange(1, 3).Draw(t, "components")
		for j := 0; j < nComp; j++ {
			dims := []Dimension{Energy, Flat, ParkingTime, Time}
			if reservation != NoReservation {
				dims = []Dimension{Flat, Time}
			}
			c := PriceComponent{
				Type:  rapid.SampledFrom(dims).Draw(t, "type"),
				Price: genDecimal(t, "price", 50000, 4),
			}
			if v := rapid.SampledFrom(vats).Draw(t, "vat"); v != "" {
				c.VAT, c.HasVAT = decimal.MustParse(v), true
			}
			c.StepSize = rapid.SampledFrom([]int64{1, 1, 60, 300, 500, 900, 1800}).Draw(t, "step")
			e.PriceComponents = append(e.PriceComponents, c)
		}
		if reservation != NoReservation || rapid.IntRange(0, 3).Draw(t, "restricted?") > 0 {
			r := &Restrictions{Reservation: reservation}
			if rapid.Bool().Draw(t, "start_time?") {
				r.StartTime = clockString(t, "start_time")
			}
			if rapid.Bool().Draw(t, "end_time?") {
				r.EndTime = clockString(t, "end_time")
			}
			if rapid.IntRange(0, 4).Draw(t, "dates?") == 0 {
				d := rapid.IntRange(0, 360).Draw(t, "start_date")
				r.StartDate = time.Date(2024, 1, 1+d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
				r.EndDate = time.Date(2024, 1, 2+d+rapid.IntRange(0, 30).Draw(t, "days"), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
			}
			minMax := func(label string, maxUnits int64, scale int) (*decimal.Decimal, *decimal.Decimal) {
				lo, hi := optDec(t, "min_"+label, maxUnits, scale), optDec(t, "max_"+label, maxUnits, scale)
				if lo != nil && hi != nil && lo.Cmp(*hi) >= 0 {
					return lo, nil
				}
				return lo, hi
			}
			r.MinKWh, r.MaxKWh = minMax("kwh", 800, 1)
			r.MinPower, r.MaxPower = minMax("power", 500, 1)
			r.MinCurrent, r.MaxCurrent = minMax("current", 100, 0)
			if rapid.Bool().Draw(t, "duration?") {
				lo := rapid.Int64Range(0, 20*3600).Draw(t, "min_duration")
				r.MinDuration = &lo
				if rapid.Bool().Draw(t, "max_duration?") {
					hi := lo + rapid.Int64Range(1, 20*3600).Draw(t, "max_duration")
					r.MaxDuration = &hi
				}
			}
			days := rapid.SliceOfDistinct(rapid.IntRange(0, 6), func(d int) int { return d }).Draw(t, "days")
			for _, d := range days {
				r.DayOfWeek = append(r.DayOfWeek, time.Weekday(d))
			}
			e.Restrictions = r
		}
		tf.Elements = append(tf.Elements, e)
	}
	hasVAT := false
	for _, e := range tf.Elements {
		for _, c := range e.PriceComponents {
			hasVAT = hasVAT || c.HasVAT
		}
	}
	price := func(label string, lo decimal.Decimal) *Price {
		if !rapid.Bool().Draw(t, label+"?") {
			return nil
		}
		excl, _ := genDecimal(t, label, 10000, 2).Add(lo)
		p := &Price{ExclVAT: excl}
		if hasVAT {
			p.InclVAT, _ = excl.Add(genDecimal(t, label+"_vat", 300, 2))
			p.HasInclVAT = true
		}
		return p
	}
	tf.MinPrice = price("min_price", decimal.Zero)
	if tf.MinPrice != nil {
		tf.MaxPrice = price("max_price", tf.MinPrice.InclVAT.Max(tf.MinPrice.ExclVAT))
	} else {
		tf.MaxPrice = price("max_price", decimal.Zero)
	}
	if err := tf.Validate(); err != nil {
		t.Fatalf("generated an invalid tariff: %v", err)
	}
	return tf
}

// genMetered draws a session: start, meter samples with power and current,
// maybe a moment charging stopped, up to 30 hours long.
func genMetered(t *rapid.T) *Metered {
	loc, _ := time.LoadLocation(rapid.SampledFrom(zones).Draw(t, "zone"))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(rapid.Int64Range(0, 366*24*60).Draw(t, "start_min")) * time.Minute).
		Add(time.Duration(rapid.Int64Range(0, 59).Draw(t, "start_s")) * time.Second)
	m := &Metered{Start: start, MeterStartWh: genDecimal(t, "meter_start", 1e9, 1), Location: loc}
	wh := m.MeterStartWh
	now := start
	n := rapid.IntRange(0, 40).Draw(t, "samples")
	withPower := rapid.Bool().Draw(t, "with_power")
	for i := 0; i < n; i++ {
		now = now.Add(time.Duration(rapid.Int64Range(1, 3*3600).Draw(t, "gap_s")) * time.Second)
		wh, _ = wh.Add(genDecimal(t, "wh", 50000, 1))
		s := Sample{Time: now, EnergyWh: wh}
		if withPower {
			s.PowerW, s.HasPower = genDecimal(t, "w", 350000, 0), true
			s.CurrentA, s.HasCurrent = genDecimal(t, "a", 500, 1), true
		}
		m.Samples = append(m.Samples, s)
	}
	m.End = now.Add(time.Duration(rapid.Int64Range(0, 3600).Draw(t, "tail_s")) * time.Second)
	if rapid.Bool().Draw(t, "parks") {
		span := m.End.Sub(start)
		m.ParkingStart = start.Add(time.Duration(rapid.Int64Range(0, int64(span)).Draw(t, "parking_at")))
	}
	m.MeterStopWh, m.HasMeterStop = wh, true
	return m
}

func priceOrSkip(t *rapid.T, tf *Tariff, s *Session) Result {
	r, err := tf.Price(s)
	if errors.Is(err, money.ErrPrecision) {
		t.Skip("beyond exact precision:", err)
	}
	if err != nil {
		t.Fatalf("price: %v", err)
	}
	return r
}

// TestPropertyRunningCost: priced as of each meter sample, a running
// session's cost never decreases; the final price is at least the last
// running price, and exceeds it by exactly what step_size rounding adds.
func TestPropertyRunningCost(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf := genTariff(t)
		full := genMetered(t)
		var prev *Result
		var prevText string
		// Before the first sample a period's power and current are unknown,
		// so power and current restrictions cannot match yet; a running
		// price for a session with such readings is compared from the
		// first sample on.
		first := 0
		if len(full.Samples) > 0 && (full.Samples[0].HasPower || full.Samples[0].HasCurrent) {
			first = 1
		}
		for k := first; k <= len(full.Samples); k++ {
			m := *full
			m.Samples = full.Samples[:k]
			m.HasMeterStop = false
			if k > 0 {
				m.End = full.Samples[k-1].Time
			} else {
				m.End = full.Start
			}
			if !m.ParkingStart.IsZero() && m.ParkingStart.After(m.End) {
				m.ParkingStart = time.Time{}
			}
			periods, err := tf.Periods(&m)
			if err != nil {
				t.Fatalf("periods: %v", err)
			}
			s := &Session{Start: m.Start, End: m.End, Periods: periods, Location: m.Location, Running: true}
			r := priceOrSkip(t, tf, s)
			text := explainForTest(tf, s, r) + fmt.Sprintf("%+v\n%s\n", periods, tf.encode())
			if prev != nil && (r.Total.exclX.Cmp(prev.Total.exclX) < 0 || r.Total.inclX.Cmp(prev.Total.inclX) < 0 || r.Charge.Minor < prev.Charge.Minor) {
				t.Fatalf("running cost fell from %s to %s at sample %d\nbefore:\n%s\nafter:\n%s", prev.Charge, r.Charge, k, prevText, text)
			}
			prev, prevText = &r, text
		}
		// The session ends at the last sample; the final price adds step_size.
		m := *full
		if n := len(full.Samples); n > 0 {
			m.End = full.Samples[n-1].Time
		} else {
			m.End = full.Start
		}
		if !m.ParkingStart.IsZero() && m.ParkingStart.After(m.End) {
			m.ParkingStart = time.Time{}
		}
		periods, err := tf.Periods(&m)
		if err != nil {
			t.Fatalf("periods: %v", err)
		}
		s := Session{Start: m.Start, End: m.End, Periods: periods, Location: m.Location}
		final := priceOrSkip(t, tf, &s)
		if final.Charge.Minor < prev.Charge.Minor || final.Total.exclX.Cmp(prev.Total.exclX) < 0 {
			t.Fatalf("final %s is below the last running cost %s", final.Charge, prev.Charge)
		}
		// Without step_size the final price is the running price, exactly.
		var stepCost money.Fixed
		for _, l := range final.Lines {
			c, err := money.MulDecimals(l.cand.unitX, l.StepExtra)
			if err != nil {
				t.Skip(err)
			}
			stepCost, _ = stepCost.Add(c)
		}
		diff, _ := final.Subtotal.exclX.Sub(prev.Subtotal.exclX)
		if diff.Cmp(stepCost) != 0 {
			t.Fatalf("final − running = %s/3600, step_size rounding = %s/3600", diff, stepCost)
		}
	})
}

// TestPropertySplitInvariance: cutting a period in two where the tariff
// element does not change leaves the price unchanged. Since the periods
// come from the splitter, this also checks that it missed no boundary.
func TestPropertySplitInvariance(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf := genTariff(t)
		m := genMetered(t)
		periods, err := tf.Periods(m)
		if err != nil {
			t.Fatalf("periods: %v", err)
		}
		base := Session{Start: m.Start, End: m.End, Periods: periods, Location: m.Location}
		want := priceOrSkip(t, tf, &base)
		i := rapid.IntRange(0, len(periods)-1).Draw(t, "period")
		p := periods[i]
		end := m.End
		if i+1 < len(periods) {
			end = periods[i+1].Start
		}
		dur := end.Sub(p.Start) / time.Millisecond
		if dur < 2 {
			t.Skip("period too short to cut")
		}
		d1 := time.Duration(rapid.Int64Range(1, int64(dur)-1).Draw(t, "cut_ms")) * time.Millisecond
		first, second := p, p
		second.Start = p.Start.Add(d1)
		s1 := decimal.MustNew(int64(d1), 9).Trim(0)
		half := decimal.MustNew(5, 1)
		first.Energy, _ = p.Energy.Mul(half)
		second.Energy, _ = p.Energy.Sub(first.Energy)
		if p.Has&HasTime != 0 {
			first.Time = s1
			second.Time, _ = p.Time.Sub(s1)
		} else {
			first.ParkingTime = s1
			second.ParkingTime, _ = p.ParkingTime.Sub(s1)
		}
		cut := append(append(append([]Period{}, periods[:i]...), first, second), periods[i+1:]...)
		got := priceOrSkip(t, tf, &Session{Start: m.Start, End: m.End, Periods: cut, Location: m.Location})
		if got.Subtotal.exclX.Cmp(want.Subtotal.exclX) != 0 || got.Subtotal.inclX.Cmp(want.Subtotal.inclX) != 0 {
			t.Fatalf("cutting period %d at +%s changed the price from %s to %s\nbefore:\n%s\nafter:\n%s", i, d1, want.Charge, got.Charge,
				explainForTest(tf, &base, want), explainForTest(tf, &Session{Start: m.Start, End: m.End, Periods: cut, Location: m.Location}, got))
		}
	})
}

// TestPropertyTotals: the lines sum to the subtotal, the categories sum to
// the subtotal, and min_price ≤ total ≤ max_price, for any valid tariff.
func TestPropertyTotals(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tf := genTariff(t)
		m := genMetered(t)
		r, _, err := tf.PriceMetered(m, rapid.Bool().Draw(t, "running"))
		if errors.Is(err, money.ErrPrecision) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		var lines, cats Cost
		for _, l := range r.Lines {
			lines.exclX, _ = lines.exclX.Add(l.Cost.exclX)
			lines.inclX, _ = lines.inclX.Add(l.Cost.inclX)
		}
		for _, c := range r.ByCategory {
			cats.exclX, _ = cats.exclX.Add(c.exclX)
			cats.inclX, _ = cats.inclX.Add(c.inclX)
		}
		for _, c := range []Cost{lines, cats} {
			if c.exclX.Cmp(r.Subtotal.exclX) != 0 || c.inclX.Cmp(r.Subtotal.inclX) != 0 {
				t.Fatalf("parts %v do not sum to the subtotal %v", c, r.Subtotal)
			}
		}
		c := tf.compiled
		if c.min != nil && r.Total.exclX.Cmp(c.min.exclX) < 0 {
			t.Fatalf("total below min_price")
		}
		if c.max != nil && r.Total.exclX.Cmp(c.max.exclX) > 0 {
			t.Fatalf("total above max_price")
		}
		if c.hasVAT {
			if c.min != nil && r.Total.inclX.Cmp(c.min.inclX) < 0 {
				t.Fatalf("total incl. VAT below min_price")
			}
			if c.max != nil && r.Total.inclX.Cmp(c.max.inclX) > 0 {
				t.Fatalf("total incl. VAT above max_price")
			}
		}
		if r.Charge.Currency != tf.Currency {
			t.Fatalf("charged in %s under a %s tariff", r.Charge.Currency, tf.Currency)
		}
	})
}
