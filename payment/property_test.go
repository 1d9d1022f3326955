package payment_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/sqlite"
)

// TestPaymentInvariants runs random sequences of card, wallet and account
// sessions, top-ups, gateway failures, captures and refunds through the
// real SQLite store, the worker and the sandbox, and then checks what must
// always hold: every account balance equals its postings and the ledger
// balances; no hold of an ended session is left open; the gateway
// captured exactly what the ledger posted for card payments and top-ups;
// each wallet holds its top-ups less its debits plus its refunds.
func TestPaymentInvariants(t *testing.T) {
	cards := []string{sandbox.CardSucceeds, sandbox.CardSucceeds, sandbox.CardDeclined, sandbox.CardTimeout, sandbox.CardCaptureFails}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), fmt.Sprintf("p%d.db", time.Now().UnixNano())))
		if err != nil {
			rt.Fatal(err)
		}
		defer store.Close()
		clock := time.Now()
		now := func() time.Time { return clock }
		sbx, err := sandbox.New(sandbox.Config{Now: now})
		if err != nil {
			rt.Fatal(err)
		}
		wk := &payment.Worker{Store: store, Gateways: map[string]evbill.Gateway{"sandbox": sbx}, Now: now}
		tn := evbill.Tenant{Name: "prop"}
		must := func(err error) {
			if err != nil {
				rt.Fatal(err)
			}
		}
		must(store.CreateTenant(ctx, &tn))
		site := evbill.Site{TenantID: tn.ID, Name: "S", Country: "NL", TimeZone: "UTC"}
		must(store.CreateSite(ctx, &site))
		st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP"}
		must(store.CreateStation(ctx, &st))
		drivers := make([]evbill.Driver, 3)
		for i := range drivers {
			drivers[i] = evbill.Driver{TenantID: tn.ID, Name: fmt.Sprint("d", i)}
			must(store.CreateDriver(ctx, &drivers[i]))
		}
		type open struct {
			sess evbill.Session
			pay  evbill.Payment
		}
		var running []open
		var ended []evbill.Payment
		n := 0
		steps := rapid.IntRange(5, 40).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 5).Draw(rt, "action") {
			case 0: // a session starts, paid by card, wallet or account
				n++
				d := drivers[rapid.IntRange(0, len(drivers)-1).Draw(rt, "driver")]
				ss := evbill.Session{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "T", DriverID: d.ID,
					MeterStartWh: "0", StartedAt: clock.Add(time.Duration(n) * time.Second)}
				_, err := store.StartSession(ctx, &ss)
				must(err)
				p := evbill.Payment{TenantID: tn.ID, SessionID: ss.ID, DriverID: d.ID, SiteID: site.ID, Currency: "EUR",
					HoldAmount: rapid.Int64Range(100, 5000).Draw(rt, "hold")}
				switch rapid.IntRange(0, 2).Draw(rt, "method") {
				case 0:
					p.Gateway, p.PaymentMethod = "sandbox", cards[rapid.IntRange(0, len(cards)-1).Draw(rt, "card")]
				case 1:
					p.Gateway = payment.Wallet
				default:
					p.Gateway = payment.Account
				}
				must(store.CreatePayment(ctx, &p))
				running = append(running, open{ss, p})
			case 1: // a session ends with a CDR (or, rarely, without)
				if len(running) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(running)-1).Draw(rt, "which")
				o := running[i]
				running = append(running[:i], running[i+1:]...)
				stop := o.sess.StartedAt.Add(time.Hour)
				o.sess.MeterStopWh, o.sess.StoppedAt, o.sess.State = "1000", &stop, evbill.SessionEnded
				var c *evbill.CDR
				if rapid.IntRange(0, 9).Draw(rt, "cdr") > 0 {
					net := rapid.Int64Range(0, 6000).Draw(rt, "net")
					total := net + net*21/100
					c = &evbill.CDR{Currency: "EUR", TotalExclVAT: fmt.Sprintf("%d.%02d00", net/100, net%100),
						TotalInclVAT: "0", AmountMinor: total, Document: []byte(`{}`), Breakdown: []byte(`[]`)}
				}
				must(store.EndSession(ctx, &o.sess, c, nil))
				ended = append(ended, o.pay)
			case 2: // a wallet top-up by card
				d := drivers[rapid.IntRange(0, len(drivers)-1).Draw(rt, "driver")]
				p := evbill.Payment{TenantID: tn.ID, Purpose: evbill.PurposeTopUp, DriverID: d.ID, Gateway: "sandbox",
					PaymentMethod: cards[rapid.IntRange(0, len(cards)-1).Draw(rt, "card")], Currency: "EUR",
					HoldAmount: rapid.Int64Range(1, 10000).Draw(rt, "topup")}
				must(store.CreatePayment(ctx, &p))
			case 3: // a worker round
				if _, err := wk.RunOnce(ctx); err != nil {
					rt.Fatal(err)
				}
			case 4: // a refund of part of a captured session
				if len(ended) == 0 {
					continue
				}
				p, err := store.Payment(ctx, tn.ID, ended[rapid.IntRange(0, len(ended)-1).Draw(rt, "refunded")].ID)
				must(err)
				c, err := store.CDRBySession(ctx, tn.ID, p.SessionID)
				if err != nil || p.Captured == 0 {
					continue
				}
				r := evbill.Refund{TenantID: tn.ID, CDRID: c.ID, Amount: rapid.Int64Range(1, p.Captured).Draw(rt, "amount")}
				if err := store.CreateRefund(ctx, &r); err != nil && evbill.ErrorCode(err) != evbill.ECONFLICT && evbill.ErrorCode(err) != evbill.EINVALID {
					rt.Fatal(err)
				}
			case 5: // time passes: retries come due
				clock = clock.Add(payment.MaxBackoff)
			}
		}
		// Let everything due run to its end.
		for range 20 {
			clock = clock.Add(payment.MaxBackoff)
			if _, err := wk.RunOnce(ctx); err != nil {
				rt.Fatal(err)
			}
		}

		// Balances equal postings; the ledger balances.
		sums, err := store.PostingSums(ctx, tn.ID)
		must(err)
		accounts, err := store.ListLedgerAccounts(ctx, tn.ID, evbill.Page{Limit: evbill.MaxPageLimit})
		must(err)
		for _, a := range accounts {
			if sums[[2]string{a.Code, a.Currency}] != a.Balance {
				rt.Fatalf("account %s: balance %d, postings %d", a.Code, a.Balance, sums[[2]string{a.Code, a.Currency}])
			}
		}
		tb, err := store.TrialBalance(ctx, tn.ID)
		must(err)
		var dr, cr int64
		for _, l := range tb {
			dr, cr = dr+l.Debits, cr+l.Credits
		}
		if dr != cr {
			rt.Fatalf("trial balance: debits %d, credits %d", dr, cr)
		}
		// No hold of an ended session left open; what the gateway
		// captured and refunded is what the ledger says.
		var cardNet, wallets int64
		for _, ep := range ended {
			p, err := store.Payment(ctx, tn.ID, ep.ID)
			must(err)
			switch p.State {
			case evbill.PaymentHoldPending, evbill.PaymentHeld, evbill.PaymentCapturePending, evbill.PaymentReleasePending:
				rt.Fatalf("payment %s of an ended session is still %s", p.ID, p.State)
			}
			if p.Gateway == "sandbox" && p.Reference != "" {
				gp, _ := sbx.Payment(p.Reference)
				stats, _ := sbx.Stats(p.Reference)
				if gp.CapturedAmount != p.Captured || stats.Refunded != p.Refunded {
					rt.Fatalf("payment %s: evbill captured %d refunded %d, the gateway %d and %d", p.ID, p.Captured, p.Refunded, gp.CapturedAmount, stats.Refunded)
				}
				cardNet += p.Captured - p.Refunded
			}
			if p.Gateway == payment.Wallet {
				wallets -= p.Captured - p.Refunded
			}
		}
		due, err := store.DuePayments(ctx, clock.Add(time.Hour), evbill.MaxPageLimit)
		must(err)
		for _, p := range due {
			if p.Purpose == evbill.PurposeTopUp {
				rt.Fatalf("top-up %s still %s", p.ID, p.State)
			}
		}
		// Wallets: each holds its top-ups less its session debits plus
		// their refunds. Summed over drivers: the wallet accounts' balances
		// (credits, so negative) less what sessions took net of refunds
		// must be minus the top-ups.
		var toppedUp int64
		for _, a := range accounts {
			if len(a.Code) > len("driver_wallet:") && a.Code[:len("driver_wallet:")] == "driver_wallet:" {
				wallets += a.Balance // a liability: credits negative
			}
		}
		entries, err := store.ListLedgerEntries(ctx, tn.ID, "", evbill.Page{Limit: evbill.MaxPageLimit})
		must(err)
		for _, e := range entries {
			if e.Kind == ledger.KindWalletTopUp {
				for _, ps := range e.Postings {
					if ps.Amount > 0 {
						toppedUp += ps.Amount
					}
				}
			}
		}
		if wallets != -toppedUp {
			rt.Fatalf("wallets: balances and session debits add up to %d, top-ups %d", wallets, toppedUp)
		}
		clearing := sums[[2]string{ledger.GatewayClearing("sandbox"), "EUR"}]
		if clearing != cardNet+toppedUp {
			rt.Fatalf("gateway clearing %d, card captures less refunds %d plus top-ups %d", clearing, cardNet, toppedUp)
		}
	})
}
