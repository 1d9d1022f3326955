package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
)

// TestPaymentRoutes reads a payment that the worker held through the
// sandbox, with its changes, on both engines; another tenant cannot.
func TestPaymentRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ps, ok := e.store.(evbill.PaymentStore)
		if !ok {
			t.Fatalf("%T keeps no payments", e.store)
		}
		tn, other := e.newTenant(), e.newTenant()
		site := tn.admin.do(http.MethodPost, "/api/v1/sites", map[string]any{"name": "p", "country": "NL", "time_zone": "UTC"}).must(t, http.StatusCreated)["id"].(string)
		p := evbill.Payment{TenantID: tn.id, SiteID: site, Gateway: "sandbox", PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 2500}
		if err := ps.CreatePayment(context.Background(), &p); err != nil {
			t.Fatal(err)
		}
		sbx, err := sandbox.New(sandbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		w := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := tn.readonly.do(http.MethodGet, "/api/v1/payments/"+p.ID, nil).must(t, http.StatusOK)
		if got["state"] != evbill.PaymentHeld || got["hold_amount"] != 2500.0 || got["gateway"] != "sandbox" {
			t.Errorf("payment %v", got)
		}
		changes := got["changes"].([]any)
		if len(changes) != 2 || changes[1].(map[string]any)["to"] != evbill.PaymentHeld || changes[1].(map[string]any)["from"] != evbill.PaymentHoldPending {
			t.Errorf("changes %v", changes)
		}
		other.admin.do(http.MethodGet, "/api/v1/payments/"+p.ID, nil).problem(t, http.StatusNotFound, "not-found")
	})
}
