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

var _ evbill.RefundStore = (*Store)(nil)

func refund(r db.Refund) evbill.Refund {
	return evbill.Refund{ID: r.ID, TenantID: r.TenantID, PaymentID: r.PaymentID, CDRID: r.CdrID, Amount: r.Amount,
		Reason: r.Reason, State: r.State, Reference: r.Reference, FailureCode: r.FailureCode, Attempts: int(r.Attempts),
		NextAttemptAt: fromMicros(r.NextAttemptAt), CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}

// CreateRefund stores a pending refund of a CDR's captured card payment;
// the write lock held by the transaction keeps two refunds from both
// fitting in what is left.
func (s *Store) CreateRefund(ctx context.Context, r *evbill.Refund) error {
	if err := required("tenant_id", r.TenantID, "cdr_id", r.CDRID); err != nil {
		return err
	}
	if r.Amount <= 0 {
		return evbill.Errorf(evbill.EINVALID, "a refund's amount must be positive, not %d", r.Amount)
	}
	return s.tx(ctx, func(q *db.Queries) error {
		p, err := q.PaymentByCDR(ctx, db.PaymentByCDRParams{TenantID: r.TenantID, ID: r.CDRID})
		if errors.Is(err, sql.ErrNoRows) {
			return evbill.Errorf(evbill.EINVALID, "CDR %q was not paid through evbill (by card, wallet or account): there is nothing to refund", r.CDRID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: payment of CDR %q: %w", r.CDRID, err)
		}
		given, err := q.RefundedOrPending(ctx, db.RefundedOrPendingParams{TenantID: r.TenantID, PaymentID: p.ID})
		if err != nil {
			return fmt.Errorf("sqlite: refunds of payment %q: %w", p.ID, err)
		}
		if err := evbill.CheckRefund(payment(p), given, r.Amount); err != nil {
			return err
		}
		at := now()
		row, err := q.InsertRefund(ctx, db.InsertRefundParams{TenantID: r.TenantID, ID: evbill.NewID(evbill.PrefixRefund),
			PaymentID: p.ID, CdrID: r.CDRID, Amount: r.Amount, Reason: r.Reason, NextAttemptAt: at.UnixMicro(),
			CreatedAt: at.UnixMicro(), UpdatedAt: at.UnixMicro()})
		if err != nil {
			return writeErr(ctx, q, "create refund", err, nil, nil)
		}
		*r = refund(row)
		return insertEvent(ctx, q, evbill.RefundEvent(*r, p.Currency))
	})
}

// Refund returns one of the tenant's refunds.
func (s *Store) Refund(ctx context.Context, tenantID, id string) (evbill.Refund, error) {
	r, err := s.r.Refund(ctx, db.RefundParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Refund{}, readErr(err, "refund", id)
	}
	return refund(r), nil
}

// DueRefunds returns pending refunds whose next attempt is due.
func (s *Store) DueRefunds(ctx context.Context, at time.Time, limit int) ([]evbill.Refund, error) {
	rows, err := s.r.DueRefunds(ctx, db.DueRefundsParams{NextAttemptAt: at.UnixMicro(), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: due refunds: %w", err)
	}
	out := make([]evbill.Refund, len(rows))
	for i, r := range rows {
		out[i] = refund(r)
	}
	return out, nil
}

// CompleteRefund records the gateway's answer to a pending refund; a
// success moves the payment and posts entry in the same transaction.
func (s *Store) CompleteRefund(ctx context.Context, r *evbill.Refund, entry *evbill.LedgerEntry) error {
	if err := evbill.CheckRefundEnd(r, entry); err != nil {
		return err
	}
	return s.tx(ctx, func(q *db.Queries) error {
		at := now()
		row, err := q.CompleteRefund(ctx, db.CompleteRefundParams{State: r.State, Reference: r.Reference, FailureCode: r.FailureCode,
			UpdatedAt: at.UnixMicro(), TenantID: r.TenantID, ID: r.ID})
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := q.Refund(ctx, db.RefundParams{TenantID: r.TenantID, ID: r.ID}); err != nil {
				return readErr(err, "refund", r.ID)
			}
			return evbill.Errorf(evbill.ECONFLICT, "refund %q is no longer pending", r.ID)
		}
		if err != nil {
			return writeErr(ctx, q, "complete refund", err, nil, nil)
		}
		if r.State == evbill.RefundSucceeded {
			pr, err := q.Payment(ctx, db.PaymentParams{TenantID: r.TenantID, ID: row.PaymentID})
			if err != nil {
				return readErr(err, "payment", row.PaymentID)
			}
			from := pr.State
			p := payment(pr).AfterRefund(row.Amount)
			if err := evbill.PaymentTransition(from, p.State); err != nil {
				return err
			}
			if err := transition(ctx, q, &p, from, "refund "+r.ID, entry); err != nil {
				return err
			}
			// Counted in the rollups in the transaction that posts it, at
			// the net the entry gave back.
			if err := addRefundRollups(ctx, q, row.TenantID, row.CdrID, at, row.Amount, evbill.RefundNet(entry)); err != nil {
				return err
			}
		}
		*r = refund(row)
		return nil
	})
}

// RetryRefund records an attempt without an answer and the next one.
func (s *Store) RetryRefund(ctx context.Context, tenantID, id string, attempts int, next time.Time) error {
	n, err := s.w.RetryRefund(ctx, db.RetryRefundParams{Attempts: int64(attempts), NextAttemptAt: normalize(next).UnixMicro(),
		UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id})
	if err != nil {
		return fmt.Errorf("sqlite: retry refund: %w", err)
	}
	if n == 0 {
		return evbill.Errorf(evbill.ENOTFOUND, "no pending refund %q", id)
	}
	return nil
}
