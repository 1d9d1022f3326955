package cdr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"
	"pgregory.net/rapid"

	"github.com/evbill/evbill/tariff"
)

// propTariff prices every category, so AppendPriced writes every kind of
// cost member somewhere in the property run.
func propTariff(t testing.TB, currency string) *tariff.Tariff {
	return mustTariff(t, `{"country_code":"DE","party_id":"ALL","id":"P-`+currency+`","currency":"`+currency+`","elements":[
		{"price_components":[{"type":"TIME","price":1.5,"vat":20,"step_size":60}],"restrictions":{"reservation":"RESERVATION"}},
		{"price_components":[{"type":"FLAT","price":0.5,"vat":20,"step_size":1},{"type":"ENERGY","price":0.31,"vat":10,"step_size":1},
			{"type":"TIME","price":2.25,"vat":10,"step_size":300},{"type":"PARKING_TIME","price":4,"step_size":60}]}],
		"last_updated":"2024-01-01T00:00:00Z"}`)
}

// genDim is one generated CdrDimension with its expected effect.
type genDim struct {
	name  string
	value decimal.Decimal // the volume as written
}

// microHours draws a non-negative volume in whole millionths of an hour,
// exact in seconds (1e-6 h = 0.0036 s).
func microHours(t *rapid.T, label string) decimal.Decimal {
	return decimal.MustNew(rapid.Int64Range(0, 5_000_000).Draw(t, label), 6)
}

func genQuantity(t *rapid.T, label string, signed bool) decimal.Decimal {
	lo := int64(0)
	if signed {
		lo = -100_000
	}
	return decimal.MustNew(rapid.Int64Range(lo, 100_000_000).Draw(t, label), rapid.IntRange(0, 4).Draw(t, label+"_scale"))
}

// keyName writes a member name, sometimes with an escape in it, which
// Parse must see through.
func keyName(t *rapid.T, name string) string {
	if rapid.IntRange(0, 9).Draw(t, "escape_"+name) == 0 {
		return `"` + strings.Replace(name, "e", `\u0065`, 1) + `"`
	}
	return `"` + name + `"`
}

func TestPropertyRoundTrip(t *testing.T) {
	tariffs := map[string]*tariff.Tariff{"EUR": propTariff(t, "EUR"), "JPY": propTariff(t, "JPY"), "BHD": propTariff(t, "BHD")}
	rapid.Check(t, func(t *rapid.T) {
		derive := rapid.Bool().Draw(t, "derive")
		currency := rapid.SampledFrom([]string{"EUR", "JPY", "BHD"}).Draw(t, "currency")
		// In derive mode every instant is a multiple of 36 s from the start,
		// so derived hours are finite decimals and the round trip is exact.
		unit := time.Millisecond
		if derive {
			unit = 36 * time.Second
		}
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, 1e10).Draw(t, "start")) * time.Millisecond)
		n := rapid.IntRange(1, 6).Draw(t, "periods")
		offsets := make([]int64, n+1) // in units; offsets[n] is the end
		for i := 1; i <= n; i++ {
			offsets[i] = offsets[i-1] + rapid.Int64Range(0, 200).Draw(t, "gap")
		}
		at := func(i int) time.Time { return start.Add(time.Duration(offsets[i]) * unit) }

		want := tariff.Session{Start: start, End: at(n)}
		var b strings.Builder
		member := func(name, value string) {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(keyName(t, name))
			b.WriteByte(':')
			b.WriteString(value)
		}
		b.WriteByte('{')
		if rapid.Bool().Draw(t, "leading_unknown") {
			member("cdr_token", `{"uid":"012345678","type":"RFID","nested":[1,-2.5e3,true,false,null,"\u00e9\n"]}`)
		}
		member("start_date_time", `"`+start.Format("2006-01-02T15:04:05.000Z")+`"`)
		member("currency", `"`+currency+`"`)
		if rapid.Bool().Draw(t, "old_cost") {
			member("total_cost", `{"excl_vat":123.45,"incl_vat":150}`)
		}
		var periods []string
		for i := 0; i < n; i++ {
			p := tariff.Period{Start: at(i)}
			var dims []genDim
			add := func(name string, v decimal.Decimal) { dims = append(dims, genDim{name, v}) }
			if rapid.Bool().Draw(t, "energy") {
				v := genQuantity(t, "energy", false)
				add("ENERGY", v)
				p.Energy, p.Has = v, p.Has|tariff.HasEnergy
			}
			if !derive {
				for _, d := range []struct {
					name string
					has  tariff.Has
					dst  *decimal.Decimal
				}{{"TIME", tariff.HasTime, &p.Time}, {"PARKING_TIME", tariff.HasParkingTime, &p.ParkingTime}, {"RESERVATION_TIME", tariff.HasReservationTime, &p.ReservationTime}} {
					if rapid.Bool().Draw(t, d.name) {
						h := microHours(t, d.name)
						add(d.name, h)
						*d.dst = decimal.MustNew(int64(h.Coef())*36, 4) // h × 3600
						p.Has |= d.has
					}
				}
			}
			for _, d := range []struct {
				name   string
				has    tariff.Has
				dst    *decimal.Decimal
				signed bool
			}{{"MIN_CURRENT", tariff.HasMinCurrent, &p.MinCurrent, true}, {"MAX_CURRENT", tariff.HasMaxCurrent, &p.MaxCurrent, false},
				{"MIN_POWER", tariff.HasMinPower, &p.MinPower, true}, {"MAX_POWER", tariff.HasMaxPower, &p.MaxPower, false}} {
				if rapid.IntRange(0, 3).Draw(t, d.name) == 0 {
					v := genQuantity(t, d.name, d.signed)
					add(d.name, v)
					*d.dst, p.Has = v, p.Has|d.has
				}
			}
			if rapid.IntRange(0, 4).Draw(t, "session_only") == 0 {
				add(rapid.SampledFrom([]string{"CURRENT", "POWER", "STATE_OF_CHARGE", "ENERGY_EXPORT", "ENERGY_IMPORT"}).Draw(t, "so"), decimal.MustNew(-7, 1))
			}
			if !derive && i == 0 && p.Has&(tariff.HasTime|tariff.HasParkingTime) == 0 {
				// Keep derivation out of this mode: its clock-based hours
				// are not finite decimals at millisecond resolution.
				add("TIME", decimal.Zero)
				p.Has |= tariff.HasTime
			}
			if len(dims) == 0 {
				add("ENERGY", decimal.Zero)
				p.Has |= tariff.HasEnergy
			}
			dims = rapid.Permutation(dims).Draw(t, "order")
			var ds []string
			for _, d := range dims {
				ds = append(ds, fmt.Sprintf(`{"type":"%s","volume":%s}`, d.name, d.value))
			}
			obj := []string{
				`"start_date_time":"` + p.Start.Format("2006-01-02T15:04:05.000Z") + `"`,
				`"dimensions":[` + strings.Join(ds, ",") + `]`,
			}
			switch rapid.IntRange(0, 3).Draw(t, "tariff_id") {
			case 0:
				obj = append(obj, `"tariff_id":"old"`)
			case 1:
				obj = append(obj, `"tariff_id":null`)
			case 2:
				obj = append(obj, `"x-vendor":{"a":[]}`)
			}
			obj = rapid.Permutation(obj).Draw(t, "period_members")
			periods = append(periods, "{"+strings.Join(obj, ",")+"}")
			want.Periods = append(want.Periods, p)
		}
		member("charging_periods", "["+strings.Join(periods, ",")+"]")
		member("end_date_time", `"`+at(n).Format("2006-01-02T15:04:05.000Z")+`"`)
		member("total_energy", "0")
		member("total_time", "0")
		var park int64 // units, meaningful in derive mode
		if rapid.Bool().Draw(t, "has_parking") {
			if derive {
				park = rapid.Int64Range(0, offsets[n]).Draw(t, "parking")
				member("total_parking_time", decimal.MustNew(park, 2).String()) // 36 s = 0.01 h
			} else {
				member("total_parking_time", microHours(t, "parking").String())
			}
		}
		b.WriteByte('}')
		in := b.String()
		if rapid.Bool().Draw(t, "indent") {
			in = indent(in, "", "  ")
		}
		if derive {
			want = deriveModel(want, offsets, unit, park)
		}

		c, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse: %v\n%s", err, in)
		}
		if c.Derived() != derive {
			t.Fatalf("Derived() = %v", c.Derived())
		}
		if d := sessionDiff(&c.Session, &want); d != "" {
			t.Fatalf("parsed session differs from the model: %s\n%s", d, in)
		}

		tf := tariffs[currency]
		var r tariff.Result
		if err := tf.PriceInto(&c.Session, &r); err != nil {
			t.Fatalf("Price: %v", err)
		}
		out, err := AppendPriced([]byte("x"), c, &r)
		if err != nil {
			t.Fatalf("AppendPriced: %v", err)
		}
		out = out[1:]
		if !json.Valid(out) {
			t.Fatalf("invalid JSON:\n%s", out)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of the output: %v\n%s", err, out)
		}
		if d := sessionDiff(&c.Session, &again.Session); d != "" {
			t.Fatalf("round trip: %s\nin:  %s\nout: %s", d, in, out)
		}
		if again.Currency != c.Currency {
			t.Fatalf("currency %v != %v", again.Currency, c.Currency)
		}
		// Pricing the output gives the same result.
		var r2 tariff.Result
		if err := tf.PriceInto(&again.Session, &r2); err != nil {
			t.Fatal(err)
		}
		if r2.Total != r.Total || r2.Charge != r.Charge {
			t.Fatalf("repriced total %v != %v", r2.Charge, r.Charge)
		}
		// The members other than costs and periods are copied byte for byte.
		var kept []kv
		for _, m := range topMembers(t, []byte(in)) {
			if !strings.HasPrefix(m.key, "total_") || !strings.HasSuffix(m.key, "_cost") {
				kept = append(kept, m)
			}
		}
		got := topMembers(t, out)
		for i, m := range kept {
			if got[i].key != m.key || (m.key != "charging_periods" && !bytes.Equal(got[i].raw, m.raw)) {
				t.Fatalf("member %d: %s=%s, want %s=%s", i, got[i].key, got[i].raw, m.key, m.raw)
			}
		}
		if got[len(kept)].key != "total_cost" {
			t.Fatalf("total_cost is not the first appended member: %s", out)
		}
	})
}

// deriveModel is the package documentation's derivation rule, on whole
// units of time: an independent statement of what Parse must produce.
func deriveModel(s tariff.Session, offsets []int64, unit time.Duration, park int64) tariff.Session {
	n := len(s.Periods)
	end := offsets[n]
	ps := end - park
	sec := func(units int64) decimal.Decimal {
		return decimal.MustNew(units*int64(unit/time.Millisecond), 3).Trim(0)
	}
	var out []tariff.Period
	changed := false
	for i, p := range s.Periods {
		if p.Has&tariff.HasReservationTime != 0 {
			out = append(out, p)
			continue
		}
		changed = true
		a, b := offsets[i], offsets[i+1]
		switch {
		case b <= ps:
			p.Time, p.Has = sec(b-a), p.Has|tariff.HasTime
			out = append(out, p)
		case a >= ps:
			p.ParkingTime, p.Has = sec(b-a), p.Has|tariff.HasParkingTime
			out = append(out, p)
		default:
			q := p
			p.Time, p.Has = sec(ps-a), p.Has|tariff.HasTime
			q.Start = s.Start.Add(time.Duration(ps) * unit)
			q.Energy, q.Has = decimal.Zero, q.Has&^tariff.HasEnergy|tariff.HasParkingTime
			q.ParkingTime = sec(b - ps)
			out = append(out, p, q)
		}
	}
	if !changed {
		return s
	}
	s.Periods = out
	return s
}
