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
	IDTag         string          `json:"id_tag,omitempty" doc:"An ad-hoc payment's idTag: the guest token of the pay page, whose session claims the payment."`
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
	o := &out[Payment]{Body: Payment{ID: p.ID, SessionID: p.SessionID, DriverID: p.DriverID, IDTag: p.IDTag, SiteID: p.SiteID,
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

// RefundOut is a refund of a captured card payment: a credit note on its
// CDR, given back through the gateway by the payment worker.
type RefundOut struct {
	ID          string    `json:"id"`
	CDRID       string    `json:"cdr_id"`
	PaymentID   string    `json:"payment_id"`
	Amount      int64     `json:"amount" doc:"Minor units of the payment's currency."`
	Reason      string    `json:"reason,omitempty"`
	State       string    `json:"state" enum:"pending,succeeded,failed" doc:"pending until the gateway has answered."`
	Reference   string    `json:"reference,omitempty" doc:"The gateway's reference to the refund."`
	FailureCode string    `json:"failure_code,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func refundOut(r evbill.Refund) RefundOut {
	return RefundOut{ID: r.ID, CDRID: r.CDRID, PaymentID: r.PaymentID, Amount: r.Amount, Reason: r.Reason, State: r.State,
		Reference: r.Reference, FailureCode: r.FailureCode, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (s *server) registerRefunds() {
	if s.payments == nil || s.sessions == nil {
		return
	}
	register(s, huma.Operation{OperationID: "create-refund", Method: http.MethodPost, Path: Prefix + "/cdrs/{id}/refunds",
		Summary: "Refund part or all of a CDR paid by card",
		Description: "Records the refund at once (state pending) and gives the money back through the gateway shortly after; " +
			"its ledger entry returns net and VAT in the charge's proportion. Refunds never exceed what was captured.",
		DefaultStatus: http.StatusAccepted, Tags: []string{"Payments"},
		Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Refund,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The CDR's ID."`
			Body struct {
				Amount int64  `json:"amount" minimum:"1" doc:"Minor units of the CDR's currency."`
				Reason string `json:"reason,omitempty" maxLength:"500"`
			}
		}) (*out[RefundOut], error) {
			if _, err := s.sessions.CDR(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			r := evbill.Refund{TenantID: tenantOf(ctx), CDRID: in.ID, Amount: in.Body.Amount, Reason: in.Body.Reason}
			if err := s.payments.CreateRefund(ctx, &r); err != nil {
				return nil, err
			}
			return &out[RefundOut]{refundOut(r)}, nil
		})
	register(s, huma.Operation{OperationID: "get-refund", Method: http.MethodGet, Path: Prefix + "/refunds/{id}",
		Summary: "Get a refund", Tags: []string{"Payments"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" doc:"The record's ID."`
		}) (*out[RefundOut], error) {
			r, err := s.payments.Refund(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[RefundOut]{refundOut(r)}, nil
		})
}
