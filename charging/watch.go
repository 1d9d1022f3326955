package charging

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// The throttle of session.updated: an update goes out with a reading
// UpdateInterval or more after the one the last update was as of (the
// session's start before the first), or UpdateEnergyWh more energy, or a
// running cost 0.10 of the currency more (see updateCostStep).
const (
	UpdateInterval = 30 * time.Second
	UpdateEnergyWh = 500
)

// HoldWarnShare is the tenths of its hold a session's running cost may
// reach before hold.nearly_exhausted goes out; HoldStopShare stops it.
const HoldWarnShare = 8

// updateCostStep is 0.10 of a currency with exp fraction digits, in its
// minor units; a currency without cents moves by at least 1.
func updateCostStep(exp int) int64 {
	step := int64(1)
	for range exp - 1 {
		step *= 10
	}
	return step
}

// watch is what a connection follows of one open transaction between its
// MeterValues, so that most readings are stored without pricing: the
// tariff's Ceiling bounds how far the running cost can have moved since it
// was last priced, and only a reading that may have crossed a threshold
// (an update's cost step, the hold's warning or stop) is priced. The
// session's mark (what the outbox last told) is read from the store when
// the watch is made, and written with the readings that change it, so a
// reconnect or another gateway node carries on where this one left off.
// A watch is used only by its connection's handler, which answers one
// message at a time.
type watch struct {
	loaded    bool
	tenantID  string
	sessionID string
	started   time.Time
	startWh   decimal.Decimal
	tf        *tariff.Tariff // nil: no tariff prices the session
	ceil      tariff.Ceiling
	exp       int   // the currency's fraction digits
	step      int64 // updateCostStep of the currency

	mark   evbill.SessionMark
	markAt time.Time // mark.UpdatedAsOf, or the start before any update
	markWh decimal.Decimal

	// lastAt and lastWh are the latest reading stored, as far as the
	// watch knows; a write whose readings are all at or before lastAt is
	// a retransmission or a late delivery, and announces nothing. synced
	// is false until they are read from the store, for a watch that did
	// not see the session start.
	lastAt time.Time
	lastWh decimal.Decimal
	synced bool

	// The running cost as last priced, at pricedAt with the register at
	// pricedWh; priced is false until then, or once a reading or a status
	// may have changed the meaning of the readings before.
	priced       bool
	pricedAt     time.Time
	pricedWh     decimal.Decimal
	pricedCharge int64
	pricedFlat   bool
	parked       bool // the last pricing found idle parking: a rising register ends it

	holdAmount int64 // the payment's hold in minor units; 0 when none
	paymentID  string
	stopSent   bool // RemoteStopTransaction went out at the hold's limit
}

// watchOf returns the connection's watch of tx, made on first use.
func (l *link) watchOf(tx int64) *watch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watches == nil {
		l.watches = map[int64]*watch{}
	}
	w := l.watches[tx]
	if w == nil {
		w = &watch{}
		l.watches[tx] = w
	}
	return w
}

// reprice makes the next reading of tx priced: a status changed when the
// vehicle parked, which may reclassify readings already priced.
func (l *link) reprice(tx int64) {
	l.mu.Lock()
	if w := l.watches[tx]; w != nil {
		w.priced = false
	}
	l.mu.Unlock()
}

// seed makes the watch of a session that has just started from what the
// start knew: no mark yet, the tariff it resolved (nil for none), and
// its payment's hold (zero amount for none).
func (w *watch) seed(sess *evbill.Session, tf *tariff.Tariff, holdAmount int64, paymentID string) error {
	start, err := money.ParseDecimal(sess.MeterStartWh)
	if err != nil {
		return err
	}
	*w = watch{loaded: true, tenantID: sess.TenantID, sessionID: sess.ID, started: sess.StartedAt, startWh: start,
		markAt: sess.StartedAt, markWh: start, lastAt: sess.StartedAt, lastWh: start, synced: true,
		holdAmount: holdAmount, paymentID: paymentID}
	if tf != nil {
		w.tf, w.ceil, w.exp = tf, tf.Ceiling(), tf.Currency.Exponent()
		w.step = updateCostStep(w.exp)
	}
	return nil
}

// loadWatch reads what the watch needs of the session: its start, tariff,
// mark and hold.
func (s *Service) loadWatch(ctx context.Context, w *watch, tenantID, sessionID string) error {
	sess, err := s.store.Session(ctx, tenantID, sessionID)
	if err != nil {
		return err
	}
	start, err := money.ParseDecimal(sess.MeterStartWh)
	if err != nil {
		return err
	}
	mark, err := s.store.SessionMark(ctx, tenantID, sessionID)
	if err != nil {
		return err
	}
	*w = watch{tenantID: tenantID, sessionID: sessionID, started: sess.StartedAt, startWh: start,
		mark: mark, markAt: sess.StartedAt, markWh: start, lastAt: sess.StartedAt, lastWh: start}
	if !mark.UpdatedAsOf.IsZero() {
		w.markAt = mark.UpdatedAsOf
		if w.markWh, err = money.ParseDecimal(mark.EnergyWh); err != nil {
			return err
		}
	}
	if sess.TariffID != "" {
		_, tf, err := s.resolver.Version(ctx, tenantID, sess.TariffID, sess.TariffVersion)
		if err != nil {
			return err
		}
		w.tf, w.ceil, w.exp = tf, tf.Ceiling(), tf.Currency.Exponent()
		w.step = updateCostStep(w.exp)
	}
	if s.payments != nil {
		p, err := s.payments.PaymentBySession(ctx, tenantID, sessionID)
		switch {
		case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		case err != nil:
			return err
		case p.State == evbill.PaymentHoldPending || p.State == evbill.PaymentHeld:
			w.holdAmount, w.paymentID = p.HoldAmount, p.ID
		}
	}
	w.loaded = true
	return nil
}

// notice is what a MeterValues write tells besides its readings: the
// events and the session's new mark, and what the service does once they
// are committed.
type notice struct {
	events []evbill.Event
	mark   *evbill.SessionMark
	live   *Live // the running cost priced with the write's readings, if it was
	latest time.Time
	wh     decimal.Decimal
	fresh  bool // the write has a reading after every one stored before
}

// plan decides what the readings of one MeterValues announce. It prices
// them, with the readings stored before, only when an event may be due:
// always for the first readings the watch sees, then when the update's
// interval or energy has passed, or when the ceiling says the cost may
// have crossed the update's cost step or a hold's share.
func (s *Service) plan(ctx context.Context, w *watch, samples []evbill.MeterSample) (*notice, error) {
	var stored []evbill.MeterSample
	haveStored := false
	if !w.synced {
		var err error
		if stored, err = s.store.Samples(ctx, w.tenantID, w.sessionID); err != nil {
			return nil, err
		}
		haveStored = true
		for _, m := range stored {
			if m.Time.After(w.lastAt) {
				w.lastAt = m.Time
				if v, err := money.ParseDecimal(m.EnergyWh); err == nil {
					w.lastWh = v
				}
			}
		}
		w.synced = true
	}
	n := &notice{latest: w.lastAt, wh: w.lastWh}
	earliest := samples[0].Time
	for _, m := range samples {
		if m.Time.Before(earliest) {
			earliest = m.Time
		}
		if m.Time.After(n.latest) {
			n.latest, n.fresh = m.Time, true
			if m.EnergyWh != "" {
				if v, err := money.ParseDecimal(m.EnergyWh); err == nil {
					n.wh = v
				}
			}
		}
	}
	if !earliest.After(w.lastAt) {
		// A late or repeated reading among them: what was priced before
		// may have changed, and what the readings tell comes with the
		// next fresh one.
		w.priced = false
	}
	if !n.fresh {
		return n, nil
	}
	energyDue := false
	if d, err := n.wh.Sub(w.markWh); err == nil && d.Cmp(decimal.MustNew(UpdateEnergyWh, 0)) >= 0 {
		energyDue = true
	}
	update := n.latest.Sub(w.markAt) >= UpdateInterval || energyDue
	price := w.tf != nil && (update || !w.priced || s.mayCross(w, n))
	if w.parked && n.wh.Cmp(w.pricedWh) > 0 {
		price = w.tf != nil // charging again turns parking back into charging time
	}
	if !price && !update {
		return n, nil
	}
	sess, err := s.store.Session(ctx, w.tenantID, w.sessionID)
	if err != nil {
		return nil, err
	}
	live := Live{Session: sess}
	if price {
		if !haveStored {
			if stored, err = s.store.Samples(ctx, w.tenantID, w.sessionID); err != nil {
				return nil, err
			}
		}
		switch live, err = s.liveOf(ctx, sess, mergeSamples(stored, samples)); {
		case unpriceable(err):
			// Readings the engine refuses (a meter running backwards,
			// say) are stored all the same and flagged when the session
			// ends; until then they announce no cost.
			s.log.Debug("running cost not priced", "session", w.sessionID, "err", err)
			w.priced = false
		case err != nil:
			return nil, err
		default:
			n.live = &live
		}
	} else if live, err = s.liveOf(ctx, sess, mergeSamples(nil, samples)); err != nil && !unpriceable(err) {
		// No tariff: energy and power need only the newest readings and
		// the start.
		return nil, err
	}
	charge := w.mark.Charge
	if live.Result != nil {
		charge = live.Result.Charge.Minor
		if charge-w.mark.Charge >= w.step {
			update = true
		}
	}
	mark := w.mark
	at := s.now().UTC()
	if update {
		data, err := updateData(live)
		if err != nil {
			return nil, err
		}
		e, err := evbill.SessionUpdateEvent(w.tenantID, data, at)
		if err != nil {
			return nil, err
		}
		n.events = append(n.events, e)
		mark.UpdatedAsOf, mark.EnergyWh, mark.Charge = n.latest, n.wh.String(), charge
	}
	if live.Result != nil && w.holdAmount > 0 && !mark.HoldWarned && charge*10 >= w.holdAmount*HoldWarnShare {
		n.events = append(n.events, evbill.HoldEvent(w.tenantID, evbill.HoldEventData{SessionID: w.sessionID,
			PaymentID: w.paymentID, Currency: live.Currency, HoldAmount: w.holdAmount, RunningCost: charge, AsOf: live.AsOf}, at))
		mark.HoldWarned = true
	}
	if mark != w.mark {
		n.mark = &mark
	}
	return n, nil
}

// mayCross reports whether the running cost may, by the ceiling, have
// grown since it was priced past the update's cost step or the hold's
// warning or stop share.
func (s *Service) mayCross(w *watch, n *notice) bool {
	de, err := n.wh.Sub(w.pricedWh)
	if err != nil {
		return true
	}
	growth, ok := w.ceil.Growth(de, n.latest.Sub(w.pricedAt), !w.pricedFlat, w.exp)
	if !ok {
		return true
	}
	most := w.pricedCharge + growth
	if most-w.mark.Charge >= w.step {
		return true
	}
	if w.holdAmount > 0 && (!w.mark.HoldWarned && most*10 >= w.holdAmount*HoldWarnShare || !w.stopSent && most*10 >= w.holdAmount*HoldStopShare) {
		return true
	}
	return false
}

// committed takes in what a stored write of the plan n changed.
func (w *watch) committed(n *notice) {
	if n.fresh {
		w.lastAt, w.lastWh = n.latest, n.wh
	}
	if n.mark != nil {
		w.mark = *n.mark
		w.markAt, w.markWh = n.mark.UpdatedAsOf, n.wh
		if w.mark.UpdatedAsOf.IsZero() {
			w.markAt, w.markWh = w.started, w.startWh
		} else if v, err := money.ParseDecimal(n.mark.EnergyWh); err == nil {
			w.markWh = v
		}
	}
	if l := n.live; l != nil && l.Result != nil {
		w.priced, w.pricedAt, w.pricedWh = true, n.latest, n.wh
		w.pricedCharge, w.pricedFlat, w.parked = l.Result.Charge.Minor, l.Result.HasFlat(), l.parked
	}
}

// mergeSamples returns stored with the readings of a write not yet
// stored, in time order; a reading at an instant already stored is the
// stored one, as the store keeps the first.
func mergeSamples(stored, more []evbill.MeterSample) []evbill.MeterSample {
	out := slices.Clip(stored)
	for _, m := range more {
		i, found := slices.BinarySearchFunc(out, m.Time, func(a evbill.MeterSample, t time.Time) int { return a.Time.Compare(t) })
		if !found {
			out = slices.Insert(out, i, m)
		}
	}
	return out
}

// updateData is the session.updated payload of a live view, in the API's
// form (see api.LiveSession).
func updateData(l Live) (evbill.SessionUpdateData, error) {
	d := evbill.SessionUpdateData{SessionEventData: evbill.NewSessionEventData(l.Session), AsOf: l.AsOf.UTC(), EnergyKWh: json.Number(l.EnergyKWh.String()),
		DurationSeconds: int64(l.Duration / time.Second)}
	if l.HasPower {
		p := json.Number(l.PowerKW.String())
		d.PowerKW = &p
	}
	if r := l.Result; r != nil {
		excl, incl, err := r.Total.Round(4)
		if err != nil {
			return d, err
		}
		d.Cost = &evbill.CostData{Currency: l.Currency, ExclVAT: json.Number(excl.String()), InclVAT: json.Number(incl.String()),
			Amount: r.Charge.Decimal().String(), Final: r.Final}
		if l.Rate != nil {
			p := json.Number(l.Rate.UnitPrice().String())
			d.Cost.RateDimension, d.Cost.RatePrice = l.Rate.Dimension.String(), &p
		}
	}
	return d, nil
}

// unpriceable reports whether err is the engine refusing the readings or
// their arithmetic, rather than a failure to read them.
func unpriceable(err error) bool {
	return errors.Is(err, tariff.ErrInvalidMeterData) || errors.Is(err, tariff.ErrInvalidSession) || errors.Is(err, money.ErrPrecision)
}
