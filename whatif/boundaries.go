package whatif

import (
	"slices"
	"strconv"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

// boundaries are the instants at which the candidate's price could change
// inside a session, as far as a CDR's periods can tell: the times of day
// its restrictions start and end at, the durations and the energies they
// name. tariff.Periods cut the session where the tariff that priced it
// could change, not where the candidate could; a period a candidate's
// boundary falls inside is priced whole by the element in force at its
// start, so a what-if counts those sessions as approximate rather than
// pretend. (A power or current threshold inside a period cannot be told
// from its minimum and maximum alone, and is not counted.)
type boundaries struct {
	clock     []int64 // seconds after local midnight
	durations []time.Duration
	kwh       []decimal.Decimal
}

// boundariesOf reads the candidate's restrictions.
func boundariesOf(t *tariff.Tariff) boundaries {
	var b boundaries
	for _, e := range t.Elements {
		r := e.Restrictions
		if r == nil {
			continue
		}
		for _, hhmm := range []string{r.StartTime, r.EndTime} {
			if sec, ok := clockSeconds(hhmm); ok {
				b.clock = append(b.clock, sec%86400)
			}
		}
		for _, d := range []*int64{r.MinDuration, r.MaxDuration} {
			if d != nil {
				b.durations = append(b.durations, time.Duration(*d)*time.Second)
			}
		}
		for _, k := range []*decimal.Decimal{r.MinKWh, r.MaxKWh} {
			if k != nil {
				b.kwh = append(b.kwh, *k)
			}
		}
	}
	slices.Sort(b.clock)
	b.clock = slices.Compact(b.clock)
	return b
}

// clockSeconds reads a validated "HH:MM".
func clockSeconds(s string) (int64, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return int64(h*3600 + m*60), true
}

// none reports that the candidate names no boundary at all.
func (b *boundaries) none() bool {
	return len(b.clock) == 0 && len(b.durations) == 0 && len(b.kwh) == 0
}

// inside reports whether a boundary falls strictly inside one of the
// session's periods, whose local times z reads in loc.
func (b *boundaries) inside(s *tariff.Session, z *zoneCache, loc *time.Location) bool {
	energy := decimal.Zero
	for i := range s.Periods {
		p := &s.Periods[i]
		end := s.End
		if i+1 < len(s.Periods) {
			end = s.Periods[i+1].Start
		}
		if !end.After(p.Start) {
			continue
		}
		if len(b.clock) > 0 {
			// Local milliseconds: periods start on milliseconds.
			from, to := p.Start.UnixMilli(), end.UnixMilli()
			lfrom := from + 1000*z.offsetAt(floorDiv(from, 1000), loc)
			lto := to + 1000*z.offsetAt(floorDiv(to, 1000), loc)
			for _, c := range b.clock {
				// The first local instant after lfrom at second c of a day.
				next := floorDiv(lfrom, 86_400_000)*86_400_000 + 1000*c
				if next <= lfrom {
					next += 86_400_000
				}
				if next < lto {
					return true
				}
			}
		}
		for _, d := range b.durations {
			at := s.Start.Add(d)
			if at.After(p.Start) && at.Before(end) {
				return true
			}
		}
		if len(b.kwh) > 0 && p.Has&tariff.HasEnergy != 0 {
			after, err := energy.Add(p.Energy)
			if err != nil {
				return true // too much energy to tell: say so
			}
			for _, k := range b.kwh {
				if energy.Cmp(k) < 0 && k.Cmp(after) < 0 {
					return true
				}
			}
			energy = after
		}
	}
	return false
}
