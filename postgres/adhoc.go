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

// ClaimAdHocPayment gives a session the held ad-hoc payment of its idTag.
// Under READ COMMITTED a concurrent claim or release of the row makes this
// UPDATE wait and then check its conditions again on the row as that one
// left it, so only one of them finds it.
func (s *Store) ClaimAdHocPayment(ctx context.Context, tenantID, idTag, sessionID string) (evbill.Payment, error) {
	if err := required("tenant_id", tenantID, "id_tag", idTag, "session_id", sessionID); err != nil {
		return evbill.Payment{}, err
	}
	var p evbill.Payment
	err := s.tx(ctx, func(q *db.Queries) error {
		r, err := q.ClaimAdHocPayment(ctx, db.ClaimAdHocPaymentParams{SessionID: &sessionID, UpdatedAt: now(), TenantID: tenantID, IDTag: &idTag})
		if errors.Is(err, pgx.ErrNoRows) {
			return evbill.Errorf(evbill.ENOTFOUND, "no held ad-hoc payment of id_tag %q waits for a session", idTag)
		}
		if err != nil {
			return writeErr("claim ad-hoc payment", err, nil,
				[]ref{{constraint: "payments_session_fkey", field: "session_id", value: sessionID}})
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
		r, err := q.ReleaseAdHocPayment(ctx, db.ReleaseAdHocPaymentParams{FailureCode: code, UpdatedAt: now(), TenantID: tenantID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			cur, rerr := q.Payment(ctx, db.PaymentParams{TenantID: tenantID, ID: id})
			switch {
			case errors.Is(rerr, pgx.ErrNoRows) || (rerr == nil && cur.IDTag == nil):
				return notFound("ad-hoc payment", id)
			case rerr != nil:
				return readErr(rerr, "payment", id)
			}
			return adHocConflict(payment(cur))
		}
		if err != nil {
			return fmt.Errorf("postgres: release ad-hoc payment: %w", err)
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
	rows, err := s.q.UnclaimedAdHocPayments(ctx, db.UnclaimedAdHocPaymentsParams{CreatedBefore: createdBefore, Now: &at, Lim: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("postgres: unclaimed ad-hoc payments: %w", err)
	}
	out := make([]evbill.Payment, len(rows))
	for i, r := range rows {
		out[i] = payment(r)
	}
	return out, nil
}

// AdHocPayment returns an ad-hoc payment of any tenant by its ID.
func (s *Store) AdHocPayment(ctx context.Context, id string) (evbill.Payment, error) {
	r, err := s.q.AdHocPayment(ctx, id)
	if err != nil {
		return evbill.Payment{}, readErr(err, "ad-hoc payment", id)
	}
	return payment(r), nil
}

// AdHocPaymentByIDTag returns the tenant's ad-hoc payment of an idTag.
func (s *Store) AdHocPaymentByIDTag(ctx context.Context, tenantID, idTag string) (evbill.Payment, error) {
	r, err := s.q.AdHocPaymentByIDTag(ctx, db.AdHocPaymentByIDTagParams{TenantID: tenantID, IDTag: &idTag})
	if err != nil {
		return evbill.Payment{}, readErr(err, "ad-hoc payment of id_tag", idTag)
	}
	return payment(r), nil
}
