package postgres

import (
	"context"
	"fmt"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

// FlagSession adds a flag to one of the tenant's sessions, once, whatever
// its state.
func (s *Store) FlagSession(ctx context.Context, tenantID, sessionID, flag string) error {
	if err := required("tenant_id", tenantID, "session_id", sessionID); err != nil {
		return err
	}
	if err := evbill.CheckFlag(flag); err != nil {
		return err
	}
	n, err := s.q.FlagSession(ctx, db.FlagSessionParams{Flag: flag, UpdatedAt: now(), TenantID: tenantID, ID: sessionID})
	if err != nil {
		return fmt.Errorf("postgres: flag session: %w", err)
	}
	if n == 0 {
		// The flag was there already, or there is no such session:
		// sessions are never deleted, so a read now tells which.
		if _, err := s.q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: sessionID}); err != nil {
			return readErr(err, "session", sessionID)
		}
	}
	return nil
}
