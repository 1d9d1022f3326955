package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// Payment is the money side of a session paid by card: the hold, the
// capture of the CDR total, the release of the rest, refunds, and every
// change it went through.
type Payment struct {
	ID            string          `json:"id"`
	SessionID     string          `json:"session_id,omitempty"`
	DriverID      string          `json:"driver_id,omitempty"`
	SiteID        string          `json:"site_id"`
	Gateway       string          `json:"gateway" doc:"The processor: stripe, or sandbox (test mode)."`
	Reference     string          `json:"reference,omitempty" doc:"The gateway's reference to the hold."`
	Currency      string          `json:"currency"`
	HoldAmount    int64           `json:"hold_amount" doc:"Minor units held on the card."`
	CaptureAmount int64           `json:"capture_amount" doc:"Minor units to capture: the CDR total (at most the hold)."`
	Captured      int64           `json:"captured"`
	Refunded      int64           `json:"refunded"`
	State         string          `json:"state" enum:"hold_pending,held,capture_pending,captured,partially_refunded,refunded,release_pending,released,failed"`
	FailureCode   string          `json:"failure_code,omitempty" doc:"The gateway's code of the last refusal, or exceeds_hold when the CDR total was above the hold."`
	Attempts      int             `json:"attempts" doc:"Calls of the pending step that got no answer so far; they are retried."`
	HoldExpiresAt *time.Time      `json:"hold_expires_at,omitempty"`
	Changes       []PaymentChange `json:"changes"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// PaymentChange is one transition of a payment.
type PaymentChange struct {
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func (s *server) paymentOut(ctx context.Context, p evbill.Payment) (*out[Payment], error) {
	changes, err := s.payments.PaymentChanges(ctx, p.TenantID, p.ID)
	if err != nil {
		return nil, err
	}
	o := &out[Payment]{Body: Payment{ID: p.ID, SessionID: p.SessionID, DriverID: p.DriverID, SiteID: p.SiteID,
		Gateway: p.Gateway, Reference: p.Reference, Currency: p.Currency, HoldAmount: p.HoldAmount,
		CaptureAmount: p.CaptureAmount, Captured: p.Captured, Refunded: p.Refunded, State: p.State,
		FailureCode: p.FailureCode, Attempts: p.Attempts, HoldExpiresAt: p.HoldExpiresAt,
		Changes: make([]PaymentChange, len(changes)), CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt)}}
	for i, c := range changes {
		o.Body.Changes[i] = PaymentChange{From: c.From, To: c.To, Reason: c.Reason, At: utc(c.At)}
	}
	return o, nil
}

func (s *server) registerPayments() {
	if s.payments == nil {
		return
	}
	register(s, huma.Operation{OperationID: "get-payment", Method: http.MethodGet, Path: Prefix + "/payments/{id}",
		Summary: "Get a payment with its changes", Tags: []string{"Payments"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" doc:"The record's ID."`
		}) (*out[Payment], error) {
			p, err := s.payments.Payment(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return s.paymentOut(ctx, p)
		})
	register(s, huma.Operation{OperationID: "get-session-payment", Method: http.MethodGet, Path: Prefix + "/sessions/{id}/payment",
		Summary: "Get the payment of a session", Tags: []string{"Payments"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" doc:"The session's ID."`
		}) (*out[Payment], error) {
			p, err := s.payments.PaymentBySession(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return s.paymentOut(ctx, p)
		})
}
