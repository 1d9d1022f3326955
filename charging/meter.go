// Package charging turns what chargers report over OCPP into sessions:
// meter readings into exact samples, the start of idle parking, checks
// that keep an implausible meter from being billed blindly, and the priced
// CDR at the end. The OCPP wire format is package ocpp's; storage is the
// store's; this package decides.
package charging

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
)

// Reading is one OCPP 1.6 SampledValue as the charger sent it.
type Reading struct {
	Value     string
	Context   string
	Format    string
	Measurand string
	Phase     string
	Location  string
	Unit      string
}

// OCPP 1.6 measurands evbill reads.
const (
	measurandEnergy  = "Energy.Active.Import.Register"
	measurandPower   = "Power.Active.Import"
	measurandCurrent = "Current.Import"
	measurandSoC     = "SoC"
)

// ErrBadReading reports a sampled value that cannot be a meter reading.
var ErrBadReading = errors.New("bad meter reading")

// Sample turns the sampled values of one OCPP MeterValue into a sample in
// Wh, W and A, exactly. Per-phase power and current are summed; a value
// without a phase wins over per-phase values. Signed values (OCMF) and
// measurands evbill does not bill by are skipped. ok is false when the
// MeterValue carried none of energy, power, current or state of charge.
func Sample(sessionID string, at time.Time, readings []Reading) (s evbill.MeterSample, ok bool, err error) {
	s = evbill.MeterSample{SessionID: sessionID, Time: at}
	var energy, power, current phased
	for i, r := range readings {
		if r.Format == "SignedData" {
			continue
		}
		if s.Context == "" {
			s.Context = r.Context
		}
		measurand := r.Measurand
		if measurand == "" {
			measurand = measurandEnergy // the OCPP default
		}
		var target *phased
		var scale map[string]int // unit → power of ten to the base unit
		switch measurand {
		case measurandEnergy:
			target, scale = &energy, map[string]int{"": 0, "Wh": 0, "kWh": 3}
		case measurandPower:
			target, scale = &power, map[string]int{"": 0, "W": 0, "kW": 3}
		case measurandCurrent:
			target, scale = &current, map[string]int{"": 0, "A": 0}
		case measurandSoC:
			v, err := money.ParseDecimal(strings.TrimSpace(r.Value))
			if err != nil || v.IsNeg() || v.Cmp(decimal.Hundred) > 0 {
				return s, false, fmt.Errorf("%w: sampledValue[%d] SoC %q is not a percentage", ErrBadReading, i, r.Value)
			}
			s.SoC, ok = v.Trim(0).String(), true
			continue
		default:
			continue
		}
		exp, known := scale[r.Unit]
		if !known {
			return s, false, fmt.Errorf("%w: sampledValue[%d] %s in unit %q", ErrBadReading, i, measurand, r.Unit)
		}
		v, err := money.ParseDecimal(strings.TrimSpace(r.Value))
		if err != nil {
			return s, false, fmt.Errorf("%w: sampledValue[%d] %s value %q is not a number", ErrBadReading, i, measurand, r.Value)
		}
		if measurand == measurandEnergy && v.IsNeg() {
			return s, false, fmt.Errorf("%w: sampledValue[%d] energy register %q is negative", ErrBadReading, i, r.Value)
		}
		for ; exp > 0; exp-- {
			if v, err = v.Mul(decimal.Ten); err != nil {
				return s, false, fmt.Errorf("%w: sampledValue[%d] %q is too large", ErrBadReading, i, r.Value)
			}
		}
		if err := target.add(r.Phase, v); err != nil {
			return s, false, fmt.Errorf("%w: sampledValue[%d]: %v", ErrBadReading, i, err)
		}
	}
	if v, has := energy.value(); has {
		s.EnergyWh, ok = v, true
	}
	if v, has := power.value(); has {
		s.PowerW, ok = v, true
	}
	if v, has := current.value(); has {
		s.CurrentA, ok = v, true
	}
	return s, ok, nil
}

// phased collects one measurand: a total, or per-phase values to sum.
type phased struct {
	total, phases decimal.Decimal
	hasTotal      bool
	hasPhases     bool
}

func (p *phased) add(phase string, v decimal.Decimal) error {
	switch phase {
	case "", "N":
		if phase == "N" {
			return nil // the neutral conductor carries no extra power
		}
		p.total, p.hasTotal = v, true
	case "L1", "L2", "L3":
		s, err := p.phases.Add(v)
		if err != nil {
			return err
		}
		p.phases, p.hasPhases = s, true
	default:
		// Line-to-line and line-to-neutral phase values (L1-N, L1-L2, …)
		// describe voltages, not what is billed.
	}
	return nil
}

func (p *phased) value() (string, bool) {
	switch {
	case p.hasTotal:
		return p.total.Trim(0).String(), true
	case p.hasPhases:
		return p.phases.Trim(0).String(), true
	}
	return "", false
}

// Plausibility checks a new reading against the one before it. A register
// that runs backwards, or that rose by more than the connector could have
// delivered at its maximum power (with 10 % for meter tolerance and 1 Wh
// for rounding), is flagged: such a session is not billed blindly.
func Plausibility(prev, next evbill.MeterSample, maxPowerKW decimal.Decimal) (flag string, err error) {
	if prev.EnergyWh == "" || next.EnergyWh == "" {
		return "", nil
	}
	a, err := money.ParseDecimal(prev.EnergyWh)
	if err != nil {
		return "", err
	}
	b, err := money.ParseDecimal(next.EnergyWh)
	if err != nil {
		return "", err
	}
	if b.Cmp(a) < 0 {
		return evbill.FlagMeterBackwards, nil
	}
	if !maxPowerKW.IsPos() {
		return "", nil
	}
	delta, err := b.Sub(a)
	if err != nil {
		return "", err
	}
	// Most Wh the connector could deliver: kW × 1000 × seconds / 3600 × 1.1 + 1.
	if next.Time.Before(prev.Time) {
		return "", nil // the caller compares readings in time order
	}
	ms := decimal.MustNew(next.Time.Sub(prev.Time).Milliseconds(), 0)
	limit, err := maxPowerKW.Mul(ms)
	if err == nil {
		limit, err = limit.Mul(decimal.MustNew(11, 1)) // × 1.1
	}
	if err == nil {
		limit, err = limit.Quo(decimal.MustNew(3600, 0)) // kW·ms·1.1/3600 = Wh
	}
	if err == nil {
		limit, err = limit.Add(decimal.One)
	}
	if err != nil {
		return "", err
	}
	if delta.Cmp(limit) > 0 {
		return evbill.FlagImplausibleEnergy, nil
	}
	return "", nil
}
