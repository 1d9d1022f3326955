package charging

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/tariff"
)

// The charger display: for a station with CostDisplay set, evbill sends
// the OCPP 1.6 "California Pricing" messages (DataTransfer, vendorId
// org.openchargealliance.costmsg; see ocpp.CostMessage): the driver's
// price once an Authorize is accepted, the running cost after the readings
// of a transaction are stored, and the final cost once its CDR is. Every
// figure comes from the engine that bills the session: the running cost is
// Live's, the final cost the CDR's amount to charge.
//
// The display never affects billing. Each message is sent after the
// charger's own CALL has been answered, from a goroutine, with a short
// timeout; a charger that refuses, rejects or ignores it is logged at
// debug level and otherwise left alone.

// displayTimeout bounds one display message, from reading what it shows to
// the charger's answer. OCPP allows one CALL of the central system at a
// time per connection, so a charger that never answers delays the next
// command (a RemoteStopTransaction, a pay page's RemoteStartTransaction,
// both of which wait far longer) by at most this much.
const displayTimeout = 5 * time.Second

// runningCostEvery is the most often a transaction's running cost is sent
// while it moves less than runningCostStep: a display needs no update per
// reading, and each one costs the charger's link a round trip.
const runningCostEvery = 60 * time.Second

// runningCostStep is the move of the running cost, in the currency's major
// unit, that is sent at once whatever runningCostEvery says.
var runningCostStep = decimal.MustNew(10, 2)

// displayState is what a connection remembers for its charger's display:
// per transaction, what running cost was last sent and when (the
// throttle), and one lock that keeps the messages in order. It lives in
// the connection's link, as the display belongs to the connection: billing
// keeps no display state.
type displayState struct {
	// send is held while one message is read and sent. It keeps a
	// running cost read before a stop from arriving after the final cost,
	// and the connection's display messages to one at a time.
	send sync.Mutex

	mu  sync.Mutex
	txs map[int64]*shown
}

// shown is the display's state for one transaction.
type shown struct {
	busy  bool // a goroutine is reading or sending its running cost
	again bool // newer readings came meanwhile: read once more
	sent  bool
	at    time.Time       // when the last running cost was sent
	asOf  time.Time       // the reading it was as of
	cost  decimal.Decimal // and what it said
}

// begin claims the running cost of tx for the calling goroutine; false
// when another one has it, which is then asked to read again, so that
// readings arriving in a burst cost one read, never a queue of them.
func (d *displayState) begin(tx int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.txs == nil {
		d.txs = map[int64]*shown{}
	}
	sh := d.txs[tx]
	if sh == nil {
		sh = &shown{}
		d.txs[tx] = sh
	}
	if sh.busy {
		sh.again = true
		return false
	}
	sh.busy = true
	return true
}

// finish releases tx's running cost, or reports that it must be read once
// more.
func (d *displayState) finish(tx int64) (again bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sh := d.txs[tx]
	switch {
	case sh == nil:
		return false
	case sh.again:
		sh.again = false
		return true
	}
	sh.busy = false
	return false
}

// due reports whether a running cost of cost as of the reading at asOf
// is to be sent at now, and if so records it as sent: the first one, one
// after runningCostEvery, or one that moved by runningCostStep or more;
// never one as of a reading already shown, which a read that lagged
// behind the clock would otherwise send again.
func (d *displayState) due(tx int64, now, asOf time.Time, cost decimal.Decimal) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	sh := d.txs[tx]
	if sh == nil {
		return false // forgotten meanwhile: the transaction ended
	}
	if sh.sent && !asOf.After(sh.asOf) {
		return false
	}
	if sh.sent && now.Sub(sh.at) < runningCostEvery {
		moved, err := cost.Sub(sh.cost)
		if err == nil && moved.Abs().Cmp(runningCostStep) < 0 {
			return false
		}
	}
	sh.sent, sh.at, sh.asOf, sh.cost = true, now, asOf, cost
	return true
}

// forget drops what is kept of tx: it ended.
func (d *displayState) forget(tx int64) {
	d.mu.Lock()
	delete(d.txs, tx)
	d.mu.Unlock()
}

// displays reports whether the connection's station shows costs. The
// station comes from the resolver's cache, so asking costs no query.
func (s *Service) displays(ctx context.Context, id ocpp.Identity) bool {
	sc, err := s.resolver.Station(ctx, id.TenantID, id.StationID)
	return err == nil && sc.Station.CostDisplay
}

// sendCostMessage sends one California Pricing message and logs what
// becomes of it at debug level: nothing depends on the answer.
func (s *Service) sendCostMessage(ctx context.Context, c *ocpp.Conn, messageID string, data any, sessionID string) {
	req, err := ocpp.CostMessage(messageID, data)
	if err != nil {
		s.log.Error("building a charger display message", "message", messageID, "session", sessionID, "err", err)
		return
	}
	var conf ocpp.DataTransferConf
	err = c.Call(ctx, ocpp.ActionDataTransfer, req, &conf)
	switch {
	case err != nil:
		s.log.Debug("charger display message not taken", "charge_point", c.Identity().ChargePointID,
			"message", messageID, "session", sessionID, "err", err)
	case conf.Status != ocpp.DataTransferAccepted:
		s.log.Debug("charger display message not accepted", "charge_point", c.Identity().ChargePointID,
			"message", messageID, "session", sessionID, "status", conf.Status)
	}
}

// showUserPrice sends SetUserPrice once an Authorize has been answered
// Accepted: the price of the tariff in force at the station for the
// token's driver group. OCPP 1.6's Authorize names no connector, so an
// assignment to one connector is not seen here; the session is priced by
// the one in force at its start regardless.
func (s *Service) showUserPrice(ctx context.Context, c *ocpp.Conn, idTag string, tok evbill.Token, status ocpp.AuthorizationStatus) {
	if status != ocpp.AuthorizationAccepted || !s.displays(ctx, c.Identity()) {
		return
	}
	// Not s.clock(): a tariff assigned within the second would not be in
	// force yet at the second's start.
	l, at := linkOf(c), s.now().UTC()
	c.AfterAnswer(func() { go s.sendUserPrice(c, l, idTag, tok.GroupID, at) })
}

func (s *Service) sendUserPrice(c *ocpp.Conn, l *link, idTag, groupID string, at time.Time) {
	l.display.send.Lock()
	defer l.display.send.Unlock()
	ctx, cancel := context.WithTimeout(c.Context(), displayTimeout)
	defer cancel()
	id := c.Identity()
	res, err := s.resolver.Resolve(ctx, pricing.Target{TenantID: id.TenantID, StationID: id.StationID, GroupID: groupID}, at)
	if err != nil {
		s.log.Debug("no price to display", "charge_point", id.ChargePointID, "err", err)
		return
	}
	text, extra := priceTexts(res.Tariff)
	s.sendCostMessage(ctx, c, ocpp.CostMsgSetUserPrice, ocpp.SetUserPrice{IdToken: idTag, PriceText: text, PriceTextExtra: extra}, "")
}

// showRunningCost sends RunningCost once a MeterValues of a transaction
// has been stored and answered, throttled per transaction (see due).
func (s *Service) showRunningCost(ctx context.Context, c *ocpp.Conn, l *link, tenantID, sessionID string, tx int64) {
	if !s.displays(ctx, c.Identity()) {
		return
	}
	c.AfterAnswer(func() { go s.sendRunningCosts(c, l, tenantID, sessionID, tx) })
}

func (s *Service) sendRunningCosts(c *ocpp.Conn, l *link, tenantID, sessionID string, tx int64) {
	d := &l.display
	if !d.begin(tx) {
		return
	}
	for {
		s.sendRunningCost(c, d, tenantID, sessionID, tx)
		if !d.finish(tx) {
			return
		}
	}
}

func (s *Service) sendRunningCost(c *ocpp.Conn, d *displayState, tenantID, sessionID string, tx int64) {
	d.send.Lock()
	defer d.send.Unlock()
	ctx, cancel := context.WithTimeout(c.Context(), displayTimeout)
	defer cancel()
	live, err := s.Live(ctx, tenantID, sessionID)
	switch {
	case err != nil:
		s.log.Debug("no running cost to display", "session", sessionID, "err", err)
		return
	case live.Session.State == evbill.SessionEnded:
		d.forget(tx) // its final cost follows, or it was not billed
		return
	case live.Result == nil:
		return // no tariff: nothing is billed, nothing shown
	}
	msg, err := runningCost(live, tx)
	if err != nil {
		s.log.Debug("no running cost to display", "session", sessionID, "err", err)
		return
	}
	if !d.due(tx, s.now(), live.AsOf, msg.Cost.Decimal) {
		return
	}
	s.sendCostMessage(ctx, c, ocpp.CostMsgRunningCost, msg, sessionID)
}

// runningCost is the RunningCost of a live session: the amount to charge
// as Live has it (the figure GET /api/v1/sessions/{id} and the guest's
// page show), the energy register at the last reading, and the unit
// prices of the engine's lines for the last charging period.
func runningCost(l Live, tx int64) (ocpp.RunningCost, error) {
	r := l.Result
	msg := ocpp.RunningCost{TransactionId: int(tx), Timestamp: l.AsOf.UTC().Truncate(time.Millisecond),
		Cost: ocpp.Decimal{Decimal: r.Charge.Decimal()}, State: ocpp.CostCharging}
	register, err := registerWh(l)
	if err != nil {
		return msg, err
	}
	msg.MeterValue = register
	if l.Session.State == evbill.SessionParking {
		msg.State = ocpp.CostIdle
	}
	last := int32(-1)
	if n := len(r.Lines); n > 0 {
		last = r.Lines[n-1].Period
	}
	for i := range r.Lines {
		line := &r.Lines[i]
		if line.Reservation {
			continue
		}
		switch {
		case line.Dimension == tariff.Flat && msg.ChargingPrice.FlatFee == nil:
			msg.ChargingPrice.FlatFee = displayPrice(line)
		case line.Period != last:
		case line.Dimension == tariff.Energy:
			msg.ChargingPrice.KWhPrice = displayPrice(line)
		case line.Dimension == tariff.Time:
			msg.ChargingPrice.HourPrice = displayPrice(line)
		case line.Dimension == tariff.ParkingTime:
			msg.IdlePrice = &ocpp.IdlePrice{HourPrice: *displayPrice(line)}
			msg.State = ocpp.CostIdle
		}
	}
	return msg, nil
}

// registerWh is the energy register at the last reading, in whole Wh as
// the message wants it: the session's start register plus the energy Live
// counts. A fraction of a Wh is cut, not rounded up: the display never
// shows energy not yet delivered.
func registerWh(l Live) (int64, error) {
	start, err := money.ParseDecimal(l.Session.MeterStartWh)
	if err != nil {
		return 0, err
	}
	used, err := l.EnergyKWh.Mul(thousand)
	if err != nil {
		return 0, err
	}
	reg, err := start.Add(used)
	if err != nil {
		return 0, err
	}
	whole, _, ok := reg.Int64(0)
	if !ok {
		return 0, money.ErrPrecision
	}
	return whole, nil
}

var (
	thousand = decimal.MustNew(1000, 0)
	hundred  = decimal.MustNew(100, 0)
)

// displayPrice is a line's unit price as the driver pays it: including
// the component's VAT when it states one, as the cost is the amount to
// charge, which includes VAT when the tariff states it. The product is
// exact: a unit price and a VAT rate have few digits.
func displayPrice(l *tariff.Line) *ocpp.Decimal {
	p := l.UnitPrice()
	if vat, ok := l.VAT(); ok {
		factor, err := vat.Add(hundred)
		if err == nil {
			if x, err := p.Mul(factor); err == nil {
				if x, err = x.Quo(hundred); err == nil {
					p = x
				}
			}
		}
	}
	return &ocpp.Decimal{Decimal: p.Trim(2)}
}

// showFinalCost sends FinalCost once a StopTransaction has been answered:
// the CDR's amount to charge. A session that ended without a CDR (flagged
// for review, or without a tariff) shows nothing.
func (s *Service) showFinalCost(ctx context.Context, c *ocpp.Conn, sess evbill.Session) {
	if sess.StoppedAt == nil || !s.displays(ctx, c.Identity()) {
		return
	}
	l := linkOf(c)
	c.AfterAnswer(func() { go s.sendFinalCost(c, l, sess) })
}

func (s *Service) sendFinalCost(c *ocpp.Conn, l *link, sess evbill.Session) {
	l.display.send.Lock()
	defer l.display.send.Unlock()
	ctx, cancel := context.WithTimeout(c.Context(), displayTimeout)
	defer cancel()
	record, err := s.store.CDRBySession(ctx, sess.TenantID, sess.ID)
	if err != nil {
		s.log.Debug("no final cost to display", "session", sess.ID, "err", err)
		return
	}
	cur, err := money.ParseCurrency(record.Currency)
	if err != nil {
		s.log.Debug("no final cost to display", "session", sess.ID, "err", err)
		return
	}
	amount := money.Amount{Minor: record.AmountMinor, Currency: cur}.Decimal()
	s.sendCostMessage(ctx, c, ocpp.CostMsgFinalCost, ocpp.FinalCost{TransactionId: int(sess.TransactionID),
		Cost: ocpp.Decimal{Decimal: amount}, PriceText: finalText(sess, record, cur, amount)}, sess.ID)
}

// finalText is the line shown with the final cost: "Total EUR 12.34
// incl. VAT for 16.05 kWh in 2 h 15 min." The VAT is named when the CDR's
// totals differ by it.
func finalText(sess evbill.Session, record evbill.CDR, cur money.Currency, amount decimal.Decimal) string {
	var b strings.Builder
	b.WriteString("Total " + formatMoney(amount, cur))
	excl, err1 := money.ParseDecimal(record.TotalExclVAT)
	incl, err2 := money.ParseDecimal(record.TotalInclVAT)
	if err1 == nil && err2 == nil && excl.Cmp(incl) != 0 {
		b.WriteString(" incl. VAT")
	}
	start, err1 := money.ParseDecimal(sess.MeterStartWh)
	stop, err2 := money.ParseDecimal(sess.MeterStopWh)
	if err1 == nil && err2 == nil {
		if used, err := stop.Sub(start); err == nil {
			if kwh, err := money.Thousandth(used); err == nil {
				b.WriteString(" for " + kwh.String() + " kWh")
			}
		}
	}
	b.WriteString(" in " + durationText(sess.StoppedAt.Sub(sess.StartedAt)) + ".")
	return b.String()
}

// priceTexts is the price shown at Authorize: the operator's own words
// (OCPI tariff_alt_text), English or else the first language, with the
// other languages as extra texts; a tariff without them is described from
// its price components.
func priceTexts(tf *tariff.Tariff) (string, []ocpp.CostText) {
	if len(tf.AltText) == 0 {
		return describeTariff(tf), nil
	}
	main := 0
	for i, t := range tf.AltText {
		if strings.HasPrefix(strings.ToLower(t.Language), "en") {
			main = i
			break
		}
	}
	var extra []ocpp.CostText
	for i, t := range tf.AltText {
		if i != main {
			extra = append(extra, ocpp.CostText{Format: "UTF8", Language: t.Language, Content: t.Text})
		}
	}
	return tf.AltText[main].Text, extra
}

// describeTariff writes a tariff's prices in a line a charger's display
// can hold: "EUR 0.35 per session, EUR 0.45/kWh + EUR 0.60/h (07:00–19:00),
// EUR 0.32/kWh + EUR 0.30/h (otherwise). Prices excl. 21% VAT." Elements
// restricted by more than days and times of day say "conditions apply":
// the pay page and the receipt spell those out.
func describeTariff(tf *tariff.Tariff) string {
	var parts []string
	restricted := false
	vats := map[string]bool{}
	for _, e := range tf.Elements {
		if e.Restrictions != nil && e.Restrictions.Reservation != tariff.NoReservation {
			continue // a driver at the charger reserves nothing
		}
		var comps []string
		for _, pc := range e.PriceComponents {
			comps = append(comps, componentText(pc, tf.Currency))
			if pc.HasVAT {
				vats[pc.VAT.Trim(0).String()] = true
			}
		}
		if len(comps) == 0 {
			continue
		}
		p := strings.Join(comps, " + ")
		switch when := whenText(e.Restrictions); {
		case when != "":
			p += " (" + when + ")"
		case restricted:
			p += " (otherwise)"
		}
		restricted = restricted || e.Restrictions != nil
		parts = append(parts, p)
	}
	text := strings.Join(parts, ", ")
	if text == "" {
		text = "Free"
	}
	if tf.MinPrice != nil {
		text += ", at least " + formatMoney(tf.MinPrice.ExclVAT, tf.Currency)
	}
	if tf.MaxPrice != nil {
		text += ", at most " + formatMoney(tf.MaxPrice.ExclVAT, tf.Currency)
	}
	switch len(vats) {
	case 0:
		return text + "."
	case 1:
		for v := range vats {
			return text + ". Prices excl. " + v + "% VAT."
		}
	}
	return text + ". Prices excl. VAT."
}

// componentText writes one price: "EUR 0.45/kWh", "EUR 6.00/h idle".
func componentText(pc tariff.PriceComponent, c money.Currency) string {
	p := formatMoney(pc.Price, c)
	switch pc.Type {
	case tariff.Energy:
		return p + "/kWh"
	case tariff.Time:
		return p + "/h"
	case tariff.ParkingTime:
		return p + "/h idle"
	}
	return p + " per session"
}

// whenText says when a restricted element applies, by days and times of
// day; "" for an element that always applies.
func whenText(r *tariff.Restrictions) string {
	if r == nil {
		return ""
	}
	var parts []string
	if n := len(r.DayOfWeek); n > 0 && n < 7 {
		days := make([]string, n)
		for i, d := range r.DayOfWeek {
			days[i] = d.String()[:3]
		}
		parts = append(parts, strings.Join(days, ", "))
	}
	switch {
	case r.StartTime != "" && r.EndTime != "":
		parts = append(parts, r.StartTime+"–"+r.EndTime)
	case r.StartTime != "":
		parts = append(parts, "from "+r.StartTime)
	case r.EndTime != "":
		parts = append(parts, "until "+r.EndTime)
	}
	if r.StartDate != "" || r.EndDate != "" || r.MinKWh != nil || r.MaxKWh != nil || r.MinCurrent != nil || r.MaxCurrent != nil ||
		r.MinPower != nil || r.MaxPower != nil || r.MinDuration != nil || r.MaxDuration != nil {
		parts = append(parts, "conditions apply")
	}
	return strings.Join(parts, " ")
}

// formatMoney writes an amount with at least its currency's minor digits,
// as the pay page does: "EUR 0.45", "EUR 6.00", "EUR 0.2975".
func formatMoney(d decimal.Decimal, c money.Currency) string {
	return c.Code() + " " + string(money.FormatDecimal(nil, d, c.Exponent()))
}

// durationText writes a duration as a driver reads it: "2 h 15 min",
// "12 min", "45 s".
func durationText(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int64(d/time.Hour), int64(d/time.Minute)%60, int64(d/time.Second)%60
	switch {
	case h > 0:
		return itoa(h) + " h " + itoa(m) + " min"
	case m > 0:
		return itoa(m) + " min"
	}
	return itoa(sec) + " s"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
