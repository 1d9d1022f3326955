package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

var _ evbill.ReceiptEmailStore = (*Store)(nil)

func receiptEmail(r db.ReceiptEmail) evbill.ReceiptEmail {
	return evbill.ReceiptEmail{
		TenantID: r.TenantID, CDRID: r.CdrID, SessionID: r.SessionID, EventID: r.EventID, State: r.State,
		Attempts: int(r.Attempts), NextAttemptAt: fromMicros(r.NextAttemptAt), LastError: r.LastError,
		Recipient: r.Recipient, MessageID: r.MessageID, SentAt: fromNullMicros(r.SentAt),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// ReceiptEmailCursor returns the consumer's place in the outbox, making
// it first when there is none. Reading comes first, so the worker's
// every round does not take the write lock.
func (s *Store) ReceiptEmailCursor(ctx context.Context, consumer string, atEnd bool) (string, error) {
	if consumer == "" {
		return "", evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	id, err := s.r.ReceiptEmailCursor(ctx, consumer)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: receipt email cursor: %w", err)
	}
	err = s.tx(ctx, func(q *db.Queries) error {
		start := ""
		if atEnd {
			last, err := q.LastOutboxEventID(ctx)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: last outbox event: %w", err)
			}
			start = last
		}
		if err := q.InsertReceiptEmailCursor(ctx, db.InsertReceiptEmailCursorParams{
			Consumer: consumer, EventID: start, UpdatedAt: now().UnixMicro(),
		}); err != nil {
			return fmt.Errorf("sqlite: start receipt email cursor: %w", err)
		}
		id, err = q.ReceiptEmailCursor(ctx, consumer)
		if err != nil {
			return fmt.Errorf("sqlite: receipt email cursor: %w", err)
		}
		return nil
	})
	return id, err
}

// AddReceiptEmails stores the emails and moves the cursor in one
// transaction on the writer: one commit for a page of events.
func (s *Store) AddReceiptEmails(ctx context.Context, consumer, from, to string, emails []evbill.ReceiptEmail, at time.Time) (int, error) {
	if consumer == "" {
		return 0, evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	for _, e := range emails {
		if err := required("tenant_id", e.TenantID, "cdr_id", e.CDRID, "session_id", e.SessionID, "event_id", e.EventID); err != nil {
			return 0, err
		}
	}
	due := normalize(at).UnixMicro()
	added := 0
	err := s.tx(ctx, func(q *db.Queries) error {
		added = 0
		t := now().UnixMicro()
		if to != from {
			moved, err := q.MoveReceiptEmailCursor(ctx, db.MoveReceiptEmailCursorParams{
				EventID: to, UpdatedAt: t, Consumer: consumer, FromEventID: from,
			})
			if err != nil {
				return fmt.Errorf("sqlite: move receipt email cursor: %w", err)
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
				return writeErr(ctx, q, fmt.Sprintf("add the receipt email of CDR %q", e.CDRID), err, nil, nil)
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

// ClaimReceiptEmails leases due emails in one statement on the writer,
// which is the only claim running at a time.
func (s *Store) ClaimReceiptEmails(ctx context.Context, at, leaseUntil time.Time, limit int) ([]evbill.ReceiptEmail, error) {
	rows, err := s.w.ClaimReceiptEmails(ctx, db.ClaimReceiptEmailsParams{
		LeaseUntil: normalize(leaseUntil).UnixMicro(), Now: normalize(at).UnixMicro(), Lim: int64(evbill.Page{Limit: limit}.Size()),
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim receipt emails: %w", err)
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
	var added int64
	if res.Attempted {
		added = 1
	}
	r, err := s.w.RecordReceiptEmail(ctx, db.RecordReceiptEmailParams{
		State: res.State, Added: added, NextAttemptAt: normalize(res.NextAttemptAt).UnixMicro(), LastError: res.LastError,
		Recipient: res.Recipient, MessageID: res.MessageID, SentAt: nullMicros(normTime(res.SentAt)), UpdatedAt: now().UnixMicro(),
		TenantID: claimed.TenantID, CdrID: claimed.CDRID, Attempts: int64(claimed.Attempts),
		Lease: normalize(claimed.NextAttemptAt).UnixMicro(),
	})
	if errors.Is(err, sql.ErrNoRows) {
		return evbill.Errorf(evbill.ECONFLICT, "the receipt email of CDR %q is no longer as claimed: another worker recorded it", claimed.CDRID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: record receipt email: %w", err)
	}
	*claimed = receiptEmail(r)
	return nil
}

// ReceiptEmail returns the receipt email of one of the tenant's CDRs.
func (s *Store) ReceiptEmail(ctx context.Context, tenantID, cdrID string) (evbill.ReceiptEmail, error) {
	r, err := s.r.ReceiptEmail(ctx, db.ReceiptEmailParams{TenantID: tenantID, CdrID: cdrID})
	if err != nil {
		return evbill.ReceiptEmail{}, readErr(err, "receipt email of CDR", cdrID)
	}
	return receiptEmail(r), nil
}
