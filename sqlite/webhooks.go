package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

var _ evbill.WebhookStore = (*Store)(nil)

func webhookEndpoint(r db.WebhookEndpoint) evbill.WebhookEndpoint {
	return evbill.WebhookEndpoint{
		ID: r.ID, TenantID: r.TenantID, URL: r.Url, Description: r.Description, EventTypes: splitEventTypes(r.EventTypes),
		Secret: r.Secret, PreviousSecret: r.PreviousSecret, PreviousSecretExpiresAt: fromNullMicros(r.PreviousSecretExpiresAt),
		Disabled: r.Disabled != 0, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
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
		Payload: rawJSON(r.Payload), EventCreatedAt: fromMicros(r.EventCreatedAt), State: r.State,
		Attempts: int(r.Attempts), Failures: int(r.Failures), NextAttemptAt: fromMicros(r.NextAttemptAt),
		LastStatus: int(r.LastStatus), LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

func disabledInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// CreateWebhookEndpoint stores a new endpoint after Check.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *evbill.WebhookEndpoint) error {
	if err := e.Check(); err != nil {
		return err
	}
	t := now()
	r, err := s.w.InsertWebhookEndpoint(ctx, db.InsertWebhookEndpointParams{
		TenantID: e.TenantID, ID: evbill.NewID(evbill.PrefixWebhookEndpoint), Url: e.URL, Description: e.Description,
		EventTypes: strings.Join(e.EventTypes, ","), Secret: e.Secret, PreviousSecret: e.PreviousSecret,
		PreviousSecretExpiresAt: nullMicros(normTime(e.PreviousSecretExpiresAt)), Disabled: disabledInt(e.Disabled),
		CreatedAt: t.UnixMicro(), UpdatedAt: t.UnixMicro(),
	})
	if err != nil {
		return writeErr(ctx, s.w, "create webhook endpoint", err, nil, []ref{refTenant(e.TenantID)})
	}
	*e = webhookEndpoint(r)
	return nil
}

// WebhookEndpoint returns one of the tenant's endpoints.
func (s *Store) WebhookEndpoint(ctx context.Context, tenantID, id string) (evbill.WebhookEndpoint, error) {
	r, err := s.r.WebhookEndpoint(ctx, db.WebhookEndpointParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.WebhookEndpoint{}, readErr(err, "webhook endpoint", id)
	}
	return webhookEndpoint(r), nil
}

// ListWebhookEndpoints returns a page of the tenant's endpoints by ID.
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.WebhookEndpoint, error) {
	rows, err := s.r.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
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
	r, err := s.w.UpdateWebhookEndpoint(ctx, db.UpdateWebhookEndpointParams{
		Url: e.URL, Description: e.Description, EventTypes: strings.Join(e.EventTypes, ","),
		Secret: e.Secret, PreviousSecret: e.PreviousSecret, PreviousSecretExpiresAt: nullMicros(normTime(e.PreviousSecretExpiresAt)),
		Disabled: disabledInt(e.Disabled), UpdatedAt: now().UnixMicro(), TenantID: e.TenantID, ID: e.ID,
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
	n, err := s.w.DeleteWebhookEndpoint(ctx, db.DeleteWebhookEndpointParams{TenantID: tenantID, ID: id})
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook endpoint: %w", err)
	}
	if n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

// WebhookCursor returns the consumer's place in the outbox.
func (s *Store) WebhookCursor(ctx context.Context, consumer string) (string, error) {
	id, err := s.r.WebhookCursor(ctx, consumer)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: webhook cursor: %w", err)
	}
	return id, nil
}

// FanOutWebhookEvents makes the events' deliveries and moves the cursor
// in one transaction on the writer: one commit for a page of events.
func (s *Store) FanOutWebhookEvents(ctx context.Context, consumer, from, to string, events []evbill.Event, at time.Time) (int, error) {
	if consumer == "" {
		return 0, evbill.Errorf(evbill.EINVALID, "consumer is required")
	}
	at = normalize(at)
	created := 0
	err := s.tx(ctx, func(q *db.Queries) error {
		created = 0
		t := now().UnixMicro()
		if to != from {
			var moved int64
			var err error
			if from == "" {
				moved, err = q.StartWebhookCursor(ctx, db.StartWebhookCursorParams{Consumer: consumer, EventID: to, UpdatedAt: t})
			} else {
				moved, err = q.MoveWebhookCursor(ctx, db.MoveWebhookCursorParams{EventID: to, UpdatedAt: t, Consumer: consumer, FromEventID: from})
			}
			if err != nil {
				return fmt.Errorf("sqlite: move webhook cursor: %w", err)
			}
			if moved == 0 {
				return evbill.Errorf(evbill.ECONFLICT, "the webhook cursor of %q is no longer at %q: another dispatcher moved it", consumer, from)
			}
		}
		// A page of events is mostly a few tenants': their endpoints are
		// read once per page, inside the transaction.
		endpoints := map[string][]db.WebhookEndpoint{}
		for _, ev := range events {
			eps, ok := endpoints[ev.TenantID]
			if !ok {
				var err error
				if eps, err = q.EnabledWebhookEndpoints(ctx, ev.TenantID); err != nil {
					return fmt.Errorf("sqlite: webhook endpoints: %w", err)
				}
				endpoints[ev.TenantID] = eps
			}
			for _, r := range eps {
				if !webhookEndpoint(r).Wants(ev.Type) {
					continue
				}
				payload := string(ev.Payload)
				if payload == "" {
					payload = "null"
				}
				n, err := q.InsertWebhookDelivery(ctx, db.InsertWebhookDeliveryParams{
					TenantID: ev.TenantID, ID: evbill.NewID(evbill.PrefixWebhookDelivery), EndpointID: r.ID, EventID: ev.ID,
					EventType: ev.Type, Payload: payload, EventCreatedAt: normalize(ev.CreatedAt).UnixMicro(),
					NextAttemptAt: at.UnixMicro(), CreatedAt: t, UpdatedAt: t,
				})
				if err != nil {
					return fmt.Errorf("sqlite: insert webhook delivery: %w", err)
				}
				created += int(n)
			}
		}
		return nil
	})
	return created, err
}

// ClaimWebhookDeliveries leases due deliveries in one statement on the
// writer, which is the only claim running at a time.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, at, leaseUntil time.Time, limit int) ([]evbill.WebhookDelivery, error) {
	rows, err := s.w.ClaimWebhookDeliveries(ctx, db.ClaimWebhookDeliveriesParams{
		LeaseUntil: normalize(leaseUntil).UnixMicro(), Now: normalize(at).UnixMicro(), Lim: int64(evbill.Page{Limit: limit}.Size()),
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhook deliveries: %w", err)
	}
	out := make([]evbill.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDelivery(r)
	}
	return out, nil
}

// RecordWebhookAttempts records a round's attempts in one transaction:
// the guarded statement of a result that finds no row cannot fail the
// others, so no savepoints are needed.
func (s *Store) RecordWebhookAttempts(ctx context.Context, results []evbill.WebhookResult) error {
	for i := range results {
		results[i].Err = checkWebhookResult(&results[i])
	}
	stored := make([]*evbill.WebhookDelivery, len(results))
	err := s.tx(ctx, func(q *db.Queries) error {
		t := now().UnixMicro()
		for i := range results {
			res := &results[i]
			if res.Err != nil {
				continue
			}
			d, a := res.Delivery, res.Attempt
			failures := d.Failures
			if res.State != evbill.WebhookSucceeded {
				failures++
			}
			next := normalize(res.NextAttemptAt)
			n, err := q.RecordWebhookAttempt(ctx, db.RecordWebhookAttemptParams{
				State: res.State, Failures: int64(failures), NextAttemptAt: next.UnixMicro(),
				LastStatus: int64(a.StatusCode), LastError: a.Error, UpdatedAt: t,
				TenantID: d.TenantID, ID: d.ID, Attempts: int64(d.Attempts),
			})
			if errors.Is(err, sql.ErrNoRows) {
				res.Err = evbill.Errorf(evbill.ECONFLICT, "webhook delivery %q is no longer pending after %d attempts: it was recorded or replayed meanwhile", d.ID, d.Attempts)
				continue
			}
			if err != nil {
				return fmt.Errorf("sqlite: record webhook attempt: %w", err)
			}
			if err := q.InsertWebhookAttempt(ctx, db.InsertWebhookAttemptParams{
				TenantID: d.TenantID, DeliveryID: d.ID, N: n, AttemptedAt: normalize(a.At).UnixMicro(),
				StatusCode: int64(a.StatusCode), Error: a.Error, DurationUs: a.Duration.Microseconds(), Response: a.Response,
			}); err != nil {
				return fmt.Errorf("sqlite: insert webhook attempt: %w", err)
			}
			// The row as stored, made here rather than read back: only
			// these fields changed, and the payload need not be copied.
			nd := *d
			nd.State, nd.Attempts, nd.Failures, nd.NextAttemptAt = res.State, int(n), failures, next
			nd.LastStatus, nd.LastError, nd.UpdatedAt = a.StatusCode, a.Error, fromMicros(t)
			stored[i] = &nd
		}
		return nil
	})
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
	r, err := s.r.WebhookDelivery(ctx, db.WebhookDeliveryParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.WebhookDelivery{}, readErr(err, "webhook delivery", id)
	}
	return webhookDelivery(r), nil
}

// ListWebhookDeliveries returns a page of an endpoint's deliveries by ID.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID, endpointID, state string, p evbill.Page) ([]evbill.WebhookDelivery, error) {
	rows, err := s.r.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{
		TenantID: tenantID, EndpointID: endpointID, After: p.After, State: state, Lim: limit(p),
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	out := make([]evbill.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDelivery(r)
	}
	return out, nil
}

// WebhookAttempts returns a delivery's attempts, oldest first.
func (s *Store) WebhookAttempts(ctx context.Context, tenantID, deliveryID string) ([]evbill.WebhookAttempt, error) {
	rows, err := s.r.WebhookAttempts(ctx, db.WebhookAttemptsParams{TenantID: tenantID, DeliveryID: deliveryID})
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook attempts: %w", err)
	}
	out := make([]evbill.WebhookAttempt, len(rows))
	for i, r := range rows {
		out[i] = evbill.WebhookAttempt{
			TenantID: r.TenantID, DeliveryID: r.DeliveryID, N: int(r.N), At: fromMicros(r.AttemptedAt),
			StatusCode: int(r.StatusCode), Error: r.Error, Duration: time.Duration(r.DurationUs) * time.Microsecond, Response: r.Response,
		}
	}
	return out, nil
}

// ReplayWebhookDelivery puts a final delivery back to pending.
func (s *Store) ReplayWebhookDelivery(ctx context.Context, tenantID, id string, at time.Time) (evbill.WebhookDelivery, error) {
	r, err := s.w.ReplayWebhookDelivery(ctx, db.ReplayWebhookDeliveryParams{
		Now: normalize(at).UnixMicro(), UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id,
	})
	if errors.Is(err, sql.ErrNoRows) {
		cur, rerr := s.WebhookDelivery(ctx, tenantID, id)
		if rerr != nil {
			return evbill.WebhookDelivery{}, rerr
		}
		return evbill.WebhookDelivery{}, evbill.Errorf(evbill.ECONFLICT, "webhook delivery %q is %s already", id, cur.State)
	}
	if err != nil {
		return evbill.WebhookDelivery{}, fmt.Errorf("sqlite: replay webhook delivery: %w", err)
	}
	return webhookDelivery(r), nil
}
