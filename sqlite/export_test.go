package sqlite

import (
	"context"
	"fmt"
)

// SetSynchronousFull makes the writer fsync the WAL at every commit, for
// benchmarks that measure fully durable commits. The writer's one
// connection is never closed while the store is open, so the setting
// holds for every later write.
func SetSynchronousFull(ctx context.Context, s *Store) error {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
		return err
	}
	var got int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
		return err
	}
	if got != 2 {
		return fmt.Errorf("PRAGMA synchronous = %d after setting FULL (2)", got)
	}
	return nil
}
