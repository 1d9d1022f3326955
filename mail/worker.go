package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/internal/receiptload"
	"github.com/evbill/evbill/receipt"
)

// DefaultConsumer names the worker's cursor in the store.
const DefaultConsumer = "receipt_emails"

// Store is what the worker needs of a store: the outbox, the receipt
// emails, and the records a receipt is made of.
type Store interface {
	evbill.ReceiptEmailStore
	receiptload.Records
	receiptload.Sessions
	receiptload.Payments
	PendingEvents(ctx context.Context, after string, limit int) ([]evbill.Event, error)
	Driver(ctx context.Context, tenantID, id string) (evbill.Driver, error)
}

// Defaults of the Worker's settings.
const (
	// DefaultLease is how long a claimed email is the worker's: longer
	// than a round of DefaultBatch sends each taking DefaultTimeout, so a
	// live worker's emails are not taken over.
	DefaultLease = 15 * time.Minute
	// DefaultBatch is how many emails a round claims: few, since they
	// are sent one after another within the lease.
	DefaultBatch = 16
	// DefaultMaxAttempts spreads the tries over about 16 hours with
	// backoff: a server down for hours still gets the receipt.
	DefaultMaxAttempts = 12
	// DefaultSettleWait is how long a receipt waits for its payment to
	// be captured (or released), so that it says what was paid rather
	// than "pending"; after that it goes out as the payment stands.
	DefaultSettleWait = 15 * time.Minute
	// settlePoll is how often a receipt waiting for its payment looks
	// again: the payment worker settles within seconds as a rule.
	settlePoll = 10 * time.Second
	// maxBackoff bounds the wait between attempts.
	maxBackoff = 4 * time.Hour
)

// Worker mails the receipt of every CDR to its driver. A round reads the
// cdr.created events after its cursor and records one pending email per
// CDR (moving the cursor in the same transaction), then claims the due
// emails and sends them one at a time: skipped when the session has no
// driver with an address or SMTP is off, retried with backoff when the
// server does not take the message, failed when it refuses it for good
// or MaxAttempts is reached.
type Worker struct {
	Store Store
	// Sender, when nil, means SMTP is off: emails are recorded skipped,
	// so that switching it on later does not mail old receipts.
	Sender *Sender
	// Consumer names the cursor; DefaultConsumer when "".
	Consumer string
	// Backfill makes a worker without a cursor start at the outbox's
	// beginning, mailing every CDR in it; otherwise it starts at the
	// outbox's end, with the CDRs made from then on.
	Backfill bool
	// Loader reads receipts; when its stores are nil they are Store.
	Loader receiptload.Loader
	// Batch, Lease, MaxAttempts and SettleWait are the defaults above
	// when zero.
	Batch       int
	Lease       time.Duration
	MaxAttempts int
	SettleWait  time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// backoff is the wait after the n-th failed attempt: a minute, doubling,
// at most maxBackoff.
func backoff(n int) time.Duration {
	if n >= 10 {
		return maxBackoff
	}
	return min(time.Minute<<max(n-1, 0), maxBackoff)
}

// Round counts what one RunOnce did.
type Round struct {
	Events  int // outbox events read
	Added   int // receipt emails made
	Sent    int
	Skipped int
	Failed  int
	Retried int // attempts that failed and will be made again
	Waiting int // emails put off until their payment settles
}

// RunOnce reads the outbox up to its end, then sends the emails due now.
// Only a store failure stops it with an error; an email that cannot be
// sent is recorded as such.
func (w *Worker) RunOnce(ctx context.Context) (Round, error) {
	var r Round
	for {
		events, added, err := w.intake(ctx)
		r.Events, r.Added = r.Events+events, r.Added+added
		if err != nil {
			return r, err
		}
		if events == 0 {
			break
		}
	}
	due, err := w.Store.ClaimReceiptEmails(ctx, w.now(), w.now().Add(orDefault(w.Lease, DefaultLease)), orDefault(w.Batch, DefaultBatch))
	if err != nil {
		return r, err
	}
	for i := range due {
		res := w.process(ctx, &due[i])
		err := w.Store.RecordReceiptEmail(ctx, &due[i], res)
		switch {
		case evbill.ErrorCode(err) == evbill.ECONFLICT:
			// Another worker took the email after our lease lapsed and
			// recorded it first: its record stands.
			w.log().Warn("receipt email recorded by another worker", "cdr", due[i].CDRID, "err", err)
			continue
		case err != nil:
			return r, err
		}
		switch res.State {
		case evbill.ReceiptEmailSent:
			r.Sent++
		case evbill.ReceiptEmailSkipped:
			r.Skipped++
		case evbill.ReceiptEmailFailed:
			r.Failed++
		default:
			if res.Attempted {
				r.Retried++
			} else {
				r.Waiting++
			}
		}
	}
	return r, nil
}

// Run works every interval until ctx ends, round after round while there
// is work, logging errors.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			r, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.log().Error("mail worker", "err", err)
			}
			// Another round at once only when this one was full: what
			// was due but not claimed.
			if err != nil || r.Sent+r.Skipped+r.Failed+r.Retried+r.Waiting < orDefault(w.Batch, DefaultBatch) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cdrCreated is what the worker reads of a cdr.created event's payload.
type cdrCreated struct {
	CDRID     string `json:"cdr_id"`
	SessionID string `json:"session_id"`
}

// intake turns one page of the outbox into pending emails. A page that
// another worker took first is not an error: the round reads on from the
// cursor that worker left.
func (w *Worker) intake(ctx context.Context) (events, added int, err error) {
	consumer := w.Consumer
	if consumer == "" {
		consumer = DefaultConsumer
	}
	from, err := w.Store.ReceiptEmailCursor(ctx, consumer, !w.Backfill)
	if err != nil {
		return 0, 0, err
	}
	evs, err := w.Store.PendingEvents(ctx, from, evbill.MaxPageLimit)
	if err != nil || len(evs) == 0 {
		return 0, 0, err
	}
	var emails []evbill.ReceiptEmail
	for _, ev := range evs {
		if ev.Type != "cdr.created" {
			continue
		}
		var p cdrCreated
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.CDRID == "" || p.SessionID == "" {
			// Not one the charging path writes; it must not hold up
			// every receipt after it.
			w.log().Error("cdr.created event without its CDR: no receipt email", "event", ev.ID, "payload", string(ev.Payload))
			continue
		}
		emails = append(emails, evbill.ReceiptEmail{TenantID: ev.TenantID, CDRID: p.CDRID, SessionID: p.SessionID, EventID: ev.ID})
	}
	added, err = w.Store.AddReceiptEmails(ctx, consumer, from, evs[len(evs)-1].ID, emails, w.now())
	if evbill.ErrorCode(err) == evbill.ECONFLICT {
		return len(evs), 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return len(evs), added, nil
}

// process decides a claimed email: it sends it, or says why not.
func (w *Worker) process(ctx context.Context, e *evbill.ReceiptEmail) evbill.ReceiptEmailResult {
	now := w.now()
	skip := func(why string) evbill.ReceiptEmailResult {
		w.log().Info("receipt email skipped", "cdr", e.CDRID, "reason", why)
		return evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSkipped, NextAttemptAt: now, LastError: why}
	}
	retry := func(err error) evbill.ReceiptEmailResult {
		n := e.Attempts + 1
		res := evbill.ReceiptEmailResult{State: evbill.ReceiptEmailPending, Attempted: true, NextAttemptAt: now.Add(backoff(n)), LastError: err.Error()}
		if n >= orDefault(w.MaxAttempts, DefaultMaxAttempts) {
			res.State, res.NextAttemptAt = evbill.ReceiptEmailFailed, now
			w.log().Error("receipt email failed for good", "cdr", e.CDRID, "attempts", n, "err", err)
		} else {
			w.log().Warn("receipt email not sent; retrying later", "cdr", e.CDRID, "attempt", n, "next", res.NextAttemptAt, "err", err)
		}
		return res
	}
	fail := func(err error) evbill.ReceiptEmailResult {
		w.log().Error("receipt email refused", "cdr", e.CDRID, "err", err)
		return evbill.ReceiptEmailResult{State: evbill.ReceiptEmailFailed, Attempted: true, NextAttemptAt: now, LastError: err.Error()}
	}

	sess, err := w.Store.Session(ctx, e.TenantID, e.SessionID)
	if err != nil {
		return retry(err)
	}
	if sess.DriverID == "" {
		return skip("the session has no driver (a guest or an unknown idTag)")
	}
	drv, err := w.Store.Driver(ctx, e.TenantID, sess.DriverID)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		return skip("the session's driver no longer exists")
	default:
		return retry(err)
	}
	to := strings.TrimSpace(drv.Email)
	if to == "" {
		return skip("the driver has no email address")
	}
	if w.Sender == nil {
		return skip("SMTP is off")
	}
	if wait, err := w.unsettled(ctx, e, now); err != nil {
		return retry(err)
	} else if wait {
		return evbill.ReceiptEmailResult{State: evbill.ReceiptEmailPending, NextAttemptAt: now.Add(settlePoll), LastError: e.LastError}
	}

	r, err := w.receipt(ctx, e)
	if err != nil {
		return retry(err)
	}
	text, html, pdf, err := Render(r)
	if err != nil {
		return retry(err)
	}
	msg := Message{To: to, ToName: drv.Name, Subject: Subject(r), MessageID: MessageID(e.CDRID, w.Sender.From()),
		Date: now, Text: text, HTML: html, PDF: pdf, PDFName: PDFName(r)}
	switch err := w.Sender.Send(ctx, msg); {
	case errors.Is(err, ErrRefused):
		return fail(err)
	case err != nil:
		return retry(err)
	}
	sent := w.now()
	// The address stays out of the log: it is the driver's, and the row
	// keeps it for whoever may read it.
	w.log().Info("receipt email sent", "cdr", e.CDRID, "message_id", msg.MessageID)
	return evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSent, Attempted: true, NextAttemptAt: sent,
		Recipient: to, MessageID: msg.MessageID, SentAt: &sent}
}

// unsettled reports whether the session's payment is still on its way
// (held, or its capture or release pending) and the email has not waited
// SettleWait yet: a receipt that says "paid" is worth a minute's wait.
func (w *Worker) unsettled(ctx context.Context, e *evbill.ReceiptEmail, now time.Time) (bool, error) {
	if now.Sub(e.CreatedAt) >= orDefault(w.SettleWait, DefaultSettleWait) {
		return false, nil
	}
	p, err := w.Store.PaymentBySession(ctx, e.TenantID, e.SessionID)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		return false, nil
	default:
		return false, err
	}
	switch p.State {
	case evbill.PaymentHoldPending, evbill.PaymentHeld, evbill.PaymentCapturePending, evbill.PaymentReleasePending:
		return true, nil
	}
	return false, nil
}

func (w *Worker) receipt(ctx context.Context, e *evbill.ReceiptEmail) (receipt.Receipt, error) {
	l := w.Loader
	if l.Records == nil {
		l.Records = w.Store
	}
	if l.Sessions == nil {
		l.Sessions = w.Store
	}
	if l.Payments == nil {
		l.Payments = w.Store
	}
	r, err := l.Receipt(ctx, e.TenantID, e.CDRID)
	if err != nil {
		return receipt.Receipt{}, fmt.Errorf("receipt of CDR %s: %w", e.CDRID, err)
	}
	return r, nil
}
