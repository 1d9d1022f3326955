package postgres

import "context"

// MigrateDownTo rolls the store's schema back to version v, for tests of a
// migration's Down.
func MigrateDownTo(ctx context.Context, s *Store, v int64) error {
	_, err := s.goose.DownTo(ctx, v)
	return err
}
