package storetest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// testPaymentBatch: TransitionPayments stores each good move of a batch,
// refuses the bad ones alone (a move from a state the payment has left,
// one whose ledger entry is already posted, one the state machine does
// not allow) and chains two moves of one payment.
func testPaymentBatch(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	var ps []evbill.Payment
	for i := range 5 {
		ps = append(ps, newPayment(t, s, w, i))
	}
	// ps[1] is captured-ready; ps[3] has its capture entry taken already.
	for _, i := range []int{1, 3} {
		move(t, s, &ps[i], evbill.PaymentHeld, "", nil)
		ps[i].CaptureAmount, ps[i].CaptureNet = 1000, 826
		move(t, s, &ps[i], evbill.PaymentCapturePending, "", nil)
	}
	taken := capture(t, ps[3])
	noErr(t, "PostEntry", s.PostEntry(ctx, taken))

	held := func(p evbill.Payment) *evbill.Payment {
		p.State, p.Reference = evbill.PaymentHeld, "ref_"+p.ID
		return &p
	}
	captured := func(p evbill.Payment) *evbill.Payment {
		p.State, p.Captured = evbill.PaymentCaptured, p.CaptureAmount
		return &p
	}
	settle := held(ps[4])
	settleNext := *settle
	settleNext.State, settleNext.CaptureAmount, settleNext.CaptureNet = evbill.PaymentCapturePending, 500, 413
	moves := []evbill.PaymentMove{
		{Payment: held(ps[0]), From: evbill.PaymentHoldPending, Reason: "hold answered"},
		{Payment: captured(ps[1]), From: evbill.PaymentCapturePending, Reason: "capture answered", Entry: capture(t, ps[1])},
		{Payment: held(ps[2]), From: evbill.PaymentHeld, Reason: "stale: the payment is hold_pending"},
		{Payment: captured(ps[3]), From: evbill.PaymentCapturePending, Reason: "entry taken", Entry: capture(t, ps[3])},
		{Payment: settle, From: evbill.PaymentHoldPending, Reason: "hold answered"},
		{Payment: &settleNext, From: evbill.PaymentHeld, Reason: "cdr in"},
		{Payment: func() *evbill.Payment { p := ps[2]; p.State = evbill.PaymentCaptured; return &p }(), From: evbill.PaymentHoldPending, Reason: "not an edge"},
	}
	noErr(t, "TransitionPayments", s.TransitionPayments(ctx, moves))
	wantErrs := []string{"", "", evbill.ECONFLICT, evbill.ECONFLICT, "", "", evbill.ECONFLICT}
	for i, m := range moves {
		equal(t, "move "+m.Reason+" error code", evbill.ErrorCode(m.Err), wantErrs[i])
	}
	wantStates := []string{evbill.PaymentHeld, evbill.PaymentCaptured, evbill.PaymentHoldPending, evbill.PaymentCapturePending, evbill.PaymentCapturePending}
	for i, want := range wantStates {
		got, err := s.Payment(ctx, w.tenant.ID, ps[i].ID)
		noErr(t, "Payment", err)
		equal(t, "stored state of payment "+strconv.Itoa(i), got.State, want)
		if moves[i].Err == nil && i < 2 {
			equal(t, "the caller's payment is the stored one", *moves[i].Payment, got)
		}
	}
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, ps[4].ID)
	noErr(t, "PaymentChanges", err)
	equal(t, "changes of the chained payment", len(changes), 3)
	clearing, err := s.LedgerAccount(ctx, w.tenant.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "LedgerAccount", err)
	// ps[1]'s capture and the entry posted outside for ps[3].
	equal(t, "clearing", clearing.Balance, int64(2000))
	checkBalances(t, s, w.tenant.ID)
	noErr(t, "an empty batch", s.TransitionPayments(ctx, nil))
}

// testStartWithPayment: a Start write that carries its payment stores
// both or neither; a retransmitted start stores no second payment; a
// payment without its Start is refused.
func testStartWithPayment(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	pay := func() *evbill.Payment {
		return &evbill.Payment{TenantID: w.tenant.ID, DriverID: w.driver.ID, SiteID: w.site.ID, Gateway: "sandbox",
			PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 5000}
	}
	// A start, then its retransmission in a batch of its own.
	ss, again := w.session(1, 0), w.session(1, 0)
	for i, st := range []*evbill.Session{&ss, &again} {
		ws := []evbill.SessionWrite{{Start: st, Payment: pay()}}
		noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, ws))
		noErr(t, "the start", ws[0].Err)
		equal(t, "payment created by start "+strconv.Itoa(i), ws[0].PaymentCreated, i == 0)
	}
	equal(t, "the retransmission finds the session", again.ID, ss.ID)

	fresh := w.session(1, 1)
	batch := []evbill.SessionWrite{
		{Start: &fresh, Payment: pay()},
		{Start: func() *evbill.Session { c := w.session(1, 1); return &c }(), Payment: pay()}, // the same start again, same batch
		{Start: func() *evbill.Session { c := w.session(1, 2); return &c }(), Payment: func() *evbill.Payment { p := pay(); p.SiteID = "site_nope"; return p }()},
		{Update: func() *evbill.Session { c := w.session(1, 3); return &c }(), Payment: pay()},
	}
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, batch))
	noErr(t, "a start with its payment", batch[0].Err)
	equal(t, "created", batch[0].Created && batch[0].PaymentCreated, true)
	hasPrefix(t, "payment ID", batch[0].Payment.ID, evbill.PrefixPayment)
	equal(t, "the payment's session", batch[0].Payment.SessionID, fresh.ID)
	equal(t, "the payment's state", batch[0].Payment.State, evbill.PaymentHoldPending)
	got, err := s.PaymentBySession(ctx, w.tenant.ID, fresh.ID)
	noErr(t, "PaymentBySession", err)
	equal(t, "the stored payment", got, *batch[0].Payment)
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, got.ID)
	noErr(t, "PaymentChanges", err)
	equal(t, "its creation is logged", len(changes), 1)

	noErr(t, "the retransmitted start", batch[1].Err)
	equal(t, "a retransmission creates neither session nor payment", batch[1].Created || batch[1].PaymentCreated, false)
	equal(t, "the retransmission finds the session", batch[1].Start.ID, fresh.ID)

	wantCode(t, "a payment to an unknown site", batch[2].Err, evbill.EINVALID, "")
	open, err := s.OpenSessions(ctx, w.tenant.ID, w.station.ID)
	noErr(t, "OpenSessions", err)
	for _, o := range open {
		if o.MeterStartWh == w.session(1, 2).MeterStartWh {
			t.Errorf("the session whose payment was refused was stored without it")
		}
	}
	wantCode(t, "a payment without its Start", batch[3].Err, evbill.EINVALID, "with its session's Start")
}

// testPaymentEvents: a payment reaching held, captured, failed or
// released, and a refund's creation, put their events in the outbox with
// the change, carrying the amounts as the API shows them; a refused move
// emits nothing.
func testPaymentEvents(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 2)
	p := newPayment(t, s, w, 0)
	p.Reference = "ref_events"
	move(t, s, &p, evbill.PaymentHeld, "hold answered", nil)
	stale := p
	stale.State = evbill.PaymentHeld
	wantCode(t, "a stale move", s.TransitionPayment(ctx, &stale, evbill.PaymentHoldPending, "stale", nil), evbill.ECONFLICT, "")
	p.CaptureAmount, p.CaptureNet = 871, 720
	move(t, s, &p, evbill.PaymentCapturePending, "cdr in", nil)
	p.Captured = 871
	move(t, s, &p, evbill.PaymentCaptured, "captured", capture(t, p))
	ss, err := s.Session(ctx, w.tenant.ID, p.SessionID)
	noErr(t, "Session", err)
	end := endWith(ss, t0.Add(2*time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	r := evbill.Refund{TenantID: w.tenant.ID, CDRID: end.CDR.ID, Amount: 300, Reason: "goodwill"}
	noErr(t, "CreateRefund", s.CreateRefund(ctx, &r))
	failed := newPayment(t, s, w, 1)
	move(t, s, &failed, evbill.PaymentFailed, "declined", nil)

	var got []evbill.Event
	for _, e := range eventsOf(t, s, cursor, w.tenant.ID) {
		if e.Type != "cdr.created" {
			got = append(got, e)
		}
	}
	types := make([]string, len(got))
	for i, e := range got {
		types[i] = e.Type
	}
	equal(t, "event types", types, []string{evbill.EventPaymentHeld, evbill.EventPaymentCaptured, evbill.EventRefundCreated, evbill.EventPaymentFailed})
	if len(got) != 4 {
		return
	}
	var captured evbill.PaymentEventData
	noErr(t, "payment.captured payload", json.Unmarshal(got[1].Payload, &captured))
	equal(t, "payment.captured", [3]any{captured.ID, captured.Captured, captured.Currency}, [3]any{p.ID, int64(871), "EUR"})
	var refund evbill.RefundEventData
	noErr(t, "refund.created payload", json.Unmarshal(got[2].Payload, &refund))
	equal(t, "refund.created", [4]any{refund.ID, refund.PaymentID, refund.Amount, refund.Currency}, [4]any{r.ID, p.ID, int64(300), "EUR"})
}
