package whatif

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// StretchesPerReader is how many stretches ReadStretches cuts the range
// into per reader: sessions are seldom spread evenly over time (nights,
// weekends, a growing fleet), and a reader that finishes early takes the
// next stretch rather than waiting for the slowest.
const StretchesPerReader = 8

// ReadStretches cuts [first, last] into consecutive stretches and calls
// read for each, [from, to), on readers goroutines at once; the stores
// use it to read a what-if's CDRs over several connections. The first
// error cancels the context the other calls get and is returned.
func ReadStretches(ctx context.Context, first, last time.Time, readers int, read func(ctx context.Context, from, to time.Time) error) error {
	if last.Before(first) {
		return nil
	}
	readers = max(readers, 1)
	end := last.Add(time.Microsecond) // the stores keep times to the microsecond
	n := int64(readers * StretchesPerReader)
	step := (end.Sub(first) + time.Duration(n) - 1) / time.Duration(n)
	step = max(step, time.Microsecond)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range readers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				from := first.Add(time.Duration(i) * step)
				if !from.Before(end) || ctx.Err() != nil {
					return
				}
				to := from.Add(step)
				if to.After(end) {
					to = end
				}
				if err := read(ctx, from, to); err != nil {
					errOnce.Do(func() { firstErr = err })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
