package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/evbill/evbill"
)

// DefaultConsumer names the dispatcher's cursor in the store.
const DefaultConsumer = "webhooks"

// DispatchStore is what the dispatcher needs of a store: the outbox and
// the webhook tables.
type DispatchStore interface {
	evbill.WebhookStore
	PendingEvents(ctx context.Context, after string, limit int) ([]evbill.Event, error)
}

// Dispatcher fans the outbox out into deliveries: it reads events in
// outbox order after its cursor and makes one delivery per event and
// enabled endpoint of the event's tenant that wants its type, moving the
// cursor in the same transaction. The cursor is in the database, so a
// restart resumes where the last page ended; a page read twice (two
// instances, a crash before the commit) makes no delivery twice, since
// there is one per endpoint and event.
type Dispatcher struct {
	Store DispatchStore
	// Consumer names the cursor; DefaultConsumer when "".
	Consumer string
	// Batch is how many events a round reads; evbill.MaxPageLimit when
	// zero.
	Batch int
	// Now is the clock new deliveries are due at; time.Now when nil.
	Now func() time.Time
	// Notify, when set, is called after a round made deliveries: the
	// worker's Wake, so they go out without waiting for its tick.
	Notify  func()
	Log     *slog.Logger
	Metrics *Metrics
}

// RunOnce fans out one page of events and returns how many events it
// read and deliveries it made. A page another dispatcher fanned out first
// is not an error: the round reads nothing more.
func (d *Dispatcher) RunOnce(ctx context.Context) (events, deliveries int, err error) {
	consumer := d.Consumer
	if consumer == "" {
		consumer = DefaultConsumer
	}
	batch := d.Batch
	if batch <= 0 {
		batch = evbill.MaxPageLimit
	}
	from, err := d.Store.WebhookCursor(ctx, consumer)
	if err != nil {
		return 0, 0, err
	}
	evs, err := d.Store.PendingEvents(ctx, from, batch)
	if err != nil || len(evs) == 0 {
		return 0, 0, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	n, err := d.Store.FanOutWebhookEvents(ctx, consumer, from, evs[len(evs)-1].ID, evs, now())
	if evbill.ErrorCode(err) == evbill.ECONFLICT {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	d.Metrics.created(n)
	if n > 0 && d.Notify != nil {
		d.Notify()
	}
	return len(evs), n, nil
}

// Run fans out every interval until ctx ends, page after page while
// there are events, logging errors.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, _, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				log := d.Log
				if log == nil {
					log = slog.New(slog.DiscardHandler)
				}
				log.Error("webhook dispatcher", "err", err)
			}
			if err != nil || n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
