package sandbox

import (
	"strings"
)

// Test card numbers, as HoldRequest.PaymentMethod takes them. They follow
// the well-known test numbers of the big processors, so people who have
// tested payments before recognise them, and they pass the Luhn check, so
// a form that validates card numbers accepts them.
const (
	// CardSucceeds is held and captured normally.
	CardSucceeds = "4242424242424242"
	// CardDeclined is declined at Hold with CodeCardDeclined.
	CardDeclined = "4000000000000002"
	// CardInsufficientFunds is declined at Hold with CodeInsufficientFunds.
	CardInsufficientFunds = "4000000000009995"
	// CardTimeout is held, but the first answer to its Hold is lost: the
	// call returns OutcomeUnknown with CodeTimeout, and a retry with the
	// same idempotency key and request returns the hold.
	CardTimeout = "4000000000000119"
	// CardCaptureFails is held, but every Capture of its hold is declined
	// with CodeCaptureFailed; the hold can still be released.
	CardCaptureFails = "4000000000000341"
)

// Aliases name the test cards for people and fixtures that would rather
// not spell out a number; HoldRequest.PaymentMethod takes either.
const (
	// AliasSucceeds stands for CardSucceeds.
	AliasSucceeds = "card_ok"
	// AliasDeclined stands for CardDeclined.
	AliasDeclined = "card_declined"
	// AliasInsufficientFunds stands for CardInsufficientFunds.
	AliasInsufficientFunds = "card_insufficient_funds"
	// AliasTimeout stands for CardTimeout.
	AliasTimeout = "card_timeout"
	// AliasCaptureFails stands for CardCaptureFails.
	AliasCaptureFails = "card_capture_fails"
)

// Error codes in evbill.GatewayError.Code. They are exported so tests can
// assert on the reason a call failed, not only on its outcome.
const (
	// CodeCardDeclined is a Hold on CardDeclined (OutcomeDeclined).
	CodeCardDeclined = "card_declined"
	// CodeInsufficientFunds is a Hold on CardInsufficientFunds
	// (OutcomeDeclined).
	CodeInsufficientFunds = "insufficient_funds"
	// CodeTimeout is the lost first answer of a Hold on CardTimeout
	// (OutcomeUnknown).
	CodeTimeout = "timeout"
	// CodeCaptureFailed is a Capture of a CardCaptureFails hold
	// (OutcomeDeclined).
	CodeCaptureFailed = "capture_failed"
	// CodeInvalidNumber is a payment method that is not a test card
	// (OutcomeRejected).
	CodeInvalidNumber = "invalid_number"
	// CodeHoldExpired is a Capture or Release of a hold that lapsed
	// (OutcomeDeclined).
	CodeHoldExpired = "hold_expired"
	// CodeAlreadyCaptured is a second Capture, or a Release, of a captured
	// payment (OutcomeRejected).
	CodeAlreadyCaptured = "already_captured"
	// CodeAlreadyReleased is a Capture or a second Release of a hold that
	// was released (OutcomeRejected).
	CodeAlreadyReleased = "already_released"
	// CodeNotCaptured is a Refund of a payment that was never captured
	// (OutcomeRejected).
	CodeNotCaptured = "not_captured"
	// CodeAmountTooLarge is a Capture above the held amount or a Refund
	// above what is left to refund (OutcomeRejected).
	CodeAmountTooLarge = "amount_too_large"
	// CodeInvalidAmount is an amount that is not above zero
	// (OutcomeRejected).
	CodeInvalidAmount = "invalid_amount"
	// CodeInvalidCurrency is a Hold in a code that is not an ISO 4217
	// currency with a minor unit (OutcomeRejected).
	CodeInvalidCurrency = "invalid_currency"
	// CodeCurrencyMismatch is a Capture or Refund in another currency than
	// the hold's (OutcomeRejected).
	CodeCurrencyMismatch = "currency_mismatch"
	// CodeNoSuchPayment is a reference the sandbox never issued
	// (OutcomeRejected).
	CodeNoSuchPayment = "no_such_payment"
	// CodeChargeDisputed is a Refund of a payment whose dispute is open or
	// was lost: the money already went back through the dispute
	// (OutcomeRejected).
	CodeChargeDisputed = "charge_disputed"
	// CodeMissingIdempotencyKey is a money-moving call without a key
	// (OutcomeRejected).
	CodeMissingIdempotencyKey = "missing_idempotency_key"
	// CodeIdempotencyKeyReused is a key used before with a different
	// request (OutcomeRejected).
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeCanceled is a call whose context ended before the sandbox acted
	// (OutcomeUnknown).
	CodeCanceled = "canceled"
	// CodeStateNotSaved is a call that took effect in memory but whose
	// state file could not be written (OutcomeUnknown): a restart would
	// forget it, so the caller must not count on it yet.
	CodeStateNotSaved = "state_not_saved"
	// CodeBadSignature is a webhook whose signature header is missing,
	// malformed or does not match the body (OutcomeRejected).
	CodeBadSignature = "bad_signature"
	// CodeStaleSignature is a webhook signed outside SignatureTolerance of
	// now (OutcomeRejected).
	CodeStaleSignature = "stale_signature"
	// CodeInvalidEvent is a webhook whose verified body is not a sandbox
	// event (OutcomeRejected).
	CodeInvalidEvent = "invalid_event"
	// CodeAlreadyDisputed is a Dispute of a payment disputed before: card
	// networks allow one dispute per charge (OutcomeRejected).
	CodeAlreadyDisputed = "already_disputed"
	// CodeNoDispute is a CloseDispute of a payment without an open dispute
	// (OutcomeRejected).
	CodeNoDispute = "no_dispute"
	// CodeInvalidDisputeStatus is a CloseDispute neither won nor lost
	// (OutcomeRejected).
	CodeInvalidDisputeStatus = "invalid_dispute_status"
)

var aliases = map[string]string{
	AliasSucceeds:          CardSucceeds,
	AliasDeclined:          CardDeclined,
	AliasInsufficientFunds: CardInsufficientFunds,
	AliasTimeout:           CardTimeout,
	AliasCaptureFails:      CardCaptureFails,
}

var testCards = map[string]bool{
	CardSucceeds:          true,
	CardDeclined:          true,
	CardInsufficientFunds: true,
	CardTimeout:           true,
	CardCaptureFails:      true,
}

// parseCard returns the test card a payment method names, or a rejection
// that says what is wrong with it without repeating the number.
func parseCard(method string) (string, error) {
	if n, ok := aliases[method]; ok {
		return n, nil
	}
	digits := strings.ReplaceAll(method, " ", "")
	if len(digits) < 12 || len(digits) > 19 || strings.Trim(digits, "0123456789") != "" {
		return "", rejectf(CodeInvalidNumber, "the payment method is not a card number of 12 to 19 digits nor a test card alias such as %q", AliasSucceeds)
	}
	if !luhn(digits) {
		return "", rejectf(CodeInvalidNumber, "the card number ending in %s fails the Luhn check", digits[len(digits)-4:])
	}
	if !testCards[digits] {
		return "", rejectf(CodeInvalidNumber, "the card number ending in %s is not a sandbox test card; test mode refuses real cards and charges nothing (use %s)", digits[len(digits)-4:], CardSucceeds)
	}
	return digits, nil
}

// luhn reports whether digits (ASCII digits only) pass the Luhn checksum,
// which catches every single-digit typo and most swaps of neighbours.
func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// CheckCard reports whether method is a sandbox test card or alias, with a
// message that never repeats a real card's number, so that an API can
// refuse a real card before storing it.
func CheckCard(method string) error {
	_, err := parseCard(method)
	return err
}
