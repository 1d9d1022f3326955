package charging

import (
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
)

// IdleThresholdW is the power below which a vehicle counts as no longer
// drawing: chargers report a few watts of standby draw for a full car.
var IdleThresholdW = decimal.MustNew(100, 0)

// ParkingStart returns when idle parking began: the vehicle stopped drawing
// power for good. The charger may say so (a SuspendedEV or Finishing
// status at idleStatusAt, zero if it did not), or the meter shows it: the
// energy register stops rising and the power is below IdleThresholdW. The
// idle stretch that counts is the last one; if charging resumed after an
// earlier pause, that pause was part of charging. samples must be in time
// order; ok is false while the vehicle is still drawing power.
func ParkingStart(samples []evbill.MeterSample, idleStatusAt time.Time) (at time.Time, ok bool) {
	// lastRise is the index of the last sample at which the register was
	// higher than at the sample before it.
	lastRise := -1
	var prev decimal.Decimal
	havePrev := false
	for i, s := range samples {
		if s.EnergyWh == "" {
			continue
		}
		v, err := money.ParseDecimal(s.EnergyWh)
		if err != nil {
			continue
		}
		if havePrev && v.Cmp(prev) > 0 {
			lastRise = i
		}
		prev, havePrev = v, true
	}
	var riseAt time.Time
	if lastRise >= 0 {
		riseAt = samples[lastRise].Time
	}
	// A status after the last rise is the charger's own word for when it
	// stopped; it may be earlier than the next sample.
	if !idleStatusAt.IsZero() && !idleStatusAt.Before(riseAt) {
		return idleStatusAt, true
	}
	// Otherwise the first sample after the last rise that shows no draw.
	for i := lastRise + 1; i < len(samples); i++ {
		s := samples[i]
		if i == 0 {
			continue // nothing to compare the first reading with
		}
		if s.PowerW == "" {
			if s.EnergyWh != "" {
				return s.Time, true // flat register, no power reported: idle
			}
			continue
		}
		if w, err := money.ParseDecimal(s.PowerW); err == nil && w.Cmp(IdleThresholdW) < 0 {
			return s.Time, true
		}
	}
	return time.Time{}, false
}
