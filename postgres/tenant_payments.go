package postgres

import (
	"context"
	"fmt"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

// SetTenantPayments replaces the tenant's payment settings. They are
// checked here first, so that a refusal names the field; the database's
// CHECKs refuse the same amounts from any other writer.
func (s *Store) SetTenantPayments(ctx context.Context, tenantID string, p evbill.TenantPayments) error {
	if err := p.Check(); err != nil {
		return err
	}
	n, err := s.q.SetTenantPayments(ctx, db.SetTenantPaymentsParams{
		ID: tenantID, CardHold: p.CardHold, WalletMinimum: p.WalletMinimum, AccountLimit: p.AccountLimit,
	})
	if err != nil {
		return fmt.Errorf("postgres: set tenant payments: %w", err)
	}
	if n == 0 {
		return evbill.Errorf(evbill.ENOTFOUND, "tenant %q not found", tenantID)
	}
	return nil
}
