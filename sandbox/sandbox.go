package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
)

// GatewayName is what Name returns, and so what evbill records as the
// gateway of every sandbox payment: the label that keeps test payments
// apart from real ones in the database.
const GatewayName = "sandbox"

// ReferencePrefix starts every reference the sandbox makes, so a test
// payment, refund or event is recognisable wherever its reference alone
// travels (a receipt, a log line, a support ticket).
const ReferencePrefix = "sbx_test_"

// DefaultHoldTTL is the HoldTTL of a Config that sets none: seven days, the
// usual life of a card authorization, so a demo meets expiry only when it
// moves its clock.
const DefaultHoldTTL = 7 * 24 * time.Hour

// maxCalls bounds the call log so a demo server that runs for weeks does
// not keep every call it ever answered.
const maxCalls = 10000

// Config configures a sandbox. The zero Config is usable: seven-day holds,
// the wall clock, a random webhook secret, no state file, no latency.
type Config struct {
	// HoldTTL is how long a hold lasts before it lapses; DefaultHoldTTL
	// when zero.
	HoldTTL time.Duration
	// Now is the sandbox's clock, for hold expiry and for signing events;
	// time.Now when nil. Tests pass a fake clock to expire holds without
	// waiting.
	Now func() time.Time
	// WebhookSecret signs the events the sandbox emits. When empty, New
	// picks a random one: events still verify within the process, and no
	// one can forge them from outside.
	WebhookSecret string
	// StatePath, when set, is a file the state is loaded from at New and
	// saved to after every change, so a restarted demo keeps its holds.
	StatePath string
	// Latency delays every Hold, Capture, Release and Refund by this much
	// real time before the sandbox acts, to show how callers behave when a
	// processor is slow.
	Latency time.Duration
}

// Operations, as Call.Op names them and as idempotency keys are scoped.
const (
	// OpHold is a Hold call.
	OpHold = "hold"
	// OpCapture is a Capture call.
	OpCapture = "capture"
	// OpRelease is a Release call.
	OpRelease = "release"
	// OpRefund is a Refund call.
	OpRefund = "refund"
)

// Call is one money-moving call as the sandbox answered it, kept so tests
// can assert how a caller behaved (retried with the same key, never
// captured twice), not only where the money ended.
type Call struct {
	Op             string // OpHold, OpCapture, OpRelease or OpRefund
	IdempotencyKey string
	Reference      string // the payment; for a Hold, the one placed, if any
	Amount         int64  // as requested; 0 for a Release
	Outcome        string // "" for success, else the evbill.GatewayError's Outcome
	Code           string // the evbill.GatewayError's Code, if any
	Replayed       bool   // answered from the idempotency record, without acting
}

// Stats is what happened to one payment, for tests that assert on effects
// a GatewayPayment does not show, such as how many captures took place.
type Stats struct {
	Captures int                    // successful captures that took effect; never more than 1
	Releases int                    // successful releases that took effect; never more than 1
	Expired  bool                   // the hold lapsed before it was captured or released
	Refunds  []evbill.GatewayRefund // in the order they were made
	Refunded int64                  // the sum of Refunds
	// Dispute is "" (none), "open", evbill.GatewayDisputeWon or evbill.GatewayDisputeLost.
	Dispute  string
	Disputed int64 // the amount the dispute is about
}

// Dispute states beyond evbill's closed outcomes.
const disputeOpen = "open"

// Gateway is the test-mode card processor. It is safe for concurrent use;
// create it with New.
type Gateway struct {
	now     func() time.Time
	ttl     time.Duration
	secret  []byte
	path    string
	latency time.Duration

	mu    sync.Mutex
	st    state
	dirty bool // the state changed since the last successful save
	calls []Call
}

var _ evbill.Gateway = (*Gateway)(nil)

// New returns a sandbox configured by cfg, with the state of cfg.StatePath
// when that file exists. It fails on a negative duration or a state file
// it cannot read, rather than start empty and forget holds.
func New(cfg Config) (*Gateway, error) {
	if cfg.HoldTTL < 0 || cfg.Latency < 0 {
		return nil, fmt.Errorf("sandbox (test mode): HoldTTL %v and Latency %v must not be negative", cfg.HoldTTL, cfg.Latency)
	}
	g := &Gateway{
		now:     cfg.Now,
		ttl:     cfg.HoldTTL,
		secret:  []byte(cfg.WebhookSecret),
		path:    cfg.StatePath,
		latency: cfg.Latency,
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.ttl == 0 {
		g.ttl = DefaultHoldTTL
	}
	if len(g.secret) == 0 {
		g.secret = make([]byte, 32)
		if _, err := rand.Read(g.secret); err != nil {
			return nil, err
		}
	}
	st, err := load(g.path)
	if err != nil {
		return nil, err
	}
	g.st = st
	return g, nil
}

// Name returns "sandbox", which marks every payment evbill records through
// this gateway as a test payment.
func (g *Gateway) Name() string { return GatewayName }

// Hold places a hold on a test card; see the package documentation for
// what each card does.
func (g *Gateway) Hold(ctx context.Context, r evbill.HoldRequest) (evbill.GatewayPayment, error) {
	call := Call{Op: OpHold, IdempotencyKey: r.IdempotencyKey, Amount: r.Amount}
	// The fingerprint, kept in the state file, sees the card a method
	// names and never the method itself: a real number typed by mistake
	// must not be stored, not even hashed, since a card number's hash is
	// easily reversed. So "card_ok" and "4242 4242 4242 4242" are the same
	// request.
	fp := r
	fp.PaymentMethod, _ = parseCard(r.PaymentMethod)
	rec, err := g.run(ctx, &call, fp, func(now time.Time) *record {
		if r.Amount <= 0 {
			return failure(rejectf(CodeInvalidAmount, "a hold of %d: the amount must be above zero", r.Amount))
		}
		if _, err := money.ParseCurrency(r.Currency); err != nil {
			return failure(rejectf(CodeInvalidCurrency, "%v", err))
		}
		card, err := parseCard(r.PaymentMethod)
		if err != nil {
			return failure(err)
		}
		switch card {
		case CardDeclined:
			return failure(declinef(CodeCardDeclined, "the test card ending in %s is always declined", card[12:]))
		case CardInsufficientFunds:
			return failure(declinef(CodeInsufficientFunds, "the test card ending in %s always has insufficient funds", card[12:]))
		}
		p := &payment{
			Reference: newRef("pay"),
			Card:      card,
			Status:    evbill.GatewayHeld,
			Amount:    r.Amount,
			Currency:  r.Currency,
			ExpiresAt: now.Add(g.ttl),
		}
		g.st.Payments[p.Reference] = p
		return &record{Payment: p.result(), LostAnswer: card == CardTimeout}
	})
	if err != nil {
		return evbill.GatewayPayment{}, err
	}
	return rec.Payment.gateway(), nil
}

// Capture takes an amount of a hold, once: a second capture under
// another key is rejected, so a caller that lost track of its key is
// caught instead of charging twice. A partial capture releases the rest.
func (g *Gateway) Capture(ctx context.Context, r evbill.CaptureRequest) (evbill.GatewayPayment, error) {
	call := Call{Op: OpCapture, IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Amount: r.Amount}
	rec, err := g.run(ctx, &call, r, func(now time.Time) *record {
		if r.Amount <= 0 {
			return failure(rejectf(CodeInvalidAmount, "a capture of %d: the amount must be above zero; release the hold to take nothing", r.Amount))
		}
		p, err := g.find(r.Reference)
		if err != nil {
			return failure(err)
		}
		p.lapse(now)
		switch {
		case p.Status == evbill.GatewayCaptured:
			return failure(rejectf(CodeAlreadyCaptured, "payment %s was already captured (%d %s); a hold is captured once", p.Reference, p.Captured, p.Currency))
		case p.Expired:
			return failure(declinef(CodeHoldExpired, "the hold %s lapsed at %s and was released", p.Reference, p.ExpiresAt.UTC().Format(time.RFC3339)))
		case p.Status == evbill.GatewayReleased:
			return failure(rejectf(CodeAlreadyReleased, "the hold %s was released", p.Reference))
		case r.Currency != p.Currency:
			return failure(rejectf(CodeCurrencyMismatch, "a capture in %q of a hold in %s", r.Currency, p.Currency))
		case r.Amount > p.Amount:
			return failure(rejectf(CodeAmountTooLarge, "a capture of %d %s is more than the %d held", r.Amount, r.Currency, p.Amount))
		case p.Card == CardCaptureFails:
			return failure(declinef(CodeCaptureFailed, "captures of the test card ending in %s always fail; the hold %s stays in place", p.Card[12:], p.Reference))
		}
		p.Status = evbill.GatewayCaptured
		p.Captured = r.Amount
		p.Captures++
		return &record{Payment: p.result()}
	})
	if err != nil {
		return evbill.GatewayPayment{}, err
	}
	return rec.Payment.gateway(), nil
}

// Release cancels a hold that was not captured. Releasing a lapsed hold
// is declined with CodeHoldExpired, as processors do, so callers learn to
// treat an expired hold as released already.
func (g *Gateway) Release(ctx context.Context, r evbill.ReleaseRequest) (evbill.GatewayPayment, error) {
	call := Call{Op: OpRelease, IdempotencyKey: r.IdempotencyKey, Reference: r.Reference}
	rec, err := g.run(ctx, &call, r, func(now time.Time) *record {
		p, err := g.find(r.Reference)
		if err != nil {
			return failure(err)
		}
		p.lapse(now)
		switch {
		case p.Status == evbill.GatewayCaptured:
			return failure(rejectf(CodeAlreadyCaptured, "payment %s was captured and cannot be released; refund it instead", p.Reference))
		case p.Expired:
			return failure(declinef(CodeHoldExpired, "the hold %s lapsed at %s and was released", p.Reference, p.ExpiresAt.UTC().Format(time.RFC3339)))
		case p.Status == evbill.GatewayReleased:
			return failure(rejectf(CodeAlreadyReleased, "the hold %s was already released", p.Reference))
		}
		p.Status = evbill.GatewayReleased
		p.Releases++
		return &record{Payment: p.result()}
	})
	if err != nil {
		return evbill.GatewayPayment{}, err
	}
	return rec.Payment.gateway(), nil
}

// Refund returns part or all of a captured amount, in as many refunds as
// wanted; they add up to at most the captured amount, so a refund retried
// under a new key cannot return more than was taken.
func (g *Gateway) Refund(ctx context.Context, r evbill.RefundRequest) (evbill.GatewayRefund, error) {
	call := Call{Op: OpRefund, IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Amount: r.Amount}
	rec, err := g.run(ctx, &call, r, func(now time.Time) *record {
		if r.Amount <= 0 {
			return failure(rejectf(CodeInvalidAmount, "a refund of %d: the amount must be above zero", r.Amount))
		}
		p, err := g.find(r.Reference)
		if err != nil {
			return failure(err)
		}
		p.lapse(now)
		switch {
		case p.Status != evbill.GatewayCaptured:
			return failure(rejectf(CodeNotCaptured, "payment %s is %s, not captured; only captured money can be refunded", p.Reference, p.Status))
		case r.Currency != p.Currency:
			return failure(rejectf(CodeCurrencyMismatch, "a refund in %q of a payment in %s", r.Currency, p.Currency))
		case p.Dispute != nil && p.Dispute.Status != evbill.GatewayDisputeWon:
			return failure(rejectf(CodeChargeDisputed, "payment %s has a dispute %s; its money went back through the dispute", p.Reference, p.Dispute.Status))
		case r.Amount > p.Captured-p.Refunded:
			return failure(rejectf(CodeAmountTooLarge, "a refund of %d %s is more than the %d left of the %d captured", r.Amount, r.Currency, p.Captured-p.Refunded, p.Captured))
		}
		rf := refund{Reference: newRef("re"), Amount: r.Amount, Reason: r.Reason}
		p.Refunds = append(p.Refunds, rf)
		p.Refunded += r.Amount
		return &record{Refund: &refundResult{Reference: rf.Reference, Payment: p.Reference, Amount: rf.Amount, Currency: p.Currency}}
	})
	if err != nil {
		return evbill.GatewayRefund{}, err
	}
	return rec.Refund.gateway(), nil
}

// Payment returns the payment named by ref as it stands now (a lapsed
// hold shows as released), and whether the sandbox knows it. Unlike a
// replayed call it reads the current state, so tests see the effect of
// everything that happened since.
func (g *Gateway) Payment(ref string) (evbill.GatewayPayment, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.st.Payments[ref]
	if !ok {
		return evbill.GatewayPayment{}, false
	}
	c := *p
	c.lapse(g.now())
	return c.result().gateway(), true
}

// Stats returns what happened to the payment named by ref, and whether
// the sandbox knows it.
func (g *Gateway) Stats(ref string) (Stats, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.st.Payments[ref]
	if !ok {
		return Stats{}, false
	}
	c := *p
	c.lapse(g.now())
	s := Stats{Captures: c.Captures, Releases: c.Releases, Expired: c.Expired, Refunded: c.Refunded}
	for _, rf := range c.Refunds {
		s.Refunds = append(s.Refunds, evbill.GatewayRefund{Reference: rf.Reference, Payment: c.Reference, Amount: rf.Amount, Currency: c.Currency})
	}
	if c.Dispute != nil {
		s.Dispute, s.Disputed = c.Dispute.Status, c.Dispute.Amount
	}
	return s, true
}

// Calls returns the money-moving calls answered since New, oldest first,
// the last 10 000 at most. It is not persisted: it describes this
// process's callers, which a restart replaces.
func (g *Gateway) Calls() []Call {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(len(g.calls), maxCalls)
	return append([]Call(nil), g.calls[len(g.calls)-n:]...)
}

// run is the frame of every money-moving call: the simulated network,
// the idempotency record, the state file and the call log. act runs under
// the lock and only when the key is new; whatever it returns, failures
// included, is what the key answers from then on. A nil error means the
// record holds a result.
func (g *Gateway) run(ctx context.Context, call *Call, req any, act func(now time.Time) *record) (rec *record, err error) {
	if err := g.wait(ctx); err != nil {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.log(call, err)
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	defer func() { g.log(call, err) }()
	if call.IdempotencyKey == "" {
		return nil, rejectf(CodeMissingIdempotencyKey, "a %s needs an idempotency key, so a retry cannot move money twice", call.Op)
	}
	fp := fingerprint(req)
	id := call.Op + ":" + call.IdempotencyKey
	if rec, ok := g.st.Keys[id]; ok {
		if rec.Fingerprint != fp {
			return nil, rejectf(CodeIdempotencyKeyReused, "the %s idempotency key %q was used before with a different request", call.Op, call.IdempotencyKey)
		}
		// A replay gives the real outcome, also when the first answer was
		// lost (the timeout card): that answer was never an outcome.
		call.Replayed = true
		if g.dirty {
			// Not before it is on disk, where a restart would find it.
			if err := g.save(); err != nil {
				return nil, notSaved(err)
			}
		}
		call.Reference = rec.reference(call.Reference)
		return rec, rec.err()
	}
	rec = act(g.now())
	rec.Fingerprint = fp
	g.st.Keys[id] = rec
	g.dirty = true
	call.Reference = rec.reference(call.Reference)
	if err := g.save(); err != nil {
		return nil, notSaved(err)
	}
	if rec.LostAnswer {
		return nil, &evbill.GatewayError{Outcome: evbill.OutcomeUnknown, Code: CodeTimeout,
			Message: "sandbox (test mode): simulated timeout: the hold was placed but the answer was lost; retry with the same idempotency key"}
	}
	return rec, rec.err()
}

// wait simulates the network before the sandbox acts, so a canceled call
// has certainly done nothing, which the error cannot say: a real caller
// never knows.
func (g *Gateway) wait(ctx context.Context) error {
	if g.latency > 0 {
		t := time.NewTimer(g.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return &evbill.GatewayError{Outcome: evbill.OutcomeUnknown, Code: CodeCanceled,
			Message: "sandbox (test mode): the call ended before an answer came: " + err.Error(), Err: err}
	}
	return nil
}

func (g *Gateway) log(call *Call, err error) {
	var ge *evbill.GatewayError
	if errors.As(err, &ge) {
		call.Outcome, call.Code = ge.Outcome, ge.Code
	} else if err != nil {
		call.Outcome = evbill.OutcomeUnknown
	}
	if len(g.calls) >= 2*maxCalls {
		g.calls = append([]Call(nil), g.calls[len(g.calls)-maxCalls:]...)
	}
	g.calls = append(g.calls, *call)
}

func (g *Gateway) find(ref string) (*payment, error) {
	p, ok := g.st.Payments[ref]
	if !ok {
		return nil, rejectf(CodeNoSuchPayment, "no payment %q", ref)
	}
	return p, nil
}

// fingerprint identifies a request apart from its idempotency key, so a
// key reused for a different request is caught. encoding/json sorts map
// keys, so equal requests give equal fingerprints.
func fingerprint(req any) string {
	b, err := json.Marshal(req)
	if err != nil {
		panic(err) // the request types are plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newRef(kind string) string { return evbill.NewID(ReferencePrefix + kind) }

func rejectf(code, format string, args ...any) *evbill.GatewayError {
	return &evbill.GatewayError{Outcome: evbill.OutcomeRejected, Code: code, Message: "sandbox (test mode): " + fmt.Sprintf(format, args...)}
}

func declinef(code, format string, args ...any) *evbill.GatewayError {
	return &evbill.GatewayError{Outcome: evbill.OutcomeDeclined, Code: code, Message: "sandbox (test mode): " + fmt.Sprintf(format, args...)}
}

func notSaved(err error) *evbill.GatewayError {
	return &evbill.GatewayError{Outcome: evbill.OutcomeUnknown, Code: CodeStateNotSaved,
		Message: "sandbox (test mode): the call took effect but the state file was not saved; retry with the same idempotency key: " + err.Error(), Err: err}
}
