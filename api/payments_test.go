package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

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
		p := evbill.Payment{TenantID: tn.id, SiteID: site, IDTag: "ADHOCAPI1", Gateway: "sandbox", PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 2500}
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
		if got["state"] != evbill.PaymentHeld || got["hold_amount"] != 2500.0 || got["gateway"] != "sandbox" || got["id_tag"] != "ADHOCAPI1" {
			t.Errorf("payment %v", got)
		}
		changes := got["changes"].([]any)
		if len(changes) != 2 || changes[1].(map[string]any)["to"] != evbill.PaymentHeld || changes[1].(map[string]any)["from"] != evbill.PaymentHoldPending {
			t.Errorf("changes %v", changes)
		}
		other.admin.do(http.MethodGet, "/api/v1/payments/"+p.ID, nil).problem(t, http.StatusNotFound, "not-found")
	})
}

// TestPaymentMethodRoutes sets and reads a driver's payment method, and
// refuses what must never be stored: a card number for a real gateway, a
// real card for the sandbox.
func TestPaymentMethodRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn, other := e.newTenant(), e.newTenant()
		drv := tn.operator.do(http.MethodPost, "/api/v1/drivers", map[string]any{"name": "D"}).must(t, http.StatusCreated)["id"].(string)
		path := "/api/v1/drivers/" + drv + "/payment-method"
		tn.readonly.do(http.MethodGet, path, nil).problem(t, http.StatusNotFound, "not-found")
		got := tn.operator.do(http.MethodPut, path, map[string]any{"pay_by": "card", "gateway": "sandbox", "card": "4242 4242 4242 4242"}).must(t, http.StatusOK)
		if got["pay_by"] != "card" || got["gateway"] != "sandbox" {
			t.Errorf("set: %v", got)
		}
		if got := tn.readonly.do(http.MethodGet, path, nil).must(t, http.StatusOK); got["card"] != "4242 4242 4242 4242" {
			t.Errorf("read back: %v", got)
		}
		tn.operator.do(http.MethodPut, path, map[string]any{"pay_by": "card", "gateway": "stripe", "card": "4000 0566 5566 5556"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.card")
		tn.operator.do(http.MethodPut, path, map[string]any{"pay_by": "card", "gateway": "sandbox", "card": "5555555555554444"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.card")
		tn.operator.do(http.MethodPut, path, map[string]any{"pay_by": "card"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.gateway")
		tn.operator.do(http.MethodPut, path, map[string]any{"pay_by": "card", "gateway": "stripe", "card": "pm_card_visa"}).must(t, http.StatusOK)
		tn.readonly.do(http.MethodPut, path, map[string]any{"pay_by": "wallet"}).problem(t, http.StatusForbidden, "forbidden")
		other.admin.do(http.MethodPut, path, map[string]any{"pay_by": "wallet"}).problem(t, http.StatusNotFound, "not-found")
		if got := tn.readonly.do(http.MethodGet, path, nil).must(t, http.StatusOK); got["card"] != "pm_card_visa" {
			t.Errorf("after the refusals: %v", got)
		}
	})
}

// TestRefundRoute: finance and admins refund a captured CDR, the others
// may not; the worker gives the money back; more than was captured is a
// conflict.
func TestRefundRoute(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ps := e.store.(evbill.PaymentStore)
		ss := e.store.(evbill.SessionStore)
		tn := e.newTenant()
		site := tn.admin.do(http.MethodPost, "/api/v1/sites", map[string]any{"name": "p", "country": "NL", "time_zone": "UTC"}).must(t, http.StatusCreated)["id"].(string)
		st := evbill.Station{TenantID: tn.id, SiteID: site, ChargePointID: evbill.NewID("CP")}
		if err := e.store.CreateStation(ctx, &st); err != nil {
			t.Fatal(err)
		}
		sess := evbill.Session{TenantID: tn.id, StationID: st.ID, ConnectorNumber: 1, IDTag: "T", MeterStartWh: "0", StartedAt: time.Now().Add(-time.Hour)}
		if _, err := ss.StartSession(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		p := evbill.Payment{TenantID: tn.id, SessionID: sess.ID, SiteID: site, Gateway: "sandbox", PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 5000}
		if err := ps.CreatePayment(ctx, &p); err != nil {
			t.Fatal(err)
		}
		sbx, _ := sandbox.New(sandbox.Config{})
		w := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		round := func() {
			t.Helper()
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		round()
		stop := time.Now()
		sess.MeterStopWh, sess.StoppedAt, sess.State = "5000", &stop, evbill.SessionEnded
		c := &evbill.CDR{Currency: "EUR", TotalExclVAT: "10.0000", TotalInclVAT: "12.1000", AmountMinor: 1210, Document: []byte(`{}`), Breakdown: []byte(`[]`)}
		if err := ss.EndSession(ctx, &sess, c, nil); err != nil {
			t.Fatal(err)
		}
		round()
		round()
		path := "/api/v1/cdrs/" + c.ID + "/refunds"
		body := map[string]any{"amount": 210, "reason": "slow charging"}
		tn.operator.do(http.MethodPost, path, body).problem(t, http.StatusForbidden, "forbidden")
		tn.readonly.do(http.MethodPost, path, body).problem(t, http.StatusForbidden, "forbidden")
		r := tn.finance.do(http.MethodPost, path, body).must(t, http.StatusAccepted)
		if r["state"] != evbill.RefundPending || r["amount"] != 210.0 {
			t.Fatalf("refund: %v", r)
		}
		tn.admin.do(http.MethodPost, path, map[string]any{"amount": 1001}).problem(t, http.StatusConflict, "conflict")
		tn.admin.do(http.MethodPost, "/api/v1/cdrs/cdr_nope/refunds", body).problem(t, http.StatusNotFound, "not-found")
		round()
		got := tn.readonly.do(http.MethodGet, "/api/v1/refunds/"+r["id"].(string), nil).must(t, http.StatusOK)
		if got["state"] != evbill.RefundSucceeded {
			t.Errorf("after the worker: %v", got)
		}
		if pay := tn.readonly.do(http.MethodGet, "/api/v1/payments/"+p.ID, nil).must(t, http.StatusOK); pay["refunded"] != 210.0 || pay["state"] != evbill.PaymentPartiallyRefunded {
			t.Errorf("payment after the refund: %v", pay)
		}
	})
}

// TestWalletRoutes tops a wallet up by sandbox card and reads its balance
// and history once the worker captured it.
func TestWalletRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ps := e.store.(evbill.PaymentStore)
		tn := e.newTenant()
		drv := tn.operator.do(http.MethodPost, "/api/v1/drivers", map[string]any{"name": "W"}).must(t, http.StatusCreated)["id"].(string)
		w0 := tn.readonly.do(http.MethodGet, "/api/v1/drivers/"+drv+"/wallet", nil).must(t, http.StatusOK)
		if w0["balance"] != 0.0 || len(w0["entries"].([]any)) != 0 {
			t.Errorf("an empty wallet: %v", w0)
		}
		path := "/api/v1/drivers/" + drv + "/wallet/top-ups"
		tn.operator.do(http.MethodPost, path, map[string]any{"amount": 2500, "currency": "EUR", "gateway": "stripe", "card": "4242424242424242"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.card")
		tn.operator.do(http.MethodPost, path, map[string]any{"amount": 2500, "currency": "XXY", "gateway": "sandbox", "card": "card_ok"}).problem(t, http.StatusUnprocessableEntity, "invalid", "body.currency")
		p := tn.operator.do(http.MethodPost, path, map[string]any{"amount": 2500, "currency": "EUR", "gateway": "sandbox", "card": "card_ok"}).must(t, http.StatusAccepted)
		if p["state"] != evbill.PaymentHoldPending {
			t.Fatalf("top-up: %v", p)
		}
		sbx, _ := sandbox.New(sandbox.Config{})
		wk := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		for range 2 {
			if _, err := wk.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		w1 := tn.readonly.do(http.MethodGet, "/api/v1/drivers/"+drv+"/wallet?currency=EUR", nil).must(t, http.StatusOK)
		if w1["balance"] != 2500.0 || len(w1["entries"].([]any)) != 1 {
			t.Errorf("after the top-up: %v", w1)
		}
	})
}
