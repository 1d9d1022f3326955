package cdr

import (
	"math"
	"strconv"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// derive fills in TIME and PARKING_TIME from the clock when no period
// reports either (see the package documentation for the rule). A TIME
// tariff would otherwise price such a CDR at zero.
func (c *CDR) derive() error {
	s := &c.Session
	for i := range s.Periods {
		if s.Periods[i].Has&(tariff.HasTime|tariff.HasParkingTime) != 0 {
			return nil
		}
	}
	span := s.End.Sub(s.Start)
	if span == math.MaxInt64 && !s.Start.Add(span).Equal(s.End) {
		return &FieldError{Path: "end_date_time", Rule: "the session is too long (over 292 years) to derive its charging time from the clock"}
	}
	var park time.Duration
	if c.HasTotalParkingTime && c.TotalParkingTime.IsPos() {
		var ok bool
		if park, ok = hoursToDuration(c.TotalParkingTime); !ok || park > span {
			return &FieldError{Path: "total_parking_time", Rule: "must not exceed the session's duration (end_date_time - start_date_time)"}
		}
	}
	parkStart := s.End.Add(-park)

	split, changed := -1, false
	for i := range s.Periods {
		p := &s.Periods[i]
		start, end := p.Start, c.periodEnd(i)
		if p.Has&tariff.HasReservationTime != 0 {
			// Reserved time is neither charging nor parking.
			if park > 0 && end.After(parkStart) && end.After(start) {
				return &FieldError{Path: "total_parking_time", Rule: "the parking time at the end of the session overlaps the RESERVATION_TIME period charging_periods[" + strconv.Itoa(i) + "]"}
			}
			continue
		}
		changed = true
		if start.Before(parkStart) && end.After(parkStart) {
			split = i
		}
	}
	if !changed {
		return nil
	}
	if split >= 0 {
		// The period in which parking starts becomes a charging part and a
		// parking part; the energy was charged in the charging part.
		s.Periods = append(s.Periods, tariff.Period{})
		copy(s.Periods[split+2:], s.Periods[split+1:])
		parking := s.Periods[split]
		parking.Start = parkStart
		parking.Energy = decimal.Zero
		parking.Has &^= tariff.HasEnergy
		s.Periods[split+1] = parking
	}
	for i := range s.Periods {
		p := &s.Periods[i]
		if p.Has&tariff.HasReservationTime != 0 {
			continue
		}
		end := c.periodEnd(i)
		sec := durationSeconds(end.Sub(p.Start))
		if end.After(parkStart) {
			p.ParkingTime, p.Has = sec, p.Has|tariff.HasParkingTime
		} else {
			p.Time, p.Has = sec, p.Has|tariff.HasTime
		}
	}
	c.derived = true
	return nil
}

// periodEnd is when period i ends: when the next one starts, or at the
// session's end.
func (c *CDR) periodEnd(i int) time.Time {
	if i+1 < len(c.Session.Periods) {
		return c.Session.Periods[i+1].Start
	}
	return c.Session.End
}

// durationSeconds converts a duration to exact decimal seconds.
func durationSeconds(d time.Duration) decimal.Decimal {
	return decimal.MustNew(int64(d), 9).Trim(0) // |int64| < 10^19: always representable
}

// hoursToDuration converts hours to a duration, rounding to the nanosecond
// half away from zero: a time.Time cannot hold finer instants.
func hoursToDuration(h decimal.Decimal) (time.Duration, bool) {
	sec, err := hoursToSeconds(h)
	if err != nil {
		return 0, false
	}
	whole, frac, ok := money.Round(sec, 9).Int64(9)
	if !ok || whole >= math.MaxInt64/1_000_000_000 {
		return 0, false
	}
	return time.Duration(whole*1_000_000_000 + frac), true
}
