package sandbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sandbox"
	"pgregory.net/rapid"
)

const secret = "whsec_sandbox_test"

// clock is a fake sandbox clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tb is what the helpers need of *testing.T and *rapid.T alike.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newGateway(t tb, cfg sandbox.Config) (*sandbox.Gateway, *clock) {
	t.Helper()
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = secret
	}
	g, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

var ctx = context.Background()

func hold(g *sandbox.Gateway, key, card string, amount int64) (evbill.GatewayPayment, error) {
	return g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: key, Amount: amount, Currency: "EUR", PaymentMethod: card})
}

func mustHold(t tb, g *sandbox.Gateway, key, card string, amount int64) evbill.GatewayPayment {
	t.Helper()
	p, err := hold(g, key, card, amount)
	if err != nil {
		t.Fatalf("Hold(%s): %v", card, err)
	}
	return p
}

func capture(g *sandbox.Gateway, key, ref string, amount int64) (evbill.GatewayPayment, error) {
	return g.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: key, Reference: ref, Amount: amount, Currency: "EUR"})
}

func release(g *sandbox.Gateway, key, ref string) (evbill.GatewayPayment, error) {
	return g.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: key, Reference: ref})
}

func refund(g *sandbox.Gateway, key, ref string, amount int64) (evbill.GatewayRefund, error) {
	return g.Refund(ctx, evbill.RefundRequest{IdempotencyKey: key, Reference: ref, Amount: amount, Currency: "EUR"})
}

// wantErr fails unless err is a sandbox *GatewayError with outcome and
// code, labelled as test mode.
func wantErr(t tb, err error, outcome, code string) {
	t.Helper()
	var ge *evbill.GatewayError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want a *GatewayError %s (%s)", err, outcome, code)
	}
	if ge.Outcome != outcome || ge.Code != code {
		t.Fatalf("err = %v, want %s (%s)", err, outcome, code)
	}
	if !strings.Contains(ge.Message, "sandbox (test mode)") {
		t.Fatalf("message %q does not say sandbox (test mode)", ge.Message)
	}
}

func wantStatus(t tb, g *sandbox.Gateway, ref, status string, captured int64) {
	t.Helper()
	p, ok := g.Payment(ref)
	if !ok {
		t.Fatalf("Payment(%s) not found", ref)
	}
	if p.Status != status || p.CapturedAmount != captured {
		t.Fatalf("Payment(%s) = %s captured %d, want %s captured %d", ref, p.Status, p.CapturedAmount, status, captured)
	}
}

func TestName(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	if g.Name() != "sandbox" {
		t.Fatalf("Name() = %q", g.Name())
	}
}

func TestNewDefaults(t *testing.T) {
	g, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	p := mustHold(t, g, "h", sandbox.CardSucceeds, 100)
	if d := p.ExpiresAt.Sub(before); d < sandbox.DefaultHoldTTL || d > sandbox.DefaultHoldTTL+time.Minute {
		t.Fatalf("ExpiresAt %v after now, want about %v", d, sandbox.DefaultHoldTTL)
	}
	// A random secret still verifies the sandbox's own events.
	h, body := g.SignedEvent(evbill.GatewayEvent{Type: evbill.GatewayEventCaptured, Reference: p.Reference})
	if _, err := g.ParseWebhook(h, body, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []sandbox.Config{{HoldTTL: -time.Second}, {Latency: -time.Second}} {
		if _, err := sandbox.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a negative duration", cfg)
		}
	}
}

func TestCards(t *testing.T) {
	type want struct{ outcome, code string }
	ok := want{}
	tests := []struct {
		name    string
		method  string
		hold    want
		capture want
	}{
		{"succeeds", "4242 4242 4242 4242", ok, ok},
		{"succeeds without spaces", sandbox.CardSucceeds, ok, ok},
		{"succeeds alias", sandbox.AliasSucceeds, ok, ok},
		{"declined", "4000 0000 0000 0002", want{evbill.OutcomeDeclined, sandbox.CodeCardDeclined}, ok},
		{"declined alias", sandbox.AliasDeclined, want{evbill.OutcomeDeclined, sandbox.CodeCardDeclined}, ok},
		{"insufficient funds", "4000 0000 0000 9995", want{evbill.OutcomeDeclined, sandbox.CodeInsufficientFunds}, ok},
		{"insufficient funds alias", sandbox.AliasInsufficientFunds, want{evbill.OutcomeDeclined, sandbox.CodeInsufficientFunds}, ok},
		{"timeout", "4000 0000 0000 0119", want{evbill.OutcomeUnknown, sandbox.CodeTimeout}, ok},
		{"timeout alias", sandbox.AliasTimeout, want{evbill.OutcomeUnknown, sandbox.CodeTimeout}, ok},
		{"capture fails", "4000 0000 0000 0341", ok, want{evbill.OutcomeDeclined, sandbox.CodeCaptureFailed}},
		{"capture fails alias", sandbox.AliasCaptureFails, ok, want{evbill.OutcomeDeclined, sandbox.CodeCaptureFailed}},
		{"real card", "5555 5555 5555 4444", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"Luhn failure", "4242 4242 4242 4241", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"11 digits", "42424242426", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"20 digits", "42424242424242424242", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"dashes", "4242-4242-4242-4242", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"another gateway's token", "pm_card_visa", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
		{"empty", "", want{evbill.OutcomeRejected, sandbox.CodeInvalidNumber}, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newGateway(t, sandbox.Config{})
			p, err := hold(g, "h1", tt.method, 2500)
			if tt.hold != ok {
				wantErr(t, err, tt.hold.outcome, tt.hold.code)
				if digits := strings.ReplaceAll(tt.method, " ", ""); len(digits) > 4 && strings.Trim(digits, "0123456789") == "" && strings.Contains(err.Error(), digits) {
					t.Errorf("the error repeats the card number: %v", err)
				}
				if tt.hold.outcome != evbill.OutcomeUnknown {
					return
				}
				// The timeout card's hold was placed: the retry finds it.
				if p, err = hold(g, "h1", tt.method, 2500); err != nil {
					t.Fatalf("retry of the timeout card: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if p.Status != evbill.GatewayHeld || p.Amount != 2500 || p.Currency != "EUR" || !strings.HasPrefix(p.Reference, "sbx_test_") {
				t.Fatalf("hold = %+v", p)
			}
			c, err := capture(g, "c1", p.Reference, 2000)
			if tt.capture != ok {
				wantErr(t, err, tt.capture.outcome, tt.capture.code)
				wantStatus(t, g, p.Reference, evbill.GatewayHeld, 0)
				if _, err := release(g, "r1", p.Reference); err != nil {
					t.Fatalf("release after a failed capture: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != evbill.GatewayCaptured || c.CapturedAmount != 2000 {
				t.Fatalf("capture = %+v", c)
			}
		})
	}
}

func TestHoldValidation(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	tests := []struct {
		name string
		r    evbill.HoldRequest
		code string
	}{
		{"zero", evbill.HoldRequest{IdempotencyKey: "a", Amount: 0, Currency: "EUR", PaymentMethod: sandbox.CardSucceeds}, sandbox.CodeInvalidAmount},
		{"negative", evbill.HoldRequest{IdempotencyKey: "b", Amount: -5, Currency: "EUR", PaymentMethod: sandbox.CardSucceeds}, sandbox.CodeInvalidAmount},
		{"lower case currency", evbill.HoldRequest{IdempotencyKey: "c", Amount: 5, Currency: "eur", PaymentMethod: sandbox.CardSucceeds}, sandbox.CodeInvalidCurrency},
		{"gold", evbill.HoldRequest{IdempotencyKey: "d", Amount: 5, Currency: "XAU", PaymentMethod: sandbox.CardSucceeds}, sandbox.CodeInvalidCurrency},
		{"no key", evbill.HoldRequest{Amount: 5, Currency: "EUR", PaymentMethod: sandbox.CardSucceeds}, sandbox.CodeMissingIdempotencyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.Hold(ctx, tt.r)
			wantErr(t, err, evbill.OutcomeRejected, tt.code)
		})
	}
}

func TestCapture(t *testing.T) {
	tests := []struct {
		name     string
		req      func(ref string) evbill.CaptureRequest
		outcome  string
		code     string
		status   string
		captured int64
	}{
		{"full", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 5000, Currency: "EUR"}
		}, "", "", evbill.GatewayCaptured, 5000},
		{"partial", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 1234, Currency: "EUR"}
		}, "", "", evbill.GatewayCaptured, 1234},
		{"one minor unit", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 1, Currency: "EUR"}
		}, "", "", evbill.GatewayCaptured, 1},
		{"over the hold", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 5001, Currency: "EUR"}
		}, evbill.OutcomeRejected, sandbox.CodeAmountTooLarge, evbill.GatewayHeld, 0},
		{"zero", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 0, Currency: "EUR"}
		}, evbill.OutcomeRejected, sandbox.CodeInvalidAmount, evbill.GatewayHeld, 0},
		{"negative", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: -1, Currency: "EUR"}
		}, evbill.OutcomeRejected, sandbox.CodeInvalidAmount, evbill.GatewayHeld, 0},
		{"other currency", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: ref, Amount: 100, Currency: "USD"}
		}, evbill.OutcomeRejected, sandbox.CodeCurrencyMismatch, evbill.GatewayHeld, 0},
		{"unknown reference", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{IdempotencyKey: "c", Reference: "sbx_test_pay_nope", Amount: 100, Currency: "EUR"}
		}, evbill.OutcomeRejected, sandbox.CodeNoSuchPayment, evbill.GatewayHeld, 0},
		{"no key", func(ref string) evbill.CaptureRequest {
			return evbill.CaptureRequest{Reference: ref, Amount: 100, Currency: "EUR"}
		}, evbill.OutcomeRejected, sandbox.CodeMissingIdempotencyKey, evbill.GatewayHeld, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newGateway(t, sandbox.Config{})
			h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
			p, err := g.Capture(ctx, tt.req(h.Reference))
			if tt.outcome != "" {
				wantErr(t, err, tt.outcome, tt.code)
			} else if err != nil {
				t.Fatal(err)
			} else if p.Status != tt.status || p.CapturedAmount != tt.captured || p.Amount != 5000 {
				t.Fatalf("capture = %+v", p)
			}
			wantStatus(t, g, h.Reference, tt.status, tt.captured)
		})
	}
}

func TestCaptureOnce(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
	if _, err := capture(g, "c1", h.Reference, 3000); err != nil {
		t.Fatal(err)
	}
	_, err := capture(g, "c2", h.Reference, 1000)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAlreadyCaptured)
	_, err = release(g, "r1", h.Reference)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAlreadyCaptured)
	wantStatus(t, g, h.Reference, evbill.GatewayCaptured, 3000)
	if s, _ := g.Stats(h.Reference); s.Captures != 1 || s.Releases != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestRelease(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
	p, err := release(g, "r1", h.Reference)
	if err != nil || p.Status != evbill.GatewayReleased || p.CapturedAmount != 0 {
		t.Fatalf("release = %+v, %v", p, err)
	}
	// The same key replays; a new key finds the hold already released.
	if p2, err := release(g, "r1", h.Reference); err != nil || p2 != p {
		t.Fatalf("replayed release = %+v, %v", p2, err)
	}
	_, err = release(g, "r2", h.Reference)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAlreadyReleased)
	_, err = capture(g, "c1", h.Reference, 100)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAlreadyReleased)
	_, err = release(g, "r3", "sbx_test_pay_nope")
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNoSuchPayment)
	_, err = refund(g, "f1", h.Reference, 100)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNotCaptured)
	if s, _ := g.Stats(h.Reference); s.Releases != 1 || s.Expired {
		t.Fatalf("stats = %+v", s)
	}
}

func TestExpiry(t *testing.T) {
	const ttl = 48 * time.Hour
	for _, op := range []string{sandbox.OpCapture, sandbox.OpRelease} {
		t.Run(op, func(t *testing.T) {
			g, clk := newGateway(t, sandbox.Config{HoldTTL: ttl})
			start := clk.Now()
			h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
			if !h.ExpiresAt.Equal(start.Add(ttl)) {
				t.Fatalf("ExpiresAt = %v, want %v", h.ExpiresAt, start.Add(ttl))
			}
			clk.Advance(ttl - time.Second)
			wantStatus(t, g, h.Reference, evbill.GatewayHeld, 0)
			if n, err := g.ExpireHolds(); err != nil || len(n) != 0 {
				t.Fatalf("ExpireHolds before the end = %d, %v", len(n), err)
			}
			clk.Advance(time.Second)
			wantStatus(t, g, h.Reference, evbill.GatewayReleased, 0)
			var err error
			if op == sandbox.OpCapture {
				_, err = capture(g, "c", h.Reference, 100)
			} else {
				_, err = release(g, "r", h.Reference)
			}
			wantErr(t, err, evbill.OutcomeDeclined, sandbox.CodeHoldExpired)
			// Both ways out of an expired hold are declined alike.
			_, err = capture(g, "c2", h.Reference, 100)
			wantErr(t, err, evbill.OutcomeDeclined, sandbox.CodeHoldExpired)
			_, err = release(g, "r2", h.Reference)
			wantErr(t, err, evbill.OutcomeDeclined, sandbox.CodeHoldExpired)
			if s, _ := g.Stats(h.Reference); !s.Expired || s.Captures != 0 || s.Releases != 0 {
				t.Fatalf("stats = %+v", s)
			}

			// The lapse is notified once, even though a Capture found it first.
			ns, err := g.ExpireHolds()
			if err != nil || len(ns) != 1 {
				t.Fatalf("ExpireHolds = %d, %v", len(ns), err)
			}
			ev, err := g.ParseWebhook(ns[0].Header, ns[0].Body, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != evbill.GatewayEventHoldExpired || ev.Reference != h.Reference || ev.Amount != 5000 || ev.Currency != "EUR" || !ev.CreatedAt.Equal(h.ExpiresAt) {
				t.Fatalf("event = %+v", ev)
			}
			if ns, _ := g.ExpireHolds(); len(ns) != 0 {
				t.Fatalf("second ExpireHolds = %d notifications", len(ns))
			}
		})
	}
}

func TestExpireHoldsOrder(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{HoldTTL: time.Hour})
	var refs []string
	for i := range 3 {
		refs = append(refs, mustHold(t, g, fmt.Sprint("h", i), sandbox.CardSucceeds, 100).Reference)
		clk.Advance(time.Minute)
	}
	c := mustHold(t, g, "hc", sandbox.CardSucceeds, 100)
	if _, err := capture(g, "c", c.Reference, 100); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	ns, err := g.ExpireHolds()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		got = append(got, n.Event.Reference)
	}
	if !reflect.DeepEqual(got, refs) {
		t.Fatalf("expired %v, want %v (captured %s kept)", got, refs, c.Reference)
	}
}

func TestRefunds(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 1000)
	_, err := refund(g, "f0", h.Reference, 100)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNotCaptured)
	if _, err := capture(g, "c", h.Reference, 700); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		key     string
		amount  int64
		code    string // "" when the refund succeeds
		outcome string
	}{
		{"f1", 300, "", ""},
		{"f2", 200, "", ""},
		{"f3", 201, sandbox.CodeAmountTooLarge, evbill.OutcomeRejected},
		{"f4", 0, sandbox.CodeInvalidAmount, evbill.OutcomeRejected},
		{"f5", -3, sandbox.CodeInvalidAmount, evbill.OutcomeRejected},
		{"f6", 200, "", ""},
		{"f7", 1, sandbox.CodeAmountTooLarge, evbill.OutcomeRejected},
	}
	var refs []string
	for _, s := range steps {
		rf, err := refund(g, s.key, h.Reference, s.amount)
		if s.code != "" {
			wantErr(t, err, s.outcome, s.code)
			continue
		}
		if err != nil {
			t.Fatalf("refund %s: %v", s.key, err)
		}
		if rf.Payment != h.Reference || rf.Amount != s.amount || rf.Currency != "EUR" || !strings.HasPrefix(rf.Reference, "sbx_test_re_") {
			t.Fatalf("refund = %+v", rf)
		}
		refs = append(refs, rf.Reference)
	}
	_, err = g.Refund(ctx, evbill.RefundRequest{IdempotencyKey: "f8", Reference: h.Reference, Amount: 1, Currency: "USD"})
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeCurrencyMismatch)
	s, _ := g.Stats(h.Reference)
	if s.Refunded != 700 || len(s.Refunds) != 3 {
		t.Fatalf("stats = %+v", s)
	}
	for i, rf := range s.Refunds {
		if rf.Reference != refs[i] {
			t.Fatalf("refund %d = %s, want %s", i, rf.Reference, refs[i])
		}
	}
	wantStatus(t, g, h.Reference, evbill.GatewayCaptured, 700)
}

func TestIdempotency(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "k", sandbox.CardSucceeds, 5000)
	if h2 := mustHold(t, g, "k", sandbox.CardSucceeds, 5000); h2 != h {
		t.Fatalf("replayed hold = %+v, want %+v", h2, h)
	}
	_, err := hold(g, "k", sandbox.CardSucceeds, 5001)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)
	_, err = hold(g, "k", sandbox.CardCaptureFails, 5000)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)
	// A request names a card, however it is spelt.
	for _, method := range []string{"4242 4242 4242 4242", sandbox.AliasSucceeds} {
		if h2 := mustHold(t, g, "k", method, 5000); h2 != h {
			t.Fatalf("hold with %q = %+v, want the replay %+v", method, h2, h)
		}
	}

	// Keys are scoped per operation: "k" is free as a capture key.
	c, err := capture(g, "k", h.Reference, 4000)
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := capture(g, "k", h.Reference, 4000); err != nil || c2 != c {
		t.Fatalf("replayed capture = %+v, %v", c2, err)
	}
	_, err = capture(g, "k", h.Reference, 3999)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)

	// A replay answers the first outcome even after the payment changed.
	rf, err := refund(g, "k", h.Reference, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c3, err := capture(g, "k", h.Reference, 4000); err != nil || c3 != c {
		t.Fatalf("capture replayed after a refund = %+v, %v", c3, err)
	}
	if rf2, err := refund(g, "k", h.Reference, 1000); err != nil || rf2 != rf {
		t.Fatalf("replayed refund = %+v, %v", rf2, err)
	}
	_, err = g.Refund(ctx, evbill.RefundRequest{IdempotencyKey: "k", Reference: h.Reference, Amount: 1000, Currency: "EUR", Reason: "other"})
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)
	if s, _ := g.Stats(h.Reference); s.Captures != 1 || s.Refunded != 1000 || len(s.Refunds) != 1 {
		t.Fatalf("stats = %+v", s)
	}

	// Errors replay too: a declined card stays declined under its key, and
	// a rejected capture stays rejected.
	for range 2 {
		_, err = hold(g, "d", sandbox.CardDeclined, 100)
		wantErr(t, err, evbill.OutcomeDeclined, sandbox.CodeCardDeclined)
	}
	h2 := mustHold(t, g, "h2", sandbox.CardSucceeds, 100)
	for range 2 {
		_, err = capture(g, "over", h2.Reference, 101)
		wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAmountTooLarge)
	}

	var replayed, acted int
	for _, c := range g.Calls() {
		if c.Replayed {
			replayed++
		} else if c.Outcome == "" {
			acted++
		}
	}
	if replayed != 8 || acted != 4 {
		t.Fatalf("calls: %d replayed, %d acted; want 8 and 4: %+v", replayed, acted, g.Calls())
	}
}

func TestTimeoutCard(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{HoldTTL: time.Hour})
	_, err := hold(g, "h", sandbox.CardTimeout, 5000)
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeTimeout)
	if evbill.GatewayOutcome(err) != evbill.OutcomeUnknown {
		t.Fatal("GatewayOutcome disagrees")
	}
	calls := g.Calls()
	if len(calls) != 1 || calls[0].Reference == "" || calls[0].Outcome != evbill.OutcomeUnknown {
		t.Fatalf("calls = %+v", calls)
	}
	placed := calls[0].Reference
	wantStatus(t, g, placed, evbill.GatewayHeld, 0)

	// The retry with the same key finds the hold; so does the next one.
	p, err := hold(g, "h", sandbox.CardTimeout, 5000)
	if err != nil || p.Reference != placed || p.Status != evbill.GatewayHeld {
		t.Fatalf("retry = %+v, %v; want the hold %s", p, err, placed)
	}
	if p2, err := hold(g, "h", sandbox.CardTimeout, 5000); err != nil || p2 != p {
		t.Fatalf("second retry = %+v, %v", p2, err)
	}
	// A retry with another request is still a reused key.
	_, err = hold(g, "h", sandbox.CardTimeout, 4000)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)
	if _, err := capture(g, "c", placed, 5000); err != nil {
		t.Fatal(err)
	}

	// A caller that retries with a new key places an orphan, which lapses.
	_, err = hold(g, "h-new", sandbox.CardTimeout, 5000)
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeTimeout)
	orphan := g.Calls()[len(g.Calls())-1].Reference
	if orphan == placed {
		t.Fatal("a new key returned the old hold")
	}
	clk.Advance(time.Hour)
	wantStatus(t, g, orphan, evbill.GatewayReleased, 0)
	wantStatus(t, g, placed, evbill.GatewayCaptured, 5000)
}

func TestLatency(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{Latency: 200 * time.Millisecond})
	c, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := g.Hold(c, evbill.HoldRequest{IdempotencyKey: "h", Amount: 100, Currency: "EUR", PaymentMethod: sandbox.CardSucceeds})
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeCanceled)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if time.Since(start) > 150*time.Millisecond {
		t.Fatal("the call did not stop at the deadline")
	}
	// Nothing happened, so the retry acts for the first time.
	start = time.Now()
	p, err := g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: "h", Amount: 100, Currency: "EUR", PaymentMethod: sandbox.CardSucceeds})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("the call was not delayed")
	}
	calls := g.Calls()
	if len(calls) != 2 || calls[1].Replayed || calls[1].Reference != p.Reference {
		t.Fatalf("calls = %+v", calls)
	}

	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	g2, _ := newGateway(t, sandbox.Config{})
	_, err = g2.Capture(canceled, evbill.CaptureRequest{IdempotencyKey: "c", Reference: "x", Amount: 1, Currency: "EUR"})
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want it to wrap context.Canceled", err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sandbox.json")
	clk := newClock()
	cfg := sandbox.Config{StatePath: path, Now: clk.Now, WebhookSecret: secret, HoldTTL: time.Hour}
	g, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	captured := mustHold(t, g, "h1", sandbox.CardSucceeds, 5000)
	if _, err := capture(g, "c1", captured.Reference, 4000); err != nil {
		t.Fatal(err)
	}
	rf, err := refund(g, "f1", captured.Reference, 1500)
	if err != nil {
		t.Fatal(err)
	}
	released := mustHold(t, g, "h2", sandbox.CardSucceeds, 300)
	if _, err := release(g, "r2", released.Reference); err != nil {
		t.Fatal(err)
	}
	held := mustHold(t, g, "h3", sandbox.CardCaptureFails, 700)
	_, err = hold(g, "h4", sandbox.CardTimeout, 900)
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeTimeout)
	lost := g.Calls()[len(g.Calls())-1].Reference
	if _, err := g.Dispute(captured.Reference, 500); err != nil {
		t.Fatal(err)
	}
	refs := []string{captured.Reference, released.Reference, held.Reference, lost}

	g2, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		p1, _ := g.Payment(ref)
		p2, ok := g2.Payment(ref)
		if !ok || !samePayment(p1, p2) {
			t.Fatalf("after a restart %s = %+v, want %+v", ref, p2, p1)
		}
		s1, _ := g.Stats(ref)
		s2, _ := g2.Stats(ref)
		if !reflect.DeepEqual(s1, s2) {
			t.Fatalf("after a restart stats of %s = %+v, want %+v", ref, s2, s1)
		}
	}
	// Idempotency keys survive: replays, reuse, and the lost answer.
	if p, err := hold(g2, "h1", sandbox.CardSucceeds, 5000); err != nil || p.Reference != captured.Reference {
		t.Fatalf("replayed hold = %+v, %v", p, err)
	}
	_, err = capture(g2, "c1", captured.Reference, 4001)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeIdempotencyKeyReused)
	if rf2, err := refund(g2, "f1", captured.Reference, 1500); err != nil || rf2 != rf {
		t.Fatalf("replayed refund = %+v, %v", rf2, err)
	}
	if p, err := hold(g2, "h4", sandbox.CardTimeout, 900); err != nil || p.Reference != lost {
		t.Fatalf("the lost hold after a restart = %+v, %v", p, err)
	}
	_, err = refund(g2, "f2", captured.Reference, 1)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeChargeDisputed)
	// Expiry keeps running on the restarted sandbox's clock.
	clk.Advance(time.Hour)
	_, err = capture(g2, "c3", held.Reference, 700)
	wantErr(t, err, evbill.OutcomeDeclined, sandbox.CodeHoldExpired)

	g3, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := g3.Stats(held.Reference); !s.Expired {
		t.Fatalf("the expiry was not saved: %+v", s)
	}
	// A real card number typed by mistake leaves no trace in the state,
	// not even a hash of it.
	const realCard = "5555555555554444"
	_, err = hold(g3, "h5", realCard, 100)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeInvalidNumber)
	state, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fp := sha256.Sum256([]byte(realCard))
	if bytes.Contains(state, []byte(realCard)) || bytes.Contains(state, []byte(hex.EncodeToString(fp[:]))) || !bytes.Contains(state, []byte("h5")) {
		t.Fatalf("the state file mentions the real card, or lacks the call: %s", state)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "sandbox.json" {
		t.Fatalf("the state directory holds %v, want only sandbox.json", entries)
	}
}

func samePayment(a, b evbill.GatewayPayment) bool {
	return a.Reference == b.Reference && a.Status == b.Status && a.Amount == b.Amount &&
		a.CapturedAmount == b.CapturedAmount && a.Currency == b.Currency && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestPersistenceFailures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "sandbox.json")
	g, err := sandbox.New(sandbox.Config{StatePath: path})
	if err != nil {
		t.Fatalf("a missing state file is a fresh sandbox: %v", err)
	}
	// A change that cannot be saved is not confirmed…
	_, err = hold(g, "h", sandbox.CardSucceeds, 100)
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeStateNotSaved)
	_, err = hold(g, "h", sandbox.CardSucceeds, 100)
	wantErr(t, err, evbill.OutcomeUnknown, sandbox.CodeStateNotSaved)
	// …until it is on disk, and the retry then gets the one hold placed.
	if err := os.Mkdir(filepath.Join(dir, "missing"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := hold(g, "h", sandbox.CardSucceeds, 100)
	if err != nil {
		t.Fatal(err)
	}
	calls := g.Calls()
	if calls[0].Reference != p.Reference || calls[0].Replayed || !calls[2].Replayed {
		t.Fatalf("calls = %+v", calls)
	}
	g2, err := sandbox.New(sandbox.Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g2.Payment(p.Reference); !ok {
		t.Fatal("the hold was not saved")
	}

	for name, content := range map[string]string{
		"damaged":      `{"version":1,"payments":`,
		"future":       `{"version":2}`,
		"float amount": `{"version":1,"payments":{"p":{"amount":1.5}}}`,
	} {
		bad := filepath.Join(dir, name+".json")
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sandbox.New(sandbox.Config{StatePath: bad}); err == nil {
			t.Errorf("New accepted a %s state file", name)
		}
	}
}

// stripeStyle signs body the way the package documentation describes, on
// its own, so the test checks the scheme and not only self-consistency.
func stripeStyle(t int64, body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(m, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(m.Sum(nil)))
}

func TestWebhook(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{})
	now := clk.Now()
	ev := evbill.GatewayEvent{Type: evbill.GatewayEventCaptured, Reference: "sbx_test_pay_1", Amount: 1234, Currency: "EUR"}
	h, body := g.SignedEvent(ev)
	sig := h.Get(sandbox.SignatureHeader)
	if !regexp.MustCompile(`^t=\d+,v1=[0-9a-f]{64}$`).MatchString(sig) {
		t.Fatalf("%s: %s", sandbox.SignatureHeader, sig)
	}
	if want := stripeStyle(now.Unix(), body, secret); sig != want {
		t.Fatalf("signature %s, want %s", sig, want)
	}
	got, err := g.ParseWebhook(h, body, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "sbx_test_evt_") || got.Type != ev.Type || got.Reference != ev.Reference ||
		got.Amount != 1234 || got.Currency != "EUR" || !got.CreatedAt.Equal(now) || !bytes.Equal(got.Raw, body) {
		t.Fatalf("event = %+v", got)
	}
	if !bytes.Contains(body, []byte(`"test_mode":true`)) {
		t.Fatalf("the body does not say test mode: %s", body)
	}

	other, _ := newGateway(t, sandbox.Config{WebhookSecret: "whsec_other"})
	otherH, _ := other.SignedEvent(ev)
	tampered := bytes.Replace(body, []byte("1234"), []byte("9234"), 1)
	hdr := func(v string) http.Header { return http.Header{sandbox.SignatureHeader: {v}} }
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		now    time.Time
		code   string // "" when accepted
	}{
		{"as sent", h, body, now, ""},
		{"299 s late", h, body, now.Add(299 * time.Second), ""},
		{"300 s late", h, body, now.Add(300 * time.Second), ""},
		{"300 s early", h, body, now.Add(-300 * time.Second), ""},
		{"301 s late", h, body, now.Add(301 * time.Second), sandbox.CodeStaleSignature},
		{"301 s early", h, body, now.Add(-301 * time.Second), sandbox.CodeStaleSignature},
		{"a day late", h, body, now.Add(24 * time.Hour), sandbox.CodeStaleSignature},
		{"no header", http.Header{}, body, now, sandbox.CodeBadSignature},
		{"nil header", nil, body, now, sandbox.CodeBadSignature},
		{"other secret", otherH, body, now, sandbox.CodeBadSignature},
		{"tampered body", h, tampered, now, sandbox.CodeBadSignature},
		{"empty body", h, nil, now, sandbox.CodeBadSignature},
		{"no v1", hdr(fmt.Sprintf("t=%d", now.Unix())), body, now, sandbox.CodeBadSignature},
		{"no t", hdr(strings.Split(sig, ",")[1]), body, now, sandbox.CodeBadSignature},
		{"garbage", hdr("garbage"), body, now, sandbox.CodeBadSignature},
		{"not hex", hdr(fmt.Sprintf("t=%d,v1=zz", now.Unix())), body, now, sandbox.CodeBadSignature},
		{"time moved", hdr(strings.Replace(sig, "t="+strconv.FormatInt(now.Unix(), 10), "t="+strconv.FormatInt(now.Unix()+1, 10), 1)), body, now, sandbox.CodeBadSignature},
		{"rotated secrets", hdr(stripeStyle(now.Unix(), body, "old") + ",v1=" + strings.Split(sig, "v1=")[1]), body, now, ""},
		{"spaces", hdr(strings.ReplaceAll(sig, ",", ", ")), body, now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.ParseWebhook(tt.header, tt.body, tt.now)
			if tt.code == "" {
				if err != nil || got.Reference != ev.Reference {
					t.Fatalf("ParseWebhook = %+v, %v", got, err)
				}
				return
			}
			wantErr(t, err, evbill.OutcomeRejected, tt.code)
		})
	}
}

func TestWebhookBodies(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{})
	now := clk.Now()
	tests := []struct {
		name string
		body string
		typ  string // the parsed type; "" when rejected
	}{
		{"ignored type", `{"id":"sbx_test_evt_1","type":"customer.created","created_at":"2026-03-01T12:00:00Z"}`, evbill.GatewayEventIgnored},
		{"captured", `{"id":"e","type":"payment.captured","reference":"p","amount":5,"currency":"EUR","extra":1}`, evbill.GatewayEventCaptured},
		{"dispute won", `{"id":"e","type":"dispute.closed","reference":"p","amount":5,"currency":"EUR","dispute_status":"won"}`, evbill.GatewayEventDisputeClosed},
		{"dispute undecided", `{"id":"e","type":"dispute.closed","reference":"p","amount":5,"currency":"EUR"}`, ""},
		{"no id", `{"type":"payment.captured","reference":"p"}`, ""},
		{"no reference", `{"id":"e","type":"payment.captured"}`, ""},
		{"negative", `{"id":"e","type":"payment.refunded","reference":"p","amount":-5}`, ""},
		{"fractional amount", `{"id":"e","type":"payment.refunded","reference":"p","amount":5.5}`, ""},
		{"not JSON", `id=e`, ""},
		{"trailing data", `{"id":"e","type":"x"} {}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(sandbox.SignatureHeader, stripeStyle(now.Unix(), []byte(tt.body), secret))
			ev, err := g.ParseWebhook(h, []byte(tt.body), now)
			if tt.typ == "" {
				wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeInvalidEvent)
				return
			}
			if err != nil || ev.Type != tt.typ || string(ev.Raw) != tt.body {
				t.Fatalf("ParseWebhook = %+v, %v", ev, err)
			}
		})
	}
}

func TestDispute(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
	_, err := g.Dispute(h.Reference, 100)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNotCaptured)
	if _, err := capture(g, "c", h.Reference, 4000); err != nil {
		t.Fatal(err)
	}
	if _, err := refund(g, "f1", h.Reference, 1000); err != nil {
		t.Fatal(err)
	}
	_, err = g.Dispute(h.Reference, 3001)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAmountTooLarge)
	_, err = g.Dispute(h.Reference, 0)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeInvalidAmount)
	_, err = g.Dispute("sbx_test_pay_nope", 10)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNoSuchPayment)
	_, err = g.CloseDispute(h.Reference, evbill.GatewayDisputeWon)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNoDispute)

	opened, err := g.Dispute(h.Reference, 3000)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := g.ParseWebhook(opened.Header, opened.Body, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != evbill.GatewayEventDisputeOpened || ev.Reference != h.Reference || ev.Amount != 3000 || ev.ID != opened.Event.ID {
		t.Fatalf("dispute.opened = %+v", ev)
	}
	if ev.Dispute != sandbox.DisputeID(h.Reference) || !strings.HasPrefix(ev.Dispute, sandbox.ReferencePrefix+"dp_") || ev.Dispute == h.Reference {
		t.Fatalf("dispute.opened names dispute %q", ev.Dispute)
	}
	_, err = refund(g, "f2", h.Reference, 1)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeChargeDisputed)
	_, err = g.Dispute(h.Reference, 10)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeAlreadyDisputed)
	_, err = g.CloseDispute(h.Reference, "maybe")
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeInvalidDisputeStatus)

	closed, err := g.CloseDispute(h.Reference, evbill.GatewayDisputeWon)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = g.ParseWebhook(closed.Header, closed.Body, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != evbill.GatewayEventDisputeClosed || ev.DisputeStatus != evbill.GatewayDisputeWon || ev.Amount != 3000 || ev.ID == opened.Event.ID {
		t.Fatalf("dispute.closed = %+v", ev)
	}
	if ev.Dispute != sandbox.DisputeID(h.Reference) {
		t.Fatalf("dispute.closed names dispute %q, the opening %q", ev.Dispute, sandbox.DisputeID(h.Reference))
	}
	if s, _ := g.Stats(h.Reference); s.Dispute != evbill.GatewayDisputeWon || s.Disputed != 3000 {
		t.Fatalf("stats = %+v", s)
	}
	// Won: the money is the operator's again, and refundable.
	if _, err := refund(g, "f3", h.Reference, 3000); err != nil {
		t.Fatal(err)
	}
	_, err = g.CloseDispute(h.Reference, evbill.GatewayDisputeLost)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeNoDispute)
}

func TestDisputeLost(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
	if _, err := capture(g, "c", h.Reference, 5000); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Dispute(h.Reference, 5000); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CloseDispute(h.Reference, evbill.GatewayDisputeLost); err != nil {
		t.Fatal(err)
	}
	_, err := refund(g, "f", h.Reference, 1)
	wantErr(t, err, evbill.OutcomeRejected, sandbox.CodeChargeDisputed)
}

func TestConcurrentCapture(t *testing.T) {
	const n = 64
	g, _ := newGateway(t, sandbox.Config{StatePath: filepath.Join(t.TempDir(), "s.json")})
	h := mustHold(t, g, "h", sandbox.CardSucceeds, 5000)
	results := make([]evbill.GatewayPayment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = capture(g, "cap_"+h.Reference, h.Reference, 4200) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i] != results[0] || results[i].CapturedAmount != 4200 {
			t.Fatalf("capture %d = %+v, %v", i, results[i], errs[i])
		}
	}
	if s, _ := g.Stats(h.Reference); s.Captures != 1 {
		t.Fatalf("%d captures, want 1", s.Captures)
	}
	acted := 0
	for _, c := range g.Calls() {
		if c.Op == sandbox.OpCapture && !c.Replayed {
			acted++
		}
	}
	if acted != 1 {
		t.Fatalf("%d captures acted, want 1", acted)
	}

	// With a key each, one wins and the rest are refused.
	h2 := mustHold(t, g, "h2", sandbox.CardSucceeds, 5000)
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Go(func() {
			_, err := capture(g, fmt.Sprint("k", i), h2.Reference, 100)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if evbill.GatewayOutcome(err) != evbill.OutcomeRejected {
				t.Errorf("capture: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d captures with distinct keys succeeded, want 1", wins)
	}

	// Refunds racing past the captured amount never exceed it.
	for i := range n {
		wg.Go(func() { refund(g, fmt.Sprint("f", i), h.Reference, 100) })
	}
	wg.Wait()
	if s, _ := g.Stats(h.Reference); s.Refunded != 4200 || len(s.Refunds) != 42 {
		t.Fatalf("refunded %d in %d refunds, want 4200 in 42", s.Refunded, len(s.Refunds))
	}
}

func TestCallLogReferences(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	h := mustHold(t, g, "h", sandbox.AliasSucceeds, 100)
	if _, err := capture(g, "c", h.Reference, 100); err != nil {
		t.Fatal(err)
	}
	rf, _ := refund(g, "f", h.Reference, 100)
	for _, ref := range []string{h.Reference, rf.Reference} {
		if !strings.HasPrefix(ref, sandbox.ReferencePrefix) {
			t.Fatalf("reference %q is not marked as test mode", ref)
		}
	}
	want := []sandbox.Call{
		{Op: sandbox.OpHold, IdempotencyKey: "h", Reference: h.Reference, Amount: 100},
		{Op: sandbox.OpCapture, IdempotencyKey: "c", Reference: h.Reference, Amount: 100},
		{Op: sandbox.OpRefund, IdempotencyKey: "f", Reference: h.Reference, Amount: 100},
	}
	if got := g.Calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls = %+v, want %+v", got, want)
	}
}

func TestCallsBounded(t *testing.T) {
	g, _ := newGateway(t, sandbox.Config{})
	const n = 2*10000 + 5
	for i := range n {
		release(g, fmt.Sprint(i), "sbx_test_pay_nope")
	}
	calls := g.Calls()
	if len(calls) != 10000 || calls[len(calls)-1].IdempotencyKey != fmt.Sprint(n-1) || calls[0].IdempotencyKey != fmt.Sprint(n-10000) {
		t.Fatalf("%d calls, from %s to %s", len(calls), calls[0].IdempotencyKey, calls[len(calls)-1].IdempotencyKey)
	}
}

// outcome is what a call answered, comparable across replays.
type outcome struct {
	payment evbill.GatewayPayment
	refund  evbill.GatewayRefund
	result  string // "" or the error's Outcome
	code    string
}

func outcomeOf(p evbill.GatewayPayment, rf evbill.GatewayRefund, err error) outcome {
	var ge *evbill.GatewayError
	if errors.As(err, &ge) {
		return outcome{result: ge.Outcome, code: ge.Code}
	}
	if err != nil {
		return outcome{result: "error " + err.Error()}
	}
	return outcome{payment: p, refund: rf}
}

// TestProperties drives random sequences of calls, with retries, reused
// keys and a moving clock, and checks after each that no money was made up: no
// capture above its hold, no refunds above the capture, no capture counted
// twice, and every key answers as it first did.
func TestProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		g, clk := newGateway(rt, sandbox.Config{HoldTTL: 72 * time.Hour})
		var refs []string // holds that exist, lost answers included
		type sent struct {
			req   any
			first outcome
		}
		keys := map[string]*sent{}                  // op:key → the first request and answer
		history := map[string][]string{}            // op → keys used, in order
		captureKeys := map[string]map[string]bool{} // ref → keys of successful captures
		refunds := map[string]map[string]int64{}    // ref → refund reference → amount
		fresh := 0
		// keyFor picks how a call uses its key: mostly a new one; else an
		// exact retry of an earlier call (its request returned), or an
		// earlier key with whatever the call was going to send.
		keyFor := func(rt *rapid.T, op string) (key string, retry any) {
			if h := history[op]; len(h) > 0 {
				switch rapid.IntRange(0, 9).Draw(rt, "key use") {
				case 0, 1, 2:
					k := rapid.SampledFrom(h).Draw(rt, "retry")
					return k, keys[op+":"+k].req
				case 3:
					return rapid.SampledFrom(h).Draw(rt, "reuse"), nil
				}
			}
			fresh++
			return fmt.Sprint(op, fresh), nil
		}
		ref := func(rt *rapid.T) string {
			if len(refs) == 0 || rapid.IntRange(0, 19).Draw(rt, "bogus") == 0 {
				return "sbx_test_pay_unknown"
			}
			return rapid.SampledFrom(refs).Draw(rt, "ref")
		}
		// Holds are of 1000; the other amounts straddle it and each other.
		amount := func(rt *rapid.T) int64 {
			return rapid.SampledFrom([]int64{-1, 0, 1, 100, 499, 500, 1000, 1200}).Draw(rt, "amount")
		}
		currency := func(rt *rapid.T) string {
			return rapid.SampledFrom([]string{"EUR", "EUR", "EUR", "EUR", "USD"}).Draw(rt, "currency")
		}
		// check applies the idempotency rules to one call's answer.
		check := func(rt *rapid.T, op, k string, req any, got outcome) {
			id := op + ":" + k
			prev, seen := keys[id]
			switch {
			case !seen:
				keys[id] = &sent{req: req, first: got}
				history[op] = append(history[op], k)
			case !reflect.DeepEqual(prev.req, req):
				if got.code != sandbox.CodeIdempotencyKeyReused {
					rt.Fatalf("%s with another request = %+v, want %s", id, got, sandbox.CodeIdempotencyKeyReused)
				}
			case prev.first.code == sandbox.CodeTimeout:
				if got.result != "" || got.payment.Status != evbill.GatewayHeld {
					rt.Fatalf("retry of the lost answer %s = %+v, want the hold", id, got)
				}
				prev.first = got
			case got != prev.first:
				rt.Fatalf("%s replayed %+v, first answered %+v", id, got, prev.first)
			}
			if got.code == sandbox.CodeIdempotencyKeyReused && (!seen || reflect.DeepEqual(prev.req, req)) {
				rt.Fatalf("%s: %s for a new key or the same request", id, got.code)
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"hold": func(rt *rapid.T) {
				k, retry := keyFor(rt, sandbox.OpHold)
				r := evbill.HoldRequest{IdempotencyKey: k, Amount: 1000, Currency: "EUR",
					PaymentMethod: rapid.SampledFrom([]string{sandbox.CardSucceeds, sandbox.CardSucceeds, sandbox.CardTimeout, sandbox.CardCaptureFails, sandbox.CardDeclined}).Draw(rt, "card")}
				if rapid.IntRange(0, 9).Draw(rt, "odd hold") == 0 {
					r.Amount, r.Currency = amount(rt), currency(rt)
				}
				if retry != nil {
					r = retry.(evbill.HoldRequest)
				}
				p, err := g.Hold(ctx, r)
				if err == nil {
					refs = append(refs, p.Reference)
				} else if evbill.GatewayOutcome(err) == evbill.OutcomeUnknown {
					// The hold exists though its answer was lost.
					refs = append(refs, g.Calls()[len(g.Calls())-1].Reference)
				}
				check(rt, sandbox.OpHold, r.IdempotencyKey, r, outcomeOf(p, evbill.GatewayRefund{}, err))
			},
			"capture": func(rt *rapid.T) {
				k, retry := keyFor(rt, sandbox.OpCapture)
				r := evbill.CaptureRequest{IdempotencyKey: k, Reference: ref(rt), Amount: amount(rt), Currency: currency(rt)}
				if retry != nil {
					r = retry.(evbill.CaptureRequest)
				}
				p, err := g.Capture(ctx, r)
				check(rt, sandbox.OpCapture, r.IdempotencyKey, r, outcomeOf(p, evbill.GatewayRefund{}, err))
				if err == nil {
					if captureKeys[r.Reference] == nil {
						captureKeys[r.Reference] = map[string]bool{}
					}
					captureKeys[r.Reference][r.IdempotencyKey] = true
				}
			},
			"release": func(rt *rapid.T) {
				k, retry := keyFor(rt, sandbox.OpRelease)
				r := evbill.ReleaseRequest{IdempotencyKey: k, Reference: ref(rt)}
				if retry != nil {
					r = retry.(evbill.ReleaseRequest)
				}
				p, err := g.Release(ctx, r)
				check(rt, sandbox.OpRelease, r.IdempotencyKey, r, outcomeOf(p, evbill.GatewayRefund{}, err))
			},
			"refund": func(rt *rapid.T) {
				k, retry := keyFor(rt, sandbox.OpRefund)
				r := evbill.RefundRequest{IdempotencyKey: k, Reference: ref(rt), Amount: amount(rt), Currency: currency(rt)}
				if retry != nil {
					r = retry.(evbill.RefundRequest)
				}
				rf, err := g.Refund(ctx, r)
				check(rt, sandbox.OpRefund, r.IdempotencyKey, r, outcomeOf(evbill.GatewayPayment{}, rf, err))
				if err == nil {
					if refunds[r.Reference] == nil {
						refunds[r.Reference] = map[string]int64{}
					}
					refunds[r.Reference][rf.Reference] = rf.Amount
				}
			},
			"tick": func(rt *rapid.T) {
				clk.Advance(time.Duration(rapid.IntRange(0, 30).Draw(rt, "hours")) * time.Hour)
			},
			"": func(rt *rapid.T) {
				for _, ref := range refs {
					p, ok := g.Payment(ref)
					if !ok {
						rt.Fatalf("payment %s vanished", ref)
					}
					s, _ := g.Stats(ref)
					var told int64
					for _, a := range refunds[ref] {
						told += a
					}
					switch {
					case p.Amount <= 0 || p.CapturedAmount < 0 || p.CapturedAmount > p.Amount:
						rt.Fatalf("%s captured %d of %d", ref, p.CapturedAmount, p.Amount)
					case s.Refunded > p.CapturedAmount:
						rt.Fatalf("%s refunded %d of %d captured", ref, s.Refunded, p.CapturedAmount)
					case s.Refunded != told || len(s.Refunds) != len(refunds[ref]):
						rt.Fatalf("%s refunded %d in %d refunds; callers were told %d in %d", ref, s.Refunded, len(s.Refunds), told, len(refunds[ref]))
					case s.Captures > 1 || len(captureKeys[ref]) > 1:
						rt.Fatalf("%s captured twice: %d captures, keys %v", ref, s.Captures, captureKeys[ref])
					case (p.Status == evbill.GatewayCaptured) != (s.Captures == 1):
						rt.Fatalf("%s is %s with %d captures", ref, p.Status, s.Captures)
					case (p.Status == evbill.GatewayCaptured) != (p.CapturedAmount > 0):
						rt.Fatalf("%s is %s with %d captured", ref, p.Status, p.CapturedAmount)
					case p.Status == evbill.GatewayHeld && !clk.Now().Before(p.ExpiresAt):
						rt.Fatalf("%s still held after it expired", ref)
					case s.Captures+s.Releases > 1 || (s.Expired && s.Captures+s.Releases > 0):
						rt.Fatalf("%s ended more than one way: %+v", ref, s)
					}
				}
			},
		})
	})
}

// Example shows a session's payment: a hold when charging starts, a capture
// of the CDR total when it ends, the rest released.
func Example() {
	g, err := sandbox.New(sandbox.Config{WebhookSecret: "whsec_demo"})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	hold, err := g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: "hold_ses_1", Amount: 5000, Currency: "EUR", PaymentMethod: "4242 4242 4242 4242"})
	if err != nil {
		panic(err)
	}
	p, err := g.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: "cap_ses_1", Reference: hold.Reference, Amount: 1234, Currency: "EUR"})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(p.Reference, "sbx_test_"), p.Status, p.CapturedAmount, "of", p.Amount)

	_, err = g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: "hold_ses_2", Amount: 5000, Currency: "EUR", PaymentMethod: sandbox.CardInsufficientFunds})
	fmt.Println(err)
	// Output:
	// true captured 1234 of 5000
	// payment gateway: declined (insufficient_funds): sandbox (test mode): the test card ending in 9995 always has insufficient funds
}

// TestWebhookDisputeID: a dispute event carries the dispute's ID through
// the body, and one signed without it is about the payment's one dispute,
// as the sandbox's own disputes are; other events name no dispute.
func TestWebhookDisputeID(t *testing.T) {
	g, clk := newGateway(t, sandbox.Config{})
	tests := []struct {
		name string
		ev   evbill.GatewayEvent
		want string
	}{
		{"named", evbill.GatewayEvent{Type: evbill.GatewayEventDisputeOpened, Reference: "sbx_test_pay_1", Amount: 5, Currency: "EUR", Dispute: "sbx_test_dp_x"}, "sbx_test_dp_x"},
		{"unnamed opening", evbill.GatewayEvent{Type: evbill.GatewayEventDisputeOpened, Reference: "sbx_test_pay_1", Amount: 5, Currency: "EUR"}, "sbx_test_dp_pay_1"},
		{"unnamed closing", evbill.GatewayEvent{Type: evbill.GatewayEventDisputeClosed, Reference: "sbx_test_pay_1", Amount: 5, Currency: "EUR", DisputeStatus: evbill.GatewayDisputeLost}, "sbx_test_dp_pay_1"},
		{"not a dispute", evbill.GatewayEvent{Type: evbill.GatewayEventCaptured, Reference: "sbx_test_pay_1", Amount: 5, Currency: "EUR"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body := g.SignedEvent(tt.ev)
			ev, err := g.ParseWebhook(h, body, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if ev.Dispute != tt.want || ev.Type != tt.ev.Type {
				t.Errorf("parsed %s with dispute %q, want %s with %q", ev.Type, ev.Dispute, tt.ev.Type, tt.want)
			}
		})
	}
}
