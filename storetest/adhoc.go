package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// adHocTag returns an idTag no other test uses: OCPP's 20 characters at
// most, so the random end of an ID.
func adHocTag() string {
	id := evbill.NewID("t")
	return "AH" + id[len(id)-evbill.MaxIDTag+2:]
}

// newAdHoc stores an ad-hoc payment of w's site for idTag, with a guest
// token of that uid whose status and expiry are given (no token when
// status is "").
func newAdHoc(t testing.TB, s PaymentFullStore, w sessionWorld, idTag, status string, expires time.Time) evbill.Payment {
	t.Helper()
	ctx := context.Background()
	if status != "" {
		tok := evbill.Token{TenantID: w.tenant.ID, UID: idTag, Type: evbill.TokenTypeAdHoc, Status: status, ExpiresAt: &expires}
		noErr(t, "CreateToken", s.CreateToken(ctx, &tok))
	}
	p := evbill.Payment{TenantID: w.tenant.ID, SiteID: w.site.ID, IDTag: idTag, Gateway: "sandbox", PaymentMethod: "card_ok",
		Currency: "EUR", HoldAmount: 5000}
	noErr(t, "CreatePayment of an ad-hoc payment", s.CreatePayment(ctx, &p))
	return p
}

// held moves a new payment to held, as the worker does once the gateway
// holds the amount.
func held(t testing.TB, s PaymentFullStore, p *evbill.Payment) {
	t.Helper()
	p.Reference = "ref_" + p.ID
	move(t, s, p, evbill.PaymentHeld, "hold answered", nil)
}

// testAdHocPayments: an ad-hoc payment waits without a session under its
// idTag, one per idTag and tenant; it is found by its ID alone (the pay
// page's capability) but never another kind of payment is.
func testAdHocPayments(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	tag := adHocTag()
	p := newAdHoc(t, s, w, tag, evbill.TokenAccepted, time.Now().Add(time.Hour))
	equal(t, "state", p.State, evbill.PaymentHoldPending)
	equal(t, "id_tag", p.IDTag, tag)
	equal(t, "session_id", p.SessionID, "")
	got, err := s.Payment(ctx, w.tenant.ID, p.ID)
	noErr(t, "Payment", err)
	equal(t, "read back", got, p)
	got, err = s.AdHocPayment(ctx, p.ID)
	noErr(t, "AdHocPayment", err)
	equal(t, "by ID alone", got, p)
	got, err = s.AdHocPaymentByIDTag(ctx, w.tenant.ID, tag)
	noErr(t, "AdHocPaymentByIDTag", err)
	equal(t, "by id_tag", got, p)
	_, err = s.AdHocPaymentByIDTag(ctx, other.tenant.ID, tag)
	wantCode(t, "another tenant's id_tag", err, evbill.ENOTFOUND, "")

	// A driver's payment of a session is not an ad-hoc one: the pay page
	// must never show it.
	card := newPayment(t, s, w, 0)
	_, err = s.AdHocPayment(ctx, card.ID)
	wantCode(t, "a driver's payment by ID alone", err, evbill.ENOTFOUND, "")
	_, err = s.AdHocPayment(ctx, "pay_nope")
	wantCode(t, "an unknown payment by ID alone", err, evbill.ENOTFOUND, "")

	again := evbill.Payment{TenantID: w.tenant.ID, SiteID: w.site.ID, IDTag: tag, Gateway: "sandbox", Currency: "EUR", HoldAmount: 100}
	wantCode(t, "a second payment of the id_tag", s.CreatePayment(ctx, &again), evbill.ECONFLICT, "id_tag")
	elsewhere := evbill.Payment{TenantID: other.tenant.ID, SiteID: other.site.ID, IDTag: tag, Gateway: "sandbox", Currency: "EUR", HoldAmount: 100}
	noErr(t, "the same id_tag in another tenant", s.CreatePayment(ctx, &elsewhere))

	ss := startNew(t, s, w.session(1, 1))
	for name, bad := range map[string]evbill.Payment{
		"an id_tag and a session": {TenantID: w.tenant.ID, SiteID: w.site.ID, SessionID: ss.ID, IDTag: adHocTag(), Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"an id_tag and a driver":  {TenantID: w.tenant.ID, SiteID: w.site.ID, DriverID: w.driver.ID, IDTag: adHocTag(), Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"a top-up with an id_tag": {TenantID: w.tenant.ID, Purpose: evbill.PurposeTopUp, DriverID: w.driver.ID, IDTag: adHocTag(), Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"an id_tag of 21":         {TenantID: w.tenant.ID, SiteID: w.site.ID, IDTag: strings.Repeat("X", 21), Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
		"neither session nor tag": {TenantID: w.tenant.ID, SiteID: w.site.ID, Gateway: "sandbox", Currency: "EUR", HoldAmount: 100},
	} {
		wantCode(t, name, s.CreatePayment(ctx, &bad), evbill.EINVALID, "")
	}
}

// testAdHocClaim: the session started with the idTag claims the held
// payment, once; a payment not yet held, or claimed, is not found; the
// claim is logged.
func testAdHocClaim(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	tag := adHocTag()
	p := newAdHoc(t, s, w, tag, evbill.TokenAccepted, time.Now().Add(time.Hour))
	first, second := startNew(t, s, w.session(1, 1)), startNew(t, s, w.session(2, 2))

	_, err := s.ClaimAdHocPayment(ctx, w.tenant.ID, tag, first.ID)
	wantCode(t, "a claim before the hold", err, evbill.ENOTFOUND, "")
	held(t, s, &p)
	_, err = s.ClaimAdHocPayment(ctx, other.tenant.ID, tag, first.ID)
	wantCode(t, "another tenant's claim", err, evbill.ENOTFOUND, "")
	_, err = s.ClaimAdHocPayment(ctx, w.tenant.ID, adHocTag(), first.ID)
	wantCode(t, "a claim of another id_tag", err, evbill.ENOTFOUND, "")
	_, err = s.ClaimAdHocPayment(ctx, w.tenant.ID, tag, "")
	wantCode(t, "a claim without a session", err, evbill.EINVALID, "")

	claimed, err := s.ClaimAdHocPayment(ctx, w.tenant.ID, tag, first.ID)
	noErr(t, "ClaimAdHocPayment", err)
	equal(t, "claimed session", claimed.SessionID, first.ID)
	equal(t, "claimed state", claimed.State, evbill.PaymentHeld)
	equal(t, "claimed id_tag", claimed.IDTag, tag)
	equal(t, "claimed reference", claimed.Reference, p.Reference)
	bySession, err := s.PaymentBySession(ctx, w.tenant.ID, first.ID)
	noErr(t, "PaymentBySession", err)
	equal(t, "the session's payment", bySession, claimed)

	_, err = s.ClaimAdHocPayment(ctx, w.tenant.ID, tag, second.ID)
	wantCode(t, "a second session's claim", err, evbill.ENOTFOUND, "")
	_, err = s.ClaimAdHocPayment(ctx, w.tenant.ID, tag, first.ID)
	wantCode(t, "the same session's claim again", err, evbill.ENOTFOUND, "")
	if _, err := s.PaymentBySession(ctx, w.tenant.ID, second.ID); evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("the second session has a payment: %v", err)
	}
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, p.ID)
	noErr(t, "PaymentChanges", err)
	if n := len(changes); n != 3 || changes[2].Reason != "claimed by session "+first.ID || changes[2].From != evbill.PaymentHeld || changes[2].To != evbill.PaymentHeld {
		t.Errorf("changes after the claim: %+v", changes)
	}

	// The claimed payment settles as any session's: the session ends and
	// its CDR is in.
	stop := first.StartedAt.Add(time.Hour)
	noErr(t, "end the session", s.ApplySessionWrites(ctx, []evbill.SessionWrite{{End: endWith(first, stop, "cdr.created")}}))
	ready, err := s.SettleablePayments(ctx, evbill.MaxPageLimit)
	noErr(t, "SettleablePayments", err)
	found := false
	for _, r := range ready {
		found = found || r.Payment.ID == p.ID
	}
	if !found {
		t.Errorf("the claimed payment of an ended session is not settleable")
	}
}

// testAdHocRelease: only a held payment no session claimed is released,
// with its code and reason, due at once; a claimed one is a conflict.
func testAdHocRelease(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	p := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, time.Now().Add(time.Hour))
	_, err := s.ReleaseAdHocPayment(ctx, w.tenant.ID, p.ID, "remote_start_rejected", "the charger refused")
	wantCode(t, "a release before the hold", err, evbill.ECONFLICT, "hold_pending")
	held(t, s, &p)
	_, err = s.ReleaseAdHocPayment(ctx, other.tenant.ID, p.ID, "x", "x")
	wantCode(t, "another tenant's release", err, evbill.ENOTFOUND, "")
	card := newPayment(t, s, w, 0)
	_, err = s.ReleaseAdHocPayment(ctx, w.tenant.ID, card.ID, "x", "x")
	wantCode(t, "a release of a driver's payment", err, evbill.ENOTFOUND, "")

	released, err := s.ReleaseAdHocPayment(ctx, w.tenant.ID, p.ID, "remote_start_rejected", "the charger refused")
	noErr(t, "ReleaseAdHocPayment", err)
	equal(t, "state", released.State, evbill.PaymentReleasePending)
	equal(t, "failure code", released.FailureCode, "remote_start_rejected")
	equal(t, "reference kept", released.Reference, p.Reference)
	due, err := s.DuePayments(ctx, time.Now().Add(time.Second), evbill.MaxPageLimit)
	noErr(t, "DuePayments", err)
	if !hasPayment(due, p.ID) {
		t.Errorf("a released ad-hoc payment is not due")
	}
	changes, err := s.PaymentChanges(ctx, w.tenant.ID, p.ID)
	noErr(t, "PaymentChanges", err)
	if last := changes[len(changes)-1]; last.From != evbill.PaymentHeld || last.To != evbill.PaymentReleasePending || last.Reason != "the charger refused" {
		t.Errorf("the release's change: %+v", last)
	}
	_, err = s.ReleaseAdHocPayment(ctx, w.tenant.ID, p.ID, "x", "x")
	wantCode(t, "a second release", err, evbill.ECONFLICT, "")

	q := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, time.Now().Add(time.Hour))
	held(t, s, &q)
	ss := startNew(t, s, w.session(1, 3))
	_, err = s.ClaimAdHocPayment(ctx, w.tenant.ID, q.IDTag, ss.ID)
	noErr(t, "ClaimAdHocPayment", err)
	_, err = s.ReleaseAdHocPayment(ctx, w.tenant.ID, q.ID, "x", "x")
	wantCode(t, "a release of a claimed payment", err, evbill.ECONFLICT, ss.ID)
	if got, _ := s.Payment(ctx, w.tenant.ID, q.ID); got.State != evbill.PaymentHeld || got.SessionID != ss.ID {
		t.Errorf("the claimed payment after a refused release: %s, session %q", got.State, got.SessionID)
	}
}

// testAdHocUnclaimed: the held payments no session can claim any more are
// the old ones and those whose token is gone, blocked or expired; a fresh
// one, a claimed one and one not yet held are not.
func testAdHocUnclaimed(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	later := time.Now().Add(time.Hour)
	fresh := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, later)
	blocked := newAdHoc(t, s, w, adHocTag(), evbill.TokenBlocked, later)
	expired := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, time.Now().Add(-time.Minute))
	noToken := newAdHoc(t, s, w, adHocTag(), "", time.Time{})
	claimed := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, time.Now().Add(-time.Minute))
	pending := newAdHoc(t, s, w, adHocTag(), evbill.TokenBlocked, later)
	for _, p := range []*evbill.Payment{&fresh, &blocked, &expired, &noToken, &claimed} {
		held(t, s, p)
	}
	ss := startNew(t, s, w.session(1, 1))
	_, err := s.ClaimAdHocPayment(ctx, w.tenant.ID, claimed.IDTag, ss.ID)
	noErr(t, "ClaimAdHocPayment", err)

	ids := func(createdBefore time.Time) map[string]bool {
		t.Helper()
		ps, err := s.UnclaimedAdHocPayments(ctx, createdBefore, time.Now(), evbill.MaxPageLimit)
		noErr(t, "UnclaimedAdHocPayments", err)
		out := map[string]bool{}
		for _, p := range ps {
			if p.TenantID == w.tenant.ID {
				out[p.ID] = true
			}
		}
		return out
	}
	got := ids(time.Now().Add(-evbill.AdHocWindow))
	want := map[string]bool{blocked.ID: true, expired.ID: true, noToken.ID: true}
	equal(t, "unclaimable payments", got, want)
	got = ids(time.Now().Add(time.Second))
	want[fresh.ID] = true
	equal(t, "with every payment old enough", got, want)
	if got[pending.ID] || got[claimed.ID] {
		t.Errorf("a payment not held or claimed is listed")
	}
}

// testAdHocClaimRace: a claim and a release of one payment at once: one
// of them wins, never both, on either engine.
func testAdHocClaimRace(t *testing.T, s PaymentFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	for i := range 10 {
		p := newAdHoc(t, s, w, adHocTag(), evbill.TokenAccepted, time.Now().Add(time.Hour))
		held(t, s, &p)
		ss := startNew(t, s, w.session(1, 10+i))
		var claimErr, releaseErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, claimErr = s.ClaimAdHocPayment(ctx, w.tenant.ID, p.IDTag, ss.ID) })
		wg.Go(func() { _, releaseErr = s.ReleaseAdHocPayment(ctx, w.tenant.ID, p.ID, "no_session", "race") })
		wg.Wait()
		got, err := s.Payment(ctx, w.tenant.ID, p.ID)
		noErr(t, "Payment", err)
		switch {
		case claimErr == nil && releaseErr == nil:
			t.Fatalf("round %d: both the claim and the release succeeded: %+v", i, got)
		case claimErr == nil:
			wantCode(t, "the release that lost", releaseErr, evbill.ECONFLICT, "")
			if got.State != evbill.PaymentHeld || got.SessionID != ss.ID {
				t.Fatalf("round %d: claimed, but %s with session %q", i, got.State, got.SessionID)
			}
		case releaseErr == nil:
			wantCode(t, "the claim that lost", claimErr, evbill.ENOTFOUND, "")
			if got.State != evbill.PaymentReleasePending || got.SessionID != "" {
				t.Fatalf("round %d: released, but %s with session %q", i, got.State, got.SessionID)
			}
		default:
			t.Fatalf("round %d: neither won: %v; %v", i, claimErr, releaseErr)
		}
	}
}
