package evbill

import (
	"encoding/json"
	"time"
)

// Outbox event types of payments and refunds. Each is written by the
// store in the transaction that makes the change it reports, so an event
// is never lost nor sent for a change that was rolled back.
const (
	EventPaymentHeld     = "payment.held"
	EventPaymentCaptured = "payment.captured"
	EventPaymentFailed   = "payment.failed"
	EventPaymentReleased = "payment.released"
	EventRefundCreated   = "refund.created"
	// EventWalletLowBalance: a session's debit left a driver's wallet
	// below the tenant's minimum, so the next session would be refused.
	EventWalletLowBalance = "wallet.low_balance"
)

// paymentEventTypes are the payment states that are reported, by the
// event type that reports reaching them.
var paymentEventTypes = map[string]string{
	PaymentHeld:     EventPaymentHeld,
	PaymentCaptured: EventPaymentCaptured,
	PaymentFailed:   EventPaymentFailed,
	PaymentReleased: EventPaymentReleased,
}

// PaymentEventData is the payload of a payment event: the payment as the
// API shows it (the same field names and integer minor units), without
// its log of changes.
type PaymentEventData struct {
	ID            string     `json:"id"`
	SessionID     string     `json:"session_id,omitempty"`
	DriverID      string     `json:"driver_id,omitempty"`
	IDTag         string     `json:"id_tag,omitempty"`
	SiteID        string     `json:"site_id,omitempty"`
	Gateway       string     `json:"gateway"`
	Reference     string     `json:"reference,omitempty"`
	Currency      string     `json:"currency"`
	HoldAmount    int64      `json:"hold_amount"`
	CaptureAmount int64      `json:"capture_amount"`
	Captured      int64      `json:"captured"`
	Refunded      int64      `json:"refunded"`
	State         string     `json:"state"`
	FailureCode   string     `json:"failure_code,omitempty"`
	HoldExpiresAt *time.Time `json:"hold_expires_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// PaymentEvent returns the outbox event reporting that p reached its
// state, and false when that state is not reported (the pending ones,
// refunds, which refund events report).
func PaymentEvent(p Payment) (Event, bool) {
	typ, ok := paymentEventTypes[p.State]
	if !ok {
		return Event{}, false
	}
	data, err := json.Marshal(PaymentEventData{ID: p.ID, SessionID: p.SessionID, DriverID: p.DriverID, IDTag: p.IDTag,
		SiteID: p.SiteID, Gateway: p.Gateway, Reference: p.Reference, Currency: p.Currency, HoldAmount: p.HoldAmount,
		CaptureAmount: p.CaptureAmount, Captured: p.Captured, Refunded: p.Refunded, State: p.State,
		FailureCode: p.FailureCode, HoldExpiresAt: utcPtr(p.HoldExpiresAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()})
	if err != nil {
		panic(err) // strings, integers and times always marshal
	}
	return Event{ID: NewID(PrefixEvent), TenantID: p.TenantID, Type: typ, Payload: data, CreatedAt: p.UpdatedAt}, true
}

// RefundEventData is the payload of refund.created: the refund as the API
// shows it.
type RefundEventData struct {
	ID        string    `json:"id"`
	PaymentID string    `json:"payment_id"`
	CDRID     string    `json:"cdr_id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason,omitempty"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

// RefundEvent returns the refund.created event of r, a refund of a
// payment in currency.
func RefundEvent(r Refund, currency string) Event {
	data, err := json.Marshal(RefundEventData{ID: r.ID, PaymentID: r.PaymentID, CDRID: r.CDRID, Amount: r.Amount,
		Currency: currency, Reason: r.Reason, State: r.State, CreatedAt: r.CreatedAt.UTC()})
	if err != nil {
		panic(err)
	}
	return Event{ID: NewID(PrefixEvent), TenantID: r.TenantID, Type: EventRefundCreated, Payload: data, CreatedAt: r.CreatedAt}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// WalletLowBalanceData is the payload of wallet.low_balance: what the
// wallet holds after the debit and the least a session needs, in minor
// units of the currency.
type WalletLowBalanceData struct {
	DriverID  string `json:"driver_id"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Minimum   int64  `json:"minimum"`
	PaymentID string `json:"payment_id"`
}

// WalletLowBalanceEvent returns the wallet.low_balance event of the
// driver's wallet after the wallet payment p.
func WalletLowBalanceEvent(p Payment, balance, minimum int64, at time.Time) Event {
	data, err := json.Marshal(WalletLowBalanceData{DriverID: p.DriverID, Currency: p.Currency, Balance: balance,
		Minimum: minimum, PaymentID: p.ID})
	if err != nil {
		panic(err)
	}
	return Event{ID: NewID(PrefixEvent), TenantID: p.TenantID, Type: EventWalletLowBalance, Payload: data, CreatedAt: at}
}
