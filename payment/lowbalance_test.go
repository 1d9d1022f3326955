package payment_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
)

// TestWalletLowBalance: the wallet debit that takes a wallet below the
// minimum puts wallet.low_balance in the outbox with it, once; a debit
// that leaves enough puts none.
func TestWalletLowBalance(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		d := evbill.Driver{TenantID: w.tenant.ID, Name: "W"}
		if err := w.store.CreateDriver(ctx, &d); err != nil {
			t.Fatal(err)
		}
		wk := w.worker()
		wk.WalletMinimum = 500
		top := evbill.Payment{TenantID: w.tenant.ID, Purpose: evbill.PurposeTopUp, DriverID: d.ID, Gateway: "sandbox",
			PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 900}
		if err := w.store.CreatePayment(ctx, &top); err != nil {
			t.Fatal(err)
		}
		drainWorld(w, wk)
		st := evbill.Station{TenantID: w.tenant.ID, SiteID: w.site.ID, ChargePointID: evbill.NewID("CP")}
		if err := w.store.CreateStation(ctx, &st); err != nil {
			t.Fatal(err)
		}
		// Two sessions of 300 each: 900 → 600 (enough), then → 300 (low).
		for i, total := range []int64{300, 300} {
			ss := evbill.Session{TenantID: w.tenant.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "W", DriverID: d.ID,
				MeterStartWh: "0", StartedAt: w.now().Add(time.Duration(i-5) * time.Hour)}
			if _, err := w.store.StartSession(ctx, &ss); err != nil {
				t.Fatal(err)
			}
			p := evbill.Payment{TenantID: w.tenant.ID, SessionID: ss.ID, DriverID: d.ID, SiteID: w.site.ID, Gateway: payment.Wallet,
				Currency: "EUR", HoldAmount: 900 - int64(i)*300}
			if err := w.store.CreatePayment(ctx, &p); err != nil {
				t.Fatal(err)
			}
			drainWorld(w, wk)
			stop := ss.StartedAt.Add(time.Hour)
			ss.MeterStopWh, ss.StoppedAt, ss.State = "1000", &stop, evbill.SessionEnded
			cdr := &evbill.CDR{Currency: "EUR", TotalExclVAT: "2.48", TotalInclVAT: "3.00", AmountMinor: total,
				Document: []byte(`{}`), Breakdown: []byte(`[]`)}
			if err := w.store.EndSession(ctx, &ss, cdr, nil); err != nil {
				t.Fatal(err)
			}
			drainWorld(w, wk)
		}
		var low []evbill.WalletLowBalanceData
		for after := ""; ; {
			page, err := w.store.PendingEvents(ctx, after, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.TenantID == w.tenant.ID && e.Type == evbill.EventWalletLowBalance {
					var data evbill.WalletLowBalanceData
					if err := json.Unmarshal(e.Payload, &data); err != nil {
						t.Fatal(err)
					}
					low = append(low, data)
				}
			}
			after = page[len(page)-1].ID
		}
		if len(low) != 1 || low[0].Balance != 300 || low[0].Minimum != 500 || low[0].DriverID != d.ID {
			t.Fatalf("wallet.low_balance events %+v, want one at 300 below 500", low)
		}
	})
}

// drainWorld runs worker rounds until one moves nothing.
func drainWorld(w *world, wk *payment.Worker) {
	w.t.Helper()
	for w.run(wk) > 0 {
	}
}
