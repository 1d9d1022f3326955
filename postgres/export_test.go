package postgres

import "context"

// PlanCacheMode returns the plan_cache_mode of the store's connections.
func PlanCacheMode(ctx context.Context, s *Store) (string, error) {
	var mode string
	err := s.pool.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode)
	return mode, err
}
