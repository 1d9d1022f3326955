package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
)

// guest makes what the pay page makes: a guest token expiring after
// evbill.AdHocWindow and an ad-hoc payment of its idTag, due now.
func (w *world) guest(uid string) evbill.Payment {
	w.t.Helper()
	ctx := context.Background()
	expires := w.now().Add(evbill.AdHocWindow)
	if err := w.store.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: uid, Type: evbill.TokenTypeAdHoc,
		Status: evbill.TokenAccepted, ExpiresAt: &expires}); err != nil {
		w.t.Fatal(err)
	}
	p := evbill.Payment{TenantID: w.tenant.ID, SiteID: w.site.ID, IDTag: uid, Gateway: "sandbox",
		PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 5000}
	if err := w.store.CreatePayment(ctx, &p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// TestUnclaimedAdHocReleased: a guest's hold that no session claims is
// released by the worker once the guest's window has passed (reason
// no_session), or at once when the pay page blocked the token; a claimed
// one stays held for its session.
func TestUnclaimedAdHocReleased(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.mu.Lock()
		w.clock = time.Now() // the store stamps payments with the real clock
		w.mu.Unlock()
		waiting, abandoned, claimed := w.guest("ADHOCWAITING"), w.guest("ADHOCABANDONED"), w.guest("ADHOCCLAIMED")
		w.advance(time.Second) // the payments are due
		wk := w.worker()
		w.run(wk)
		for _, p := range []evbill.Payment{waiting, abandoned, claimed} {
			if got := w.get(p.ID); got.State != evbill.PaymentHeld {
				t.Fatalf("%s after the hold: %s", p.IDTag, got.State)
			}
		}
		ss := w.running()
		if _, err := w.store.ClaimAdHocPayment(ctx, w.tenant.ID, claimed.IDTag, ss.ID); err != nil {
			t.Fatal(err)
		}

		// The pay page gave up on the charger: it blocked the token.
		tok, err := w.store.TokenByUID(ctx, w.tenant.ID, abandoned.IDTag)
		if err != nil {
			t.Fatal(err)
		}
		tok.Status = evbill.TokenBlocked
		if err := w.store.UpdateToken(ctx, &tok); err != nil {
			t.Fatal(err)
		}
		w.run(wk) // release_pending, then released through the gateway
		if got := w.get(abandoned.ID); got.State != evbill.PaymentReleased || got.FailureCode != payment.NoSession {
			t.Errorf("the abandoned guest's payment: %s (%s), want released (no_session)", got.State, got.FailureCode)
		}
		if gp, _ := w.sbx.Payment(w.get(abandoned.ID).Reference); gp.Status != evbill.GatewayReleased {
			t.Errorf("the sandbox still holds the abandoned guest's card: %+v", gp)
		}
		if got := w.get(waiting.ID); got.State != evbill.PaymentHeld {
			t.Errorf("a guest within the window: %s, want held", got.State)
		}

		w.advance(evbill.AdHocWindow + time.Minute)
		w.run(wk)
		got := w.get(waiting.ID)
		if got.State != evbill.PaymentReleased || got.FailureCode != payment.NoSession {
			t.Errorf("the guest whose charger never started: %s (%s), want released (no_session)", got.State, got.FailureCode)
		}
		changes, err := w.store.PaymentChanges(ctx, w.tenant.ID, waiting.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c := changes[len(changes)-2]; c.To != evbill.PaymentReleasePending || c.Reason[:len(payment.NoSession)] != payment.NoSession {
			t.Errorf("the release's reason: %+v", c)
		}
		if got := w.get(claimed.ID); got.State != evbill.PaymentHeld || got.SessionID != ss.ID {
			t.Errorf("the claimed guest's payment: %s, session %q; want held for %s", got.State, got.SessionID, ss.ID)
		}
	})
}
