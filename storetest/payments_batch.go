package storetest

import (
	"strconv"
	"testing"

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
