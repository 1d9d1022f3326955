package charging

import (
	"context"
	"sync"

	"github.com/evbill/evbill"
)

// maxBatch bounds one group commit; under load a batch fills while the one
// before it commits, so chargers' writes share fsyncs without waiting for
// a timer.
const maxBatch = 256

// committer funnels the OCPP path's writes through one goroutine that
// commits whatever is waiting in one transaction: group commit.
type committer struct {
	store evbill.SessionStore
	in    chan *pending
	once  sync.Once
	wg    sync.WaitGroup
}

type pending struct {
	w    evbill.SessionWrite
	err  error
	done chan struct{}
}

func newCommitter(store evbill.SessionStore) *committer {
	c := &committer{store: store, in: make(chan *pending, 4*maxBatch)}
	c.wg.Add(1)
	go c.run()
	return c
}

// do commits one write with whatever else is waiting and returns it with
// its outcome. The write is made even if ctx ends while it waits: a
// charger that gave up will resend, and the store absorbs repeats.
func (c *committer) do(ctx context.Context, w evbill.SessionWrite) (evbill.SessionWrite, error) {
	p := &pending{w: w, done: make(chan struct{})}
	select {
	case c.in <- p:
	case <-ctx.Done():
		return w, ctx.Err()
	}
	<-p.done
	if p.err != nil {
		return p.w, p.err
	}
	return p.w, p.w.Err
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]*pending, 0, maxBatch)
	writes := make([]evbill.SessionWrite, 0, maxBatch)
	for first := range c.in {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case p, ok := <-c.in:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		writes = writes[:0]
		for _, p := range batch {
			writes = append(writes, p.w)
		}
		err := c.store.ApplySessionWrites(context.Background(), writes)
		for i, p := range batch {
			p.w, p.err = writes[i], err
			close(p.done)
		}
	}
}

// close stops the committer after the writes already handed to it.
func (c *committer) close() {
	c.once.Do(func() { close(c.in) })
	c.wg.Wait()
}
