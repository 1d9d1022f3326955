package payment_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
)

// capturedTotal is what captured() captures: 1361 of which 1238 net.
const capturedTotal = 1361

// captured returns a card payment of an ended session, captured for
// capturedTotal by the worker through the sandbox.
func (w *world) captured() evbill.Payment {
	w.t.Helper()
	p := w.ended(5000, capturedTotal, "12.3750")
	w.run(w.worker())
	w.run(w.worker())
	if p = w.get(p.ID); p.State != evbill.PaymentCaptured || p.Captured != capturedTotal {
		w.t.Fatalf("not captured: %+v", p)
	}
	return p
}

// event returns ev as the handler gets it from the sandbox: signed,
// delivered and verified, with the body kept.
func (w *world) event(ev evbill.GatewayEvent) evbill.GatewayEvent {
	w.t.Helper()
	h, body := w.sbx.SignedEvent(ev)
	got, err := w.sbx.ParseWebhook(h, body, w.now())
	if err != nil {
		w.t.Fatal(err)
	}
	return got
}

// handle applies ev as the webhook handler would.
func (w *world) handle(ev evbill.GatewayEvent) error {
	return payment.HandleEvent(context.Background(), w.store, "sandbox", ev, nil)
}

// disputeState is what a dispute of a captured payment leaves behind.
type disputeState struct {
	chargebacks, clearing int64
	flags                 []string // the session's, sorted
	code                  string   // the payment's FailureCode
}

func (w *world) disputeState(p evbill.Payment) disputeState {
	w.t.Helper()
	ss, err := w.store.Session(context.Background(), w.tenant.ID, p.SessionID)
	if err != nil {
		w.t.Fatal(err)
	}
	got := w.get(p.ID)
	if got.State != p.State || got.Captured != p.Captured || got.Refunded != p.Refunded {
		w.t.Errorf("a dispute moved the payment: %+v, was %+v", got, p)
	}
	return disputeState{w.balance(ledger.Chargebacks), w.clearing(), slices.Sorted(slices.Values(ss.Flags)), got.FailureCode}
}

// checkLedger fails unless every account balance of the tenant is the sum
// of its postings and the postings of each currency sum to zero.
func (w *world) checkLedger() {
	w.t.Helper()
	ctx := context.Background()
	sums, err := w.store.PostingSums(ctx, w.tenant.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	var total int64
	for k, sum := range sums {
		a, err := w.store.LedgerAccount(ctx, w.tenant.ID, k[0], k[1])
		if err != nil {
			w.t.Fatal(err)
		}
		if a.Balance != sum {
			w.t.Errorf("account %s: balance %d, postings %d", k[0], a.Balance, sum)
		}
		total += sum
	}
	if total != 0 {
		w.t.Errorf("the ledger's postings sum to %d", total)
	}
}

// Events of one dispute of 500 on a captured payment, by name: two
// deliveries of one event share its ID; o2 is a second opening of the same
// dispute, told again under another event ID.
func disputeEvents(p evbill.Payment, dispute string) map[string]evbill.GatewayEvent {
	base := evbill.GatewayEvent{Reference: p.Reference, Amount: 500, Currency: "EUR", Dispute: dispute}
	ev := func(id, typ, status string) evbill.GatewayEvent {
		e := base
		e.ID, e.Type, e.DisputeStatus = id+"_"+p.ID, typ, status
		return e
	}
	return map[string]evbill.GatewayEvent{
		"o":  ev("sbx_test_evt_o", evbill.GatewayEventDisputeOpened, ""),
		"o2": ev("sbx_test_evt_o2", evbill.GatewayEventDisputeOpened, ""),
		"w":  ev("sbx_test_evt_w", evbill.GatewayEventDisputeClosed, evbill.GatewayDisputeWon),
		"l":  ev("sbx_test_evt_l", evbill.GatewayEventDisputeClosed, evbill.GatewayDisputeLost),
	}
}

var (
	opened = disputeState{500, capturedTotal - 500, []string{evbill.FlagChargeback}, payment.CodeChargeback}
	won    = disputeState{0, capturedTotal, []string{evbill.FlagChargeback, evbill.FlagChargebackWon}, payment.CodeChargebackWon}
	lost   = disputeState{500, capturedTotal - 500, []string{evbill.FlagChargeback, evbill.FlagChargebackLost}, payment.CodeChargebackLost}
)

// TestDisputeOrder delivers a dispute's events in order, reversed,
// repeated, under a second event ID, and several at once, and checks that
// each sequence leaves what its events say, whatever their order: the
// chargeback posted once, returned once when won, the session flagged,
// the payment's code set and its change logged, and the payment itself
// still captured.
func TestDisputeOrder(t *testing.T) {
	tests := []struct {
		name  string
		steps [][]string // each step's events are delivered at once
		want  disputeState
	}{
		{"opened", [][]string{{"o"}}, opened},
		{"opened twice", [][]string{{"o"}, {"o"}}, opened},
		{"opened under two event IDs", [][]string{{"o"}, {"o2"}}, opened},
		{"opened twice at once", [][]string{{"o", "o", "o2"}}, opened},
		{"won in order", [][]string{{"o"}, {"w"}}, won},
		{"won reversed", [][]string{{"w"}, {"o"}}, won},
		{"won without its opening", [][]string{{"w"}}, won},
		{"won, everything repeated", [][]string{{"w"}, {"w"}, {"o"}, {"o2"}, {"o"}, {"w"}}, won},
		{"won, each delivered twice at once", [][]string{{"o", "o"}, {"w", "w"}}, won},
		{"won reversed, each twice at once", [][]string{{"w", "w"}, {"o", "o"}}, won},
		{"won, all at once", [][]string{{"o", "w", "o2", "w", "o"}}, won},
		{"lost in order", [][]string{{"o"}, {"l"}}, lost},
		{"lost reversed", [][]string{{"l"}, {"o"}, {"o2"}}, lost},
		{"lost without its opening", [][]string{{"l"}, {"l"}}, lost},
		{"lost, all at once", [][]string{{"l", "o", "l", "o2"}}, lost},
	}
	forEachEngine(t, func(t *testing.T, w *world) {
		defer func(outer *testing.T) { w.t = outer }(w.t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w.t = t
				p := w.captured()
				before := w.disputeState(p)
				evs := disputeEvents(p, sandbox.DisputeID(p.Reference))
				for _, step := range tt.steps {
					var wg sync.WaitGroup
					for _, name := range step {
						ev := w.event(evs[name])
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := w.handle(ev); err != nil {
								t.Errorf("%s: %v", name, err)
							}
						}()
					}
					wg.Wait()
				}
				got := w.disputeState(p)
				want := tt.want
				want.chargebacks += before.chargebacks
				want.clearing += before.clearing - capturedTotal
				if !equalState(got, want) {
					t.Errorf("after %v:\n got %+v\nwant %+v", tt.steps, got, want)
				}
				w.checkDisputeRecord(p, sandbox.DisputeID(p.Reference), want.code)
				w.checkLedger()
			})
		}
	})
}

func equalState(a, b disputeState) bool {
	return a.chargebacks == b.chargebacks && a.clearing == b.clearing && slices.Equal(a.flags, b.flags) && a.code == b.code
}

// checkDisputeRecord checks the dispute's ledger entries, keyed by the
// dispute and pointing at the payment, and the payment's log, which tells
// of the dispute.
func (w *world) checkDisputeRecord(p evbill.Payment, dispute, code string) {
	w.t.Helper()
	ctx := context.Background()
	e, err := w.store.LedgerEntryByKey(ctx, w.tenant.ID, "dispute:sandbox:"+dispute)
	if err != nil {
		w.t.Fatalf("the opening of dispute %s: %v", dispute, err)
	}
	if e.Reference != p.ID || e.Kind != ledger.KindDisputeOpened || !strings.Contains(e.Description, dispute) {
		w.t.Errorf("the opening entry: %+v", e)
	}
	_, err = w.store.LedgerEntryByKey(ctx, w.tenant.ID, "dispute_won:sandbox:"+dispute)
	if wantWon := code == payment.CodeChargebackWon; wantWon != (err == nil) {
		w.t.Errorf("the return of dispute %s: %v, want posted %v", dispute, err, wantWon)
	}
	changes, err := w.store.PaymentChanges(ctx, w.tenant.ID, p.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	last := changes[len(changes)-1]
	if last.From != evbill.PaymentCaptured || last.To != evbill.PaymentCaptured || !strings.Contains(last.Reason, dispute) {
		w.t.Errorf("the payment's last change %+v does not tell of dispute %s", last, dispute)
	}
}

// TestTwoDisputes: two disputes of one payment, told apart by their IDs,
// take back twice; a dispute of another payment changes nothing of this
// one's.
func TestTwoDisputes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		p, q := w.captured(), w.captured()
		first, second := disputeEvents(p, "sbx_test_dp_1"), disputeEvents(p, "sbx_test_dp_2")
		second["o"] = evbill.GatewayEvent{ID: "sbx_test_evt_second", Type: evbill.GatewayEventDisputeOpened, Reference: p.Reference,
			Amount: 300, Currency: "EUR", Dispute: "sbx_test_dp_2"}
		for _, ev := range []evbill.GatewayEvent{first["o"], second["o"], first["w"], second["o"], disputeEvents(q, "sbx_test_dp_3")["l"]} {
			if err := w.handle(w.event(ev)); err != nil {
				t.Fatal(err)
			}
		}
		// p: 500 taken and returned, 300 taken; q: 500 taken.
		if cb, cl := w.balance(ledger.Chargebacks), w.clearing(); cb != 300+500 || cl != 2*capturedTotal-300-500 {
			t.Errorf("chargebacks %d, clearing %d", cb, cl)
		}
		if got := w.get(p.ID).FailureCode; got != payment.CodeChargebackWon {
			t.Errorf("p's code %q", got)
		}
		if got := w.get(q.ID).FailureCode; got != payment.CodeChargebackLost {
			t.Errorf("q's code %q", got)
		}
		w.checkLedger()
	})
}

// TestConfirmationsOutOfOrder: the gateway's confirmations of what the
// worker does are recorded only, whether they come before the worker
// records its own call's answer or after, and the worker records its
// capture once; a lapsed hold of a payment no longer held moves nothing.
func TestConfirmationsOutOfOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		p := w.ended(5000, capturedTotal, "12.3750")
		ev := func(typ string, amount int64) evbill.GatewayEvent {
			return w.event(evbill.GatewayEvent{Type: typ, Reference: p.Reference, Amount: amount, Currency: "EUR"})
		}
		early, lapsed := ev(evbill.GatewayEventCaptured, capturedTotal), ev(evbill.GatewayEventHoldExpired, 5000)
		wk := w.worker()
		heard := false
		wk.AfterCall = func(op string, q evbill.Payment) error {
			if op != payment.OpCapture || q.ID != p.ID {
				return nil
			}
			// The gateway captured and told us before the worker records
			// its answer.
			heard = true
			for _, ev := range []evbill.GatewayEvent{early, lapsed, early} {
				if err := w.handle(ev); err != nil {
					return err
				}
			}
			if got := w.get(p.ID); got.State != evbill.PaymentCapturePending || got.FailureCode != "" || w.clearing() != 0 {
				t.Errorf("before the worker's record: %+v, clearing %d", got, w.clearing())
			}
			return nil
		}
		for range 3 {
			w.run(wk)
		}
		if !heard {
			t.Fatal("the worker made no capture")
		}
		for _, ev := range []evbill.GatewayEvent{ev(evbill.GatewayEventCaptured, capturedTotal), ev(evbill.GatewayEventHoldExpired, 5000), early, lapsed} {
			if err := w.handle(ev); err != nil {
				t.Fatal(err)
			}
		}
		got := w.get(p.ID)
		if got.State != evbill.PaymentCaptured || got.Captured != capturedTotal || got.FailureCode != "" {
			t.Errorf("after the capture and its confirmations: %+v", got)
		}
		if c := w.clearing(); c != capturedTotal {
			t.Errorf("gateway clearing %d, want %d: the capture posted once", c, capturedTotal)
		}
		st, _ := w.sbx.Stats(p.Reference)
		if st.Captures != 1 {
			t.Errorf("the gateway captured %d times", st.Captures)
		}
		w.checkLedger()
	})
}

// TestHoldExpiredOnlyWhileHeld: a lapsed hold releases a payment still
// held, once however often it is told; told of a payment released since,
// it changes nothing.
func TestHoldExpiredOnlyWhileHeld(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		st := evbill.Station{TenantID: w.tenant.ID, SiteID: w.site.ID, ChargePointID: evbill.NewID("CP")}
		if err := w.store.CreateStation(ctx, &st); err != nil {
			t.Fatal(err)
		}
		ss := evbill.Session{TenantID: w.tenant.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "TAG", MeterStartWh: "0", StartedAt: w.now().Add(-time.Hour)}
		if _, err := w.store.StartSession(ctx, &ss); err != nil {
			t.Fatal(err)
		}
		p := evbill.Payment{TenantID: w.tenant.ID, SessionID: ss.ID, SiteID: w.site.ID, Gateway: "sandbox",
			PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 2000}
		if err := w.store.CreatePayment(ctx, &p); err != nil {
			t.Fatal(err)
		}
		w.run(w.worker())
		p = w.get(p.ID)
		first := w.event(evbill.GatewayEvent{Type: evbill.GatewayEventHoldExpired, Reference: p.Reference, Amount: 2000, Currency: "EUR"})
		again := w.event(evbill.GatewayEvent{Type: evbill.GatewayEventHoldExpired, Reference: p.Reference, Amount: 2000, Currency: "EUR"})
		var wg sync.WaitGroup
		for _, ev := range []evbill.GatewayEvent{first, first, again} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.handle(ev); err != nil {
					t.Errorf("hold.expired: %v", err)
				}
			}()
		}
		wg.Wait()
		got := w.get(p.ID)
		if got.State != evbill.PaymentReleased || got.FailureCode != "hold_expired" {
			t.Fatalf("after its hold lapsed: %s %q", got.State, got.FailureCode)
		}
		changes, err := w.store.PaymentChanges(ctx, w.tenant.ID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		released := 0
		for _, c := range changes {
			if c.To == evbill.PaymentReleased {
				released++
			}
		}
		if released != 1 {
			t.Errorf("released %d times: %+v", released, changes)
		}
	})
}

// TestDisputeWebhooksOutOfOrder goes through the HTTP handler with the
// sandbox's own signed notifications: the closing delivered before the
// opening, then both again, some at once, post the chargeback and its
// return once each, and flag the session.
func TestDisputeWebhooksOutOfOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		h := &payment.Webhooks{Store: w.store, Gateways: map[string]evbill.Gateway{"sandbox": w.sbx}, Now: w.now}
		p := w.captured()
		openedN, err := w.sbx.Dispute(p.Reference, 700)
		if err != nil {
			t.Fatal(err)
		}
		wonN, err := w.sbx.CloseDispute(p.Reference, evbill.GatewayDisputeWon)
		if err != nil {
			t.Fatal(err)
		}
		deliver := func(n sandbox.Notification) {
			if code := w.post(h, "sandbox", n.Header, n.Body); code != http.StatusOK {
				t.Errorf("%s: status %d", n.Event.Type, code)
			}
		}
		deliver(wonN)
		if cb, cl := w.balance(ledger.Chargebacks), w.clearing(); cb != 0 || cl != capturedTotal {
			t.Errorf("after the closing alone: chargebacks %d, clearing %d", cb, cl)
		}
		var wg sync.WaitGroup
		for _, n := range []sandbox.Notification{openedN, wonN, openedN, wonN} {
			wg.Add(1)
			go func() { defer wg.Done(); deliver(n) }()
		}
		wg.Wait()
		deliver(openedN)
		got := w.disputeState(p)
		if want := won; !equalState(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		w.checkDisputeRecord(p, sandbox.DisputeID(p.Reference), payment.CodeChargebackWon)
		e, err := w.store.LedgerEntryByKey(context.Background(), w.tenant.ID, "dispute_won:sandbox:"+sandbox.DisputeID(p.Reference))
		if err != nil || len(e.Postings) != 2 || e.Postings[0].Account != ledger.Chargebacks || e.Postings[0].Amount != -700 {
			t.Errorf("the return of the dispute: %+v, %v", e, err)
		}
		forged := strings.Replace(string(openedN.Body), "700", "7000", 1)
		if code := w.post(h, "sandbox", openedN.Header, []byte(forged)); code != http.StatusBadRequest {
			t.Errorf("a tampered opening: status %d", code)
		}
		w.checkLedger()
	})
}

// TestTopUpDispute: a payment without a session (a wallet top-up) takes
// the dispute's code, raised and never lowered, and its money moves as a
// session's would.
func TestTopUpDispute(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		d := evbill.Driver{TenantID: w.tenant.ID, Name: "D"}
		if err := w.store.CreateDriver(ctx, &d); err != nil {
			t.Fatal(err)
		}
		p := evbill.Payment{TenantID: w.tenant.ID, Purpose: evbill.PurposeTopUp, DriverID: d.ID, Gateway: "sandbox",
			PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 2000}
		if err := w.store.CreatePayment(ctx, &p); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			w.run(w.worker())
		}
		if p = w.get(p.ID); p.State != evbill.PaymentCaptured {
			t.Fatalf("the top-up: %+v", p)
		}
		evs := disputeEvents(p, "sbx_test_dp_topup")
		for _, name := range []string{"l", "o", "o2", "l"} {
			if err := w.handle(w.event(evs[name])); err != nil {
				t.Fatal(err)
			}
		}
		if got := w.get(p.ID).FailureCode; got != payment.CodeChargebackLost {
			t.Errorf("the top-up's code %q", got)
		}
		if cb, cl := w.balance(ledger.Chargebacks), w.clearing(); cb != 500 || cl != 2000-500 {
			t.Errorf("chargebacks %d, clearing %d", cb, cl)
		}
		w.checkLedger()
	})
}

// TestDisputeOrderProperty: whatever the order, repetition and grouping
// of a dispute's deliveries, the final ledger, flags and code depend only
// on which of its events arrived.
func TestDisputeOrderProperty(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		outer := w.t
		rapid.Check(t, func(rt *rapid.T) {
			w.t = outer
			p := w.captured()
			before := w.disputeState(p)
			dispute := sandbox.DisputeID(p.Reference)
			evs := disputeEvents(p, dispute)
			closing := rapid.SampledFrom([]string{"", "w", "l"}).Draw(rt, "closing")
			names := []string{"o", "o2"}
			if closing != "" {
				names = append(names, closing)
			}
			var deliveries []string
			for _, n := range names {
				for range rapid.IntRange(0, 3).Draw(rt, "copies of "+n) {
					deliveries = append(deliveries, n)
				}
			}
			deliveries = rapid.Permutation(deliveries).Draw(rt, "order")
			groups := rapid.SliceOfN(rapid.IntRange(1, 3), len(deliveries), len(deliveries)).Draw(rt, "group sizes")
			heard := map[string]bool{}
			for i := 0; i < len(deliveries); {
				n := min(groups[i], len(deliveries)-i)
				var wg sync.WaitGroup
				errs := make([]error, n)
				for j, name := range deliveries[i : i+n] {
					heard[name] = true
					ev := w.event(evs[name])
					wg.Add(1)
					go func() { defer wg.Done(); errs[j] = w.handle(ev) }()
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						rt.Fatalf("HandleEvent: %v", err)
					}
				}
				i += n
			}
			want := before // when nothing was delivered
			var after *disputeState
			switch {
			case heard["w"]:
				after = &won
			case heard["l"]:
				after = &lost
			case heard["o"] || heard["o2"]:
				after = &opened
			}
			if after != nil {
				want = *after
				want.chargebacks += before.chargebacks
				want.clearing += before.clearing - capturedTotal
			}
			if got := w.disputeState(p); !equalState(got, want) {
				rt.Fatalf("after %v:\n got %+v\nwant %+v", deliveries, got, want)
			}
			sums, err := w.store.PostingSums(context.Background(), w.tenant.ID)
			if err != nil {
				rt.Fatal(err)
			}
			var total int64
			for _, s := range sums {
				total += s
			}
			if total != 0 {
				rt.Fatalf("the ledger's postings sum to %d", total)
			}
		})
		w.t = outer
	})
}
