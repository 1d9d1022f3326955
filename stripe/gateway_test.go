package stripe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/evbill/evbill"
)

// The tests in this file run against a stub of Stripe's API on
// 127.0.0.1, for what stripe-mock cannot show: the exact parameters sent,
// declines, Stripe's and the network's failures, and retries.

// seen is one request as the stub received it.
type seen struct {
	method, path string
	header       http.Header
	form         url.Values
}

// stub is a scripted Stripe API: each request gets the next answer; the
// last answer repeats.
type stub struct {
	mu       sync.Mutex
	requests []seen
	answers  []func(w http.ResponseWriter, r *http.Request)
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, seen{r.Method, r.URL.Path, r.Header.Clone(), form})
	answer := s.answers[min(n, len(s.answers)-1)]
	s.mu.Unlock()
	answer(w, r)
}

func (s *stub) seen() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.requests...)
}

func reply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// dropConnection closes the connection without an answer, as a crashed
// proxy or a network cut would.
func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// newStubGateway starts a stub answering with answers in turn and a
// Gateway on it whose retries do not sleep.
func newStubGateway(t *testing.T, cfg Config, answers ...func(http.ResponseWriter, *http.Request)) (*Gateway, *stub) {
	t.Helper()
	s := &stub{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg.BackendURL = srv.URL
	if cfg.SecretKey == "" {
		cfg.SecretKey = "sk_test_stub"
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.backend.(*stripego.BackendImplementation).SetNetworkRetriesSleep(false)
	return g, s
}

const heldPI = `{"id":"pi_1","object":"payment_intent","amount":2500,"amount_capturable":2500,"amount_received":0,
 "currency":"eur","status":"requires_capture","capture_method":"manual",
 "latest_charge":{"id":"ch_1","object":"charge","payment_method_details":{"type":"card","card":{"capture_before":1767225600}}}}`

const capturedPI = `{"id":"pi_1","object":"payment_intent","amount":2500,"amount_capturable":0,"amount_received":1830,
 "currency":"eur","status":"succeeded","capture_method":"manual"}`

const canceledPI = `{"id":"pi_1","object":"payment_intent","amount":2500,"amount_capturable":0,"amount_received":0,
 "currency":"eur","status":"canceled","cancellation_reason":"automatic"}`

func outcome(t *testing.T, err error, want, code string) *evbill.GatewayError {
	t.Helper()
	var ge *evbill.GatewayError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *evbill.GatewayError", err, err)
	}
	if ge.Outcome != want || (code != "" && ge.Code != code) {
		t.Fatalf("got outcome %q code %q (%v), want %q code %q", ge.Outcome, ge.Code, ge, want, code)
	}
	return ge
}

func TestHoldSendsAManualCaptureConfirmedOffSession(t *testing.T) {
	g, s := newStubGateway(t, Config{}, reply(200, heldPI))
	got, err := g.Hold(context.Background(), evbill.HoldRequest{
		IdempotencyKey: "hold_ses_1",
		Amount:         2500,
		Currency:       "EUR",
		PaymentMethod:  "pm_saved",
		Customer:       "cus_1",
		Description:    "Charging at Depot 4",
		Metadata:       map[string]string{"session": "ses_1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := evbill.GatewayPayment{Reference: "pi_1", Status: evbill.GatewayHeld, Amount: 2500, Currency: "EUR",
		ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	reqs := s.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/payment_intents" {
		t.Errorf("sent %s %s", r.method, r.path)
	}
	for k, v := range map[string]string{
		"amount":                  "2500",
		"currency":                "eur",
		"capture_method":          "manual",
		"confirm":                 "true",
		"payment_method":          "pm_saved",
		"customer":                "cus_1",
		"off_session":             "true",
		"description":             "Charging at Depot 4",
		"metadata[session]":       "ses_1",
		"payment_method_types[0]": "card",
		"expand[0]":               "latest_charge",
	} {
		if got := r.form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q (form %v)", k, got, v, r.form)
		}
	}
	if got := r.header.Get("Idempotency-Key"); got != "hold_ses_1" {
		t.Errorf("Idempotency-Key %q", got)
	}
	if got := r.header.Get("Authorization"); got != "Bearer sk_test_stub" {
		t.Errorf("Authorization %q", got)
	}
}

func TestHoldOneOffCardIsOnSession(t *testing.T) {
	g, s := newStubGateway(t, Config{}, reply(200, heldPI))
	if _, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "k", Amount: 100, Currency: "EUR", PaymentMethod: "pm_card_visa"}); err != nil {
		t.Fatal(err)
	}
	f := s.seen()[0].form
	for _, k := range []string{"customer", "off_session", "description"} {
		if f.Has(k) {
			t.Errorf("sent %s=%q for a one-off card", k, f.Get(k))
		}
	}
}

func TestHoldStatuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, outcome, code string
		status                    string
	}{
		{"captured", capturedPI, "", "", evbill.GatewayCaptured},
		{"canceled", canceledPI, "", "", evbill.GatewayReleased},
		{"requires_action", `{"id":"pi_2","object":"payment_intent","amount":100,"currency":"eur","status":"requires_action"}`, evbill.OutcomeDeclined, "requires_action", ""},
		{"requires_payment_method", `{"id":"pi_2","object":"payment_intent","amount":100,"currency":"eur","status":"requires_payment_method",
			"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"do_not_honor","message":"Your card was declined."}}`, evbill.OutcomeDeclined, "do_not_honor", ""},
		{"requires_payment_method without error", `{"id":"pi_2","object":"payment_intent","amount":100,"currency":"eur","status":"requires_payment_method"}`, evbill.OutcomeDeclined, "requires_payment_method", ""},
		{"processing", `{"id":"pi_2","object":"payment_intent","amount":100,"currency":"eur","status":"processing"}`, evbill.OutcomeUnknown, "processing", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newStubGateway(t, Config{}, reply(200, tc.body))
			got, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "k", Amount: 100, Currency: "EUR", PaymentMethod: "pm_x"})
			if tc.outcome != "" {
				ge := outcome(t, err, tc.outcome, tc.code)
				if !strings.Contains(ge.Message, "pi_2") {
					t.Errorf("message %q does not name the PaymentIntent", ge.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.status {
				t.Errorf("status %q, want %q", got.Status, tc.status)
			}
			if tc.status == evbill.GatewayCaptured && (got.Amount != 2500 || got.CapturedAmount != 1830) {
				t.Errorf("amounts %+v", got)
			}
		})
	}
}

func TestHoldDeclined(t *testing.T) {
	const declined = `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
	 "message":"Your card has insufficient funds.",
	 "payment_intent":{"id":"pi_3","object":"payment_intent","status":"requires_payment_method","client_secret":"pi_3_secret_shh"}}}`
	g, s := newStubGateway(t, Config{}, reply(http.StatusPaymentRequired, declined))
	_, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "k", Amount: 100, Currency: "EUR", PaymentMethod: "pm_x"})
	ge := outcome(t, err, evbill.OutcomeDeclined, "insufficient_funds")
	if ge.Message != "Your card has insufficient funds." {
		t.Errorf("message %q", ge.Message)
	}
	if n := len(s.seen()); n != 1 {
		t.Errorf("a decline was sent %d times", n)
	}
	var se *stripego.Error
	if !errors.As(err, &se) || se.HTTPStatusCode != 402 || se.PaymentIntent == nil || se.PaymentIntent.ID != "pi_3" {
		t.Fatalf("the Stripe error is not kept: %#v", se)
	}
	if strings.Contains(err.Error(), "shh") || strings.Contains(se.Error(), "shh") {
		t.Errorf("the client secret leaks into the error: %v / %v", err, se)
	}
}

func TestCardErrorWithoutDeclineCodeUsesCode(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(402, `{"error":{"type":"card_error","code":"expired_card","message":"Your card has expired."}}`))
	_, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "k", Amount: 100, Currency: "EUR", PaymentMethod: "pm_x"})
	outcome(t, err, evbill.OutcomeDeclined, "expired_card")
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		outcome string
		code    string
	}{
		{"500 api_error", 500, `{"error":{"type":"api_error","message":"Something went wrong."}}`, evbill.OutcomeUnknown, "api_error"},
		{"503 not json", 503, `<html>upstream unavailable</html>`, evbill.OutcomeUnknown, "unexpected_response"},
		{"429 rate limit", 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests."}}`, evbill.OutcomeUnknown, "rate_limit"},
		{"429 lock timeout", 429, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"Locked."}}`, evbill.OutcomeUnknown, "lock_timeout"},
		{"409 key in use", 409, `{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"In use."}}`, evbill.OutcomeUnknown, "idempotency_key_in_use"},
		{"400 amount too large", 400, `{"error":{"type":"invalid_request_error","code":"amount_too_large","param":"amount_to_capture","message":"Too large."}}`, evbill.OutcomeRejected, "amount_too_large"},
		{"404 no such intent", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent: 'pi_x'"}}`, evbill.OutcomeRejected, "resource_missing"},
		{"401 bad key", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided."}}`, evbill.OutcomeRejected, "invalid_request_error"},
		{"400 key reused", 400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters."}}`, evbill.OutcomeRejected, "idempotency_error"},
		{"400 authorization expired", 400, `{"error":{"type":"invalid_request_error","code":"charge_expired_for_capture","message":"Expired."}}`, evbill.OutcomeDeclined, "charge_expired_for_capture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newStubGateway(t, Config{}, reply(tc.status, tc.body))
			_, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "cap_1", Reference: "pi_1", Amount: 100, Currency: "EUR"})
			outcome(t, err, tc.outcome, tc.code)
			if evbill.GatewayOutcome(err) != tc.outcome {
				t.Errorf("GatewayOutcome %q", evbill.GatewayOutcome(err))
			}
		})
	}
}

func TestRetriesReuseTheIdempotencyKey(t *testing.T) {
	g, s := newStubGateway(t, Config{},
		reply(502, `<html>bad gateway</html>`),
		dropConnection,
		reply(200, capturedPI))
	got, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "cap_pay_1", Reference: "pi_1", Amount: 1830, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != evbill.GatewayCaptured || got.CapturedAmount != 1830 {
		t.Errorf("got %+v", got)
	}
	reqs := s.seen()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	for i, r := range reqs {
		if k := r.header.Get("Idempotency-Key"); k != "cap_pay_1" {
			t.Errorf("attempt %d: Idempotency-Key %q", i, k)
		}
		if r.path != "/v1/payment_intents/pi_1/capture" || r.form.Get("amount_to_capture") != "1830" {
			t.Errorf("attempt %d: %s %v", i, r.path, r.form)
		}
	}
}

func TestRetriesExhaustedIsUnknown(t *testing.T) {
	g, s := newStubGateway(t, Config{}, dropConnection)
	_, err := g.Refund(context.Background(), evbill.RefundRequest{IdempotencyKey: "ref_1", Reference: "pi_1", Amount: 100, Currency: "EUR"})
	ge := outcome(t, err, evbill.OutcomeUnknown, "")
	if ge.Err == nil {
		t.Error("the network error is not wrapped")
	}
	if n := len(s.seen()); n != 1+maxNetworkRetries {
		t.Errorf("%d attempts, want %d", n, 1+maxNetworkRetries)
	}
}

// hang answers only when the client gives up or the test ends.
func hang(done <-chan struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
}

func TestAttemptTimeoutIsUnknownAndRetried(t *testing.T) {
	done := make(chan struct{})
	g, s := newStubGateway(t, Config{Timeout: 100 * time.Millisecond}, hang(done))
	t.Cleanup(func() { close(done) })
	_, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "hold_1", Amount: 100, Currency: "EUR", PaymentMethod: "pm_x"})
	ge := outcome(t, err, evbill.OutcomeUnknown, "timeout")
	if ge.Err == nil {
		t.Error("the timeout is not wrapped")
	}
	reqs := s.seen()
	if len(reqs) != 1+maxNetworkRetries {
		t.Errorf("%d attempts, want %d", len(reqs), 1+maxNetworkRetries)
	}
	for i, r := range reqs {
		if k := r.header.Get("Idempotency-Key"); k != "hold_1" {
			t.Errorf("attempt %d: Idempotency-Key %q", i, k)
		}
	}
}

func TestContextDeadlineIsUnknown(t *testing.T) {
	done := make(chan struct{})
	g, s := newStubGateway(t, Config{}, hang(done))
	t.Cleanup(func() { close(done) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := g.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: "rel_1", Reference: "pi_1"})
	outcome(t, err, evbill.OutcomeUnknown, "timeout")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap context.DeadlineExceeded", err)
	}
	if n := len(s.seen()); n != 1 {
		t.Errorf("%d attempts after the caller's deadline, want 1", n)
	}
}

func TestConnectionRefusedIsUnknown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	g, err := New(Config{SecretKey: "sk_test_x", BackendURL: base})
	if err != nil {
		t.Fatal(err)
	}
	g.backend.(*stripego.BackendImplementation).SetNetworkRetriesSleep(false)
	_, err = g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 1, Currency: "EUR"})
	outcome(t, err, evbill.OutcomeUnknown, "network_error")
}

func TestCaptureOfCanceledHoldIsDeclined(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",
	 "message":"This PaymentIntent could not be captured because it has a status of canceled.",
	 "payment_intent":`+canceledPI+`}}`))
	_, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 100, Currency: "EUR"})
	ge := outcome(t, err, evbill.OutcomeDeclined, "payment_intent_unexpected_state")
	if !strings.Contains(ge.Message, "automatic") {
		t.Errorf("message %q does not say why", ge.Message)
	}
}

func TestCaptureOfUncapturableStateIsRejected(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",
	 "message":"This PaymentIntent could not be captured because it has a status of succeeded.",
	 "payment_intent":`+capturedPI+`}}`))
	_, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 100, Currency: "EUR"})
	outcome(t, err, evbill.OutcomeRejected, "payment_intent_unexpected_state")
}

func TestCaptureStillProcessingIsUnknown(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(200, `{"id":"pi_1","object":"payment_intent","amount":100,"currency":"eur","status":"processing"}`))
	_, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 100, Currency: "EUR"})
	outcome(t, err, evbill.OutcomeUnknown, "processing")
}

func TestRelease(t *testing.T) {
	g, s := newStubGateway(t, Config{}, reply(200, strings.Replace(canceledPI, `"automatic"`, `null`, 1)))
	got, err := g.Release(context.Background(), evbill.ReleaseRequest{IdempotencyKey: "rel_pay_1", Reference: "pi_1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != evbill.GatewayReleased || got.Reference != "pi_1" || got.Amount != 2500 {
		t.Errorf("got %+v", got)
	}
	r := s.seen()[0]
	if r.path != "/v1/payment_intents/pi_1/cancel" || r.header.Get("Idempotency-Key") != "rel_pay_1" {
		t.Errorf("sent %s with key %q", r.path, r.header.Get("Idempotency-Key"))
	}
}

func TestReleaseOfExpiredHoldIsReleased(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",
	 "message":"You cannot cancel this PaymentIntent because it has a status of canceled.",
	 "payment_intent":`+canceledPI+`}}`))
	got, err := g.Release(context.Background(), evbill.ReleaseRequest{IdempotencyKey: "rel_2", Reference: "pi_1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != evbill.GatewayReleased || got.Reference != "pi_1" {
		t.Errorf("got %+v", got)
	}
}

func TestReleaseOfCapturedIsRejected(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",
	 "message":"You cannot cancel this PaymentIntent because it has a status of succeeded.","payment_intent":`+capturedPI+`}}`))
	_, err := g.Release(context.Background(), evbill.ReleaseRequest{IdempotencyKey: "rel_3", Reference: "pi_1"})
	outcome(t, err, evbill.OutcomeRejected, "payment_intent_unexpected_state")
}

func TestRefund(t *testing.T) {
	for _, tc := range []struct{ reason, stripe, meta string }{
		{"", "requested_by_customer", ""},
		{"Driver asked: charger stopped early", "requested_by_customer", "Driver asked: charger stopped early"},
		{"duplicate", "duplicate", "duplicate"},
		{" Fraudulent ", "fraudulent", "Fraudulent"},
		{"requested by customer", "requested_by_customer", "requested by customer"},
		{"fraud suspected", "requested_by_customer", "fraud suspected"},
		{strings.Repeat("é", 600), "requested_by_customer", strings.Repeat("é", maxMetadataValue)},
	} {
		t.Run(tc.stripe+"/"+truncate(tc.reason, 20), func(t *testing.T) {
			g, s := newStubGateway(t, Config{}, reply(200, `{"id":"re_1","object":"refund","amount":700,"currency":"eur","payment_intent":"pi_1","status":"succeeded"}`))
			got, err := g.Refund(context.Background(), evbill.RefundRequest{IdempotencyKey: "ref_pay_1", Reference: "pi_1", Amount: 700, Currency: "EUR", Reason: tc.reason})
			if err != nil {
				t.Fatal(err)
			}
			if want := (evbill.GatewayRefund{Reference: "re_1", Payment: "pi_1", Amount: 700, Currency: "EUR"}); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			r := s.seen()[0]
			if r.path != "/v1/refunds" || r.header.Get("Idempotency-Key") != "ref_pay_1" {
				t.Errorf("sent %s with key %q", r.path, r.header.Get("Idempotency-Key"))
			}
			if r.form.Get("payment_intent") != "pi_1" || r.form.Get("amount") != "700" || r.form.Get("reason") != tc.stripe {
				t.Errorf("form %v", r.form)
			}
			if got := r.form.Get("metadata[reason]"); got != tc.meta || r.form.Has("metadata[reason]") != (tc.meta != "") {
				t.Errorf("metadata[reason] = %q, want %q", got, tc.meta)
			}
		})
	}
}

func TestRefundFailed(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(200, `{"id":"re_2","object":"refund","amount":700,"currency":"eur","payment_intent":"pi_1","status":"failed","failure_reason":"expired_or_canceled_card"}`))
	_, err := g.Refund(context.Background(), evbill.RefundRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 700, Currency: "EUR"})
	outcome(t, err, evbill.OutcomeDeclined, "expired_or_canceled_card")
}

func TestRefundPending(t *testing.T) {
	g, _ := newStubGateway(t, Config{}, reply(200, `{"id":"re_3","object":"refund","amount":700,"currency":"eur","payment_intent":"pi_1","status":"pending"}`))
	got, err := g.Refund(context.Background(), evbill.RefundRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: 700, Currency: "EUR"})
	if err != nil || got.Reference != "re_3" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestLocalChecksSendNothing(t *testing.T) {
	g, s := newStubGateway(t, Config{}, reply(500, `{}`))
	ctx := context.Background()
	long := strings.Repeat("k", maxIdempotencyKey+1)
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"hold without key", func() error {
			_, err := g.Hold(ctx, evbill.HoldRequest{Amount: 1, Currency: "EUR", PaymentMethod: "pm"})
			return err
		}, "idempotency_key_missing"},
		{"hold with long key", func() error {
			_, err := g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: long, Amount: 1, Currency: "EUR", PaymentMethod: "pm"})
			return err
		}, "idempotency_key_too_long"},
		{"hold of zero", func() error {
			_, err := g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: "k", Currency: "EUR", PaymentMethod: "pm"})
			return err
		}, "invalid_amount"},
		{"hold without card", func() error {
			_, err := g.Hold(ctx, evbill.HoldRequest{IdempotencyKey: "k", Amount: 1, Currency: "EUR"})
			return err
		}, "payment_method_missing"},
		{"capture of zero", func() error {
			_, err := g.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: "k", Reference: "pi_1", Currency: "EUR"})
			return err
		}, "invalid_amount"},
		{"capture without reference", func() error {
			_, err := g.Capture(ctx, evbill.CaptureRequest{IdempotencyKey: "k", Amount: 1, Currency: "EUR"})
			return err
		}, "reference_missing"},
		{"capture without key", func() error {
			_, err := g.Capture(ctx, evbill.CaptureRequest{Reference: "pi_1", Amount: 1, Currency: "EUR"})
			return err
		}, "idempotency_key_missing"},
		{"release without reference", func() error {
			_, err := g.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: "k"})
			return err
		}, "reference_missing"},
		{"release with long key", func() error {
			_, err := g.Release(ctx, evbill.ReleaseRequest{IdempotencyKey: long, Reference: "pi_1"})
			return err
		}, "idempotency_key_too_long"},
		{"refund of negative", func() error {
			_, err := g.Refund(ctx, evbill.RefundRequest{IdempotencyKey: "k", Reference: "pi_1", Amount: -5, Currency: "EUR"})
			return err
		}, "invalid_amount"},
		{"refund without key", func() error {
			_, err := g.Refund(ctx, evbill.RefundRequest{Reference: "pi_1", Amount: 5, Currency: "EUR"})
			return err
		}, "idempotency_key_missing"},
		{"setup intent without customer", func() error {
			_, _, err := g.CreateSetupIntent(ctx, "", "k")
			return err
		}, "customer_missing"},
		{"customer with long key", func() error {
			_, err := g.CreateCustomer(ctx, "a@example.com", "A", long)
			return err
		}, "idempotency_key_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) { outcome(t, tc.call(), evbill.OutcomeRejected, tc.code) })
	}
	if n := len(s.seen()); n != 0 {
		t.Errorf("%d requests sent for calls refused locally", n)
	}
}

func TestCustomerAndSetupIntent(t *testing.T) {
	g, s := newStubGateway(t, Config{},
		reply(200, `{"id":"cus_1","object":"customer","email":"d@example.com"}`),
		reply(200, `{"id":"seti_1","object":"setup_intent","client_secret":"seti_1_secret_abc","status":"requires_payment_method","usage":"off_session"}`))
	ctx := context.Background()
	cus, err := g.CreateCustomer(ctx, "d@example.com", "Dana Driver", "cus_drv_1")
	if err != nil || cus != "cus_1" {
		t.Fatalf("CreateCustomer: %q, %v", cus, err)
	}
	id, secret, err := g.CreateSetupIntent(ctx, cus, "seti_drv_1")
	if err != nil || id != "seti_1" || secret != "seti_1_secret_abc" {
		t.Fatalf("CreateSetupIntent: %q %q, %v", id, secret, err)
	}
	reqs := s.seen()
	if r := reqs[0]; r.path != "/v1/customers" || r.form.Get("email") != "d@example.com" || r.form.Get("name") != "Dana Driver" || r.header.Get("Idempotency-Key") != "cus_drv_1" {
		t.Errorf("customer request %s %v %v", r.path, r.form, r.header.Get("Idempotency-Key"))
	}
	if r := reqs[1]; r.path != "/v1/setup_intents" || r.form.Get("customer") != "cus_1" || r.form.Get("usage") != "off_session" ||
		r.form.Get("payment_method_types[0]") != "card" || r.header.Get("Idempotency-Key") != "seti_drv_1" {
		t.Errorf("setup intent request %s %v %v", r.path, r.form, r.header.Get("Idempotency-Key"))
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{SecretKey: "  "},
		{SecretKey: "sk_test_x", BackendURL: "ftp://example.com"},
		{SecretKey: "sk_test_x", BackendURL: "127.0.0.1:12111"},
		{SecretKey: "sk_test_x", Timeout: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if DefaultBackendURL != stripego.APIURL {
		t.Errorf("DefaultBackendURL %q is not stripe-go's %q", DefaultBackendURL, stripego.APIURL)
	}
	g, err := New(Config{SecretKey: "sk_test_x"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Name() != "stripe" {
		t.Errorf("Name %q", g.Name())
	}
	b := g.backend.(*stripego.BackendImplementation)
	if b.URL != DefaultBackendURL || b.HTTPClient.Timeout != DefaultTimeout || b.MaxNetworkRetries != maxNetworkRetries {
		t.Errorf("defaults: URL %q timeout %v retries %d", b.URL, b.HTTPClient.Timeout, b.MaxNetworkRetries)
	}
	mine := &http.Client{Timeout: 7 * time.Second}
	g, err = New(Config{SecretKey: "sk_test_x", HTTPClient: mine, Timeout: time.Second, BackendURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	b = g.backend.(*stripego.BackendImplementation)
	if b.HTTPClient == mine || mine.Timeout != 7*time.Second || b.HTTPClient.Timeout != time.Second || b.URL != "http://127.0.0.1:1" {
		t.Errorf("the caller's client was changed or not copied: URL %q timeout %v", b.URL, b.HTTPClient.Timeout)
	}
	g, _ = New(Config{SecretKey: "sk_test_x", HTTPClient: mine})
	if got := g.backend.(*stripego.BackendImplementation).HTTPClient.Timeout; got != 7*time.Second {
		t.Errorf("the client's own timeout is not kept: %v", got)
	}
}

func ExampleGateway_Hold() {
	g, err := New(Config{SecretKey: "sk_test_…", WebhookSecret: "whsec_…"})
	if err != nil {
		panic(err)
	}
	p, err := g.Hold(context.Background(), evbill.HoldRequest{
		IdempotencyKey: "hold_pay_01J…", // the same key on every retry
		Amount:         5000,            // 50.00 EUR
		Currency:       "EUR",
		PaymentMethod:  "pm_…",
		Customer:       "cus_…", // a saved card: the hold is off-session
	})
	switch evbill.GatewayOutcome(err) {
	case "":
		fmt.Println(p.Status, p.Reference)
	case evbill.OutcomeUnknown:
		// retry later with the same key
	default:
		// declined or rejected: nothing was held
	}
}
