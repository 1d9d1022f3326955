package charging

import (
	"context"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// Live is a session as its driver sees it: energy so far, the last
// reported power, how long it has run, and its cost from the same engine
// that bills it. While the session runs, the cost is the running cost as
// of the last meter sample (step_size is applied when it ends); once it
// has ended, it is the final price.
type Live struct {
	Session   evbill.Session
	AsOf      time.Time
	EnergyKWh decimal.Decimal
	PowerKW   decimal.Decimal
	HasPower  bool
	Duration  time.Duration
	Currency  string
	Result    *tariff.Result // nil when no tariff applies
	// Rate is the last priced line, the element and unit price in force.
	Rate *tariff.Line
	// parked: the pricing found idle parking, from a status or the meter.
	parked bool
}

// Live returns the session's live view.
func (s *Service) Live(ctx context.Context, tenantID, sessionID string) (Live, error) {
	sess, err := s.store.Session(ctx, tenantID, sessionID)
	if err != nil {
		return Live{}, err
	}
	samples, err := s.store.Samples(ctx, tenantID, sessionID)
	if err != nil {
		return Live{}, err
	}
	return s.liveOf(ctx, sess, samples)
}

// liveOf is the live view of sess with its readings samples, in time
// order. When the engine cannot price them, it returns the error with the
// view's figures but no cost.
func (s *Service) liveOf(ctx context.Context, sess evbill.Session, samples []evbill.MeterSample) (Live, error) {
	tenantID := sess.TenantID
	start, err := money.ParseDecimal(sess.MeterStartWh)
	if err != nil {
		return Live{}, err
	}
	l := Live{Session: sess, AsOf: sess.StartedAt}
	stopWh := start
	for _, ms := range samples {
		if ms.Time.Before(sess.StartedAt) {
			continue
		}
		l.AsOf = ms.Time
		if ms.EnergyWh != "" {
			if v, err := money.ParseDecimal(ms.EnergyWh); err == nil {
				stopWh = v
			}
		}
		if ms.PowerW != "" {
			if v, err := money.ParseDecimal(ms.PowerW); err == nil {
				l.PowerKW, l.HasPower = v, true
			}
		}
	}
	running := sess.State != evbill.SessionEnded
	if !running {
		l.AsOf = *sess.StoppedAt
		if stopWh, err = money.ParseDecimal(sess.MeterStopWh); err != nil {
			return Live{}, err
		}
		l.HasPower, l.PowerKW = false, decimal.Zero
	}
	used, err := stopWh.Sub(start)
	if err != nil {
		return Live{}, err
	}
	if l.EnergyKWh, err = money.Thousandth(used); err != nil {
		return Live{}, err
	}
	if l.HasPower {
		if l.PowerKW, err = money.Thousandth(l.PowerKW); err != nil {
			return Live{}, err
		}
	}
	l.Duration = l.AsOf.Sub(sess.StartedAt)
	if sess.TariffID == "" {
		return l, nil
	}
	_, tf, err := s.resolver.Version(ctx, tenantID, sess.TariffID, sess.TariffVersion)
	if err != nil {
		return Live{}, err
	}
	sc, err := s.resolver.Station(ctx, tenantID, sess.StationID)
	if err != nil {
		return Live{}, err
	}
	loc := sc.Location
	asOf := sess
	if running {
		// Priced as of the last reading: the information horizon, so the
		// running cost never goes down when the next reading arrives.
		at := l.AsOf
		asOf.StoppedAt, asOf.MeterStopWh = &at, stopWh.String()
	}
	// A pricing error returns the figures without a cost: the readings
	// are the charger's, and the caller may show them.
	m, err := metered(&asOf, samples, loc)
	if err != nil {
		return l, err
	}
	m.HasMeterStop = !running
	r, _, err := tf.PriceMetered(m, running)
	if err != nil {
		return l, err
	}
	l.Result, l.Currency, l.parked = &r, tf.Currency.Code(), !m.ParkingStart.IsZero()
	if n := len(r.Lines); n > 0 {
		l.Rate = &r.Lines[n-1]
	}
	return l, nil
}
