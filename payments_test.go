package evbill_test

import (
	"testing"

	"github.com/evbill/evbill"
)

// TestPaymentTransition checks the state machine's edges: the flow of a
// card payment is allowed, and nothing leaves a final state or skips the
// gateway call.
func TestPaymentTransition(t *testing.T) {
	allowed := [][2]string{
		{evbill.PaymentHoldPending, evbill.PaymentHeld},
		{evbill.PaymentHoldPending, evbill.PaymentFailed},
		{evbill.PaymentHeld, evbill.PaymentCapturePending},
		{evbill.PaymentHeld, evbill.PaymentReleasePending},
		{evbill.PaymentHeld, evbill.PaymentReleased}, // the hold expired
		{evbill.PaymentCapturePending, evbill.PaymentCaptured},
		{evbill.PaymentCapturePending, evbill.PaymentReleasePending}, // the capture was declined
		{evbill.PaymentReleasePending, evbill.PaymentReleased},
		{evbill.PaymentCaptured, evbill.PaymentPartiallyRefunded},
		{evbill.PaymentCaptured, evbill.PaymentRefunded},
		{evbill.PaymentPartiallyRefunded, evbill.PaymentRefunded},
	}
	refused := [][2]string{
		{evbill.PaymentHoldPending, evbill.PaymentCaptured}, // no capture without a hold
		{evbill.PaymentHeld, evbill.PaymentCaptured},        // no capture without the capture call
		{evbill.PaymentCaptured, evbill.PaymentCapturePending},
		{evbill.PaymentCaptured, evbill.PaymentReleased},
		{evbill.PaymentReleased, evbill.PaymentHeld},
		{evbill.PaymentFailed, evbill.PaymentHeld},
		{evbill.PaymentRefunded, evbill.PaymentPartiallyRefunded},
		{"unknown", evbill.PaymentHeld},
	}
	for _, e := range allowed {
		if err := evbill.PaymentTransition(e[0], e[1]); err != nil {
			t.Errorf("%s → %s: %v", e[0], e[1], err)
		}
	}
	for _, e := range refused {
		if err := evbill.PaymentTransition(e[0], e[1]); evbill.ErrorCode(err) != evbill.ECONFLICT {
			t.Errorf("%s → %s: %v, want ECONFLICT", e[0], e[1], err)
		}
	}
}
