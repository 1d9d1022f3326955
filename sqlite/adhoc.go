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

// ClaimAdHocPayment gives a session the held ad-hoc payment of its idTag.
func (s *Store) ClaimAdHocPayment(ctx context.Context, tenantID, idTag, sessionID string) (evbill.Payment, error) {
	if err := required("tenant_id", tenantID, "id_tag", idTag, "session_id", sessionID); err != nil {
		return evbill.Payment{}, err
	}
	var p evbill.Payment
	err := s.tx(ctx, func(q *db.Queries) error {
		r, err := q.ClaimAdHocPayment(ctx, db.ClaimAdHocPaymentParams{SessionID: nullString(sessionID), UpdatedAt: now().UnixMicro(),
			TenantID: tenantID, IDTag: nullString(idTag)})
		if errors.Is(err, sql.ErrNoRows) {
			return evbill.Errorf(evbill.ENOTFOUND, "no held ad-hoc payment of id_tag %q waits for a session", idTag)
		}
		if err != nil {
			return writeErr(ctx, q, "claim ad-hoc payment", err, nil, []ref{refSession(tenantID, sessionID)})
		}
		p = payment(r)
		return logChange(ctx, q, &p, p.State, "claimed by session "+sessionID)
	})
	return p, err
}

// ReleaseAdHocPayment starts the release of a held ad-hoc payment that no
// session claimed.
func (s *Store) ReleaseAdHocPayment(ctx context.Context, tenantID, id, code, reason string) (evbill.Payment, error) {
	var p evbill.Payment
	err := s.tx(ctx, func(q *db.Queries) error {
		r, err := q.ReleaseAdHocPayment(ctx, db.ReleaseAdHocPaymentParams{FailureCode: code, UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id})
		if errors.Is(err, sql.ErrNoRows) {
			cur, rerr := q.Payment(ctx, db.PaymentParams{TenantID: tenantID, ID: id})
			switch {
			case errors.Is(rerr, sql.ErrNoRows) || (rerr == nil && !cur.IDTag.Valid):
				return notFound("ad-hoc payment", id)
			case rerr != nil:
				return readErr(rerr, "payment", id)
			}
			return adHocConflict(payment(cur))
		}
		if err != nil {
			return fmt.Errorf("sqlite: release ad-hoc payment: %w", err)
		}
		p = payment(r)
		return logChange(ctx, q, &p, evbill.PaymentHeld, reason)
	})
	return p, err
}

// adHocConflict says why an ad-hoc payment cannot be released.
func adHocConflict(p evbill.Payment) error {
	if p.SessionID != "" {
		return evbill.Errorf(evbill.ECONFLICT, "ad-hoc payment %q was claimed by session %q", p.ID, p.SessionID)
	}
	return evbill.Errorf(evbill.ECONFLICT, "ad-hoc payment %q is %s, not held", p.ID, p.State)
}

// UnclaimedAdHocPayments returns held ad-hoc payments no session can claim.
func (s *Store) UnclaimedAdHocPayments(ctx context.Context, createdBefore, at time.Time, limit int) ([]evbill.Payment, error) {
	rows, err := s.r.UnclaimedAdHocPayments(ctx, db.UnclaimedAdHocPaymentsParams{CreatedBefore: createdBefore.UnixMicro(),
		Now: sql.NullInt64{Int64: at.UnixMicro(), Valid: true}, Lim: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: unclaimed ad-hoc payments: %w", err)
	}
	out := make([]evbill.Payment, len(rows))
	for i, r := range rows {
		out[i] = payment(r)
	}
	return out, nil
}

// AdHocPayment returns an ad-hoc payment of any tenant by its ID.
func (s *Store) AdHocPayment(ctx context.Context, id string) (evbill.Payment, error) {
	r, err := s.r.AdHocPayment(ctx, id)
	if err != nil {
		return evbill.Payment{}, readErr(err, "ad-hoc payment", id)
	}
	return payment(r), nil
}

// AdHocPaymentByIDTag returns the tenant's ad-hoc payment of an idTag.
func (s *Store) AdHocPaymentByIDTag(ctx context.Context, tenantID, idTag string) (evbill.Payment, error) {
	r, err := s.r.AdHocPaymentByIDTag(ctx, db.AdHocPaymentByIDTagParams{TenantID: tenantID, IDTag: nullString(idTag)})
	if err != nil {
		return evbill.Payment{}, readErr(err, "ad-hoc payment of id_tag", idTag)
	}
	return payment(r), nil
}
