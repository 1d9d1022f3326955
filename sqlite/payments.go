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

var _ evbill.PaymentStore = (*Store)(nil)

func payment(r db.Payment) evbill.Payment {
	return evbill.Payment{
		ID: r.ID, TenantID: r.TenantID, SessionID: r.SessionID.String, Purpose: r.Purpose, DriverID: r.DriverID.String, IDTag: r.IDTag.String, SiteID: r.SiteID.String,
		Gateway: r.Gateway, PaymentMethod: r.PaymentMethod, Customer: r.Customer, Reference: r.Reference,
		Currency: r.Currency, HoldAmount: r.HoldAmount, CaptureAmount: r.CaptureAmount, CaptureNet: r.CaptureNet,
		Captured: r.Captured, Refunded: r.Refunded, State: r.State, FailureCode: r.FailureCode,
		Attempts: int(r.Attempts), NextAttemptAt: fromMicros(r.NextAttemptAt), HoldExpiresAt: fromNullMicros(r.HoldExpiresAt),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// CreatePayment stores a new payment in state hold_pending, due now.
func (s *Store) CreatePayment(ctx context.Context, p *evbill.Payment) error {
	if err := p.CheckNew(); err != nil {
		return err // before taking the write lock
	}
	return s.tx(ctx, func(q *db.Queries) error { return insertPayment(ctx, q, p, now()) })
}

// insertPayment stores p, checked by CheckNew, as a new payment made at
// now, and logs its creation, inside the caller's transaction.
func insertPayment(ctx context.Context, q *db.Queries, p *evbill.Payment, now time.Time) error {
	if err := p.CheckNew(); err != nil {
		return err
	}
	p.ID = evbill.NewID(evbill.PrefixPayment)
	p.CreatedAt = now
	p.UpdatedAt, p.NextAttemptAt = p.CreatedAt, p.CreatedAt
	r, err := q.InsertPayment(ctx, db.InsertPaymentParams{
		TenantID: p.TenantID, ID: p.ID, SessionID: nullString(p.SessionID), Purpose: p.Purpose, DriverID: nullString(p.DriverID), SiteID: nullString(p.SiteID),
		Gateway: p.Gateway, PaymentMethod: p.PaymentMethod, Customer: p.Customer, Reference: p.Reference,
		Currency: p.Currency, HoldAmount: p.HoldAmount, State: p.State,
		NextAttemptAt: p.NextAttemptAt.UnixMicro(), HoldExpiresAt: nullMicros(normTime(p.HoldExpiresAt)),
		CreatedAt: p.CreatedAt.UnixMicro(), UpdatedAt: p.UpdatedAt.UnixMicro(), IDTag: nullString(p.IDTag),
	})
	if err != nil {
		return writeErr(ctx, q, "create payment", err,
			[]unique{{columns: "payments.tenant_id, payments.session_id", msg: fmt.Sprintf("session %q already has a payment", p.SessionID)},
				{columns: "payments.tenant_id, payments.id_tag", msg: fmt.Sprintf("id_tag %q already has a payment", p.IDTag)}},
			[]ref{refTenant(p.TenantID), refSession(p.TenantID, p.SessionID), refDriver(p.TenantID, p.DriverID), refSite(p.TenantID, p.SiteID)})
	}
	*p = payment(r)
	return logChange(ctx, q, p, "", "created")
}

func logChange(ctx context.Context, q *db.Queries, p *evbill.Payment, from, reason string) error {
	err := q.InsertPaymentChange(ctx, db.InsertPaymentChangeParams{TenantID: p.TenantID, PaymentID: p.ID,
		FromState: from, ToState: p.State, Reason: reason, At: p.UpdatedAt.UnixMicro()})
	if err != nil {
		return fmt.Errorf("sqlite: log payment change: %w", err)
	}
	return nil
}

// Payment returns one of the tenant's payments.
func (s *Store) Payment(ctx context.Context, tenantID, id string) (evbill.Payment, error) {
	r, err := s.r.Payment(ctx, db.PaymentParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Payment{}, readErr(err, "payment", id)
	}
	return payment(r), nil
}

// PaymentBySession returns the payment of one of the tenant's sessions.
func (s *Store) PaymentBySession(ctx context.Context, tenantID, sessionID string) (evbill.Payment, error) {
	r, err := s.r.PaymentBySession(ctx, db.PaymentBySessionParams{TenantID: tenantID, SessionID: nullString(sessionID)})
	if err != nil {
		return evbill.Payment{}, readErr(err, "payment of session", sessionID)
	}
	return payment(r), nil
}

// DuePayments returns pending payments whose next attempt is due.
func (s *Store) DuePayments(ctx context.Context, at time.Time, limit int) ([]evbill.Payment, error) {
	rows, err := s.r.DuePayments(ctx, db.DuePaymentsParams{NextAttemptAt: at.UnixMicro(), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: due payments: %w", err)
	}
	out := make([]evbill.Payment, len(rows))
	for i, r := range rows {
		out[i] = payment(r)
	}
	return out, nil
}

// TransitionPayment moves a payment from state from to p.State with its
// log line and ledger entry, all or nothing.
func (s *Store) TransitionPayment(ctx context.Context, p *evbill.Payment, from, reason string, entry *evbill.LedgerEntry) error {
	if err := checkTransition(p, from, entry); err != nil {
		return err
	}
	return s.tx(ctx, func(q *db.Queries) error { return transition(ctx, q, p, from, reason, entry) })
}

// checkTransition is what TransitionPayment checks before the database.
func checkTransition(p *evbill.Payment, from string, entry *evbill.LedgerEntry) error {
	if err := evbill.PaymentTransition(from, p.State); err != nil {
		return err
	}
	if entry != nil {
		if err := entry.Check(); err != nil {
			return err
		}
		if entry.TenantID != p.TenantID {
			return evbill.Errorf(evbill.EINVALID, "the ledger entry of payment %q is another tenant's", p.ID)
		}
	}
	return nil
}

// transition makes a checked transition inside the caller's transaction.
func transition(ctx context.Context, q *db.Queries, p *evbill.Payment, from, reason string, entry *evbill.LedgerEntry) error {
	r, err := q.UpdatePayment(ctx, db.UpdatePaymentParams{
		Reference: p.Reference, HoldAmount: p.HoldAmount, CaptureAmount: p.CaptureAmount, CaptureNet: p.CaptureNet,
		Captured: p.Captured, Refunded: p.Refunded, State: p.State, FailureCode: p.FailureCode,
		Attempts: int64(p.Attempts), NextAttemptAt: normalize(p.NextAttemptAt).UnixMicro(),
		HoldExpiresAt: nullMicros(normTime(p.HoldExpiresAt)), UpdatedAt: now().UnixMicro(),
		TenantID: p.TenantID, ID: p.ID, FromState: from,
	})
	if errors.Is(err, sql.ErrNoRows) {
		cur, rerr := q.Payment(ctx, db.PaymentParams{TenantID: p.TenantID, ID: p.ID})
		if rerr != nil {
			return readErr(rerr, "payment", p.ID)
		}
		return evbill.Errorf(evbill.ECONFLICT, "payment %q is %s, not %s: it was moved meanwhile", p.ID, cur.State, from)
	}
	if err != nil {
		return writeErr(ctx, q, "update payment", err, nil, nil)
	}
	np := payment(r)
	if err := logChange(ctx, q, &np, from, reason); err != nil {
		return err
	}
	if ev, ok := evbill.PaymentEvent(np); ok {
		if err := insertEvent(ctx, q, ev); err != nil {
			return err
		}
	}
	if entry != nil {
		if err := postEntry(ctx, q, entry); err != nil {
			return err
		}
	}
	*p = np
	return nil
}

// PaymentByReference finds the payment a gateway knows by reference.
func (s *Store) PaymentByReference(ctx context.Context, gateway, reference string) (evbill.Payment, error) {
	r, err := s.r.PaymentByReference(ctx, db.PaymentByReferenceParams{Gateway: gateway, Reference: reference})
	if err != nil {
		return evbill.Payment{}, readErr(err, "payment of gateway reference", reference)
	}
	return payment(r), nil
}

// RecordGatewayEvent stores a gateway's event once, with what it changes.
func (s *Store) RecordGatewayEvent(ctx context.Context, gateway string, ev evbill.GatewayEvent, p *evbill.Payment, from, reason string, entry *evbill.LedgerEntry) error {
	moves := p.State != from
	if moves {
		if err := checkTransition(p, from, entry); err != nil {
			return err
		}
	} else if entry != nil {
		if err := entry.Check(); err != nil {
			return err
		}
	}
	return s.tx(ctx, func(q *db.Queries) error {
		n, err := q.InsertGatewayEvent(ctx, db.InsertGatewayEventParams{Gateway: gateway, EventID: ev.ID, TenantID: p.TenantID,
			PaymentID: p.ID, Type: ev.Type, Body: ev.Raw, ReceivedAt: now().UnixMicro()})
		if err != nil {
			return writeErr(ctx, q, "record gateway event", err, nil, nil)
		}
		if n == 0 {
			return evbill.Errorf(evbill.ECONFLICT, "%s event %q was already recorded", gateway, ev.ID)
		}
		if moves {
			return transition(ctx, q, p, from, reason, entry)
		}
		if entry != nil {
			return postEntry(ctx, q, entry)
		}
		return nil
	})
}

// RetryPayment records an attempt without an answer and the next one.
func (s *Store) RetryPayment(ctx context.Context, tenantID, id string, attempts int, next time.Time) error {
	n, err := s.w.RetryPayment(ctx, db.RetryPaymentParams{Attempts: int64(attempts), NextAttemptAt: normalize(next).UnixMicro(),
		UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id})
	if err != nil {
		return fmt.Errorf("sqlite: retry payment: %w", err)
	}
	if n == 0 {
		return notFound("payment", id)
	}
	return nil
}

// PaymentChanges returns the payment's transitions, oldest first.
func (s *Store) PaymentChanges(ctx context.Context, tenantID, id string) ([]evbill.PaymentChange, error) {
	rows, err := s.r.PaymentChanges(ctx, db.PaymentChangesParams{TenantID: tenantID, PaymentID: id})
	if err != nil {
		return nil, fmt.Errorf("sqlite: payment changes: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.Payment(ctx, tenantID, id); err != nil {
			return nil, err
		}
	}
	out := make([]evbill.PaymentChange, len(rows))
	for i, r := range rows {
		out[i] = evbill.PaymentChange{PaymentID: r.PaymentID, From: r.FromState, To: r.ToState, Reason: r.Reason, At: fromMicros(r.At)}
	}
	return out, nil
}

// SettleablePayments returns held payments whose session has its CDR.
func (s *Store) SettleablePayments(ctx context.Context, limit int) ([]evbill.Settleable, error) {
	rows, err := s.r.SettleablePayments(ctx, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: settleable payments: %w", err)
	}
	out := make([]evbill.Settleable, len(rows))
	for i, r := range rows {
		p := payment(r.Payment)
		out[i] = evbill.Settleable{Payment: p, CDR: evbill.CDR{ID: r.CdrID, TenantID: p.TenantID, SessionID: p.SessionID,
			Currency: r.CdrCurrency, TotalExclVAT: r.TotalExclVat, TotalInclVAT: r.TotalInclVat, AmountMinor: r.AmountMinor}}
	}
	return out, nil
}

// SetPaymentMethod stores how a driver pays.
func (s *Store) SetPaymentMethod(ctx context.Context, m *evbill.PaymentMethod) error {
	if err := required("tenant_id", m.TenantID, "driver_id", m.DriverID); err != nil {
		return err
	}
	if err := m.Check(); err != nil {
		return err
	}
	r, err := s.w.SetPaymentMethod(ctx, db.SetPaymentMethodParams{TenantID: m.TenantID, DriverID: m.DriverID, PayBy: m.PayBy,
		Gateway: m.Gateway, Card: m.Card, Customer: m.Customer, UpdatedAt: now().UnixMicro()})
	if err != nil {
		return writeErr(ctx, s.w, "set payment method", err, nil, []ref{refDriver(m.TenantID, m.DriverID)})
	}
	*m = paymentMethod(r)
	return nil
}

func paymentMethod(r db.DriverPaymentMethod) evbill.PaymentMethod {
	return evbill.PaymentMethod{TenantID: r.TenantID, DriverID: r.DriverID, PayBy: r.PayBy, Gateway: r.Gateway,
		Card: r.Card, Customer: r.Customer, UpdatedAt: fromMicros(r.UpdatedAt)}
}

// PaymentMethod returns how the tenant's driver pays.
func (s *Store) PaymentMethod(ctx context.Context, tenantID, driverID string) (evbill.PaymentMethod, error) {
	r, err := s.r.PaymentMethod(ctx, db.PaymentMethodParams{TenantID: tenantID, DriverID: driverID})
	if err != nil {
		return evbill.PaymentMethod{}, readErr(err, "payment method of driver", driverID)
	}
	return paymentMethod(r), nil
}

// ExpiringHolds returns held payments whose hold lapses before the time.
func (s *Store) ExpiringHolds(ctx context.Context, before time.Time, limit int) ([]evbill.Payment, error) {
	rows, err := s.r.ExpiringHolds(ctx, db.ExpiringHoldsParams{HoldExpiresAt: sql.NullInt64{Int64: before.UnixMicro(), Valid: true}, Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: expiring holds: %w", err)
	}
	out := make([]evbill.Payment, len(rows))
	for i, r := range rows {
		out[i] = payment(r)
	}
	return out, nil
}

// FlagPayment sets a payment's failure code, logged, its state kept.
func (s *Store) FlagPayment(ctx context.Context, tenantID, id, code, reason string) error {
	return s.tx(ctx, func(q *db.Queries) error {
		r, err := q.FlagPayment(ctx, db.FlagPaymentParams{FailureCode: code, UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id})
		if err != nil {
			return readErr(err, "payment", id)
		}
		p := payment(r)
		return logChange(ctx, q, &p, p.State, reason)
	})
}

// insertEvent adds ev to the outbox in the caller's transaction.
func insertEvent(ctx context.Context, q *db.Queries, ev evbill.Event) error {
	err := q.InsertEvent(ctx, db.InsertEventParams{ID: ev.ID, TenantID: ev.TenantID, Type: ev.Type,
		Payload: string(ev.Payload), CreatedAt: normalize(ev.CreatedAt).UnixMicro()})
	if err != nil {
		return writeErr(ctx, q, "store event", err, []unique{{columns: "events.id", field: "event id", value: ev.ID}}, nil)
	}
	return nil
}
