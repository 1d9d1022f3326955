// Package payment moves payments through their gateway: the worker takes
// every payment in a pending state that is due (the store is the queue),
// makes the gateway call with an idempotency key derived from the payment's
// ID, and records the answer with its ledger entry in one transaction.
//
// Exactly once, across crashes: a worker that dies after the gateway
// answered and before the answer was recorded leaves the payment pending;
// the next run makes the same call with the same key, the gateway answers
// as the first time without moving money again, and the answer is
// recorded then. Two workers racing on one payment both call with the same
// key, and only one can record the move (the store's transition is
// guarded by the state it leaves).
package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// Store is what the worker needs of a store.
type Store interface {
	evbill.PaymentStore
}

// Worker makes the gateway calls of due payments.
type Worker struct {
	Store    Store
	Gateways map[string]evbill.Gateway // by Gateway.Name()
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
	// Batch is how many due payments one round takes; 100 when zero.
	Batch int
	// AfterCall, when set, runs after a gateway call answered and before
	// the answer is recorded; an error stops the worker there, as a crash
	// would. Fault-injection tests use it.
	AfterCall func(op string, p evbill.Payment) error
}

// Operations, as AfterCall and the idempotency keys name them.
const (
	OpHold    = "hold"
	OpCapture = "capture"
	OpRelease = "release"
	OpRefund  = "refund"
)

// IdempotencyKey is the key of op on payment id: the same for every try.
func IdempotencyKey(op, paymentID string) string { return op + "_" + paymentID }

// MaxBackoff bounds the wait before retrying a call that got no answer.
const MaxBackoff = 10 * time.Minute

// backoff is how long to wait after the n-th attempt without an answer:
// 2^n seconds, at most MaxBackoff.
func backoff(n int) time.Duration {
	if n >= 10 {
		return MaxBackoff
	}
	return min(time.Duration(1<<n)*time.Second, MaxBackoff)
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

// errStopped is the error of a worker stopped by AfterCall.
var errStopped = errors.New("payment: worker stopped after a gateway call")

// RunOnce makes one round: it starts the capture of held payments whose
// CDR is in, then processes the payments due now, and returns how many it
// moved on. A payment whose call fails without
// an answer is retried later; only a store failure or AfterCall stops the
// round with an error.
func (w *Worker) RunOnce(ctx context.Context) (moved int, err error) {
	batch := w.Batch
	if batch <= 0 {
		batch = 100
	}
	if moved, err = w.settle(ctx, batch); err != nil {
		return moved, err
	}
	if err := w.flagExpiring(ctx, batch); err != nil {
		return moved, err
	}
	due, err := w.Store.DuePayments(ctx, w.now(), batch)
	if err != nil {
		return moved, err
	}
	for _, p := range due {
		ok, err := w.process(ctx, p)
		if errors.Is(err, errStopped) {
			return moved, err
		}
		if err != nil {
			if evbill.ErrorCode(err) == evbill.ECONFLICT {
				continue // another worker recorded it first
			}
			return moved, err
		}
		if ok {
			moved++
		}
	}
	refunds, err := w.Store.DueRefunds(ctx, w.now(), batch)
	if err != nil {
		return moved, err
	}
	for _, r := range refunds {
		ok, err := w.refund(ctx, r)
		if errors.Is(err, errStopped) {
			return moved, err
		}
		if err != nil {
			if evbill.ErrorCode(err) == evbill.ECONFLICT {
				continue
			}
			return moved, err
		}
		if ok {
			moved++
		}
	}
	return moved, nil
}

// refund makes a pending refund's gateway call and records the answer:
// on success the payment's refunded amount and its ledger entry, which
// gives back net and VAT in the charge's proportion.
func (w *Worker) refund(ctx context.Context, r evbill.Refund) (moved bool, err error) {
	p, err := w.Store.Payment(ctx, r.TenantID, r.PaymentID)
	if err != nil {
		return false, err
	}
	gw := w.gateway(p.Gateway)
	if gw == nil {
		w.log().Error("refund through an unconfigured gateway", "refund", r.ID, "gateway", p.Gateway)
		return false, w.Store.RetryRefund(ctx, r.TenantID, r.ID, r.Attempts+1, w.now().Add(MaxBackoff))
	}
	res, err := gw.Refund(ctx, evbill.RefundRequest{IdempotencyKey: IdempotencyKey(OpRefund, r.ID), Reference: p.Reference,
		Amount: r.Amount, Currency: p.Currency, Reason: r.Reason})
	if evbill.GatewayOutcome(err) == evbill.OutcomeUnknown {
		w.log().Warn("refund without an answer; retrying later", "refund", r.ID, "attempt", r.Attempts+1, "err", err)
		return false, w.Store.RetryRefund(ctx, r.TenantID, r.ID, r.Attempts+1, w.now().Add(backoff(r.Attempts+1)))
	}
	if w.AfterCall != nil {
		if err := w.AfterCall(OpRefund, p); err != nil {
			return false, fmt.Errorf("%w: %v", errStopped, err)
		}
	}
	var entry *evbill.LedgerEntry
	var gerr *evbill.GatewayError
	if errors.As(err, &gerr) {
		r.State, r.FailureCode = evbill.RefundFailed, gerr.Code
		w.log().Warn("refund refused", "refund", r.ID, "code", gerr.Code, "message", gerr.Message)
	} else {
		r.State, r.Reference = evbill.RefundSucceeded, res.Reference
		captured, err := ledger.Charge{Currency: p.Currency, Total: p.CaptureAmount, Net: p.CaptureNet}.Part(0, p.Captured)
		if err != nil {
			return false, fmt.Errorf("refund %s: %w", r.ID, err)
		}
		credit, creditType := paidFrom(p)
		e, err := ledger.Refunded(r.TenantID, r.ID, p.SiteID, credit, creditType, captured, p.Refunded, r.Amount)
		if err != nil {
			return false, fmt.Errorf("refund %s: %w", r.ID, err)
		}
		entry = &e
	}
	if err := w.Store.CompleteRefund(ctx, &r, entry); err != nil {
		return false, err
	}
	return true, nil
}

// Run processes due payments every interval until ctx ends, logging
// errors.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil {
				w.log().Error("payment worker", "err", err)
			}
			if err != nil || n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settle starts the capture of each held payment whose session has ended,
// for its CDR's total: a release when the session was free or ended
// without a CDR, the hold when the total exceeds it (the rest is flagged,
// never taken unheld).
// Finding them by the CDR, rather than at the CDR's commit, also catches a
// CDR made before its hold was placed.
func (w *Worker) settle(ctx context.Context, batch int) (moved int, err error) {
	ss, err := w.Store.SettleablePayments(ctx, batch)
	if err != nil {
		return 0, err
	}
	for _, s := range ss {
		p := s.Payment
		from, reason := p.State, "cdr "+s.CDR.ID
		ch, err := ledger.ChargeOfCDR(s.CDR)
		switch {
		case s.CDR.ID == "":
			// The session ended without a CDR: held back from billing
			// (an implausible meter, no tariff) for a person to review.
			// Nothing is taken blindly; the hold is released.
			p.State, p.FailureCode, reason = evbill.PaymentReleasePending, "no_cdr", "the session ended without a CDR"
		case err != nil || ch.Currency != p.Currency:
			w.log().Error("CDR cannot be captured: releasing the hold", "payment", p.ID, "cdr", s.CDR.ID,
				"cdr_currency", s.CDR.Currency, "payment_currency", p.Currency, "err", err)
			p.State, p.FailureCode = evbill.PaymentReleasePending, "cdr_not_capturable"
		case ch.Total == 0:
			p.State, reason = evbill.PaymentReleasePending, reason+": nothing to charge"
		case ch.Total > p.HoldAmount:
			part, err := ch.Part(0, p.HoldAmount)
			if err != nil {
				return moved, err
			}
			w.log().Warn("CDR total exceeds the hold: capturing the hold", "payment", p.ID, "cdr", s.CDR.ID,
				"total", ch.Total, "held", p.HoldAmount)
			p.State, p.CaptureAmount, p.CaptureNet, p.FailureCode = evbill.PaymentCapturePending, part.Total, part.Net, "exceeds_hold"
		default:
			p.State, p.CaptureAmount, p.CaptureNet = evbill.PaymentCapturePending, ch.Total, ch.Net
		}
		p.Attempts, p.NextAttemptAt = 0, w.now()
		switch err := w.Store.TransitionPayment(ctx, &p, from, reason, nil); {
		case evbill.ErrorCode(err) == evbill.ECONFLICT:
		case err != nil:
			return moved, err
		default:
			moved++
		}
	}
	return moved, nil
}

// ExpiryMargin is how long before a hold lapses the worker flags it: a
// session that runs that close to its hold's end would end unpaid.
const ExpiryMargin = 12 * time.Hour

// flagExpiring flags held payments whose hold lapses within ExpiryMargin
// (failure code hold_expiring, logged), for an operator to stop the
// session or take payment another way; the flag is raised once.
func (w *Worker) flagExpiring(ctx context.Context, batch int) error {
	ps, err := w.Store.ExpiringHolds(ctx, w.now().Add(ExpiryMargin), batch)
	if err != nil {
		return err
	}
	for _, p := range ps {
		w.log().Warn("hold about to lapse on a running session", "payment", p.ID, "session", p.SessionID, "expires", p.HoldExpiresAt)
		if err := w.Store.FlagPayment(ctx, p.TenantID, p.ID, "hold_expiring",
			"the hold lapses at "+p.HoldExpiresAt.UTC().Format(time.RFC3339)+" and the session has not ended"); err != nil {
			return err
		}
	}
	return nil
}

// process makes p's pending call and records the answer: moved is false
// when there was no answer and the call is retried later.
func (w *Worker) process(ctx context.Context, p evbill.Payment) (moved bool, err error) {
	gw := w.gateway(p.Gateway)
	if gw == nil {
		// A configuration error: keep the payment and say so, rather than
		// fail it for something the gateway never saw.
		w.log().Error("payment of an unconfigured gateway", "payment", p.ID, "gateway", p.Gateway)
		return false, w.Store.RetryPayment(ctx, p.TenantID, p.ID, p.Attempts+1, w.now().Add(MaxBackoff))
	}
	var op string
	var res evbill.GatewayPayment
	switch p.State {
	case evbill.PaymentHoldPending:
		op = OpHold
		res, err = gw.Hold(ctx, evbill.HoldRequest{IdempotencyKey: IdempotencyKey(op, p.ID), Amount: p.HoldAmount,
			Currency: p.Currency, PaymentMethod: p.PaymentMethod, Customer: p.Customer,
			Description: "EV charging", Metadata: map[string]string{"payment_id": p.ID, "session_id": p.SessionID}})
	case evbill.PaymentCapturePending:
		op = OpCapture
		res, err = gw.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: IdempotencyKey(op, p.ID), Reference: p.Reference,
			Amount: p.CaptureAmount, Currency: p.Currency})
	case evbill.PaymentReleasePending:
		op = OpRelease
		res, err = gw.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: IdempotencyKey(op, p.ID), Reference: p.Reference})
	default:
		return false, nil
	}
	outcome := evbill.GatewayOutcome(err)
	if outcome == evbill.OutcomeUnknown {
		w.log().Warn("payment gateway call without an answer; retrying later", "payment", p.ID, "op", op, "attempt", p.Attempts+1, "err", err)
		return false, w.Store.RetryPayment(ctx, p.TenantID, p.ID, p.Attempts+1, w.now().Add(backoff(p.Attempts+1)))
	}
	if w.AfterCall != nil {
		if err := w.AfterCall(op, p); err != nil {
			return false, fmt.Errorf("%w: %v", errStopped, err)
		}
	}
	return true, w.record(ctx, p, op, res, err)
}

// record stores the answer of op on p: the next state, and for a capture
// its ledger entry.
func (w *Worker) record(ctx context.Context, p evbill.Payment, op string, res evbill.GatewayPayment, callErr error) error {
	from, attempts := p.State, p.Attempts
	p.Attempts, p.NextAttemptAt = 0, w.now()
	var entry *evbill.LedgerEntry
	reason := op + " answered"
	var gerr *evbill.GatewayError
	refused := errors.As(callErr, &gerr)
	if refused {
		p.FailureCode = gerr.Code
		reason = fmt.Sprintf("%s refused (%s): %s", op, gerr.Outcome, gerr.Message)
	}
	switch {
	case op == OpHold && !refused:
		p.State, p.Reference = evbill.PaymentHeld, res.Reference
		if !res.ExpiresAt.IsZero() {
			t := res.ExpiresAt
			p.HoldExpiresAt = &t
		}
	case op == OpHold:
		p.State = evbill.PaymentFailed
	case op == OpCapture && !refused:
		if res.CapturedAmount != p.CaptureAmount || res.Currency != p.Currency {
			// The gateway took another amount than asked: record what it
			// took, and say so loudly, since the ledger must follow the
			// money, not the request.
			w.log().Error("gateway captured another amount than asked", "payment", p.ID,
				"asked", p.CaptureAmount, "captured", res.CapturedAmount, "currency", res.Currency)
		}
		p.State, p.Captured = evbill.PaymentCaptured, res.CapturedAmount
		ch, err := ledger.Charge{Currency: p.Currency, Total: p.CaptureAmount, Net: p.CaptureNet}.Part(0, res.CapturedAmount)
		if err != nil {
			return fmt.Errorf("payment %s: %w", p.ID, err)
		}
		e, err := captureEntry(p, ch)
		if err != nil {
			return fmt.Errorf("payment %s: %w", p.ID, err)
		}
		entry = &e
	case op == OpCapture:
		// The capture was refused (declined, the hold expired): nothing
		// was taken; what is still held is released.
		p.State = evbill.PaymentReleasePending
	case op == OpRelease:
		// Released, or refused because the hold is already gone (expired
		// or cancelled): either way nothing is held any more. A release
		// refused for another reason (the hold was captured) is a
		// contradiction a person must look at; the payment stays pending.
		if refused && gerr.Outcome == evbill.OutcomeRejected && res.Status != evbill.GatewayReleased {
			w.log().Error("gateway refused a release", "payment", p.ID, "code", gerr.Code, "message", gerr.Message)
			return w.Store.RetryPayment(ctx, p.TenantID, p.ID, attempts+1, w.now().Add(MaxBackoff))
		}
		p.State = evbill.PaymentReleased
	}
	if err := w.Store.TransitionPayment(ctx, &p, from, reason, entry); err != nil {
		return err
	}
	w.log().Info("payment moved", "payment", p.ID, "from", from, "to", p.State)
	if p.State == evbill.PaymentHeld && p.Purpose == evbill.PurposeTopUp {
		// A top-up has no CDR to wait for: all that is held is captured.
		p.State, p.CaptureAmount, p.CaptureNet, p.NextAttemptAt = evbill.PaymentCapturePending, p.HoldAmount, p.HoldAmount, w.now()
		return w.Store.TransitionPayment(ctx, &p, evbill.PaymentHeld, "top-up", nil)
	}
	return nil
}

// captureEntry is the ledger entry of p's capture of ch: a wallet top-up,
// a card capture into the gateway's clearing account, a wallet debit, or
// a charge to the driver's receivable.
func captureEntry(p evbill.Payment, ch ledger.Charge) (evbill.LedgerEntry, error) {
	if p.Purpose == evbill.PurposeTopUp {
		return ledger.WalletToppedUp(p.TenantID, p.ID, p.Gateway, p.DriverID, p.Currency, ch.Total)
	}
	switch p.Gateway {
	case Wallet:
		return ledger.WalletDebited(p.TenantID, p.ID, p.DriverID, p.SiteID, ch)
	case Account:
		return ledger.AccountCharged(p.TenantID, p.ID, p.DriverID, p.SiteID, ch)
	}
	return ledger.CardCaptured(p.TenantID, p.ID, p.Gateway, p.SiteID, ch)
}

// paidFrom is the account p's money came from, which a refund credits.
func paidFrom(p evbill.Payment) (account, accountType string) {
	switch p.Gateway {
	case Wallet:
		return ledger.DriverWallet(p.DriverID), evbill.AccountLiability
	case Account:
		return ledger.Receivable(p.DriverID), evbill.AccountAsset
	}
	return ledger.GatewayClearing(p.Gateway), evbill.AccountAsset
}
