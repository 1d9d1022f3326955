package stripe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/evbill/evbill"
)

// mapError classifies a failed Stripe call by what it may have done,
// which is what evbill decides on: declined and rejected calls moved
// nothing and are not repeated; anything else may have reached Stripe and
// is repeated with the same idempotency key.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var se *stripego.Error
	if !errors.As(err, &se) {
		// No answer from Stripe that it recognized: a connection error, a
		// timeout, the caller's deadline, or a body that was not Stripe's
		// JSON (a proxy's 502 page). Stripe may have acted.
		return &evbill.GatewayError{Outcome: evbill.OutcomeUnknown, Code: transportCode(err), Message: err.Error(), Err: err}
	}
	ge := &evbill.GatewayError{Code: string(se.Code), Message: se.Msg, Err: redact(se)}
	if ge.Message == "" {
		ge.Message = fmt.Sprintf("Stripe answered %d (%s)", se.HTTPStatusCode, se.Type)
	}
	switch {
	case se.HTTPStatusCode >= http.StatusInternalServerError || se.Type == stripego.ErrorTypeAPI:
		// Stripe's own failure, possibly after it acted.
		ge.Outcome = evbill.OutcomeUnknown
		if ge.Code == "" {
			ge.Code = string(stripego.ErrorTypeAPI)
		}
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		// Rate limited or a lock timeout, left so after stripe-go's own
		// retries: the request was not done, and doing it later with the
		// same key is exactly right.
		ge.Outcome = evbill.OutcomeUnknown
		if ge.Code == "" {
			ge.Code = "rate_limit"
		}
	case se.HTTPStatusCode == http.StatusConflict || se.Code == stripego.ErrorCodeIdempotencyKeyInUse:
		// Another request with the same key is still running; its outcome
		// is this call's outcome, not known yet.
		ge.Outcome = evbill.OutcomeUnknown
	case se.Type == stripego.ErrorTypeCard:
		ge.Outcome = evbill.OutcomeDeclined
		ge.Code = declineCode(se)
	case se.Code == stripego.ErrorCodeChargeExpiredForCapture || se.Code == stripego.ErrorCodeCaptureChargeAuthorizationExpired:
		// The authorization lapsed: the processor refuses the capture,
		// which payments.go counts as a decline rather than a bad request.
		ge.Outcome = evbill.OutcomeDeclined
	default:
		// invalid_request_error (bad reference, amount above the hold,
		// wrong key), idempotency_error (a key reused with other
		// parameters) and anything else Stripe refused before acting.
		ge.Outcome = evbill.OutcomeRejected
		if ge.Code == "" {
			ge.Code = string(se.Type)
		}
	}
	return ge
}

// declineCode prefers the issuer's reason (insufficient_funds,
// expired_card…) to Stripe's generic card_declined.
func declineCode(se *stripego.Error) string {
	if se.DeclineCode != "" {
		return string(se.DeclineCode)
	}
	return string(se.Code)
}

// transportCode names the kind of failure when Stripe's answer never
// arrived, for logs and metrics.
func transportCode(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "network_error"
	}
	return "unexpected_response"
}

// redact returns a copy of se without the client secrets of the
// PaymentIntent or SetupIntent Stripe attaches to some errors, and without
// the raw response that repeats them, since GatewayErrors end up in logs.
// The copy keeps every other field Stripe sent; its Err (stripe-go's typed
// wrapper) is dropped because that still points at the original.
func redact(se *stripego.Error) *stripego.Error {
	c := *se
	c.Err = nil
	c.LastResponse = nil
	if se.PaymentIntent != nil {
		pi := *se.PaymentIntent
		pi.ClientSecret = ""
		pi.LastResponse = nil
		c.PaymentIntent = &pi
	}
	if se.SetupIntent != nil {
		si := *se.SetupIntent
		si.ClientSecret = ""
		si.LastResponse = nil
		c.SetupIntent = &si
	}
	return &c
}
