package payment_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
)

// world is a store of one engine, a tenant with a site, the sandbox
// gateway and a clock the test moves.
type world struct {
	t      *testing.T
	store  storetest.PaymentFullStore
	sbx    *sandbox.Gateway
	tenant evbill.Tenant
	site   evbill.Site
	clock  time.Time
	mu     sync.Mutex
}

func (w *world) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clock
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.clock = w.clock.Add(d)
	w.mu.Unlock()
}

func forEachEngine(t *testing.T, f func(t *testing.T, w *world)) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			s, ok := e.Open(t).(storetest.PaymentFullStore)
			if !ok {
				t.Fatalf("the %s store keeps no payments", e.Name)
			}
			w := &world{t: t, store: s, clock: time.Now().Add(time.Hour)}
			var err error
			if w.sbx, err = sandbox.New(sandbox.Config{Now: w.now}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			w.tenant = evbill.Tenant{Name: "payments-" + evbill.NewID("t")}
			if err := s.CreateTenant(ctx, &w.tenant); err != nil {
				t.Fatal(err)
			}
			w.site = evbill.Site{TenantID: w.tenant.ID, Name: "S", Country: "NL", TimeZone: "Europe/Amsterdam"}
			if err := s.CreateSite(ctx, &w.site); err != nil {
				t.Fatal(err)
			}
			f(t, w)
		})
	}
}

func (w *world) worker() *payment.Worker {
	return &payment.Worker{Store: w.store, Gateways: map[string]evbill.Gateway{"sandbox": w.sbx}, Now: w.now}
}

// pay makes a payment by card of a running session, due now.
func (w *world) pay(card string, hold int64) evbill.Payment {
	w.t.Helper()
	ss := w.running()
	p := evbill.Payment{TenantID: w.tenant.ID, SessionID: ss.ID, SiteID: w.site.ID, Gateway: "sandbox", PaymentMethod: card, Currency: "EUR", HoldAmount: hold}
	if err := w.store.CreatePayment(context.Background(), &p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// running starts a session on a station of its own, so that sessions of
// one test never look like retransmissions of each other.
func (w *world) running() evbill.Session {
	w.t.Helper()
	ctx := context.Background()
	st := evbill.Station{TenantID: w.tenant.ID, SiteID: w.site.ID, ChargePointID: evbill.NewID("CP")}
	if err := w.store.CreateStation(ctx, &st); err != nil {
		w.t.Fatal(err)
	}
	ss := evbill.Session{TenantID: w.tenant.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "TAG", MeterStartWh: "0", StartedAt: w.now().Add(-time.Hour)}
	if _, err := w.store.StartSession(ctx, &ss); err != nil {
		w.t.Fatal(err)
	}
	return ss
}

func (w *world) get(id string) evbill.Payment {
	w.t.Helper()
	p, err := w.store.Payment(context.Background(), w.tenant.ID, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// run makes one worker round, which must not fail.
func (w *world) run(wk *payment.Worker) int {
	w.t.Helper()
	n, err := wk.RunOnce(context.Background())
	if err != nil {
		w.t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// toCapture moves a held payment to capture_pending for a CDR of total
// (net excluding VAT), as the end of a session does.
func (w *world) toCapture(p evbill.Payment, total, net int64) {
	w.t.Helper()
	p.State, p.CaptureAmount, p.CaptureNet, p.NextAttemptAt = evbill.PaymentCapturePending, total, net, w.now()
	if err := w.store.TransitionPayment(context.Background(), &p, evbill.PaymentHeld, "cdr.created", nil); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) clearing() int64 {
	w.t.Helper()
	a, err := w.store.LedgerAccount(context.Background(), w.tenant.ID, ledger.GatewayClearing("sandbox"), "EUR")
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return 0
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Balance
}

func TestHoldCaptureLedger(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		wk := w.worker()
		p := w.pay(sandbox.CardSucceeds, 5000)
		if n := w.run(wk); n != 1 {
			t.Fatalf("moved %d, want 1", n)
		}
		p = w.get(p.ID)
		if p.State != evbill.PaymentHeld || p.Reference == "" || p.HoldExpiresAt == nil {
			t.Fatalf("after the hold: %+v", p)
		}
		w.toCapture(p, 1361, 1238)
		w.run(wk)
		p = w.get(p.ID)
		if p.State != evbill.PaymentCaptured || p.Captured != 1361 {
			t.Fatalf("after the capture: %+v", p)
		}
		gp, _ := w.sbx.Payment(p.Reference)
		if gp.Status != evbill.GatewayCaptured || gp.CapturedAmount != 1361 {
			t.Errorf("the gateway's payment: %+v", gp)
		}
		if got := w.clearing(); got != 1361 {
			t.Errorf("gateway clearing %d, want 1361", got)
		}
		vat, err := w.store.LedgerAccount(context.Background(), w.tenant.ID, ledger.VATPayable, "EUR")
		if err != nil || vat.Balance != -123 {
			t.Errorf("VAT payable %+v, %v", vat, err)
		}
		if n := w.run(wk); n != 0 {
			t.Errorf("a round with nothing due moved %d", n)
		}
	})
}

func TestRefusals(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		wk := w.worker()
		declined := w.pay(sandbox.CardDeclined, 5000)
		broke := w.pay(sandbox.CardInsufficientFunds, 5000)
		failsCapture := w.pay(sandbox.CardCaptureFails, 5000)
		w.run(wk)
		for _, c := range []struct {
			p    evbill.Payment
			code string
		}{{declined, "card_declined"}, {broke, "insufficient_funds"}} {
			if got := w.get(c.p.ID); got.State != evbill.PaymentFailed || got.FailureCode != c.code {
				t.Errorf("%s: %s %q, want failed %q", c.p.PaymentMethod, got.State, got.FailureCode, c.code)
			}
		}
		p := w.get(failsCapture.ID)
		w.toCapture(p, 1000, 900)
		w.run(wk) // the capture is refused: release what is held
		if got := w.get(p.ID); got.State != evbill.PaymentReleasePending || got.FailureCode != "capture_failed" {
			t.Fatalf("after a refused capture: %s %q", got.State, got.FailureCode)
		}
		w.run(wk)
		if got := w.get(p.ID); got.State != evbill.PaymentReleased || got.Captured != 0 {
			t.Errorf("after the release: %+v", got)
		}
		if gp, _ := w.sbx.Payment(p.Reference); gp.Status != evbill.GatewayReleased {
			t.Errorf("the gateway's hold is %s", gp.Status)
		}
		if got := w.clearing(); got != 0 {
			t.Errorf("gateway clearing %d after refusals, want 0", got)
		}
	})
}

// TestTimeoutRetried: a hold that times out is retried later with the same
// key, and the gateway holds once.
func TestTimeoutRetried(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		wk := w.worker()
		p := w.pay(sandbox.CardTimeout, 5000)
		if n := w.run(wk); n != 0 {
			t.Fatalf("a timed-out hold moved %d", n)
		}
		got := w.get(p.ID)
		if got.State != evbill.PaymentHoldPending || got.Attempts != 1 || !got.NextAttemptAt.After(w.now()) {
			t.Fatalf("after a timeout: %+v", got)
		}
		if n := w.run(wk); n != 0 {
			t.Errorf("retried before its time")
		}
		w.advance(payment.MaxBackoff)
		w.run(wk)
		got = w.get(p.ID)
		if got.State != evbill.PaymentHeld || got.Attempts != 0 {
			t.Fatalf("after the retry: %+v", got)
		}
		keys := map[string]int{}
		for _, c := range w.sbx.Calls() {
			if c.Op == sandbox.OpHold {
				keys[c.IdempotencyKey]++
			}
		}
		if len(keys) != 1 || keys[payment.IdempotencyKey(payment.OpHold, p.ID)] != 2 {
			t.Errorf("hold calls by idempotency key: %v; want two with %s", keys, payment.IdempotencyKey(payment.OpHold, p.ID))
		}
	})
}

// TestCrashAfterCapture: the worker dies after the gateway captured and
// before the capture was recorded; the next worker captures with the same
// key, records it once, and the gateway captured once.
func TestCrashAfterCapture(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		p := w.pay(sandbox.CardSucceeds, 5000)
		w.run(w.worker())
		w.toCapture(w.get(p.ID), 2000, 1800)
		crashing := w.worker()
		crashing.AfterCall = func(op string, _ evbill.Payment) error {
			if op == payment.OpCapture {
				return errors.New("killed")
			}
			return nil
		}
		if _, err := crashing.RunOnce(context.Background()); err == nil {
			t.Fatal("the crashing worker finished its round")
		}
		if got := w.get(p.ID); got.State != evbill.PaymentCapturePending {
			t.Fatalf("after the crash: %s", got.State)
		}
		if got := w.clearing(); got != 0 {
			t.Fatalf("the capture was posted before it was recorded: %d", got)
		}
		w.run(w.worker()) // the restarted process
		got := w.get(p.ID)
		if got.State != evbill.PaymentCaptured || got.Captured != 2000 {
			t.Fatalf("after the restart: %+v", got)
		}
		st, _ := w.sbx.Stats(got.Reference)
		if st.Captures != 1 {
			t.Errorf("the gateway captured %d times", st.Captures)
		}
		if got := w.clearing(); got != 2000 {
			t.Errorf("gateway clearing %d, want 2000", got)
		}
	})
}

// TestConcurrentWorkers: workers racing over the same due payments record
// each capture once.
func TestConcurrentWorkers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		var ids []string
		for range 20 {
			ids = append(ids, w.pay(sandbox.CardSucceeds, 5000).ID)
		}
		w.run(w.worker())
		for _, id := range ids {
			w.toCapture(w.get(id), 1000, 800)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.worker().RunOnce(context.Background()); err != nil {
					t.Errorf("RunOnce: %v", err)
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			p := w.get(id)
			st, _ := w.sbx.Stats(p.Reference)
			if p.State != evbill.PaymentCaptured || st.Captures != 1 {
				t.Errorf("payment %s: %s, captured %d times by the gateway", id, p.State, st.Captures)
			}
		}
		if got := w.clearing(); got != 20*1000 {
			t.Errorf("gateway clearing %d, want %d", got, 20*1000)
		}
	})
}

// ended stores an ended session of the world's site with a CDR of total
// (minor units) and excl (its total excluding VAT), and a payment of it,
// held for hold.
func (w *world) ended(hold, total int64, excl string) evbill.Payment {
	w.t.Helper()
	ctx := context.Background()
	st := evbill.Station{TenantID: w.tenant.ID, SiteID: w.site.ID, ChargePointID: evbill.NewID("CP")}
	if err := w.store.CreateStation(ctx, &st); err != nil {
		w.t.Fatal(err)
	}
	ss := evbill.Session{TenantID: w.tenant.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "TAG", MeterStartWh: "0", StartedAt: w.now().Add(-time.Hour)}
	if _, err := w.store.StartSession(ctx, &ss); err != nil {
		w.t.Fatal(err)
	}
	p := evbill.Payment{TenantID: w.tenant.ID, SessionID: ss.ID, SiteID: w.site.ID, Gateway: "sandbox",
		PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: hold}
	if err := w.store.CreatePayment(ctx, &p); err != nil {
		w.t.Fatal(err)
	}
	w.run(w.worker()) // the hold
	stop := w.now()
	ss.MeterStopWh, ss.StoppedAt, ss.State = "10000", &stop, evbill.SessionEnded
	cdr := &evbill.CDR{Currency: "EUR", TotalExclVAT: excl, TotalInclVAT: excl, AmountMinor: total,
		Document: []byte(`{}`), Breakdown: []byte(`[]`)}
	if err := w.store.EndSession(ctx, &ss, cdr, nil); err != nil {
		w.t.Fatal(err)
	}
	return w.get(p.ID)
}

// TestCaptureAtCDR: a held payment whose session's CDR is in is captured
// for the CDR's total, split into net and VAT; a free session's hold is
// released; a total above the hold takes the hold and no more.
func TestCaptureAtCDR(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		exact := w.ended(5000, 1361, "12.3750")
		free := w.ended(5000, 0, "0.0000")
		over := w.ended(1000, 1210, "10.0000")
		wk := w.worker()
		w.run(wk) // settle: capture_pending / release_pending
		w.run(wk) // the gateway calls
		got := w.get(exact.ID)
		if got.State != evbill.PaymentCaptured || got.Captured != 1361 || got.CaptureNet != 1238 {
			t.Errorf("exact: %+v", got)
		}
		if got := w.get(free.ID); got.State != evbill.PaymentReleased || got.Captured != 0 {
			t.Errorf("free: %+v", got)
		}
		got = w.get(over.ID)
		if got.State != evbill.PaymentCaptured || got.Captured != 1000 || got.FailureCode != "exceeds_hold" {
			t.Errorf("over the hold: %+v", got)
		}
		if c := w.clearing(); c != 1361+1000 {
			t.Errorf("gateway clearing %d, want %d", c, 1361+1000)
		}
		vat, err := w.store.LedgerAccount(context.Background(), w.tenant.ID, ledger.VATPayable, "EUR")
		// 123 of the exact charge; of the capped one, 1000 × 210/1210 = 173.55… → 174.
		if err != nil || vat.Balance != -(123+174) {
			t.Errorf("VAT payable %+v, %v; want %d", vat, err, -(123 + 174))
		}
		if n := w.run(wk); n != 0 {
			t.Errorf("another round moved %d", n)
		}
	})
}

// TestReleaseWithoutCDR: a held payment of a session that ended without a
// CDR (held back from billing) is released, not captured.
func TestReleaseWithoutCDR(t *testing.T) {
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
			PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 5000}
		if err := w.store.CreatePayment(ctx, &p); err != nil {
			t.Fatal(err)
		}
		w.run(w.worker())
		if n := w.run(w.worker()); n != 0 {
			t.Fatalf("a held payment of a running session moved: %d", n)
		}
		stop := w.now()
		ss.MeterStopWh, ss.StoppedAt, ss.State, ss.Flags = "99999999", &stop, evbill.SessionEnded, []string{evbill.FlagImplausibleEnergy}
		if err := w.store.EndSession(ctx, &ss, nil, nil); err != nil {
			t.Fatal(err)
		}
		w.run(w.worker())
		w.run(w.worker())
		got := w.get(p.ID)
		if got.State != evbill.PaymentReleased || got.FailureCode != "no_cdr" || got.Captured != 0 {
			t.Errorf("payment of a session without CDR: %+v", got)
		}
		if c := w.clearing(); c != 0 {
			t.Errorf("gateway clearing %d", c)
		}
	})
}

// cdrOf returns the CDR of the payment's session.
func (w *world) cdrOf(p evbill.Payment) evbill.CDR {
	w.t.Helper()
	c, err := w.store.CDRBySession(context.Background(), w.tenant.ID, p.SessionID)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) balance(code string) int64 {
	w.t.Helper()
	a, err := w.store.LedgerAccount(context.Background(), w.tenant.ID, code, "EUR")
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return 0
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Balance
}

// TestRefunds refunds a capture in two parts: the gateway gives the money
// back, the payment follows, and the ledger gives back exactly the net and
// the VAT; more than was captured, or a payment not captured, is refused.
func TestRefunds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		p := w.ended(5000, 1361, "12.3750")
		wk := w.worker()
		w.run(wk)
		w.run(wk)
		if p = w.get(p.ID); p.State != evbill.PaymentCaptured {
			t.Fatalf("not captured: %s", p.State)
		}
		c := w.cdrOf(p)
		first := evbill.Refund{TenantID: w.tenant.ID, CDRID: c.ID, Amount: 500, Reason: "a faulty connector"}
		if err := w.store.CreateRefund(ctx, &first); err != nil {
			t.Fatal(err)
		}
		if first.State != evbill.RefundPending || first.PaymentID != p.ID {
			t.Fatalf("new refund: %+v", first)
		}
		tooMuch := evbill.Refund{TenantID: w.tenant.ID, CDRID: c.ID, Amount: 862}
		if err := w.store.CreateRefund(ctx, &tooMuch); evbill.ErrorCode(err) != evbill.ECONFLICT {
			t.Errorf("refunding more than is left: %v", err)
		}
		w.run(wk)
		got, err := w.store.Refund(ctx, w.tenant.ID, first.ID)
		if err != nil || got.State != evbill.RefundSucceeded || got.Reference == "" {
			t.Fatalf("after the worker: %+v, %v", got, err)
		}
		if p = w.get(p.ID); p.State != evbill.PaymentPartiallyRefunded || p.Refunded != 500 {
			t.Fatalf("payment after a part: %+v", p)
		}
		rest := evbill.Refund{TenantID: w.tenant.ID, CDRID: c.ID, Amount: 861}
		if err := w.store.CreateRefund(ctx, &rest); err != nil {
			t.Fatal(err)
		}
		w.run(wk)
		if p = w.get(p.ID); p.State != evbill.PaymentRefunded || p.Refunded != 1361 {
			t.Fatalf("payment after all: %+v", p)
		}
		if st, _ := w.sbx.Stats(p.Reference); st.Refunded != 1361 {
			t.Errorf("the gateway refunded %d", st.Refunded)
		}
		// Everything given back: clearing and VAT at zero, the refunds
		// account equal to the revenue.
		if got := w.clearing(); got != 0 {
			t.Errorf("gateway clearing %d", got)
		}
		if got := w.balance(ledger.VATPayable); got != 0 {
			t.Errorf("VAT payable %d after a full refund", got)
		}
		if rev, ref := w.balance(ledger.ChargingRevenue(w.site.ID)), w.balance(ledger.Refunds(w.site.ID)); rev != -1238 || ref != 1238 {
			t.Errorf("revenue %d, refunds %d", rev, ref)
		}
		more := evbill.Refund{TenantID: w.tenant.ID, CDRID: c.ID, Amount: 1}
		if err := w.store.CreateRefund(ctx, &more); evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("refunding a refunded payment: %v", err)
		}
		free := w.ended(5000, 0, "0.0000")
		w.run(wk)
		w.run(wk)
		nothing := evbill.Refund{TenantID: w.tenant.ID, CDRID: w.cdrOf(free).ID, Amount: 1}
		if err := w.store.CreateRefund(ctx, &nothing); evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("refunding a released payment: %v", err)
		}
	})
}

// TestRefundRaceAndCrash: refunds asked at once never exceed the capture,
// and a worker that dies after the gateway refunded does not refund twice.
func TestRefundRaceAndCrash(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		p := w.ended(5000, 1361, "12.3750")
		w.run(w.worker())
		w.run(w.worker())
		c := w.cdrOf(w.get(p.ID))
		var wg sync.WaitGroup
		var mu sync.Mutex
		made := 0
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := evbill.Refund{TenantID: w.tenant.ID, CDRID: c.ID, Amount: 400}
				switch err := w.store.CreateRefund(ctx, &r); evbill.ErrorCode(err) {
				case "":
					mu.Lock()
					made++
					mu.Unlock()
				case evbill.ECONFLICT:
				default:
					t.Errorf("CreateRefund: %v", err)
				}
			}()
		}
		wg.Wait()
		if made != 3 {
			t.Fatalf("%d refunds of 400 fit in a capture of 1361, want 3", made)
		}
		crashing := w.worker()
		crashing.AfterCall = func(op string, _ evbill.Payment) error {
			if op == payment.OpRefund {
				return errors.New("killed")
			}
			return nil
		}
		if _, err := crashing.RunOnce(ctx); err == nil {
			t.Fatal("the crashing worker finished")
		}
		w.run(w.worker())
		p = w.get(p.ID)
		st, _ := w.sbx.Stats(p.Reference)
		if p.Refunded != 1200 || st.Refunded != 1200 || len(st.Refunds) != 3 {
			t.Errorf("refunded %d by evbill, %d by the gateway in %d refunds; want 1200 in 3", p.Refunded, st.Refunded, len(st.Refunds))
		}
		if got := w.clearing(); got != 1361-1200 {
			t.Errorf("gateway clearing %d", got)
		}
	})
}

// post delivers a gateway notification to the webhook handler and returns
// the status.
func (w *world) post(h http.Handler, gateway string, header http.Header, body []byte) int {
	w.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/"+gateway, bytes.NewReader(body))
	req.SetPathValue("gateway", gateway)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestWebhooks: a chargeback posts the money taken back, once however
// often it is delivered; a won dispute posts it back; a lapsed hold
// releases its payment; a forged notification changes nothing.
func TestWebhooks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		h := &payment.Webhooks{Store: w.store, Gateways: map[string]evbill.Gateway{"sandbox": w.sbx}, Now: w.now}
		p := w.ended(5000, 1361, "12.3750")
		w.run(w.worker())
		w.run(w.worker())
		p = w.get(p.ID)
		n, err := w.sbx.Dispute(p.Reference, 1361)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // delivered twice
			if code := w.post(h, "sandbox", n.Header, n.Body); code != http.StatusOK {
				t.Fatalf("dispute.opened: status %d", code)
			}
		}
		if got := w.balance(ledger.Chargebacks); got != 1361 {
			t.Errorf("chargebacks %d after a dispute delivered twice, want 1361", got)
		}
		if got := w.clearing(); got != 0 {
			t.Errorf("gateway clearing %d after the chargeback", got)
		}
		forged := bytes.Replace(n.Body, []byte("1361"), []byte("9999"), 1)
		if code := w.post(h, "sandbox", n.Header, forged); code != http.StatusBadRequest {
			t.Errorf("a tampered notification: status %d", code)
		}
		won, err := w.sbx.CloseDispute(p.Reference, evbill.GatewayDisputeWon)
		if err != nil {
			t.Fatal(err)
		}
		if code := w.post(h, "sandbox", won.Header, won.Body); code != http.StatusOK {
			t.Fatalf("dispute.closed: status %d", code)
		}
		if got, c := w.balance(ledger.Chargebacks), w.clearing(); got != 0 || c != 1361 {
			t.Errorf("after a won dispute: chargebacks %d, clearing %d", got, c)
		}

		held := w.pay(sandbox.CardSucceeds, 2000)
		w.run(w.worker())
		w.advance(sandbox.DefaultHoldTTL + time.Hour)
		expired, err := w.sbx.ExpireHolds()
		if err != nil || len(expired) == 0 {
			t.Fatalf("ExpireHolds: %v, %v", expired, err)
		}
		for _, n := range expired {
			if code := w.post(h, "sandbox", n.Header, n.Body); code != http.StatusOK {
				t.Fatalf("hold.expired: status %d", code)
			}
		}
		if got := w.get(held.ID); got.State != evbill.PaymentReleased || got.FailureCode != "hold_expired" {
			t.Errorf("payment after its hold lapsed: %s %q", got.State, got.FailureCode)
		}
		if code := w.post(h, "nope", nil, nil); code != http.StatusNotFound {
			t.Errorf("an unknown gateway: status %d", code)
		}
	})
}

// TestHoldExpiringFlagged: a held payment whose hold lapses within the
// margin while its session runs is flagged once, and logged.
func TestHoldExpiringFlagged(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		p := w.pay(sandbox.CardSucceeds, 1000)
		w.run(w.worker())
		w.run(w.worker())
		if got := w.get(p.ID); got.FailureCode != "" {
			t.Fatalf("flagged a week before the hold lapses: %q", got.FailureCode)
		}
		w.advance(sandbox.DefaultHoldTTL - payment.ExpiryMargin + time.Minute)
		w.run(w.worker())
		w.run(w.worker())
		got := w.get(p.ID)
		if got.State != evbill.PaymentHeld || got.FailureCode != "hold_expiring" {
			t.Fatalf("near expiry: %s %q", got.State, got.FailureCode)
		}
		changes, err := w.store.PaymentChanges(context.Background(), w.tenant.ID, p.ID)
		if err != nil || len(changes) != 3 || changes[2].From != evbill.PaymentHeld || changes[2].To != evbill.PaymentHeld {
			t.Errorf("changes %+v, %v; want the flag logged once", changes, err)
		}
	})
}
