// Package sandbox is evbill's built-in TEST-MODE card processor: an
// evbill.Gateway that moves no real money, for demos and tests. It is
// labelled as test mode wherever it shows: its Name is "sandbox", every
// reference it makes (payments, refunds, events) starts with "sbx_test_",
// and every error message it writes starts with "sandbox (test mode)", so a
// test-mode payment can never pass for a real one in records, logs or
// receipts.
//
// # Test cards
//
// HoldRequest.PaymentMethod is a card number (spaces are ignored) or one of
// the aliases below. What each card does:
//
//	number               alias                    Hold                                Capture
//	4242 4242 4242 4242  card_ok                  held                                captured
//	4000 0000 0000 0002  card_declined            declined: card_declined             —
//	4000 0000 0000 9995  card_insufficient_funds  declined: insufficient_funds        —
//	4000 0000 0000 0119  card_timeout             unknown: timeout, yet held (below)  captured
//	4000 0000 0000 0341  card_capture_fails       held                                declined: capture_failed
//
// Every other payment method is rejected with invalid_number, including a
// well-formed number (12 to 19 digits that pass the Luhn check) that is not
// in the table: test mode has no business seeing a real card number, and
// refusing one tells the person who typed it that nothing was charged.
// Messages show only the last four digits, so a real number typed by
// mistake does not end up in logs.
//
// # The timeout card
//
// The timeout card models the worst answer a processor gives: the hold IS
// placed, but the first answer is lost, so Hold reports OutcomeUnknown
// (code timeout). Retrying with the same idempotency key and request
// returns the hold as it was placed. This exercises the recovery evbill
// needs against a real processor: a caller that retries with the same key
// finds its hold; one that retries with a new key places a second hold,
// which is left to lapse, exactly the orphan a real outage leaves.
//
// # Holds, captures, releases and refunds
//
// A hold lapses HoldTTL (default seven days) after it was placed, by the
// clock in Config.Now, so tests can move time. Capturing or releasing a
// lapsed hold is declined with hold_expired, and the hold is released.
// A hold is captured at most once, for 0 < amount ≤ the held amount in
// the held currency; a partial capture releases the rest. Refunds apply
// to captured payments only, as many partial refunds as wanted, their sum
// at most the captured amount; not while a dispute is open or was lost.
//
// # Idempotency
//
// Hold, Capture, Release and Refund require an idempotency key, scoped per
// operation: "x" as a hold key and "x" as a capture key are unrelated. The
// same key with the same request (a card counts as the same however it is
// spelt: number, spaced number or alias) answers the first call's outcome
// again, errors included, without acting; the same key with a different
// request is rejected with idempotency_key_reused. The one exception is an
// OutcomeUnknown answer: it was never a real outcome, so a retry returns
// what actually happened. Replayed answers are the first answer as given
// then, not the payment's state now: ask Payment for that.
//
// # Webhooks
//
// Events the sandbox emits (SignedEvent, Dispute, CloseDispute,
// ExpireHolds) are JSON signed the way Stripe signs its own: a header
// "Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">"
// under Config.WebhookSecret. ParseWebhook accepts a signature made within
// 300 seconds of the time it is given, either way, so a captured
// notification cannot be replayed later.
//
// # State
//
// State lives in memory behind one mutex. With Config.StatePath set it is
// also loaded at New and saved after every change by writing a temporary
// file and renaming it over the old one, so a demo server that restarts
// keeps its holds and idempotency keys, and a crash mid-save leaves the
// previous file whole. A call whose change cannot be saved answers
// OutcomeUnknown (state_not_saved), as a processor with a failing disk
// would; its retry answers the real outcome once a save succeeds. The
// whole state is rewritten each time, which suits demos and tests, not
// millions of payments.
//
// # Inspection
//
// Tests assert on effects, not only on answers: Payment reads a payment's
// current state, Stats counts what happened to it (captures, releases,
// refunds, a dispute), and Calls lists every money-moving call with its
// outcome and whether it was replayed, so "captured exactly once" and
// "retried with the same key" are checkable. Error codes are exported as
// Code… constants.
//
// # Latency
//
// Config.Latency delays every money-moving call before the sandbox acts on
// it. A call whose context ends during the delay returns OutcomeUnknown
// wrapping the context's error, and has done nothing: a retry with the
// same key acts for the first time.
package sandbox
