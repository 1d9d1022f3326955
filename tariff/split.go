package tariff

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// Sample is one meter reading taken during a session.
type Sample struct {
	Time       time.Time
	EnergyWh   decimal.Decimal // the meter's cumulative import register, Wh
	PowerW     decimal.Decimal // active import power, W; meaningful only when HasPower
	CurrentA   decimal.Decimal // import current summed over phases, A; meaningful only when HasCurrent
	HasPower   bool
	HasCurrent bool
}

// Metered is a session as the charger reports it: the meter at the start,
// the samples taken since, when charging stopped, and the meter at the end.
// evbill is the CPO, so it cuts this into OCPI charging periods itself.
type Metered struct {
	Start        time.Time
	MeterStartWh decimal.Decimal
	Samples      []Sample  // in time order
	ParkingStart time.Time // when the vehicle stopped charging; zero if it did not (yet)
	End          time.Time // when the session ended, or the moment a running price is asked for
	MeterStopWh  decimal.Decimal
	HasMeterStop bool // false for a running session: energy stays at the last sample
	Location     *time.Location
}

// ErrInvalidMeterData reports samples that cannot describe a session.
var ErrInvalidMeterData = errors.New("invalid meter data")

// energyScale and powerScale fix the precision of interpolated values:
// 0.1 Wh (the 4 decimals of an OCPI kWh) and 1 mW. Measured values are
// kept exactly.
const (
	energyScale = 1
	powerScale  = 3
)

// knot is a point of the piecewise-linear meter curve.
type knot struct {
	t        time.Time
	wh       decimal.Decimal
	w, a     decimal.Decimal
	hasW     bool
	hasA     bool
	measured bool
}

// boundary is an instant where a new period starts, with the exact values
// of quantities whose threshold is crossed there.
type boundary struct {
	t             time.Time
	wh            decimal.Decimal
	w, a          decimal.Decimal
	hasWh         bool
	hasW, hasA    bool
	parkingBefore bool
}

// Periods cuts a metered session into OCPI charging periods: a new period
// starts wherever the tariff element that prices the session could change:
// at every start_time/end_time and local midnight in the location's time
// zone (and every time zone transition), when the session's duration
// reaches a min/max_duration, when the consumed energy reaches a
// min/max_kwh, when power or current crosses a min/max_power or
// min/max_current, and when charging stops and parking begins. Energy,
// power and current between samples are interpolated linearly; at a
// threshold crossing the crossed value is exact.
func (t *Tariff) Periods(m *Metered) ([]Period, error) {
	c := t.compiled
	if c == nil {
		return nil, ErrNotValidated
	}
	m = m.quantized()
	knots, err := m.knots()
	if err != nil {
		return nil, err
	}
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	var bs []boundary
	add := func(b boundary) {
		b.t = b.t.Truncate(time.Millisecond)
		if b.t.After(m.Start) && b.t.Before(m.End) {
			bs = append(bs, b)
		}
	}
	if !m.ParkingStart.IsZero() {
		add(boundary{t: m.ParkingStart})
	}
	for _, tm := range clockBoundaries(m.Start, m.End, loc, c.splits.clock) {
		add(boundary{t: tm})
	}
	for _, d := range c.splits.durations {
		add(boundary{t: m.Start.Add(d)})
	}
	startWh := knots[0].wh
	for _, kwh := range c.splits.kwh {
		target, err := mulExact(kwh, d1000)
		if err == nil {
			target, err = addExact(target, startWh)
		}
		if err != nil {
			return nil, err
		}
		if b, ok := crossing(knots, target, func(k *knot) (decimal.Decimal, bool) { return k.wh, true }); ok {
			b.wh, b.hasWh = target, true
			add(b)
		}
	}
	for _, kw := range c.splits.power {
		target, err := mulExact(kw, d1000)
		if err != nil {
			return nil, err
		}
		for _, b := range crossings(knots, target, func(k *knot) (decimal.Decimal, bool) { return k.w, k.hasW }) {
			b.w, b.hasW = target, true
			add(b)
		}
	}
	for _, amps := range c.splits.current {
		for _, b := range crossings(knots, amps, func(k *knot) (decimal.Decimal, bool) { return k.a, k.hasA }) {
			b.a, b.hasA = amps, true
			add(b)
		}
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].t.Before(bs[j].t) })
	// Merge boundaries at the same instant, keeping every exact value.
	merged := make([]boundary, 0, len(bs)+2)
	merged = append(merged, boundary{t: m.Start})
	for _, b := range bs {
		last := &merged[len(merged)-1]
		if b.t.Equal(last.t) {
			if b.hasWh {
				last.wh, last.hasWh = b.wh, true
			}
			if b.hasW {
				last.w, last.hasW = b.w, true
			}
			if b.hasA {
				last.a, last.hasA = b.a, true
			}
			continue
		}
		merged = append(merged, b)
	}
	end := boundary{t: m.End}
	if m.End.After(m.Start) {
		merged = append(merged, end)
	}
	for i := range merged {
		if err := fill(&merged[i], knots); err != nil {
			return nil, err
		}
	}
	// Interpolated energy never runs backwards past an exact threshold value.
	for i := 1; i < len(merged); i++ {
		if merged[i].wh.Cmp(merged[i-1].wh) < 0 {
			merged[i].wh = merged[i-1].wh
		}
	}
	n := len(merged) - 1
	if n < 1 {
		n = 1 // a session asked about at its very start has one empty period
		merged = append(merged, merged[0])
	}
	periods := make([]Period, n)
	ki := 0
	for i := 0; i < n; i++ {
		a, b := &merged[i], &merged[i+1]
		p := &periods[i]
		p.Start = a.t
		wh, err := b.wh.Sub(a.wh)
		if err != nil {
			return nil, err
		}
		if p.Energy, err = thousandth(wh); err != nil {
			return nil, err
		}
		p.Has = HasEnergy
		secs := decimal.MustNew(int64(b.t.Sub(a.t)), 9).Trim(0)
		if !m.ParkingStart.IsZero() && !a.t.Before(m.ParkingStart) {
			p.ParkingTime, p.Has = secs, p.Has|HasParkingTime
		} else {
			p.Time, p.Has = secs, p.Has|HasTime
		}
		// Spread of power and current: both ends plus the samples inside.
		for ki < len(knots) && !knots[ki].t.After(a.t) {
			ki++
		}
		var pw, cur spreadAcc
		pw.add(a.w, a.hasW)
		pw.add(b.w, b.hasW)
		cur.add(a.a, a.hasA)
		cur.add(b.a, b.hasA)
		for k := ki; k < len(knots) && knots[k].t.Before(b.t); k++ {
			pw.add(knots[k].w, knots[k].hasW)
			cur.add(knots[k].a, knots[k].hasA)
		}
		if pw.known {
			if p.MinPower, err = thousandth(pw.lo); err != nil {
				return nil, err
			}
			if p.MaxPower, err = thousandth(pw.hi); err != nil {
				return nil, err
			}
			p.Has |= HasMinPower | HasMaxPower
		}
		if cur.known {
			p.MinCurrent, p.MaxCurrent = cur.lo, cur.hi
			p.Has |= HasMinCurrent | HasMaxCurrent
		}
	}
	return periods, nil
}

// quantized returns a copy of m with every instant truncated to the
// millisecond, the resolution of period boundaries. Durations then have at
// most three decimals of a second, which keeps every cost exact within the
// 19 digits of a decimal; OCPP timestamps carry no more anyway.
func (m *Metered) quantized() *Metered {
	q := *m
	q.Start = m.Start.Truncate(time.Millisecond)
	q.End = m.End.Truncate(time.Millisecond)
	if !m.ParkingStart.IsZero() {
		q.ParkingStart = m.ParkingStart.Truncate(time.Millisecond)
	}
	q.Samples = make([]Sample, len(m.Samples))
	for i, s := range m.Samples {
		s.Time = s.Time.Truncate(time.Millisecond)
		q.Samples[i] = s
	}
	return &q
}

// PriceMetered cuts a metered session into periods and prices them. With
// running set the session is still in progress (see Session.Running).
func (t *Tariff) PriceMetered(m *Metered, running bool) (Result, []Period, error) {
	periods, err := t.Periods(m)
	if err != nil {
		return Result{}, nil, err
	}
	q := m.quantized()
	s := Session{Start: q.Start, End: q.End, Periods: periods, Location: m.Location, Running: running}
	r, err := t.Price(&s)
	return r, periods, err
}

type spreadAcc struct {
	lo, hi decimal.Decimal
	known  bool
}

func (s *spreadAcc) add(v decimal.Decimal, ok bool) {
	if !ok {
		return
	}
	if !s.known {
		s.lo, s.hi, s.known = v, v, true
		return
	}
	if v.Cmp(s.lo) < 0 {
		s.lo = v
	}
	if v.Cmp(s.hi) > 0 {
		s.hi = v
	}
}

// thousandth divides d by 1000 exactly, for Wh → kWh and W → kW.
func thousandth(d decimal.Decimal) (decimal.Decimal, error) {
	r, err := money.Thousandth(d)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s has too many digits", ErrInvalidMeterData, d)
	}
	return r, nil
}

// knots validates the metered data and returns the meter curve from the
// start to the end of the session.
func (m *Metered) knots() ([]knot, error) {
	if m.End.Before(m.Start) {
		return nil, fmt.Errorf("%w: the session ends before it starts", ErrInvalidMeterData)
	}
	if !m.ParkingStart.IsZero() && (m.ParkingStart.Before(m.Start) || m.ParkingStart.After(m.End)) {
		return nil, fmt.Errorf("%w: parking starts outside the session", ErrInvalidMeterData)
	}
	ks := make([]knot, 0, len(m.Samples)+2)
	ks = append(ks, knot{t: m.Start, wh: m.MeterStartWh, measured: true})
	for i, s := range m.Samples {
		last := &ks[len(ks)-1]
		switch {
		case s.Time.Before(last.t):
			return nil, fmt.Errorf("%w: samples[%d] at %s is before the sample or start before it", ErrInvalidMeterData, i, s.Time.Format(time.RFC3339))
		case s.EnergyWh.Cmp(last.wh) < 0:
			return nil, fmt.Errorf("%w: samples[%d] energy %s Wh is below the earlier reading %s Wh", ErrInvalidMeterData, i, s.EnergyWh, last.wh)
		case s.Time.After(m.End):
			return nil, fmt.Errorf("%w: samples[%d] at %s is after the session's end", ErrInvalidMeterData, i, s.Time.Format(time.RFC3339))
		}
		k := knot{t: s.Time, wh: s.EnergyWh, w: s.PowerW, a: s.CurrentA, hasW: s.HasPower, hasA: s.HasCurrent, measured: true}
		if s.Time.Equal(last.t) {
			// Two readings at one instant (or a reading at the start):
			// the later one is what the meter showed last.
			*last = k
			continue
		}
		ks = append(ks, k)
	}
	endWh := ks[len(ks)-1].wh
	if m.HasMeterStop {
		if m.MeterStopWh.Cmp(endWh) < 0 {
			return nil, fmt.Errorf("%w: meter stop %s Wh is below the last reading %s Wh", ErrInvalidMeterData, m.MeterStopWh, endWh)
		}
		endWh = m.MeterStopWh
	}
	if last := &ks[len(ks)-1]; last.t.Equal(m.End) {
		last.wh = endWh
	} else {
		ks = append(ks, knot{t: m.End, wh: endWh})
	}
	// Power and current before the first and after the last reading hold
	// the nearest reading's value.
	for _, q := range []struct {
		get func(*knot) (*decimal.Decimal, *bool)
	}{
		{func(k *knot) (*decimal.Decimal, *bool) { return &k.w, &k.hasW }},
		{func(k *knot) (*decimal.Decimal, *bool) { return &k.a, &k.hasA }},
	} {
		first := -1
		for i := range ks {
			if _, ok := q.get(&ks[i]); *ok {
				first = i
				break
			}
		}
		if first < 0 {
			continue
		}
		v, _ := q.get(&ks[first])
		for i := 0; i < first; i++ {
			pv, pok := q.get(&ks[i])
			*pv, *pok = *v, true
		}
		lastV := *v
		for i := first; i < len(ks); i++ {
			pv, pok := q.get(&ks[i])
			if *pok {
				lastV = *pv
			} else {
				*pv, *pok = lastV, true
			}
		}
	}
	return ks, nil
}

// crossing finds the first instant at which the non-decreasing value get
// reaches target.
func crossing(ks []knot, target decimal.Decimal, get func(*knot) (decimal.Decimal, bool)) (boundary, bool) {
	for i := 1; i < len(ks); i++ {
		v0, _ := get(&ks[i-1])
		v1, _ := get(&ks[i])
		if v0.Cmp(target) < 0 && v1.Cmp(target) >= 0 {
			return boundary{t: interpolateTime(ks[i-1].t, ks[i].t, v0, v1, target)}, true
		}
	}
	return boundary{}, false
}

// crossings finds every instant at which get moves from one side of target
// to the other (reaching it counts as crossing to the upper side).
func crossings(ks []knot, target decimal.Decimal, get func(*knot) (decimal.Decimal, bool)) []boundary {
	var out []boundary
	for i := 1; i < len(ks); i++ {
		v0, ok0 := get(&ks[i-1])
		v1, ok1 := get(&ks[i])
		if !ok0 || !ok1 {
			continue
		}
		below0, below1 := v0.Cmp(target) < 0, v1.Cmp(target) < 0
		if below0 == below1 {
			continue
		}
		out = append(out, boundary{t: interpolateTime(ks[i-1].t, ks[i].t, v0, v1, target)})
	}
	return out
}

// interpolateTime returns the instant between t0 and t1 at which a value
// moving linearly from v0 to v1 equals target, to the nanosecond.
func interpolateTime(t0, t1 time.Time, v0, v1, target decimal.Decimal) time.Time {
	num, _ := target.Sub(v0)
	den, _ := v1.Sub(v0)
	frac, err := num.Quo(den)
	if err != nil {
		return t1
	}
	ns, err := frac.Mul(decimal.MustNew(int64(t1.Sub(t0)), 0))
	if err != nil {
		return t1
	}
	whole, _, ok := ns.Ceil(0).Int64(0)
	if !ok {
		return t1
	}
	// Boundaries fall on whole milliseconds. Rounding a crossing up keeps it
	// after the knot before it, so the exact value set at the crossing never
	// replaces a reading on the wrong side of the threshold.
	t := t0.Add(time.Duration(whole))
	if q := t.Truncate(time.Millisecond); q.Before(t) {
		t = q.Add(time.Millisecond)
	}
	if t.After(t1) {
		t = t1
	}
	return t
}

// fill sets the values at a boundary that are not already exact by
// interpolating between the knots around it.
func fill(b *boundary, ks []knot) error {
	i := sort.Search(len(ks), func(i int) bool { return !ks[i].t.Before(b.t) })
	if i == len(ks) {
		i = len(ks) - 1
	}
	k1 := &ks[i]
	if k1.t.Equal(b.t) || i == 0 {
		if !b.hasWh {
			b.wh, b.hasWh = k1.wh, true
		}
		if !b.hasW {
			b.w, b.hasW = k1.w, k1.hasW
		}
		if !b.hasA {
			b.a, b.hasA = k1.a, k1.hasA
		}
		return nil
	}
	k0 := &ks[i-1]
	lerp := func(v0, v1 decimal.Decimal, scale int) decimal.Decimal {
		if v0.Cmp(v1) == 0 {
			return v0
		}
		num := decimal.MustNew(int64(b.t.Sub(k0.t)), 0)
		den := decimal.MustNew(int64(k1.t.Sub(k0.t)), 0)
		diff, _ := v1.Sub(v0)
		part, err := diff.Mul(num)
		if err == nil {
			part, err = part.Quo(den)
		}
		if err != nil {
			return v0
		}
		v, err := v0.Add(part)
		if err != nil {
			return v0
		}
		return money.Round(v, scale)
	}
	if !b.hasWh {
		b.wh, b.hasWh = lerp(k0.wh, k1.wh, energyScale), true
	}
	if !b.hasW && k0.hasW && k1.hasW {
		b.w, b.hasW = lerp(k0.w, k1.w, powerScale), true
	}
	if !b.hasA && k0.hasA && k1.hasA {
		b.a, b.hasA = lerp(k0.a, k1.a, powerScale), true
	}
	return nil
}

// clockBoundaries returns every instant in (start, end) at which the local
// wall clock in loc shows one of secs (seconds after midnight), plus every
// time zone transition, where the wall clock jumps. Within a stretch of
// constant UTC offset the wall clock is the instant plus the offset, so no
// wall-clock arithmetic can land in a DST gap or pick the wrong one of two
// repeated hours.
func clockBoundaries(start, end time.Time, loc *time.Location, secs []int32) []time.Time {
	var out []time.Time
	for seg := start; seg.Before(end); {
		local := seg.In(loc)
		_, off := local.Zone()
		segEnd := end
		if _, zoneEnd := local.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(end) {
			segEnd = zoneEnd
		}
		firstDay := floorDiv(seg.Unix()+int64(off), 86400)
		lastDay := floorDiv(segEnd.Unix()+int64(off), 86400)
		for day := firstDay; day <= lastDay; day++ {
			for _, s := range secs {
				tm := time.Unix(day*86400+int64(s)-int64(off), 0)
				if tm.Before(seg) || !tm.Before(segEnd) || !tm.After(start) {
					continue
				}
				out = append(out, tm)
			}
		}
		if segEnd.Before(end) {
			out = append(out, segEnd)
		}
		seg = segEnd
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
