package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

var _ evbill.WebhookStore = (*Store)(nil)

func webhookEndpoint(r db.WebhookEndpoint) evbill.WebhookEndpoint {
	return evbill.WebhookEndpoint{
		ID: r.ID, TenantID: r.TenantID, URL: r.Url, Description: r.Description, EventTypes: splitEventTypes(r.EventTypes),
		Secret: r.Secret, PreviousSecret: r.PreviousSecret, PreviousSecretExpiresAt: utcPtr(r.PreviousSecretExpiresAt),
		Disabled: r.Disabled, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// splitEventTypes reads the filter as stored: types joined by commas,
// which CheckEventType keeps out of a type; "" is every type.
func splitEventTypes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func webhookDelivery(r db.WebhookDelivery) evbill.WebhookDelivery {
	return evbill.WebhookDelivery{
		ID: r.ID, TenantID: r.TenantID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType,
		Payload: json.RawMessage(bytesOrNil(r.Payload)), EventCreatedAt: r.EventCreatedAt.UTC(), State: r.State,
		Attempts: int(r.Attempts), Failures: int(r.Failures), NextAttemptAt: r.NextAttemptAt.UTC(),
		LastStatus: int(r.LastStatus), LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// utc returns t as the store keeps it: UTC, to the microsecond.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// CreateWebhookEndpoint stores a new endpoint after Check.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *evbill.WebhookEndpoint) error {
	if err := e.Check(); err != nil {
		return err
	}
	t := now()
	r, err := s.q.InsertWebhookEndpoint(ctx, db.InsertWebhookEndpointParams{
		TenantID: e.TenantID, ID: evbill.NewID(evbill.PrefixWebhookEndpoint), Url: e.URL, Description: e.Description,
		EventTypes: strings.Join(e.EventTypes, ","), Secret: e.Secret, PreviousSecret: e.PreviousSecret,
		PreviousSecretExpiresAt: normTime(e.PreviousSecretExpiresAt), Disabled: e.Disabled, CreatedAt: t, UpdatedAt: t,
	})
	if err != nil {
		return writeErr("create webhook endpoint", err, nil,
			[]ref{{constraint: "webhook_endpoints_tenant_fkey", field: "tenant_id", value: e.TenantID}})
	}
	*e = webhookEndpoint(r)
	return nil
}

// WebhookEndpoint returns one of the tenant's endpoints.
func (s *Store) WebhookEndpoint(ctx context.Context, tenantID, id string) (evbill.WebhookEndpoint, error) {
	r, err := s.q.WebhookEndpoint(ctx, db.WebhookEndpointParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.WebhookEndpoint{}, readErr(err, "webhook endpoint", id)
	}
	return webhookEndpoint(r), nil
}

// ListWebhookEndpoints returns a page of the tenant's endpoints by ID.
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.WebhookEndpoint, error) {
	rows, err := s.q.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook endpoints: %w", err)
	}
	out := make([]evbill.WebhookEndpoint, len(rows))
	for i, r := range rows {
		out[i] = webhookEndpoint(r)
	}
	return out, nil
}

// UpdateWebhookEndpoint stores e's fields after Check.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, e *evbill.WebhookEndpoint) error {
	if err := e.Check(); err != nil {
		return err
	}
	r, err := s.q.UpdateWebhookEndpoint(ctx, db.UpdateWebhookEndpointParams{
		Url: e.URL, Description: e.Description, EventTypes: strings.Join(e.EventTypes, ","),
		Secret: e.Secret, PreviousSecret: e.PreviousSecret, PreviousSecretExpiresAt: normTime(e.PreviousSecretExpiresAt),
		Disabled: e.Disabled, UpdatedAt: now(), TenantID: e.TenantID, ID: e.ID,
	})
	if err != nil {
		return readErr(err, "webhook endpoint", e.ID)
	}
	*e = webhookEndpoint(r)
	return nil
}

// DeleteWebhookEndpoint removes the endpoint; its deliveries and their
// attempts go with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenantID, id string) error {
	n, err := s.q.DeleteWebhookEndpoint(ctx, db.DeleteWebhookEndpointParams{TenantID: tenantID, ID: id})
	if err != nil {
		return fmt.Errorf("postgres: delete webhook endpoint: %w", err)
	}
	if n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

// WebhookCursor returns the consumer's place in the outbox.
func (s *Store) WebhookCursor(ctx context.Context, consumer string) (string, error) {
	id, err := s.q.WebhookCursor(ctx, consumer)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: webhook cursor: %w", err)
	}
	return id, nil
}

// FanOutWebhookEvents makes the events' deliveries and moves the cursor
// in one transaction. The cursor's row is moved first, so a second
// dispatcher waits on its lock and then finds it moved (ECONFLICT)
// instead of inserting alongside.
func (s *Store) FanOutWebhookEvents(ctx context.Context, consumer, from, to string, events []evbill.Event, at time.Time) (int, error) {
	if consumer == "" {
		return 0, evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	at = utc(at)
	created := 0
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		created = 0
		t := now()
		if to != from {
			var moved int64
			var err error
			if from == "" {
				moved, err = q.StartWebhookCursor(ctx, db.StartWebhookCursorParams{Consumer: consumer, EventID: to, UpdatedAt: t})
			} else {
				moved, err = q.MoveWebhookCursor(ctx, db.MoveWebhookCursorParams{EventID: to, UpdatedAt: t, Consumer: consumer, FromEventID: from})
			}
			if err != nil {
				return fmt.Errorf("postgres: move webhook cursor: %w", err)
			}
			if moved == 0 {
				return evbill.Errorf(evbill.ECONFLICT, "the webhook cursor of %q is no longer at %q: another dispatcher moved it", consumer, from)
			}
		}
		// The inserts are sent as one pipeline: a page of events costs a
		// round trip, not one per delivery.
		endpoints := map[string][]db.WebhookEndpoint{}
		var inserts []db.InsertWebhookDeliveryParams
		for _, ev := range events {
			eps, ok := endpoints[ev.TenantID]
			if !ok {
				var err error
				if eps, err = q.EnabledWebhookEndpoints(ctx, ev.TenantID); err != nil {
					return fmt.Errorf("postgres: webhook endpoints: %w", err)
				}
				endpoints[ev.TenantID] = eps
			}
			for _, r := range eps {
				if !webhookEndpoint(r).Wants(ev.Type) {
					continue
				}
				payload := []byte(ev.Payload)
				if len(payload) == 0 {
					payload = []byte("null")
				}
				inserts = append(inserts, db.InsertWebhookDeliveryParams{
					TenantID: ev.TenantID, ID: evbill.NewID(evbill.PrefixWebhookDelivery), EndpointID: r.ID, EventID: ev.ID,
					EventType: ev.Type, Payload: payload, EventCreatedAt: utc(ev.CreatedAt), NextAttemptAt: at, CreatedAt: t, UpdatedAt: t,
				})
			}
		}
		if len(inserts) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, p := range inserts {
			st := capture(func(q *db.Queries) error { _, err := q.InsertWebhookDelivery(ctx, p); return err })
			b.Queue(st.sql, st.args...)
		}
		br := tx.SendBatch(ctx, b)
		rq := db.New(replayer{br})
		for _, p := range inserts {
			n, err := rq.InsertWebhookDelivery(ctx, p)
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("postgres: insert webhook delivery: %w", err)
			}
			created += int(n)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("postgres: insert webhook deliveries: %w", err)
		}
		return nil
	})
	return created, err
}

// inTx runs fn in a READ COMMITTED transaction, as tx does, giving it the
// transaction too, for pipelines.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx, q *db.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx, s.q.WithTx(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// ClaimWebhookDeliveries leases due deliveries in one statement; rows
// another instance is claiming at the same moment are skipped, not
// waited for.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, at, leaseUntil time.Time, limit int) ([]evbill.WebhookDelivery, error) {
	rows, err := s.q.ClaimWebhookDeliveries(ctx, db.ClaimWebhookDeliveriesParams{
		LeaseUntil: utc(leaseUntil), Now: utc(at), Lim: int32(evbill.Page{Limit: limit}.Size()),
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhook deliveries: %w", err)
	}
	out := make([]evbill.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDelivery(r)
	}
	return out, nil
}

// RecordWebhookAttempts records a round's attempts in one statement, so
// in one transaction: the guarded moves and their log lines.
func (s *Store) RecordWebhookAttempts(ctx context.Context, results []evbill.WebhookResult) error {
	for i := range results {
		results[i].Err = checkWebhookResult(&results[i])
	}
	stored := make([]*evbill.WebhookDelivery, len(results))
	err := s.recordWebhookAttempts(ctx, results, stored)
	if err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
		return err
	}
	for i, d := range stored {
		if d != nil {
			*results[i].Delivery = *d
		}
	}
	return nil
}

func (s *Store) recordWebhookAttempts(ctx context.Context, results []evbill.WebhookResult, stored []*evbill.WebhookDelivery) error {
	t := now()
	var p db.RecordWebhookAttemptsParams
	failures := make([]int, len(results))
	for i := range results {
		res := &results[i]
		if res.Err != nil {
			continue
		}
		d, a := res.Delivery, res.Attempt
		failures[i] = d.Failures
		if res.State != evbill.WebhookSucceeded {
			failures[i]++
		}
		p.TenantIds = append(p.TenantIds, d.TenantID)
		p.Ids = append(p.Ids, d.ID)
		p.ClaimedAttempts = append(p.ClaimedAttempts, int32(d.Attempts))
		p.States = append(p.States, res.State)
		p.Failures = append(p.Failures, int32(failures[i]))
		p.NextAttemptAts = append(p.NextAttemptAts, utc(res.NextAttemptAt))
		p.Statuses = append(p.Statuses, int32(a.StatusCode))
		p.Errors = append(p.Errors, a.Error)
		p.AttemptedAts = append(p.AttemptedAts, utc(a.At))
		p.DurationsUs = append(p.DurationsUs, a.Duration.Microseconds())
		p.Responses = append(p.Responses, a.Response)
	}
	if len(p.Ids) == 0 {
		return nil
	}
	p.UpdatedAt = t
	// One statement moves the round's deliveries and logs their attempts:
	// one round trip, one plan, one commit for hundreds of deliveries.
	rows, err := s.q.RecordWebhookAttempts(ctx, p)
	if err != nil {
		return fmt.Errorf("postgres: record webhook attempts: %w", err)
	}
	moved := make(map[[2]string]int, len(rows))
	for _, r := range rows {
		moved[[2]string{r.TenantID, r.ID}] = int(r.Attempts)
	}
	for i := range results {
		res := &results[i]
		if res.Err != nil {
			continue
		}
		n, ok := moved[[2]string{res.Delivery.TenantID, res.Delivery.ID}]
		if !ok {
			res.Err = evbill.Errorf(evbill.ECONFLICT, "webhook delivery %q is no longer pending after %d attempts: it was recorded or replayed meanwhile",
				res.Delivery.ID, res.Delivery.Attempts)
			continue
		}
		// The row as stored, made here rather than read back: only these
		// fields changed, and the payload need not travel back.
		d := *res.Delivery
		d.State, d.Attempts, d.Failures, d.NextAttemptAt = res.State, n, failures[i], utc(res.NextAttemptAt)
		d.LastStatus, d.LastError, d.UpdatedAt = res.Attempt.StatusCode, res.Attempt.Error, t
		stored[i] = &d
	}
	return nil
}

// checkWebhookResult refuses a result no worker should make.
func checkWebhookResult(r *evbill.WebhookResult) error {
	switch {
	case r.Delivery == nil || r.Delivery.ID == "" || r.Delivery.TenantID == "":
		return evbill.Errorf(evbill.EINVALID, "a webhook result needs its delivery")
	case r.State != evbill.WebhookPending && r.State != evbill.WebhookSucceeded && r.State != evbill.WebhookDead:
		return evbill.Errorf(evbill.EINVALID, "webhook delivery state %q is not pending, succeeded or dead", r.State)
	}
	return nil
}

// WebhookDelivery returns one of the tenant's deliveries.
func (s *Store) WebhookDelivery(ctx context.Context, tenantID, id string) (evbill.WebhookDelivery, error) {
	r, err := s.q.WebhookDelivery(ctx, db.WebhookDeliveryParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.WebhookDelivery{}, readErr(err, "webhook delivery", id)
	}
	return webhookDelivery(r), nil
}

// ListWebhookDeliveries returns a page of an endpoint's deliveries by ID.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID, endpointID, state string, p evbill.Page) ([]evbill.WebhookDelivery, error) {
	rows, err := s.q.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{
		TenantID: tenantID, EndpointID: endpointID, After: p.After, State: state, Lim: limit(p),
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	out := make([]evbill.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDelivery(r)
	}
	return out, nil
}

// WebhookAttempts returns a delivery's attempts, oldest first.
func (s *Store) WebhookAttempts(ctx context.Context, tenantID, deliveryID string) ([]evbill.WebhookAttempt, error) {
	rows, err := s.q.WebhookAttempts(ctx, db.WebhookAttemptsParams{TenantID: tenantID, DeliveryID: deliveryID})
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook attempts: %w", err)
	}
	out := make([]evbill.WebhookAttempt, len(rows))
	for i, r := range rows {
		out[i] = evbill.WebhookAttempt{
			TenantID: r.TenantID, DeliveryID: r.DeliveryID, N: int(r.N), At: r.AttemptedAt.UTC(),
			StatusCode: int(r.StatusCode), Error: r.Error, Duration: time.Duration(r.DurationUs) * time.Microsecond, Response: r.Response,
		}
	}
	return out, nil
}

// ReplayWebhookDelivery puts a final delivery back to pending.
func (s *Store) ReplayWebhookDelivery(ctx context.Context, tenantID, id string, at time.Time) (evbill.WebhookDelivery, error) {
	r, err := s.q.ReplayWebhookDelivery(ctx, db.ReplayWebhookDeliveryParams{Now: utc(at), UpdatedAt: now(), TenantID: tenantID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		cur, rerr := s.WebhookDelivery(ctx, tenantID, id)
		if rerr != nil {
			return evbill.WebhookDelivery{}, rerr
		}
		return evbill.WebhookDelivery{}, evbill.Errorf(evbill.ECONFLICT, "webhook delivery %q is %s already", id, cur.State)
	}
	if err != nil {
		return evbill.WebhookDelivery{}, fmt.Errorf("postgres: replay webhook delivery: %w", err)
	}
	return webhookDelivery(r), nil
}
