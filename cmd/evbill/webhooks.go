package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/webhook"
)

// startWebhooks runs the webhook dispatcher (outbox → one delivery per
// endpoint that wants the event) and the delivery worker, posting with
// client, until ctx ends.
// Both keep their state in the database (the dispatcher's cursor, the
// deliveries), so any number of instances may run them and a restart
// loses nothing.
func startWebhooks(ctx context.Context, store any, reg prometheus.Registerer, log *slog.Logger, client *http.Client) error {
	s, ok := store.(webhook.DispatchStore)
	if !ok {
		return evbill.Errorf(evbill.EINVALID, "the store keeps no webhooks")
	}
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	w := &webhook.Worker{Store: s, Log: log, Metrics: m, Client: client}
	d := &webhook.Dispatcher{Store: s, Log: log, Metrics: m, Notify: w.Wake}
	// The dispatcher polls the outbox often, since a CDR's webhook should
	// leave within a second; the worker's tick only finds retries that
	// came due, new deliveries wake it at once.
	go d.Run(ctx, 250*time.Millisecond)
	go w.Run(ctx, time.Second)
	return nil
}
