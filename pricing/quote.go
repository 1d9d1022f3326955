package pricing

import (
	"context"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/tariff"
)

// QuoteRequest describes a planned session to price before it starts.
type QuoteRequest struct {
	Target
	TokenUID  string // optional: the driver's token, whose group then applies
	Start     time.Time
	EnergyKWh decimal.Decimal // expected energy
	Charging  time.Duration   // expected charging time
	Parking   time.Duration   // expected time plugged in after charging
}

// Quote is a priced plan: the tariff that applies and the engine's result.
type Quote struct {
	Resolved
	Session tariff.Session
	Result  tariff.Result
}

// Quote prices a planned session with the same engine that will bill it:
// energy flows at a constant power over the charging time, then the
// vehicle parks. Current is not modelled, so current restrictions do not
// match in a quote.
func (r *Resolver) Quote(ctx context.Context, q QuoteRequest) (Quote, error) {
	if q.Charging < 0 || q.Parking < 0 {
		return Quote{}, evbill.Errorf(evbill.EINVALID, "durations must not be negative")
	}
	if q.EnergyKWh.IsNeg() {
		return Quote{}, evbill.Errorf(evbill.EINVALID, "energy_kwh must not be negative")
	}
	if q.EnergyKWh.IsPos() && q.Charging == 0 {
		return Quote{}, evbill.Errorf(evbill.EINVALID, "energy without charging time: give a charging duration")
	}
	if q.TokenUID != "" {
		group, err := r.groupOfToken(ctx, q.TenantID, q.TokenUID, q.Start)
		if err != nil {
			return Quote{}, err
		}
		if q.GroupID == "" {
			q.GroupID = group
		}
	}
	res, err := r.Resolve(ctx, q.Target, q.Start)
	if err != nil {
		return Quote{}, err
	}
	wh, err := q.EnergyKWh.Mul(decimal.MustNew(1000, 0))
	if err != nil {
		return Quote{}, evbill.Errorf(evbill.EINVALID, "energy_kwh %s is too large", q.EnergyKWh)
	}
	m := &tariff.Metered{
		Start: q.Start, MeterStartWh: decimal.Zero, Location: res.Location,
		End:         q.Start.Add(q.Charging + q.Parking),
		MeterStopWh: wh, HasMeterStop: true,
	}
	if q.Charging > 0 {
		// Constant power: W = Wh / hours.
		hours := decimal.MustNew(int64(q.Charging/time.Millisecond), 0)
		w, err := wh.Mul(decimal.MustNew(3600000, 0))
		if err == nil {
			w, err = w.Quo(hours)
		}
		if err != nil {
			return Quote{}, evbill.Errorf(evbill.EINVALID, "cannot model %s kWh over %s", q.EnergyKWh, q.Charging)
		}
		w = w.Round(3)
		m.Samples = []tariff.Sample{
			{Time: q.Start, EnergyWh: decimal.Zero, PowerW: w, HasPower: true},
			{Time: q.Start.Add(q.Charging), EnergyWh: wh, PowerW: w, HasPower: true},
		}
	}
	if q.Parking > 0 {
		m.ParkingStart = q.Start.Add(q.Charging)
	}
	result, periods, err := res.Tariff.PriceMetered(m, false)
	if err != nil {
		return Quote{}, evbill.Errorf(evbill.EINVALID, "cannot price the plan: %v", err)
	}
	s := tariff.Session{Start: m.Start, End: m.End, Periods: periods, Location: res.Location}
	return Quote{Resolved: res, Session: s, Result: result}, nil
}

// groupOfToken returns the driver group a token prices under; a token that
// may not charge is refused, since a quote for it would mislead.
func (r *Resolver) groupOfToken(ctx context.Context, tenantID, uid string, at time.Time) (string, error) {
	tok, err := r.store.TokenByUID(ctx, tenantID, uid)
	if err != nil {
		return "", err
	}
	if tok.Status != evbill.TokenAccepted {
		return "", evbill.Errorf(evbill.EINVALID, "token %q is %s", uid, tok.Status)
	}
	if tok.ExpiresAt != nil && !at.Before(*tok.ExpiresAt) {
		return "", evbill.Errorf(evbill.EINVALID, "token %q expired at %s", uid, tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if tok.GroupID != "" || tok.DriverID == "" {
		return tok.GroupID, nil
	}
	d, err := r.store.Driver(ctx, tenantID, tok.DriverID)
	if err != nil {
		return "", err
	}
	return d.GroupID, nil
}
