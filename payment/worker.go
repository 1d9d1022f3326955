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
	"sync"
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
	// Batch is how many due payments one round takes; 500 when zero.
	Batch int
	// Concurrency is how many gateway calls are in flight at once; 16
	// when zero. The answers of a round are recorded together, in one
	// transaction (TransitionPayments).
	Concurrency int
	// Metrics, when set, counts the moves recorded.
	Metrics *Metrics
	// WalletMinimum is the least a wallet must hold for a session to
	// start, for tenants without their own (evbill.TenantPayments): a
	// session's debit that leaves less emits wallet.low_balance. Zero
	// emits none.
	WalletMinimum int64
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
		batch = 500
	}
	if moved, err = w.settle(ctx, batch); err != nil {
		return moved, err
	}
	if err := w.flagExpiring(ctx, batch); err != nil {
		return moved, err
	}
	moved += w.releaseUnclaimed(ctx, batch) // payment/adhoc.go
	due, err := w.Store.DuePayments(ctx, w.now(), batch)
	if err != nil {
		return moved, err
	}
	n, err := w.processAll(ctx, due)
	moved += n
	if err != nil {
		return moved, err
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
	moves := make([]evbill.PaymentMove, 0, len(ss))
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
				return 0, err
			}
			w.log().Warn("CDR total exceeds the hold: capturing the hold", "payment", p.ID, "cdr", s.CDR.ID,
				"total", ch.Total, "held", p.HoldAmount)
			p.State, p.CaptureAmount, p.CaptureNet, p.FailureCode = evbill.PaymentCapturePending, part.Total, part.Net, "exceeds_hold"
		default:
			p.State, p.CaptureAmount, p.CaptureNet = evbill.PaymentCapturePending, ch.Total, ch.Net
		}
		p.Attempts, p.NextAttemptAt = 0, w.now()
		moves = append(moves, evbill.PaymentMove{Payment: &p, From: from, Reason: reason})
	}
	return w.apply(ctx, moves)
}

// apply stores the moves in one transaction and counts those stored. A
// move refused because another worker moved the payment first
// (ECONFLICT) is skipped; any other refusal is the round's error.
func (w *Worker) apply(ctx context.Context, moves []evbill.PaymentMove) (moved int, err error) {
	if err := w.Store.TransitionPayments(ctx, moves); err != nil {
		return 0, err
	}
	for _, m := range moves {
		switch {
		case m.Err == nil:
			moved++
			w.Metrics.movedTo(m.Payment.State)
			w.log().Debug("payment moved", "payment", m.Payment.ID, "from", m.From, "to", m.Payment.State)
		case evbill.ErrorCode(m.Err) == evbill.ECONFLICT:
			w.log().Debug("payment moved meanwhile", "payment", m.Payment.ID, "err", m.Err)
		case err == nil:
			err = fmt.Errorf("payment %s: %w", m.Payment.ID, m.Err)
		}
	}
	return moved, err
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

// answer is a gateway's answer to one due payment's call.
type answer struct {
	p   evbill.Payment
	op  string
	res evbill.GatewayPayment
	err error
}

// processAll makes the pending calls of the due payments, up to
// Concurrency at a time, and records the answers together: the moves in
// one TransitionPayments, the calls that got no answer each as a retry.
// moved counts the payments moved on.
func (w *Worker) processAll(ctx context.Context, due []evbill.Payment) (moved int, err error) {
	answers := make([]answer, len(due))
	limit := w.Concurrency
	if limit <= 0 {
		limit = 16
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, p := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			answers[i] = w.call(ctx, p)
		})
	}
	wg.Wait()
	var moves []evbill.PaymentMove
	for _, a := range answers {
		switch {
		case a.op == "":
			continue // not pending after all
		case a.op == opNoGateway:
			// A configuration error: keep the payment and say so, rather
			// than fail it for something the gateway never saw.
			w.log().Error("payment of an unconfigured gateway", "payment", a.p.ID, "gateway", a.p.Gateway)
			if err := w.Store.RetryPayment(ctx, a.p.TenantID, a.p.ID, a.p.Attempts+1, w.now().Add(MaxBackoff)); err != nil {
				return moved, err
			}
			continue
		case evbill.GatewayOutcome(a.err) == evbill.OutcomeUnknown:
			w.log().Warn("payment gateway call without an answer; retrying later", "payment", a.p.ID, "op", a.op, "attempt", a.p.Attempts+1, "err", a.err)
			if err := w.Store.RetryPayment(ctx, a.p.TenantID, a.p.ID, a.p.Attempts+1, w.now().Add(backoff(a.p.Attempts+1))); err != nil {
				return moved, err
			}
			continue
		}
		if w.AfterCall != nil {
			// As a crash would: nothing of the round is recorded.
			if err := w.AfterCall(a.op, a.p); err != nil {
				return moved, fmt.Errorf("%w: %v", errStopped, err)
			}
		}
		ms, err := w.record(ctx, a.p, a.op, a.res, a.err)
		if err != nil {
			return moved, err
		}
		moves = append(moves, ms...)
	}
	if err := w.lowBalances(ctx, moves); err != nil {
		return moved, err
	}
	n, err := w.apply(ctx, moves)
	return moved + n, err
}

// lowBalances adds wallet.low_balance to each wallet debit of the round
// that leaves the driver's wallet below the tenant's minimum, reckoning
// the round's debits of one wallet in order, so the event goes with the
// debit that crossed the line, in its transaction.
func (w *Worker) lowBalances(ctx context.Context, moves []evbill.PaymentMove) error {
	ledgers, ok := w.Store.(evbill.LedgerStore)
	if !ok || w.WalletMinimum <= 0 {
		return nil
	}
	tenants, _ := w.Store.(interface {
		Tenant(ctx context.Context, id string) (evbill.Tenant, error)
	})
	balances := map[string]int64{} // by tenant, driver and currency, as the round leaves them
	minimums := map[string]int64{} // by tenant, read once a round
	for i := range moves {
		p := moves[i].Payment
		if p.State != evbill.PaymentCaptured || p.Gateway != Wallet || p.Purpose != evbill.PurposeSession {
			continue
		}
		key := p.TenantID + "/" + p.DriverID + "/" + p.Currency
		before, seen := balances[key]
		if !seen {
			a, err := ledgers.LedgerAccount(ctx, p.TenantID, ledger.DriverWallet(p.DriverID), p.Currency)
			switch {
			case evbill.ErrorCode(err) == evbill.ENOTFOUND:
			case err != nil:
				return err
			default:
				before = -a.Balance // a liability: credits are what the wallet holds
			}
		}
		after := before - p.Captured
		balances[key] = after
		minimum, seen := minimums[p.TenantID]
		if !seen {
			minimum = w.WalletMinimum
			if tenants != nil {
				t, err := tenants.Tenant(ctx, p.TenantID)
				if err != nil {
					return err
				}
				if t.Payments.WalletMinimum > 0 {
					minimum = t.Payments.WalletMinimum
				}
			}
			minimums[p.TenantID] = minimum
		}
		if before >= minimum && after < minimum {
			moves[i].Events = append(moves[i].Events, evbill.WalletLowBalanceEvent(*p, after, minimum, w.now()))
		}
	}
	return nil
}

// opNoGateway marks the answer of a payment whose gateway is not
// configured: no call was made.
const opNoGateway = "no gateway"

// call makes p's pending gateway call.
func (w *Worker) call(ctx context.Context, p evbill.Payment) answer {
	a := answer{p: p}
	gw := w.gateway(p.Gateway)
	if gw == nil {
		a.op = opNoGateway
		return a
	}
	switch p.State {
	case evbill.PaymentHoldPending:
		a.op = OpHold
		a.res, a.err = gw.Hold(ctx, evbill.HoldRequest{IdempotencyKey: IdempotencyKey(a.op, p.ID), Amount: p.HoldAmount,
			Currency: p.Currency, PaymentMethod: p.PaymentMethod, Customer: p.Customer,
			Description: "EV charging", Metadata: map[string]string{"payment_id": p.ID, "session_id": p.SessionID}})
	case evbill.PaymentCapturePending:
		a.op = OpCapture
		a.res, a.err = gw.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: IdempotencyKey(a.op, p.ID), Reference: p.Reference,
			Amount: p.CaptureAmount, Currency: p.Currency})
	case evbill.PaymentReleasePending:
		a.op = OpRelease
		a.res, a.err = gw.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: IdempotencyKey(a.op, p.ID), Reference: p.Reference})
	}
	return a
}

// record turns the answer of op on p into the moves to store: the next
// state, for a capture with its ledger entry, and for a held top-up its
// capture too. No moves means the answer is kept as a retry.
func (w *Worker) record(ctx context.Context, p evbill.Payment, op string, res evbill.GatewayPayment, callErr error) ([]evbill.PaymentMove, error) {
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
			return nil, fmt.Errorf("payment %s: %w", p.ID, err)
		}
		e, err := captureEntry(p, ch)
		if err != nil {
			return nil, fmt.Errorf("payment %s: %w", p.ID, err)
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
			return nil, w.Store.RetryPayment(ctx, p.TenantID, p.ID, attempts+1, w.now().Add(MaxBackoff))
		}
		p.State = evbill.PaymentReleased
	}
	moves := []evbill.PaymentMove{{Payment: &p, From: from, Reason: reason, Entry: entry}}
	if p.State == evbill.PaymentHeld && p.Purpose == evbill.PurposeTopUp {
		// A top-up has no CDR to wait for: all that is held is captured,
		// chained in the same transaction.
		next := p
		next.State, next.CaptureAmount, next.CaptureNet = evbill.PaymentCapturePending, p.HoldAmount, p.HoldAmount
		moves = append(moves, evbill.PaymentMove{Payment: &next, From: evbill.PaymentHeld, Reason: "top-up"})
	}
	return moves, nil
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
