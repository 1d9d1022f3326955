package stripe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// The tests in this file are contract tests against stripe-mock, Stripe's
// mock of its API built from its OpenAPI spec: it checks every request's
// path and parameters against the spec and answers with fixture objects
// that echo some of the parameters. It keeps no state (a capture does not
// find the hold it captures), so these tests check what the spec decides:
// that each request is accepted as sent, that the answer decodes and maps,
// and how an answer it refuses is classified.

// mockURL is stripe-mock's base URL for this run, "" when there is none;
// mockErr says why not when a stripe-mock was found but did not start.
var (
	mockURL string
	mockErr error
)

// mockURLEnv names the environment variable that CI sets to a running
// stripe-mock, as scripts/stripe-mock.sh prints it.
const mockURLEnv = "EVBILL_TEST_STRIPE_MOCK_URL"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if u := os.Getenv(mockURLEnv); u != "" {
		mockURL = strings.TrimRight(u, "/")
		return m.Run()
	}
	bin := findStripeMock()
	if bin == "" {
		return m.Run()
	}
	stop, u, err := startStripeMock(bin)
	if err != nil {
		mockErr = fmt.Errorf("%s did not start: %w", bin, err)
		return m.Run()
	}
	defer stop()
	mockURL = u
	return m.Run()
}

// findStripeMock looks where `go install` puts it, and on PATH.
func findStripeMock() string {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	if gopath := filepath.SplitList(build.Default.GOPATH); len(gopath) > 0 && gopath[0] != "" {
		p := filepath.Join(gopath[0], "bin", "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// startStripeMock runs bin on ports the system picks on 127.0.0.1 (both
// its HTTP and its HTTPS listener, which it would otherwise open on every
// interface), and reads the HTTP address from what it prints.
func startStripeMock(bin string) (stop func(), baseURL string, err error) {
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		const prefix = "Listening for HTTP at address: "
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- "http://" + addr
				break
			}
		}
		close(found)
		// Keep reading so that stripe-mock never blocks on a full pipe.
		io.Copy(io.Discard, out)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			stop()
			return nil, "", errors.New("it exited before listening")
		}
		return stop, u, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, "", errors.New("it did not listen within 30 s")
	}
}

// exchange is one request to stripe-mock and the status it answered.
type exchange struct {
	method, path, idempotencyKey string
	status                       int
}

// recorder is a transport that notes what went to stripe-mock and what
// came back.
type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	x := exchange{method: req.Method, path: req.URL.Path, idempotencyKey: req.Header.Get("Idempotency-Key")}
	if err == nil {
		x.status = res.StatusCode
	}
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return res, err
}

func (r *recorder) last(t *testing.T) exchange {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.log) == 0 {
		t.Fatal("no request reached stripe-mock")
	}
	return r.log[len(r.log)-1]
}

// mockGateway returns a Gateway on stripe-mock, or skips the test when
// there is none.
func mockGateway(t *testing.T, key string) (*Gateway, *recorder) {
	t.Helper()
	if mockErr != nil {
		t.Fatal(mockErr)
	}
	if mockURL == "" {
		t.Skipf("no stripe-mock: set %s to a running one (scripts/stripe-mock.sh start) or put stripe-mock on PATH or in $(go env GOPATH)/bin (scripts/stripe-mock.sh installs it)", mockURLEnv)
	}
	rec := &recorder{}
	g, err := New(Config{SecretKey: key, WebhookSecret: testWebhookSecret, BackendURL: mockURL, HTTPClient: &http.Client{Transport: rec}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g, rec
}

func TestMockHold(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	for _, r := range []evbill.HoldRequest{
		{IdempotencyKey: "hold_mock_1", Amount: 5000, Currency: "EUR", PaymentMethod: "pm_card_visa", Customer: "cus_mock",
			Description: "Charging at Depot 4", Metadata: map[string]string{"session": "ses_1", "tenant": "ten_1"}},
		{IdempotencyKey: "hold_mock_2", Amount: 1, Currency: "eur", PaymentMethod: "pm_card_visa"},
	} {
		p, err := g.Hold(context.Background(), r)
		x := rec.last(t)
		if x.method != http.MethodPost || x.path != "/v1/payment_intents" || x.status != http.StatusOK {
			t.Fatalf("stripe-mock answered %d to %s %s: %v", x.status, x.method, x.path, err)
		}
		if x.idempotencyKey != r.IdempotencyKey {
			t.Errorf("Idempotency-Key %q, want %q", x.idempotencyKey, r.IdempotencyKey)
		}
		// stripe-mock's fixture is a PaymentIntent that still needs a
		// payment method; a real account answers requires_capture.
		if err != nil {
			ge := outcome(t, err, evbill.OutcomeDeclined, "")
			if !strings.Contains(ge.Message, "pi_") {
				t.Errorf("message %q does not name the PaymentIntent", ge.Message)
			}
			continue
		}
		if !strings.HasPrefix(p.Reference, "pi_") || p.Amount != r.Amount || p.Currency != "EUR" {
			t.Errorf("got %+v", p)
		}
	}
}

func TestMockCapture(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	p, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "cap_mock_1", Reference: "pi_123", Amount: 1830, Currency: "EUR"})
	x := rec.last(t)
	if x.path != "/v1/payment_intents/pi_123/capture" || x.status != http.StatusOK || x.idempotencyKey != "cap_mock_1" {
		t.Fatalf("%+v: %v", x, err)
	}
	// The fixture is not captured: without state, the answer is known
	// only to decode, and to map to a capture or to "not finished".
	if err != nil {
		outcome(t, err, evbill.OutcomeUnknown, "")
	} else if p.Reference != "pi_123" {
		t.Errorf("got %+v", p)
	}
}

func TestMockRelease(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	p, err := g.Release(context.Background(), evbill.ReleaseRequest{IdempotencyKey: "rel_mock_1", Reference: "pi_123"})
	x := rec.last(t)
	if x.path != "/v1/payment_intents/pi_123/cancel" || x.status != http.StatusOK || x.idempotencyKey != "rel_mock_1" {
		t.Fatalf("%+v: %v", x, err)
	}
	if err != nil {
		outcome(t, err, evbill.OutcomeUnknown, "")
	} else if p.Reference != "pi_123" {
		t.Errorf("got %+v", p)
	}
}

func TestMockRefund(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	// stripe-mock checks reason against the spec's enumeration, so every
	// kind of free text must come out as one of Stripe's reasons.
	for i, reason := range []string{"", "Charger stopped early, driver asked", "duplicate", "Fraudulent", "requested by customer"} {
		key := fmt.Sprintf("ref_mock_%d", i)
		r, err := g.Refund(context.Background(), evbill.RefundRequest{IdempotencyKey: key, Reference: "pi_123", Amount: 300, Currency: "EUR", Reason: reason})
		if err != nil {
			t.Fatalf("reason %q: %v", reason, err)
		}
		x := rec.last(t)
		if x.path != "/v1/refunds" || x.status != http.StatusOK || x.idempotencyKey != key {
			t.Errorf("%+v", x)
		}
		if !strings.HasPrefix(r.Reference, "re_") || r.Payment != "pi_123" || r.Amount != 300 || r.Currency == "" || strings.ToUpper(r.Currency) != r.Currency {
			t.Errorf("got %+v", r)
		}
	}
}

func TestMockCustomerAndSetupIntent(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	cus, err := g.CreateCustomer(context.Background(), "dana@example.com", "Dana Driver", "cus_mock_1")
	if err != nil || !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("CreateCustomer: %q, %v", cus, err)
	}
	if x := rec.last(t); x.path != "/v1/customers" || x.idempotencyKey != "cus_mock_1" {
		t.Errorf("%+v", x)
	}
	id, secret, err := g.CreateSetupIntent(context.Background(), cus, "seti_mock_1")
	if err != nil || !strings.HasPrefix(id, "seti_") || secret == "" {
		t.Fatalf("CreateSetupIntent: %q %q, %v", id, secret, err)
	}
	if x := rec.last(t); x.path != "/v1/setup_intents" || x.idempotencyKey != "seti_mock_1" {
		t.Errorf("%+v", x)
	}
}

func TestMockInvalidRequestIsRejected(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	// A metadata key with brackets turns into a nested parameter, which
	// the spec (and Stripe) refuses with a 400.
	_, err := g.Hold(context.Background(), evbill.HoldRequest{IdempotencyKey: "hold_mock_bad", Amount: 100, Currency: "EUR", PaymentMethod: "pm_card_visa",
		Metadata: map[string]string{"a][b": "c"}})
	if x := rec.last(t); x.status != http.StatusBadRequest {
		t.Fatalf("stripe-mock answered %d, want 400", x.status)
	}
	ge := outcome(t, err, evbill.OutcomeRejected, "invalid_request_error")
	if !strings.Contains(ge.Message, "metadata") {
		t.Errorf("message %q", ge.Message)
	}
	rec.mu.Lock()
	n := len(rec.log)
	rec.mu.Unlock()
	if n != 1 {
		t.Errorf("a 400 was sent %d times", n)
	}
}

func TestMockUnknownPathIsRejected(t *testing.T) {
	g, rec := mockGateway(t, "sk_test_evbill")
	_, err := g.Capture(context.Background(), evbill.CaptureRequest{IdempotencyKey: "cap_mock_bad", Reference: "pi_1/../x", Amount: 1, Currency: "EUR"})
	if x := rec.last(t); x.status != http.StatusNotFound {
		t.Fatalf("stripe-mock answered %d to %s, want 404", x.status, x.path)
	}
	outcome(t, err, evbill.OutcomeRejected, "")
}

func TestMockBadKeyIsRejected(t *testing.T) {
	g, rec := mockGateway(t, "not_a_key")
	_, err := g.CreateCustomer(context.Background(), "", "", "")
	if x := rec.last(t); x.status != http.StatusUnauthorized {
		t.Fatalf("stripe-mock answered %d, want 401", x.status)
	}
	outcome(t, err, evbill.OutcomeRejected, "")
}
