package evbill

import (
	"context"
	"time"
)

// Receipt email states. A pending receipt email is work the mail worker
// finds in the database (the store is the queue); sent, failed and
// skipped are final.
const (
	ReceiptEmailPending = "pending"
	ReceiptEmailSent    = "sent"
	ReceiptEmailFailed  = "failed"
	ReceiptEmailSkipped = "skipped"
)

// ReceiptEmail is the driver's receipt email of one CDR: one per CDR,
// made from the CDR's cdr.created outbox event, so a CDR is mailed at most
// once however often the outbox is read. Its state tells whether the mail
// went out, failed for good, or was never due (a guest's session, a
// driver without an address, SMTP switched off).
type ReceiptEmail struct {
	TenantID  string
	CDRID     string
	SessionID string
	// EventID is the cdr.created event the row was made from.
	EventID string
	State   string // ReceiptEmailPending, Sent, Failed or Skipped
	// Attempts counts the times the message was handed to the SMTP
	// server (or could not be made); waiting for the payment to settle is
	// not an attempt.
	Attempts int
	// NextAttemptAt is when a pending email is next due; while a worker
	// holds it, the end of that worker's lease.
	NextAttemptAt time.Time
	// LastError is why the last attempt failed, or why the email was
	// skipped or failed; "" once sent.
	LastError string
	// Recipient is the address the email was sent to, kept because the
	// driver's address may change afterwards; "" until sent.
	Recipient string
	// MessageID is the Message-ID header sent (without angle brackets);
	// "" until sent.
	MessageID string
	SentAt    *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ReceiptEmailResult is what the mail worker learned about a receipt
// email it claimed, for the store to record.
type ReceiptEmailResult struct {
	// State is where the email goes: ReceiptEmailPending (due again at
	// NextAttemptAt), Sent, Failed or Skipped.
	State         string
	NextAttemptAt time.Time
	// Attempted counts one more attempt; false when the worker only put
	// the email off (its payment was not settled yet).
	Attempted bool
	LastError string
	Recipient string
	MessageID string
	SentAt    *time.Time
}

// ReceiptEmailStore keeps the receipt emails and the mail worker's place
// in the outbox. Like payments and webhook deliveries, pending receipt
// emails are the worker's queue: due ones are claimed for a lease so two
// workers do not send one at once, and every change is guarded by what
// the worker claimed, so nothing is lost with a process and any instance
// may run the worker.
type ReceiptEmailStore interface {
	// ReceiptEmailCursor returns the ID of the last outbox event the
	// consumer has read ("" for the outbox's start). A consumer without a
	// cursor gets one first: at the outbox's last event when atEnd, so
	// that switching email on does not mail every CDR ever made, or at
	// the start otherwise.
	ReceiptEmailCursor(ctx context.Context, consumer string, atEnd bool) (string, error)
	// AddReceiptEmails stores, in one transaction, the emails (pending,
	// due at now, without attempts), skipping those whose CDR has one
	// already, and moves the consumer's cursor from from to to. ECONFLICT,
	// with nothing stored, when the cursor is no longer at from: another
	// worker read the same events first. It returns how many it stored.
	AddReceiptEmails(ctx context.Context, consumer, from, to string, emails []ReceiptEmail, now time.Time) (int, error)
	// ClaimReceiptEmails returns up to limit pending emails of every
	// tenant due at or before now, the longest waiting first, and moves
	// their next attempt to leaseUntil in the same statement: another
	// worker does not take them meanwhile, and those of a worker that
	// dies are due again when the lease lapses.
	ClaimReceiptEmails(ctx context.Context, now, leaseUntil time.Time, limit int) ([]ReceiptEmail, error)
	// RecordReceiptEmail stores res for an email as claimed (still
	// pending with the claimed attempts and lease) and updates *claimed
	// to what was stored. ECONFLICT, changing nothing, when the email
	// moved meanwhile (another worker's claim after a lapsed lease);
	// EINVALID for a state that is not one of the four.
	RecordReceiptEmail(ctx context.Context, claimed *ReceiptEmail, res ReceiptEmailResult) error
	// ReceiptEmail returns the receipt email of one of the tenant's CDRs.
	// ENOTFOUND when there is none (yet).
	ReceiptEmail(ctx context.Context, tenantID, cdrID string) (ReceiptEmail, error)
}

// CheckReceiptEmailResult refuses a result no worker should make: an
// unknown state, or a sent email without its recipient. The stores call
// it before they write.
func CheckReceiptEmailResult(res ReceiptEmailResult) error {
	switch res.State {
	case ReceiptEmailPending, ReceiptEmailFailed, ReceiptEmailSkipped:
	case ReceiptEmailSent:
		if res.Recipient == "" || res.SentAt == nil {
			return Errorf(EINVALID, "a sent receipt email needs its recipient and time")
		}
	default:
		return Errorf(EINVALID, "receipt email state %q is not pending, sent, failed or skipped", res.State)
	}
	return nil
}
