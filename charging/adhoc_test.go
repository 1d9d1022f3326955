package charging_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
)

// adHocGuest gives the world a guest token uid, as the pay page makes
// one, and, when hold is positive, the ad-hoc payment of that idTag, held
// by the sandbox. It returns the payment.
func adHocGuest(t *testing.T, w *world, worker *payment.Worker, uid string, hold int64) evbill.Payment {
	t.Helper()
	ctx := context.Background()
	ps := w.store.(evbill.PaymentStore)
	expires := time.Now().Add(evbill.AdHocWindow)
	if err := w.store.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: uid, Type: evbill.TokenTypeAdHoc,
		Status: evbill.TokenAccepted, ExpiresAt: &expires}); err != nil {
		t.Fatal(err)
	}
	if hold <= 0 {
		return evbill.Payment{}
	}
	p := evbill.Payment{TenantID: w.tenant.ID, SiteID: w.station.SiteID, IDTag: uid, Gateway: "sandbox",
		PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: hold}
	if err := ps.CreatePayment(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := ps.Payment(ctx, w.tenant.ID, p.ID)
	if err != nil || p.State != evbill.PaymentHeld {
		t.Fatalf("the guest's payment after the worker: %+v, %v", p, err)
	}
	return p
}

// TestAdHocStart: a guest's session claims the payment the pay page made
// for its idTag at StartTransaction, and a retransmitted start is answered
// as the first; a second session with the same idTag, or a guest token
// without a held payment, is refused (Invalid). The claimed payment's
// hold is the one the 90 % guard watches, and its CDR total is captured.
func TestAdHocStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ps := w.store.(evbill.PaymentStore)
		sbx, err := sandbox.New(sandbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		worker := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		p := adHocGuest(t, w, worker, "ADHOCGUEST1", 1000) // EUR 10.00, far below the configured card hold
		adHocGuest(t, w, worker, "ADHOCGUEST2", 0)

		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		// A minute ahead: the tariff version made a moment ago is in force.
		start := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
		startReq := fmt.Sprintf(`{"connectorId":1,"idTag":"ADHOCGUEST1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339))
		first := ch.call("StartTransaction", startReq)
		if info := first["idTagInfo"].(map[string]any); info["status"] != "Accepted" {
			t.Fatalf("the guest's start: %v", first)
		}
		tx := int(first["transactionId"].(float64))
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := ps.PaymentBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil || claimed.ID != p.ID || claimed.State != evbill.PaymentHeld {
			t.Fatalf("the session's payment: %+v, %v; want the guest's %s, held", claimed, err, p.ID)
		}
		again := ch.call("StartTransaction", startReq) // retransmitted
		if info := again["idTagInfo"].(map[string]any); info["status"] != "Accepted" || int(again["transactionId"].(float64)) != tx {
			t.Fatalf("a retransmitted start: %v, want Accepted and transaction %d", again, tx)
		}

		// Another session with the same idTag (the car replugged, another
		// connector) has no payment left to claim.
		other := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":2,"idTag":"ADHOCGUEST1","meterStart":0,"timestamp":%q}`,
			start.Add(time.Second).Format(time.RFC3339)))
		if info := other["idTagInfo"].(map[string]any); info["status"] != "Invalid" {
			t.Fatalf("a second session of the guest's idTag: %v, want Invalid", other)
		}
		unpaid := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":2,"idTag":"ADHOCGUEST2","meterStart":0,"timestamp":%q}`,
			start.Add(2*time.Second).Format(time.RFC3339)))
		if info := unpaid["idTagInfo"].(map[string]any); info["status"] != "Invalid" {
			t.Fatalf("a guest without a payment: %v, want Invalid", unpaid)
		}

		// The guard watches the guest's hold of 10.00: 40 kWh is far
		// above 90 % of it.
		ch.call("MeterValues", meterValues(tx, start.Add(200*time.Minute), 40000, 11000))
		select {
		case got := <-ch.got:
			if got[0] != "RemoteStopTransaction" || got[1] != fmt.Sprintf(`{"transactionId":%d}`, tx) {
				t.Fatalf("the central system called %v", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no RemoteStopTransaction at the guest's hold's limit")
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":40000,"timestamp":%q,"reason":"Remote"}`,
			tx, start.Add(201*time.Minute).Format(time.RFC3339)))
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // settle, then capture
			if _, err := worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// The stop came late: the CDR exceeds the hold, of which no more
		// than all is taken.
		got, _ := ps.Payment(ctx, w.tenant.ID, p.ID)
		if record.AmountMinor <= p.HoldAmount || got.State != evbill.PaymentCaptured || got.Captured != p.HoldAmount {
			t.Fatalf("after the CDR of %d: %s, captured %d; want the hold of %d", record.AmountMinor, got.State, got.Captured, p.HoldAmount)
		}
	})
}
