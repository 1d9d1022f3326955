package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/stripe"
)

// TestCardSetup saves a driver's card through Stripe, as stripe-mock
// answers: a customer made once per driver, a SetupIntent each time, and
// the refusals. CI runs stripe-mock (EVBILL_TEST_STRIPE_MOCK_URL).
func TestCardSetup(t *testing.T) {
	mock := os.Getenv("EVBILL_TEST_STRIPE_MOCK_URL")
	if mock == "" {
		t.Skip("EVBILL_TEST_STRIPE_MOCK_URL is not set: start one with scripts/stripe-mock.sh start")
	}
	g, err := stripe.New(stripe.Config{SecretKey: "sk_test_evbill", BackendURL: strings.TrimRight(mock, "/"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := engines(t)["sqlite"](t)
	e := &env{t: t, store: st, resolver: pricing.NewResolver(st), registry: prometheus.NewRegistry()}
	h, err := api.New(api.Config{Store: st, Resolver: e.resolver, Registry: e.registry, CardSetup: map[string]api.CardSetup{"stripe": g}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	tn := e.newTenant()
	d := tn.operator.do("POST", "/api/v1/drivers", map[string]any{"name": "Dana Driver", "email": "dana@example.com"}).must(t, http.StatusCreated)
	path := "/api/v1/drivers/" + d["id"].(string) + "/payment-method/setup"

	first := tn.operator.do("POST", path, map[string]any{"gateway": "stripe"}).must(t, http.StatusOK)
	for field, prefix := range map[string]string{"customer": "cus_", "setup_intent": "seti_", "client_secret": "seti_"} {
		if v, _ := first[field].(string); !strings.HasPrefix(v, prefix) {
			t.Errorf("%s = %q, want %s…", field, v, prefix)
		}
	}
	// The app confirmed the setup: the driver now pays with the saved card
	// (stripe-mock answers every customer with one fixture ID, so the
	// driver's is set apart here to tell reuse from a new customer).
	tn.operator.do("PUT", "/api/v1/drivers/"+d["id"].(string)+"/payment-method", map[string]any{
		"pay_by": "card", "gateway": "stripe", "card": "pm_card_visa", "customer": "cus_dana"}).must(t, http.StatusOK)
	// A second setup (another card) keeps the driver's customer.
	second := tn.operator.do("POST", path, map[string]any{"gateway": "stripe"}).must(t, http.StatusOK)
	if second["customer"] != "cus_dana" {
		t.Errorf("second setup made customer %v, want the driver's cus_dana", second["customer"])
	}

	tn.operator.do("POST", path, map[string]any{"gateway": "sandbox"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.gateway")
	tn.operator.do("POST", "/api/v1/drivers/drv_nope/payment-method/setup", map[string]any{"gateway": "stripe"}).problem(t, http.StatusNotFound, "not-found")
	tn.readonly.do("POST", path, map[string]any{"gateway": "stripe"}).problem(t, http.StatusForbidden, "forbidden")
}
