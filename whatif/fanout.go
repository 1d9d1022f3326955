package whatif

import (
	"context"
	"sync"

	"github.com/evbill/evbill"
)

// BatchSize is how many CDRs a Fanout batch holds: enough that handing
// one over costs nothing next to pricing it, few enough that its records
// stay in the cache.
const BatchSize = 1024

// batch is a batch of CDRs being filled. The driver's bytes are valid
// only until the next row, so records are copied into one buffer reused
// from batch to batch, and a site ID becomes a string once per run of
// rows of one site.
type batch struct {
	cdrs []evbill.WhatIfCDR
	buf  []byte
	ends []int
	site string
}

func (b *batch) add(site, rec []byte) {
	if string(site) != b.site {
		b.site = string(site)
	}
	b.buf = append(b.buf, rec...)
	b.ends = append(b.ends, len(b.buf))
	b.cdrs = append(b.cdrs, evbill.WhatIfCDR{SiteID: b.site})
}

// seal points the CDRs at their records, once the buffer has stopped
// growing.
func (b *batch) seal() []evbill.WhatIfCDR {
	start := 0
	for i, end := range b.ends {
		b.cdrs[i].Record = b.buf[start:end:end]
		start = end
	}
	return b.cdrs
}

func (b *batch) reset() {
	b.cdrs, b.buf, b.ends = b.cdrs[:0], b.buf[:0], b.ends[:0]
}

// Fanout runs one reader and workers goroutines that call fn: read, in
// the calling goroutine, emits rows (a site ID and a record, both copied,
// so the driver may reuse its bytes), which are gathered into batches of
// BatchSize and priced by fn on the workers. It is for SQLite, whose
// connections in one process contend for its global locks: two readers
// read barely faster than one, while pricing spreads over every core.
// The first error of read or fn cancels the context read gets and is
// returned.
func Fanout(ctx context.Context, workers int, fn func([]evbill.WhatIfCDR) error,
	read func(ctx context.Context, emit func(site, rec []byte) error) error) error {
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *batch, workers)
	free := make(chan *batch, workers+2)
	for range workers + 2 {
		free <- &batch{}
	}
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	for range workers {
		wg.Go(func() {
			for b := range full {
				if ctx.Err() == nil {
					if err := fn(b.seal()); err != nil {
						fail(err)
					}
				}
				b.reset()
				free <- b
			}
		})
	}
	cur := <-free
	send := func() error {
		select {
		case full <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case cur = <-free:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := read(ctx, func(site, rec []byte) error {
		cur.add(site, rec)
		if len(cur.cdrs) < BatchSize {
			return nil
		}
		return send()
	})
	if err == nil && len(cur.cdrs) > 0 {
		err = send()
	}
	if err != nil {
		fail(err)
	}
	close(full)
	wg.Wait()
	return firstErr
}
