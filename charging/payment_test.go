package charging_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
)

// TestCardSession: a driver who pays by card gets a hold at the start;
// once the CDR is in, exactly its total is captured and posted to the
// ledger, and the rest of the hold is released by the capture. A
// retransmitted start makes no second payment.
func TestCardSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ps := cardDriver(t, w, "CARD1")
		sbx, err := sandbox.New(sandbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		worker := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		round := func() {
			t.Helper()
			if _, err := worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}

		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		startReq := fmt.Sprintf(`{"connectorId":1,"idTag":"CARD1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339))
		tx := int(ch.call("StartTransaction", startReq)["transactionId"].(float64))
		ch.call("StartTransaction", startReq) // retransmitted
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ps.PaymentBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatalf("no payment for a card session: %v", err)
		}
		if p.State != evbill.PaymentHoldPending || p.HoldAmount != charging.DefaultCardHold || p.Currency != "EUR" || p.PaymentMethod != sandbox.CardSucceeds {
			t.Fatalf("payment at the start: %+v", p)
		}
		round()
		if p, _ = ps.Payment(ctx, w.tenant.ID, p.ID); p.State != evbill.PaymentHeld {
			t.Fatalf("after the worker: %s", p.State)
		}
		ch.call("MeterValues", meterValues(tx, start.Add(45*time.Minute), 9250, 11000))
		stop := start.Add(60 * time.Minute)
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":10000,"timestamp":%q,"reason":"EVDisconnected"}`, tx, stop.Format(time.RFC3339)))
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if record.AmountMinor <= 0 || record.AmountMinor > charging.DefaultCardHold {
			t.Fatalf("CDR amount %d: the test wants a charge within the hold", record.AmountMinor)
		}
		round() // settle: capture_pending
		round() // capture
		p, _ = ps.Payment(ctx, w.tenant.ID, p.ID)
		if p.State != evbill.PaymentCaptured || p.Captured != record.AmountMinor {
			t.Fatalf("after the CDR: %s, captured %d; the CDR charges %d", p.State, p.Captured, record.AmountMinor)
		}
		gp, _ := sbx.Payment(p.Reference)
		if gp.CapturedAmount != record.AmountMinor {
			t.Errorf("the card was charged %d, the CDR says %d", gp.CapturedAmount, record.AmountMinor)
		}
		clearing, err := ps.(evbill.LedgerStore).LedgerAccount(ctx, w.tenant.ID, ledger.GatewayClearing("sandbox"), "EUR")
		if err != nil || clearing.Balance != record.AmountMinor {
			t.Errorf("gateway clearing %+v, %v; want %d", clearing, err, record.AmountMinor)
		}
	})
}

// cardDriver gives the world a driver who pays by the sandbox's card that
// succeeds, with token uid, and returns the store's payments.
func cardDriver(t *testing.T, w *world, uid string) evbill.PaymentStore {
	t.Helper()
	ctx := context.Background()
	ps, ok := w.store.(evbill.PaymentStore)
	if !ok {
		t.Fatalf("%T keeps no payments", w.store)
	}
	d := evbill.Driver{TenantID: w.tenant.ID, Name: "Card Driver"}
	if err := w.store.CreateDriver(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if err := ps.SetPaymentMethod(ctx, &evbill.PaymentMethod{TenantID: w.tenant.ID, DriverID: d.ID, PayBy: evbill.PayByCard,
		Gateway: "sandbox", Card: sandbox.CardSucceeds}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: uid, Type: "RFID", DriverID: d.ID, Status: evbill.TokenAccepted}); err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestHoldLimitStopsSession: when the running cost reaches 90 % of the
// hold, the central system sends RemoteStopTransaction, once; below it,
// nothing.
func TestHoldLimitStopsSession(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			w := newWorld(t, e.Open(t), func(c *charging.Config) { c.CardHold = 1000 }) // EUR 10.00
			cardDriver(t, w, "CARD1")
			ch, err := dial(t, w.url, "CP-1", password)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
			tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"CARD1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339)))["transactionId"].(float64))
			// A few kWh cost well under EUR 9.00 under the example tariff.
			ch.call("MeterValues", meterValues(tx, start.Add(10*time.Minute), 2000, 11000))
			select {
			case got := <-ch.got:
				t.Fatalf("the central system called %v below the limit", got)
			case <-time.After(200 * time.Millisecond):
			}
			// 40 kWh is far above it.
			ch.call("MeterValues", meterValues(tx, start.Add(200*time.Minute), 40000, 11000))
			select {
			case got := <-ch.got:
				if got[0] != "RemoteStopTransaction" || got[1] != fmt.Sprintf(`{"transactionId":%d}`, tx) {
					t.Fatalf("the central system called %v", got)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no RemoteStopTransaction at the hold's limit")
			}
			ch.call("MeterValues", meterValues(tx, start.Add(201*time.Minute), 40100, 11000))
			select {
			case got := <-ch.got:
				t.Fatalf("a second call %v after the stop was sent", got)
			case <-time.After(200 * time.Millisecond):
			}
		})
	}
}

// TestWalletSession: a driver who pays from a prepaid wallet is refused
// while the wallet holds too little; after a top-up by card the session
// runs and its CDR total is debited from the wallet in the ledger.
func TestWalletSession(t *testing.T) {
	// Authorize prices by the central system's clock: the day the test's
	// sessions run, under the tariff in force then.
	day := func(c *charging.Config) {
		c.Now = func() time.Time { return time.Date(2027, 3, 12, 17, 0, 0, 0, time.UTC) }
	}
	forEachEngineWith(t, []func(*charging.Config){day}, func(t *testing.T, w *world) {
		ctx := context.Background()
		ps := w.store.(evbill.PaymentStore)
		ls := w.store.(evbill.LedgerStore)
		d := evbill.Driver{TenantID: w.tenant.ID, Name: "Wallet Driver"}
		if err := w.store.CreateDriver(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if err := ps.SetPaymentMethod(ctx, &evbill.PaymentMethod{TenantID: w.tenant.ID, DriverID: d.ID, PayBy: evbill.PayByWallet}); err != nil {
			t.Fatal(err)
		}
		if err := w.store.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "WALLET1", Type: "RFID", DriverID: d.ID, Status: evbill.TokenAccepted}); err != nil {
			t.Fatal(err)
		}
		sbx, _ := sandbox.New(sandbox.Config{})
		worker := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
		rounds := func() {
			t.Helper()
			for range 3 {
				if _, err := worker.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		wallet := func() int64 {
			a, err := ls.LedgerAccount(ctx, w.tenant.ID, ledger.DriverWallet(d.ID), "EUR")
			if evbill.ErrorCode(err) == evbill.ENOTFOUND {
				return 0
			}
			if err != nil {
				t.Fatal(err)
			}
			return -a.Balance
		}
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		authorize := func() any {
			return ch.call("Authorize", `{"idTag":"WALLET1"}`)["idTagInfo"].(map[string]any)["status"]
		}
		if st := authorize(); st != "Blocked" {
			t.Fatalf("Authorize with an empty wallet: %v", st)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		empty := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"WALLET1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339)))
		if info := empty["idTagInfo"].(map[string]any); info["status"] != "Blocked" {
			t.Fatalf("a start with an empty wallet: %v", empty)
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":0,"timestamp":%q}`, int(empty["transactionId"].(float64)), start.Add(time.Minute).Format(time.RFC3339)))

		top := evbill.Payment{TenantID: w.tenant.ID, Purpose: evbill.PurposeTopUp, DriverID: d.ID, Gateway: "sandbox",
			PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 2000}
		if err := ps.CreatePayment(ctx, &top); err != nil {
			t.Fatal(err)
		}
		rounds()
		if got, _ := ps.Payment(ctx, w.tenant.ID, top.ID); got.State != evbill.PaymentCaptured || wallet() != 2000 {
			t.Fatalf("after the top-up: %s, wallet %d", got.State, wallet())
		}
		if st := authorize(); st != "Accepted" {
			t.Fatalf("Authorize with a funded wallet: %v", st)
		}

		start = start.Add(time.Hour)
		first := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"WALLET1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339)))
		if info := first["idTagInfo"].(map[string]any); info["status"] != "Accepted" {
			t.Fatalf("a start with a funded wallet: %v", first)
		}
		tx := int(first["transactionId"].(float64))
		ch.call("MeterValues", meterValues(tx, start.Add(30*time.Minute), 5000, 11000))
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":5000,"timestamp":%q}`, tx, start.Add(40*time.Minute).Format(time.RFC3339)))
		sess, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		rounds()
		p, err := ps.PaymentBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil || p.Gateway != evbill.PayByWallet || p.State != evbill.PaymentCaptured || p.Captured != record.AmountMinor {
			t.Fatalf("the wallet payment: %+v, %v; CDR %d", p, err, record.AmountMinor)
		}
		if got := wallet(); got != 2000-record.AmountMinor {
			t.Errorf("wallet %d after a session of %d, want %d", got, record.AmountMinor, 2000-record.AmountMinor)
		}
	})
}

// TestTenantPaymentLimits: a tenant's own card hold replaces the
// service's default for its sessions.
func TestTenantPaymentLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ps := cardDriver(t, w, "CARD2")
		if err := w.store.SetTenantPayments(ctx, w.tenant.ID, evbill.TenantPayments{CardHold: 7700}); err != nil {
			t.Fatal(err)
		}
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"CARD2","meterStart":1000,"timestamp":%q}`,
			start.Format(time.RFC3339)))["transactionId"].(float64))
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ps.PaymentBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil || p.HoldAmount != 7700 {
			t.Fatalf("payment %+v, %v: want the tenant's hold of 7700", p, err)
		}
	})
}
