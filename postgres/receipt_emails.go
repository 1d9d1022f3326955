package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

var _ evbill.ReceiptEmailStore = (*Store)(nil)

func receiptEmail(r db.ReceiptEmail) evbill.ReceiptEmail {
	return evbill.ReceiptEmail{
		TenantID: r.TenantID, CDRID: r.CdrID, SessionID: r.SessionID, EventID: r.EventID, State: r.State,
		Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), LastError: r.LastError,
		Recipient: r.Recipient, MessageID: r.MessageID, SentAt: utcPtr(r.SentAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// ReceiptEmailCursor returns the consumer's place in the outbox, making
// it first when there is none. The last event is read without the outbox
// lock: an event committed later has a higher position, so it is read
// after the cursor, not lost.
func (s *Store) ReceiptEmailCursor(ctx context.Context, consumer string, atEnd bool) (string, error) {
	if consumer == "" {
		return "", evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	id, err := s.q.ReceiptEmailCursor(ctx, consumer)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("postgres: receipt email cursor: %w", err)
	}
	start := ""
	if atEnd {
		last, err := s.q.LastOutboxEventID(ctx)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("postgres: last outbox event: %w", err)
		}
		start = last
	}
	if err := s.q.InsertReceiptEmailCursor(ctx, db.InsertReceiptEmailCursorParams{
		Consumer: consumer, EventID: start, UpdatedAt: now(),
	}); err != nil {
		return "", fmt.Errorf("postgres: start receipt email cursor: %w", err)
	}
	// Another worker's cursor, made between the read and the insert, wins.
	if id, err = s.q.ReceiptEmailCursor(ctx, consumer); err != nil {
		return "", fmt.Errorf("postgres: receipt email cursor: %w", err)
	}
	return id, nil
}

// AddReceiptEmails stores the emails and moves the cursor in one
// transaction. The guarded move comes first, so of two workers with the
// same page the second waits on the cursor's row lock, then finds it
// moved and stores nothing.
func (s *Store) AddReceiptEmails(ctx context.Context, consumer, from, to string, emails []evbill.ReceiptEmail, at time.Time) (int, error) {
	if consumer == "" {
		return 0, evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	for _, e := range emails {
		if err := required("tenant_id", e.TenantID, "cdr_id", e.CDRID, "session_id", e.SessionID, "event_id", e.EventID); err != nil {
			return 0, err
		}
	}
	due := normalize(at)
	added := 0
	err := s.tx(ctx, func(q *db.Queries) error {
		added = 0
		t := now()
		if to != from {
			moved, err := q.MoveReceiptEmailCursor(ctx, db.MoveReceiptEmailCursorParams{
				EventID: to, UpdatedAt: t, Consumer: consumer, FromEventID: from,
			})
			if err != nil {
				return fmt.Errorf("postgres: move receipt email cursor: %w", err)
			}
			if moved == 0 {
				return evbill.Errorf(evbill.ECONFLICT, "the receipt email cursor of %q is no longer at %q: another worker moved it", consumer, from)
			}
		}
		for _, e := range emails {
			n, err := q.InsertReceiptEmail(ctx, db.InsertReceiptEmailParams{
				TenantID: e.TenantID, CdrID: e.CDRID, SessionID: e.SessionID, EventID: e.EventID,
				NextAttemptAt: due, CreatedAt: t, UpdatedAt: t,
			})
			if err != nil {
				return writeErr("add receipt email", err, nil,
					[]ref{{constraint: "receipt_emails_cdr_fkey", field: "cdr_id", value: e.CDRID}})
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

// ClaimReceiptEmails leases due emails in one statement; rows another
// instance is claiming at the same moment are skipped, not waited for.
func (s *Store) ClaimReceiptEmails(ctx context.Context, at, leaseUntil time.Time, limit int) ([]evbill.ReceiptEmail, error) {
	rows, err := s.q.ClaimReceiptEmails(ctx, db.ClaimReceiptEmailsParams{
		LeaseUntil: normalize(leaseUntil), Now: normalize(at), Lim: int32(evbill.Page{Limit: limit}.Size()),
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim receipt emails: %w", err)
	}
	out := make([]evbill.ReceiptEmail, len(rows))
	for i, r := range rows {
		out[i] = receiptEmail(r)
	}
	return out, nil
}

// RecordReceiptEmail stores a claimed email's outcome in one guarded
// statement.
func (s *Store) RecordReceiptEmail(ctx context.Context, claimed *evbill.ReceiptEmail, res evbill.ReceiptEmailResult) error {
	if err := evbill.CheckReceiptEmailResult(res); err != nil {
		return err
	}
	var added int32
	if res.Attempted {
		added = 1
	}
	r, err := s.q.RecordReceiptEmail(ctx, db.RecordReceiptEmailParams{
		State: res.State, Added: added, NextAttemptAt: normalize(res.NextAttemptAt), LastError: res.LastError,
		Recipient: res.Recipient, MessageID: res.MessageID, SentAt: normTime(res.SentAt), UpdatedAt: now(),
		TenantID: claimed.TenantID, CdrID: claimed.CDRID, Attempts: int32(claimed.Attempts), Lease: normalize(claimed.NextAttemptAt),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return evbill.Errorf(evbill.ECONFLICT, "the receipt email of CDR %q is no longer as claimed: another worker recorded it", claimed.CDRID)
	}
	if err != nil {
		return fmt.Errorf("postgres: record receipt email: %w", err)
	}
	*claimed = receiptEmail(r)
	return nil
}

// ReceiptEmail returns the receipt email of one of the tenant's CDRs.
func (s *Store) ReceiptEmail(ctx context.Context, tenantID, cdrID string) (evbill.ReceiptEmail, error) {
	r, err := s.q.ReceiptEmail(ctx, db.ReceiptEmailParams{TenantID: tenantID, CdrID: cdrID})
	if err != nil {
		return evbill.ReceiptEmail{}, readErr(err, "receipt email of CDR", cdrID)
	}
	return receiptEmail(r), nil
}
