package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/internal/timedhmac"
)

// SignatureHeader carries the signature of a sandbox notification; its
// value is "t=<unix seconds>,v1=<hex HMAC-SHA256>", as Stripe's is, so a
// webhook handler written for one reads the other.
const SignatureHeader = "Sandbox-Signature"

// SignatureTolerance is how far from now a notification's signing time may
// be, either way, before ParseWebhook refuses it as a replay: long enough
// for retries and clock skew, short enough that a captured notification is
// soon useless.
const SignatureTolerance = 300 * time.Second

// Notification is an event the sandbox emits, with the header and body to
// deliver to a webhook endpoint as they are, so tests and the demo can
// post it and expect ParseWebhook to accept it.
type Notification struct {
	Event  evbill.GatewayEvent
	Header http.Header
	Body   []byte
}

// wireEvent is the JSON of a sandbox notification. test_mode is always
// true: a person reading a logged body sees that no real money moved.
type wireEvent struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	TestMode      bool      `json:"test_mode"`
	Reference     string    `json:"reference"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	DisputeStatus string    `json:"dispute_status,omitempty"`
	Dispute       string    `json:"dispute,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// SignedEvent encodes ev as the sandbox would send it and signs it as of
// the sandbox's clock, so tests and the demo can deliver any notification,
// including ones the sandbox would never send on its own. An empty ID gets
// a fresh "sbx_test_evt_" one and a zero CreatedAt the clock's time; Raw
// is ignored.
func (g *Gateway) SignedEvent(ev evbill.GatewayEvent) (header http.Header, body []byte) {
	n := g.notification(ev, g.now())
	return n.Header, n.Body
}

func (g *Gateway) notification(ev evbill.GatewayEvent, now time.Time) Notification {
	if ev.ID == "" {
		ev.ID = newRef("evt")
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
	body, err := json.Marshal(wireEvent{ID: ev.ID, Type: ev.Type, TestMode: true, Reference: ev.Reference,
		Amount: ev.Amount, Currency: ev.Currency, DisputeStatus: ev.DisputeStatus, Dispute: ev.Dispute, CreatedAt: ev.CreatedAt})
	if err != nil {
		panic(err) // only a time beyond year 9999 fails, which no clock gives
	}
	h := http.Header{}
	h.Set(SignatureHeader, timedhmac.Sign(g.secret, now, body))
	ev.Raw = body
	return Notification{Event: ev, Header: h, Body: body}
}

// ParseWebhook verifies a notification's signature and time as of now and
// returns its event, with Raw the body as received. An event type evbill
// does not know comes back as evbill.GatewayEventIgnored, so a newer
// sandbox does not break an older handler.
func (g *Gateway) ParseWebhook(header http.Header, body []byte, now time.Time) (evbill.GatewayEvent, error) {
	if err := g.verify(header.Get(SignatureHeader), body, now); err != nil {
		return evbill.GatewayEvent{}, err
	}
	var w wireEvent
	if err := json.Unmarshal(body, &w); err != nil {
		e := rejectf(CodeInvalidEvent, "the webhook body is not a sandbox event: %v", err)
		e.Err = err
		return evbill.GatewayEvent{}, e
	}
	ev := evbill.GatewayEvent{ID: w.ID, Type: w.Type, Reference: w.Reference, Amount: w.Amount,
		Currency: w.Currency, DisputeStatus: w.DisputeStatus, Dispute: w.Dispute, CreatedAt: w.CreatedAt, Raw: bytes.Clone(body)}
	switch {
	case ev.ID == "":
		return evbill.GatewayEvent{}, rejectf(CodeInvalidEvent, "the webhook event has no id, so a repeated delivery could not be recognised")
	case !known(ev.Type):
		ev.Type = evbill.GatewayEventIgnored
		return ev, nil
	case ev.Reference == "":
		return evbill.GatewayEvent{}, rejectf(CodeInvalidEvent, "the %s event %s names no payment", ev.Type, ev.ID)
	case ev.Amount < 0:
		return evbill.GatewayEvent{}, rejectf(CodeInvalidEvent, "the %s event %s has a negative amount", ev.Type, ev.ID)
	case ev.Type == evbill.GatewayEventDisputeClosed && ev.DisputeStatus != evbill.GatewayDisputeWon && ev.DisputeStatus != evbill.GatewayDisputeLost:
		return evbill.GatewayEvent{}, rejectf(CodeInvalidEvent, "the dispute.closed event %s says neither won nor lost", ev.ID)
	}
	if ev.Dispute == "" && (ev.Type == evbill.GatewayEventDisputeOpened || ev.Type == evbill.GatewayEventDisputeClosed) {
		// A body made without one (SignedEvent, an older sandbox) is
		// still about the payment's one dispute.
		ev.Dispute = DisputeID(ev.Reference)
	}
	return ev, nil
}

// DisputeID is the ID of the dispute of the sandbox payment ref. The
// sandbox disputes a payment at most once, so the ID follows from the
// payment's and needs no state of its own: a state file written before
// disputes had IDs gives the same ones.
func DisputeID(ref string) string {
	return ReferencePrefix + "dp_" + strings.TrimPrefix(ref, ReferencePrefix)
}

func known(typ string) bool {
	switch typ {
	case evbill.GatewayEventHoldExpired, evbill.GatewayEventCaptured, evbill.GatewayEventReleased,
		evbill.GatewayEventRefunded, evbill.GatewayEventPaymentFailed,
		evbill.GatewayEventDisputeOpened, evbill.GatewayEventDisputeClosed:
		return true
	}
	return false
}

// verify checks the header (see package timedhmac) and words a refusal
// with the sandbox's codes.
func (g *Gateway) verify(value string, body []byte, now time.Time) error {
	err := timedhmac.Verify(value, body, g.secret, now, SignatureTolerance)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, timedhmac.ErrMissing):
		return rejectf(CodeBadSignature, "the webhook has no %s header", SignatureHeader)
	case errors.Is(err, timedhmac.ErrMalformed):
		return rejectf(CodeBadSignature, "the %s header: %v", SignatureHeader, err)
	case errors.Is(err, timedhmac.ErrMismatch):
		return rejectf(CodeBadSignature, "the webhook signature does not match its body: a wrong webhook secret, or a body altered on the way")
	}
	return rejectf(CodeStaleSignature, "the webhook: %v: a replayed or delayed notification", err)
}

// Dispute opens a chargeback of amount on the captured payment ref and
// returns the dispute.opened notification a processor would send, so the
// demo and tests can drive evbill's dispute handling. Refunds of the
// payment are refused while the dispute is open and after it is lost: the
// money already went back to the payer.
func (g *Gateway) Dispute(ref string, amount int64) (Notification, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, err := g.find(ref)
	if err != nil {
		return Notification{}, err
	}
	now := g.now()
	p.lapse(now)
	switch {
	case p.Status != evbill.GatewayCaptured:
		return Notification{}, rejectf(CodeNotCaptured, "payment %s is %s; only a captured payment can be disputed", ref, p.Status)
	case p.Dispute != nil:
		return Notification{}, rejectf(CodeAlreadyDisputed, "payment %s was disputed before (%s); a payment is disputed once", ref, p.Dispute.Status)
	case amount <= 0:
		return Notification{}, rejectf(CodeInvalidAmount, "a dispute of %d: the amount must be above zero", amount)
	case amount > p.Captured-p.Refunded:
		return Notification{}, rejectf(CodeAmountTooLarge, "a dispute of %d %s is more than the %d captured and not refunded", amount, p.Currency, p.Captured-p.Refunded)
	}
	p.Dispute = &dispute{Amount: amount, Status: disputeOpen}
	if err := g.commit(); err != nil {
		p.Dispute = nil
		return Notification{}, err
	}
	return g.notification(evbill.GatewayEvent{Type: evbill.GatewayEventDisputeOpened, Reference: ref, Amount: amount,
		Currency: p.Currency, Dispute: DisputeID(ref)}, now), nil
}

// CloseDispute settles the open dispute of ref as evbill.GatewayDisputeWon
// (the money returns to the operator) or evbill.GatewayDisputeLost, and
// returns the dispute.closed notification.
func (g *Gateway) CloseDispute(ref, status string) (Notification, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if status != evbill.GatewayDisputeWon && status != evbill.GatewayDisputeLost {
		return Notification{}, rejectf(CodeInvalidDisputeStatus, "a dispute closes as %q or %q, not %q", evbill.GatewayDisputeWon, evbill.GatewayDisputeLost, status)
	}
	p, err := g.find(ref)
	if err != nil {
		return Notification{}, err
	}
	if p.Dispute == nil || p.Dispute.Status != disputeOpen {
		return Notification{}, rejectf(CodeNoDispute, "payment %s has no open dispute", ref)
	}
	p.Dispute.Status = status
	if err := g.commit(); err != nil {
		p.Dispute.Status = disputeOpen
		return Notification{}, err
	}
	now := g.now()
	return g.notification(evbill.GatewayEvent{Type: evbill.GatewayEventDisputeClosed, Reference: ref,
		Amount: p.Dispute.Amount, Currency: p.Currency, DisputeStatus: status, Dispute: DisputeID(ref)}, now), nil
}

// ExpireHolds releases every hold that lapsed by the sandbox's clock and
// returns one hold.expired notification for each lapsed hold not notified
// before (including holds found lapsed by a Capture or Release), oldest
// first: what a processor would send, for the demo's scheduler or a test to
// deliver.
func (g *Gateway) ExpireHolds() ([]Notification, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var due []*payment
	for _, p := range g.st.Payments {
		p.lapse(now)
		if p.Expired && !p.ExpiryNotified {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	slices.SortFunc(due, func(a, b *payment) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Reference, b.Reference)
	})
	for _, p := range due {
		p.ExpiryNotified = true
	}
	if err := g.commit(); err != nil {
		for _, p := range due {
			p.ExpiryNotified = false
		}
		return nil, err
	}
	out := make([]Notification, 0, len(due))
	for _, p := range due {
		out = append(out, g.notification(evbill.GatewayEvent{Type: evbill.GatewayEventHoldExpired,
			Reference: p.Reference, Amount: p.Amount, Currency: p.Currency, CreatedAt: p.ExpiresAt}, now))
	}
	return out, nil
}

// commit saves a change made outside a money-moving call; the caller
// undoes its change when the save fails, since these calls have no
// idempotency record to answer a retry from, and then nothing happened.
func (g *Gateway) commit() error {
	g.dirty = true
	if err := g.save(); err != nil {
		return fmt.Errorf("sandbox (test mode): the state file was not saved, so nothing changed: %w", err)
	}
	return nil
}
