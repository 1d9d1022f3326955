//go:build !linux && !darwin

package sim

import "math"

// raiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func raiseFileLimit(need uint64) (uint64, error) { return math.MaxUint64, nil }
