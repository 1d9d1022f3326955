package pricing

import "time"

// SetClock replaces the resolver's clock, so tests can let a cache entry age.
func SetClock(r *Resolver, now func() time.Time) { r.now = now }
