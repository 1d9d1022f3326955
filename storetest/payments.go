package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// PaymentFullStore is a store with sessions, the ledger and payments.
type PaymentFullStore interface {
	FullStore
	evbill.LedgerStore
	evbill.PaymentStore
}

// RunPayments runs the conformance suite of evbill.PaymentStore.
func RunPayments(t *testing.T, open func(t *testing.T) PaymentFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s PaymentFullStore)
	}{
		{"Create", testPaymentCreate},
		{"Flow", testPaymentFlow},
		{"Refusals", testPaymentRefusals},
		{"EntryAtomic", testPaymentEntryAtomic},
		{"ConcurrentCapture", testPaymentConcurrentCapture},
		{"TenantIsolation", testPaymentTenantIsolation},
		{"PaymentMethods", testPaymentMethods},
		{"AdHoc", testAdHocPayments},
		{"AdHocClaim", testAdHocClaim},
		{"AdHocRelease", testAdHocRelease},
		{"AdHocUnclaimed", testAdHocUnclaimed},
		{"AdHocClaimRace", testAdHocClaimRace},
		{"Batch", testPaymentBatch},
		{"StartWithPayment", testStartWithPayment},
		{"Events", testPaymentEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// newPayment stores a hold_pending payment of a new session of w.
func newPayment(t testing.TB, s PaymentFullStore, w sessionWorld, n int) evbill.Payment {
	t.Helper()
	ss := startNew(t, s, w.session(1, n))
	p := evbill.Payment{TenantID: w.tenant.ID, SessionID: ss.ID, DriverID: w.driver.ID, SiteID: w.site.ID,
		Gateway: "sandbox", PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 5000}
	noErr(t, "CreatePayment", s.CreatePayment(context.Background(), &p))
	return p
}

// move makes a transition that must succeed.
func move(t testing.TB, s PaymentFullStore, p *evbill.Payment, to, reason string, entry *evbill.LedgerEntry) {
	t.Helper()
	from := p.State
	p.State = to
	noErr(t, from+" → "+to, s.TransitionPayment(context.Background(), p, from, reason, entry))
}

func capture(t testing.TB, p evbill.Payment) *evbill.LedgerEntry {
	t.Helper()
	e, err := ledger.CardCaptured(p.TenantID, p.ID, p.Gateway, p.SiteID, ledger.Charge{Currency: p.Currency, Total: p.CaptureAmount, Net: p.CaptureNet})
	noErr(t, "CardCaptured", err)
	return &e
}

func testPaymentCreate(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	before := time.Now().Add(-time.Second)
	p := newPayment(t, s, w, 0)
	hasPrefix(t, "payment ID", p.ID, evbill.PrefixPayment)
	equal(t, "state", p.State, evbill.PaymentHoldPending)
	storeTime(t, "CreatedAt", p.CreatedAt)
	got, err := s.Payment(ctx, w.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "payment read back", got, p)
	bySession, err := s.PaymentBySession(ctx, w.tenant.ID, p.SessionID)
	noErr(t, "PaymentBySession", err)
	equal(t, "payment by session", bySession.ID, p.ID)

	again := evbill.Payment{TenantID: w.tenant.ID, SessionID: p.SessionID, SiteID: w.site.ID, Gateway: "sandbox", Currency: "EUR", HoldAmount: 100}
	wantCode(t, "a second payment of the session", s.CreatePayment(ctx, &again), evbill.ECONFLICT, "already has a payment")
	adHoc := evbill.Payment{TenantID: w.tenant.ID, SiteID: w.site.ID, IDTag: adHocTag(), Gateway: "sandbox", PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 100}
	noErr(t, "an ad-hoc payment, without driver or session", s.CreatePayment(ctx, &adHoc))
	for name, bad := range map[string]evbill.Payment{
		"unknown site":       {TenantID: w.tenant.ID, SiteID: "site_nope", Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"unknown session":    {TenantID: w.tenant.ID, SessionID: "ses_nope", SiteID: w.site.ID, Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"no amount":          {TenantID: w.tenant.ID, SiteID: w.site.ID, Gateway: "sandbox", Currency: "EUR"},
		"no gateway":         {TenantID: w.tenant.ID, SiteID: w.site.ID, Currency: "EUR", HoldAmount: 100},
		"lowercase currency": {TenantID: w.tenant.ID, SiteID: w.site.ID, Gateway: "sandbox", Currency: "eur", HoldAmount: 100},
	} {
		wantCode(t, name, s.CreatePayment(ctx, &bad), evbill.EINVALID, "")
	}

	due, err := s.DuePayments(ctx, time.Now().Add(time.Second), evbill.MaxPageLimit)
	noErr(t, "DuePayments", err)
	if !hasPayment(due, p.ID) || !hasPayment(due, adHoc.ID) {
		t.Errorf("new payments are not due")
	}
	if early, err := s.DuePayments(ctx, before, evbill.MaxPageLimit); err != nil || hasPayment(early, p.ID) {
		t.Errorf("DuePayments before the payment was made: %v, %v", hasPayment(early, p.ID), err)
	}
}

func hasPayment(ps []evbill.Payment, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

// testPaymentFlow takes a payment through hold, capture with its ledger
// entry, and refunds, with every change logged, and takes it off and on
// the worker's queue.
func testPaymentFlow(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	p := newPayment(t, s, w, 0)
	noErr(t, "RetryPayment", s.RetryPayment(ctx, w.tenant.ID, p.ID, 1, time.Now().Add(time.Hour)))
	due, err := s.DuePayments(ctx, time.Now().Add(time.Minute), evbill.MaxPageLimit)
	noErr(t, "DuePayments", err)
	if hasPayment(due, p.ID) {
		t.Errorf("a payment retried in an hour is due now")
	}
	p, err = s.Payment(ctx, w.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "attempts", p.Attempts, 1)

	p.Reference, p.Attempts = "sbx_test_pi_1", 0
	move(t, s, &p, evbill.PaymentHeld, "hold placed", nil)
	equal(t, "reference", p.Reference, "sbx_test_pi_1")
	p.CaptureAmount, p.CaptureNet, p.NextAttemptAt = 1361, 1238, time.Now()
	move(t, s, &p, evbill.PaymentCapturePending, "cdr.created", nil)
	due, err = s.DuePayments(ctx, time.Now().Add(time.Minute), evbill.MaxPageLimit)
	noErr(t, "DuePayments", err)
	if !hasPayment(due, p.ID) {
		t.Errorf("a capture_pending payment is not due")
	}
	p.Captured = p.CaptureAmount
	move(t, s, &p, evbill.PaymentCaptured, "captured", capture(t, p))
	equal(t, "captured", p.Captured, int64(1361))
	clearing, err := s.LedgerAccount(ctx, w.tenant.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "LedgerAccount", err)
	equal(t, "clearing after the capture", clearing.Balance, int64(1361))
	due, err = s.DuePayments(ctx, time.Now().Add(time.Minute), evbill.MaxPageLimit)
	noErr(t, "DuePayments", err)
	if hasPayment(due, p.ID) {
		t.Errorf("a captured payment is due")
	}

	p.Refunded = 500
	move(t, s, &p, evbill.PaymentPartiallyRefunded, "refund 1", nil)
	p.Refunded = 1361
	move(t, s, &p, evbill.PaymentRefunded, "refund 2", nil)
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, p.ID)
	noErr(t, "PaymentChanges", err)
	want := []string{evbill.PaymentHoldPending, evbill.PaymentHeld, evbill.PaymentCapturePending, evbill.PaymentCaptured,
		evbill.PaymentPartiallyRefunded, evbill.PaymentRefunded}
	if len(changes) != len(want) {
		t.Fatalf("changes %+v", changes)
	}
	for i, c := range changes {
		if c.To != want[i] || (i > 0 && c.From != want[i-1]) {
			t.Errorf("change %d: %s → %s, want → %s", i, c.From, c.To, want[i])
		}
	}
	equal(t, "reason logged", changes[3].Reason, "captured")
	checkBalances(t, s, w.tenant.ID)
}

func testPaymentRefusals(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	p := newPayment(t, s, w, 0)
	skip := p
	skip.State = evbill.PaymentCaptured
	wantCode(t, "hold_pending → captured", s.TransitionPayment(ctx, &skip, evbill.PaymentHoldPending, "", nil), evbill.ECONFLICT, "cannot become")
	stale := p
	stale.State = evbill.PaymentCapturePending
	wantCode(t, "from a state it is not in", s.TransitionPayment(ctx, &stale, evbill.PaymentHeld, "", nil), evbill.ECONFLICT, "moved meanwhile")
	over := p
	over.State, over.CaptureAmount = evbill.PaymentHeld, p.HoldAmount+1
	wantCode(t, "a capture above the hold", s.TransitionPayment(ctx, &over, evbill.PaymentHoldPending, "", nil), evbill.EINVALID, "")
	got, err := s.Payment(ctx, w.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "state after refusals", got.State, evbill.PaymentHoldPending)
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, p.ID)
	noErr(t, "PaymentChanges", err)
	equal(t, "changes after refusals", len(changes), 1)
	wantCode(t, "RetryPayment of an unknown payment", s.RetryPayment(ctx, w.tenant.ID, "pay_nope", 1, time.Now()), evbill.ENOTFOUND, "")
	_, err = s.PaymentChanges(ctx, w.tenant.ID, "pay_nope")
	wantCode(t, "PaymentChanges of an unknown payment", err, evbill.ENOTFOUND, "")
}

// testPaymentEntryAtomic: a transition whose ledger entry is refused
// changes nothing.
func testPaymentEntryAtomic(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	p := newPayment(t, s, w, 0)
	move(t, s, &p, evbill.PaymentHeld, "", nil)
	p.CaptureAmount, p.CaptureNet = 1000, 900
	move(t, s, &p, evbill.PaymentCapturePending, "", nil)
	entry := capture(t, p)
	// The same key already in the ledger: the capture's entry is refused.
	taken := *entry
	taken.Postings = append([]evbill.Posting(nil), entry.Postings...)
	noErr(t, "PostEntry", s.PostEntry(ctx, &taken))
	p.Captured = 1000
	p.State = evbill.PaymentCaptured
	wantCode(t, "a capture whose entry is refused", s.TransitionPayment(ctx, &p, evbill.PaymentCapturePending, "", entry), evbill.ECONFLICT, "already posted")
	got, err := s.Payment(ctx, w.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "state", got.State, evbill.PaymentCapturePending)
	equal(t, "captured", got.Captured, int64(0))
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, p.ID)
	noErr(t, "PaymentChanges", err)
	equal(t, "changes", len(changes), 3)
	checkBalances(t, s, w.tenant.ID)
}

// testPaymentConcurrentCapture: workers racing to record one capture
// record it once, and post it once.
func testPaymentConcurrentCapture(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	p := newPayment(t, s, w, 0)
	move(t, s, &p, evbill.PaymentHeld, "", nil)
	p.CaptureAmount, p.CaptureNet = 2000, 1800
	move(t, s, &p, evbill.PaymentCapturePending, "", nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.State, q.Captured = evbill.PaymentCaptured, 2000
			err := s.TransitionPayment(ctx, &q, evbill.PaymentCapturePending, "captured", capture(t, p))
			switch evbill.ErrorCode(err) {
			case "":
				mu.Lock()
				won++
				mu.Unlock()
			case evbill.ECONFLICT:
			default:
				t.Errorf("TransitionPayment: %v", err)
			}
		}()
	}
	wg.Wait()
	equal(t, "workers that recorded the capture", won, 1)
	clearing, err := s.LedgerAccount(ctx, w.tenant.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "LedgerAccount", err)
	equal(t, "clearing", clearing.Balance, int64(2000))
	checkBalances(t, s, w.tenant.ID)
}

func testPaymentTenantIsolation(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	a, b := newSessionWorld(t, s), newSessionWorld(t, s)
	p := newPayment(t, s, a, 0)
	_, err := s.Payment(ctx, b.tenant.ID, p.ID)
	wantCode(t, "another tenant's payment", err, evbill.ENOTFOUND, "")
	_, err = s.PaymentBySession(ctx, b.tenant.ID, p.SessionID)
	wantCode(t, "another tenant's session payment", err, evbill.ENOTFOUND, "")
	q := p
	q.TenantID, q.State = b.tenant.ID, evbill.PaymentHeld
	err = s.TransitionPayment(ctx, &q, evbill.PaymentHoldPending, "", nil)
	if code := evbill.ErrorCode(err); code != evbill.ENOTFOUND && code != evbill.ECONFLICT {
		t.Errorf("moving another tenant's payment: %v", err)
	}
	// A payment in a's tenant with b's site does not exist.
	cross := evbill.Payment{TenantID: a.tenant.ID, SiteID: b.site.ID, IDTag: adHocTag(), Gateway: "sandbox", Currency: "EUR", HoldAmount: 100}
	wantCode(t, "another tenant's site", s.CreatePayment(ctx, &cross), evbill.EINVALID, "site_id")
	got, err := s.Payment(ctx, a.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "state", got.State, evbill.PaymentHoldPending)
}

func testPaymentMethods(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	_, err := s.PaymentMethod(ctx, w.tenant.ID, w.driver.ID)
	wantCode(t, "a driver without a method", err, evbill.ENOTFOUND, "")
	m := evbill.PaymentMethod{TenantID: w.tenant.ID, DriverID: w.driver.ID, PayBy: evbill.PayByCard, Gateway: "sandbox", Card: "4242424242424242"}
	noErr(t, "SetPaymentMethod", s.SetPaymentMethod(ctx, &m))
	storeTime(t, "UpdatedAt", m.UpdatedAt)
	got, err := s.PaymentMethod(ctx, w.tenant.ID, w.driver.ID)
	noErr(t, "PaymentMethod", err)
	equal(t, "method read back", got, m)
	m2 := evbill.PaymentMethod{TenantID: w.tenant.ID, DriverID: w.driver.ID, PayBy: evbill.PayByWallet}
	noErr(t, "SetPaymentMethod again", s.SetPaymentMethod(ctx, &m2))
	got, err = s.PaymentMethod(ctx, w.tenant.ID, w.driver.ID)
	noErr(t, "PaymentMethod", err)
	equal(t, "replaced method", got.PayBy, evbill.PayByWallet)
	equal(t, "replaced card", got.Card, "")
	for name, bad := range map[string]evbill.PaymentMethod{
		"a card without a card":   {TenantID: w.tenant.ID, DriverID: w.driver.ID, PayBy: evbill.PayByCard, Gateway: "sandbox"},
		"an unknown way":          {TenantID: w.tenant.ID, DriverID: w.driver.ID, PayBy: "cash"},
		"an unknown driver":       {TenantID: w.tenant.ID, DriverID: "drv_nope", PayBy: evbill.PayByWallet},
		"another tenant's driver": {TenantID: w.tenant.ID, DriverID: other.driver.ID, PayBy: evbill.PayByWallet},
	} {
		wantCode(t, name, s.SetPaymentMethod(ctx, &bad), evbill.EINVALID, "")
	}
	_, err = s.PaymentMethod(ctx, other.tenant.ID, w.driver.ID)
	wantCode(t, "another tenant reads the method", err, evbill.ENOTFOUND, "")
}
