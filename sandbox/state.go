package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/evbill/evbill"
)

// stateVersion is written into the state file so a future format is
// refused instead of misread.
const stateVersion = 1

// state is everything the sandbox must remember across a restart. The
// file has its own JSON names, so renaming a Go field does not silently
// lose a demo's holds.
type state struct {
	Version  int                 `json:"version"`
	Payments map[string]*payment `json:"payments"`
	// Keys maps op + ":" + idempotency key to the answer it gives.
	Keys map[string]*record `json:"idempotency_keys"`
}

type payment struct {
	Reference      string    `json:"reference"`
	Card           string    `json:"card"` // the test card number; never a real one
	Status         string    `json:"status"`
	Amount         int64     `json:"amount"`
	Captured       int64     `json:"captured"`
	Currency       string    `json:"currency"`
	ExpiresAt      time.Time `json:"expires_at"`
	Expired        bool      `json:"expired,omitempty"`         // released because the hold lapsed
	ExpiryNotified bool      `json:"expiry_notified,omitempty"` // ExpireHolds emitted hold.expired
	Captures       int       `json:"captures"`
	Releases       int       `json:"releases"`
	Refunds        []refund  `json:"refunds,omitempty"`
	Refunded       int64     `json:"refunded"`
	Dispute        *dispute  `json:"dispute,omitempty"`
}

type refund struct {
	Reference string `json:"reference"`
	Amount    int64  `json:"amount"`
	Reason    string `json:"reason,omitempty"`
}

type dispute struct {
	Amount int64  `json:"amount"`
	Status string `json:"status"` // disputeOpen, GatewayDisputeWon or GatewayDisputeLost
}

// record is the answer an idempotency key gives: a payment, a refund or an
// error, as first given.
type record struct {
	Fingerprint string         `json:"fingerprint"`
	Payment     *paymentResult `json:"payment,omitempty"`
	Refund      *refundResult  `json:"refund,omitempty"`
	Err         *errorResult   `json:"error,omitempty"`
	// LostAnswer marks a record whose first answer was lost: that call
	// answered OutcomeUnknown, and replays give the real outcome.
	LostAnswer bool `json:"lost_answer,omitempty"`
}

type paymentResult struct {
	Reference      string    `json:"reference"`
	Status         string    `json:"status"`
	Amount         int64     `json:"amount"`
	CapturedAmount int64     `json:"captured_amount"`
	Currency       string    `json:"currency"`
	ExpiresAt      time.Time `json:"expires_at"`
}

type refundResult struct {
	Reference string `json:"reference"`
	Payment   string `json:"payment"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

type errorResult struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func newState() state {
	return state{Version: stateVersion, Payments: map[string]*payment{}, Keys: map[string]*record{}}
}

// lapse releases a hold whose time is up. Expiry is applied when a payment
// is next touched rather than by a timer, so a fake clock moved forward
// takes effect at once and a restarted sandbox needs no catching up.
func (p *payment) lapse(now time.Time) {
	if p.Status == evbill.GatewayHeld && !now.Before(p.ExpiresAt) {
		p.Status = evbill.GatewayReleased
		p.Expired = true
	}
}

func (p *payment) result() *paymentResult {
	return &paymentResult{Reference: p.Reference, Status: p.Status, Amount: p.Amount,
		CapturedAmount: p.Captured, Currency: p.Currency, ExpiresAt: p.ExpiresAt}
}

func (r *paymentResult) gateway() evbill.GatewayPayment {
	return evbill.GatewayPayment{Reference: r.Reference, Status: r.Status, Amount: r.Amount,
		CapturedAmount: r.CapturedAmount, Currency: r.Currency, ExpiresAt: r.ExpiresAt}
}

// failure records a failed outcome; err is always a *evbill.GatewayError.
func failure(err error) *record {
	ge := err.(*evbill.GatewayError)
	return &record{Err: &errorResult{Outcome: ge.Outcome, Code: ge.Code, Message: ge.Message}}
}

// err returns a fresh error each time, so no caller can alter another's.
func (r *record) err() error {
	if r.Err == nil {
		return nil
	}
	return &evbill.GatewayError{Outcome: r.Err.Outcome, Code: r.Err.Code, Message: r.Err.Message}
}

func (r *refundResult) gateway() evbill.GatewayRefund {
	return evbill.GatewayRefund{Reference: r.Reference, Payment: r.Payment, Amount: r.Amount, Currency: r.Currency}
}

// reference is the payment the record is about, for the call log: a
// Hold's request names none.
func (r *record) reference(requested string) string {
	if r.Payment != nil {
		return r.Payment.Reference
	}
	return requested
}

// load reads the state file; a missing file is a sandbox that has not
// been used yet.
func load(path string) (state, error) {
	if path == "" {
		return newState(), nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return state{}, fmt.Errorf("sandbox (test mode): reading the state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("sandbox (test mode): the state file %s is damaged: %w", path, err)
	}
	if st.Version != stateVersion {
		return state{}, fmt.Errorf("sandbox (test mode): the state file %s has version %d; this evbill reads version %d", path, st.Version, stateVersion)
	}
	if st.Payments == nil {
		st.Payments = map[string]*payment{}
	}
	if st.Keys == nil {
		st.Keys = map[string]*record{}
	}
	return st, nil
}

// save writes the whole state to a temporary file in the same directory
// and renames it over the state file: a reader, or a restart after a
// crash, sees the old state or the new one, never half of each. It runs
// under the lock, so saves land in the order the changes happened.
func (g *Gateway) save() error {
	if g.path == "" {
		g.dirty = false
		return nil
	}
	b, err := json.Marshal(g.st)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(g.path), filepath.Base(g.path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		// Without the sync, a power cut after the rename could leave an
		// empty file where the old state was.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, g.path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	g.dirty = false
	return nil
}
