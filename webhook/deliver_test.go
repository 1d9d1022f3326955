package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/webhook"
)

// engine opens a store on a database of its own; open may be called again
// to reopen the same database, as a restarted process would.
type engine struct {
	name string
	open func(t testing.TB) storetest.WebhookFullStore
}

// sqliteEngine is SQLite in a file of the test's own.
func sqliteEngine(t testing.TB) engine {
	path := filepath.Join(t.TempDir(), "evbill.db")
	return engine{"sqlite", func(t testing.TB) storetest.WebhookFullStore {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}}
}

// postgresEngine is PostgreSQL in a schema of the test's own; the test
// skips without EVBILL_TEST_POSTGRES_URL.
func postgresEngine(t testing.TB) engine {
	dsn, _ := storetest.PostgresSchema(t)
	return engine{"postgres", func(t testing.TB) storetest.WebhookFullStore {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}}
}

// forEngines runs f once per engine, each on a database of its own.
func forEngines(t *testing.T, f func(t *testing.T, e engine)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteEngine(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresEngine(t)) })
}

// clock is the fake clock of worker, dispatcher and receiver.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// request is what the receiver got.
type request struct {
	at   time.Time // on the fake clock
	body string
}

// receiver is a webhook consumer that verifies every request as the
// specification asks (signature under its secrets, timestamp near its
// clock), deduplicates by webhook-id as the specification asks, and
// answers as behave says for the n-th request (from 1) of an ID.
type receiver struct {
	t      testing.TB
	keys   [][]byte
	clock  *clock
	behave func(w http.ResponseWriter, id string, n int, data map[string]any) bool

	mu        sync.Mutex
	got       map[string][]request
	processed map[string]bool // what the receiver acted on, once per ID
	bad       atomic.Int64
}

func newReceiver(t testing.TB, c *clock, secrets []string, behave func(w http.ResponseWriter, id string, n int, data map[string]any) bool) (*receiver, *httptest.Server) {
	r := &receiver{t: t, clock: c, behave: behave, got: map[string][]request{}, processed: map[string]bool{}}
	for _, s := range secrets {
		k, err := webhook.ParseSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		r.keys = append(r.keys, k)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := webhook.Verify(r.keys, req.Header, body, r.clock.Now(), 0); err != nil {
		r.bad.Add(1)
		r.t.Errorf("receiver: Verify = %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var msg struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type == "" || msg.Timestamp.IsZero() {
		r.t.Errorf("receiver: body %s is not a Standard Webhooks payload: %v", body, err)
	}
	id := req.Header.Get(webhook.HeaderID)
	r.mu.Lock()
	prev := r.got[id]
	if len(prev) > 0 && prev[0].body != string(body) {
		r.t.Errorf("receiver: message %s sent again with another body:\n%s\n%s", id, prev[0].body, body)
	}
	r.got[id] = append(prev, request{at: r.clock.Now(), body: string(body)})
	n := len(r.got[id])
	r.mu.Unlock()
	if r.behave(w, id, n, msg.Data) {
		r.mu.Lock()
		r.processed[id] = true // a duplicate is acknowledged, not acted on twice
		r.mu.Unlock()
	}
}

// acted reports whether the receiver acted on the message id.
func (r *receiver) acted(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.processed[id]
}

// ids counts the distinct messages received.
func (r *receiver) ids() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) requests(id string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got[id]...)
}

// drive runs the worker round after round and moves the clock to the next
// due delivery until none is pending, as days pass for a real worker.
func drive(t *testing.T, ctx context.Context, s evbill.WebhookStore, w *webhook.Worker, c *clock, tenantID, endpointID string) {
	t.Helper()
	for range 1000 {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if n == 0 {
				break
			}
		}
		pending, err := s.ListWebhookDeliveries(ctx, tenantID, endpointID, evbill.WebhookPending, evbill.Page{Limit: evbill.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			return
		}
		next := pending[0].NextAttemptAt
		for _, d := range pending {
			if d.NextAttemptAt.Before(next) {
				next = d.NextAttemptAt
			}
		}
		if next.After(c.Now()) {
			c.Set(next)
		}
	}
	t.Fatal("deliveries still pending after 1000 rounds")
}

func noJitter(d time.Duration) time.Duration { return d }

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// TestDeliverEveryEvent sends 25 events to a receiver that fails some
// three times, times out on some (having acted on them), answers some
// slowly and some with 429 and Retry-After: every event arrives, every
// request verifies, the retries come at the documented times, and the
// receiver, deduplicating by webhook-id, acts on each event once.
func TestDeliverEveryEvent(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		s := e.open(t)
		c := &clock{t: t0}
		const timeout = 300 * time.Millisecond
		secret, _ := webhook.NewSecret()
		behave := func(w http.ResponseWriter, id string, n int, data map[string]any) bool {
			switch int(data["n"].(float64)) % 5 {
			case 1: // fails three times
				if n <= 3 {
					http.Error(w, "not now", http.StatusInternalServerError)
					return false
				}
			case 2: // acts, then answers too late the first time
				if n == 1 {
					time.Sleep(3 * timeout)
					return true
				}
			case 3: // slow, but in time
				time.Sleep(timeout / 4)
			case 4: // rate-limited once, for a minute
				if n == 1 {
					w.Header().Set("Retry-After", "60")
					w.WriteHeader(http.StatusTooManyRequests)
					return false
				}
			}
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		rcv, srv := newReceiver(t, c, []string{secret}, behave)
		src := storetest.NewEventSource(t, s)
		ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL + "/hooks", Secret: secret}
		if err := s.CreateWebhookEndpoint(ctx, &ep); err != nil {
			t.Fatal(err)
		}
		events := src.Emit(t, 25, "cdr.created")
		d := &webhook.Dispatcher{Store: s, Now: c.Now}
		// 25 CDR events and the session's start and end, which the
		// endpoint does not want.
		if n, made, err := d.RunOnce(ctx); err != nil || n != 27 || made != 25 {
			t.Fatalf("dispatcher: %d events, %d deliveries, %v", n, made, err)
		}
		w := &webhook.Worker{Store: s, Now: c.Now, Jitter: noJitter, Timeout: timeout, Concurrency: 8, Batch: 10}
		drive(t, ctx, s, w, c, ep.TenantID, ep.ID)

		ds, err := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != len(events) {
			t.Fatalf("%d deliveries for %d events", len(ds), len(events))
		}
		wantAttempts := map[int]int{0: 1, 1: 4, 2: 2, 3: 1, 4: 2}
		for _, dl := range ds {
			var data struct{ N int }
			_ = json.Unmarshal(dl.Payload, &data)
			kind := data.N % 5
			if dl.State != evbill.WebhookSucceeded || dl.Attempts != wantAttempts[kind] {
				t.Errorf("event %d (kind %d): %s after %d attempts, want succeeded after %d", data.N, kind, dl.State, dl.Attempts, wantAttempts[kind])
			}
			if !rcv.acted(dl.EventID) {
				t.Errorf("event %d never reached the receiver", data.N)
			}
			reqs := rcv.requests(dl.EventID)
			atts, err := s.WebhookAttempts(ctx, ep.TenantID, dl.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != dl.Attempts || len(atts) != dl.Attempts {
				t.Errorf("event %d: %d requests, %d attempts logged, delivery says %d", data.N, len(reqs), len(atts), dl.Attempts)
			}
			var want []time.Duration
			switch kind {
			case 1:
				want = []time.Duration{0, 5 * time.Second, 5*time.Second + 5*time.Minute, 5*time.Second + 35*time.Minute}
			case 2:
				want = []time.Duration{0, 5 * time.Second}
			case 4:
				want = []time.Duration{0, time.Minute}
			default:
				want = []time.Duration{0}
			}
			for i, a := range atts {
				if i < len(want) && !a.At.Equal(t0.Add(want[i])) {
					t.Errorf("event %d: attempt %d at +%s, want +%s", data.N, a.N, a.At.Sub(t0), want[i])
				}
			}
			switch kind {
			case 1:
				if atts[0].StatusCode != 500 || atts[0].Error != "status 500" || !strings.HasPrefix(atts[0].Response, "not now") {
					t.Errorf("first attempt of a failing event logged as %+v", atts[0])
				}
			case 2:
				if atts[0].StatusCode != 0 || !strings.Contains(atts[0].Error, "no answer within") {
					t.Errorf("timed-out attempt logged as %+v", atts[0])
				}
			}
		}
		if rcv.bad.Load() != 0 {
			t.Errorf("%d requests failed verification", rcv.bad.Load())
		}
	})
}

// TestDeadAfterSchedule follows a receiver that never answers 2xx through
// the whole schedule, with the real jitter: ten attempts, each wait
// within 10 % of the schedule's, about three days in all, then dead; a
// replay once the receiver is back delivers it.
func TestDeadAfterSchedule(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		s := e.open(t)
		c := &clock{t: t0}
		var up atomic.Bool
		secret, _ := webhook.NewSecret()
		_, srv := newReceiver(t, c, []string{secret}, func(w http.ResponseWriter, _ string, _ int, _ map[string]any) bool {
			if up.Load() {
				return true
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		})
		src := storetest.NewEventSource(t, s)
		ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL, Secret: secret}
		if err := s.CreateWebhookEndpoint(ctx, &ep); err != nil {
			t.Fatal(err)
		}
		src.Emit(t, 1, "cdr.created")
		if _, _, err := (&webhook.Dispatcher{Store: s, Now: c.Now}).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		w := &webhook.Worker{Store: s, Now: c.Now}
		drive(t, ctx, s, w, c, ep.TenantID, ep.ID)
		ds, err := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %v, %v", ds, err)
		}
		dl := ds[0]
		if dl.State != evbill.WebhookDead || dl.Attempts != len(webhook.RetrySchedule)+1 || dl.LastStatus != 503 {
			t.Fatalf("after the schedule: %s, %d attempts, last status %d", dl.State, dl.Attempts, dl.LastStatus)
		}
		atts, err := s.WebhookAttempts(ctx, ep.TenantID, dl.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, wait := range webhook.RetrySchedule {
			gap := atts[i+1].At.Sub(atts[i].At)
			lo, hi := wait-wait/10, wait+wait/10
			if gap < lo || gap > hi {
				t.Errorf("wait before attempt %d: %s, want %s ± 10%%", i+2, gap, wait)
			}
		}
		total := atts[len(atts)-1].At.Sub(atts[0].At)
		if total < 68*time.Hour || total > 84*time.Hour {
			t.Errorf("dead after %s, want about three days", total)
		}
		t.Logf("dead after %d attempts over %s", len(atts), total)

		up.Store(true)
		if _, err := s.ReplayWebhookDelivery(ctx, ep.TenantID, dl.ID, c.Now()); err != nil {
			t.Fatal(err)
		}
		drive(t, ctx, s, w, c, ep.TenantID, ep.ID)
		dl, err = s.WebhookDelivery(ctx, ep.TenantID, dl.ID)
		if err != nil || dl.State != evbill.WebhookSucceeded || dl.Attempts != 11 {
			t.Fatalf("after the replay: %+v, %v", dl, err)
		}
	})
}

// crashingStore records nothing, as a worker that dies after sending and
// before its commit.
type crashingStore struct{ storetest.WebhookFullStore }

func (crashingStore) RecordWebhookAttempts(context.Context, []evbill.WebhookResult) error {
	return fmt.Errorf("the process died")
}

// TestNothingLostAcrossRestart stops the dispatcher half-way through the
// outbox and kills a worker after it sent and before it recorded; a new
// process on the same database fans out the rest, without making any
// delivery twice, and sends again what was not recorded (the receiver
// sees those twice, with one webhook-id).
func TestNothingLostAcrossRestart(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		c := &clock{t: t0}
		secret, _ := webhook.NewSecret()
		rcv, srv := newReceiver(t, c, []string{secret}, func(w http.ResponseWriter, _ string, _ int, _ map[string]any) bool { return true })

		s1 := e.open(t)
		src := storetest.NewEventSource(t, s1)
		ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL, Secret: secret}
		if err := s1.CreateWebhookEndpoint(ctx, &ep); err != nil {
			t.Fatal(err)
		}
		first := src.Emit(t, 30, "cdr.created")
		d1 := &webhook.Dispatcher{Store: s1, Now: c.Now, Batch: 20}
		if n, _, err := d1.RunOnce(ctx); err != nil || n != 20 {
			t.Fatalf("first dispatcher: %d events, %v", n, err)
		}
		w1 := &webhook.Worker{Store: crashingStore{s1}, Now: c.Now, Jitter: noJitter}
		if _, err := w1.RunOnce(ctx); err == nil {
			t.Fatal("the crashing worker recorded its round")
		}
		// The first 20 events: the session's start and end (not wanted),
		// then 18 CDR events.
		if rcv.ids() != 18 {
			t.Fatalf("the first worker sent %d requests, want 18", rcv.ids())
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}

		// The new process: same database, new store, dispatcher, worker.
		s2 := e.open(t)
		second := storetest.NewEventSource(t, s2) // an unrelated tenant writes meanwhile
		second.Emit(t, 3, "cdr.created")
		d2 := &webhook.Dispatcher{Store: s2, Now: c.Now, Batch: 20}
		for {
			n, _, err := d2.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		w2 := &webhook.Worker{Store: s2, Now: c.Now, Jitter: noJitter}
		// The crashed worker's claims are leased: until the lease lapses
		// only the twelve deliveries it never claimed go out.
		if n, err := w2.RunOnce(ctx); err != nil || n != 12 {
			t.Fatalf("second worker before the lease lapsed: %d, %v", n, err)
		}
		c.Set(t0.Add(webhook.DefaultLease))
		drive(t, ctx, s2, w2, c, ep.TenantID, ep.ID)

		ds, err := s2.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != len(first) {
			t.Fatalf("%d deliveries for %d events", len(ds), len(first))
		}
		twice := 0
		for _, dl := range ds {
			if dl.State != evbill.WebhookSucceeded || !rcv.acted(dl.EventID) {
				t.Errorf("delivery of %s: %s", dl.EventID, dl.State)
			}
			if len(rcv.requests(dl.EventID)) == 2 {
				twice++
			}
		}
		if twice != 18 {
			t.Errorf("%d events sent twice, want the 18 the crashed worker sent", twice)
		}
	})
}

// TestRotationAndDisabled signs with both secrets during a rotation (a
// receiver holding either verifies), and a disabled endpoint's pending
// delivery ends dead without a request.
func TestRotationAndDisabled(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		s := e.open(t)
		c := &clock{t: t0}
		oldSecret, _ := webhook.NewSecret()
		newSecret, _ := webhook.NewSecret()
		// The receiver has not switched yet: it holds only the old secret.
		rcv, srv := newReceiver(t, c, []string{oldSecret}, func(w http.ResponseWriter, _ string, _ int, _ map[string]any) bool { return true })
		src := storetest.NewEventSource(t, s)
		exp := t0.Add(24 * time.Hour)
		ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL, Secret: newSecret, PreviousSecret: oldSecret, PreviousSecretExpiresAt: &exp}
		if err := s.CreateWebhookEndpoint(ctx, &ep); err != nil {
			t.Fatal(err)
		}
		src.Emit(t, 2, "cdr.created")
		if _, _, err := (&webhook.Dispatcher{Store: s, Now: c.Now}).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		w := &webhook.Worker{Store: s, Now: c.Now}
		drive(t, ctx, s, w, c, ep.TenantID, ep.ID)
		if rcv.ids() != 2 || rcv.bad.Load() != 0 {
			t.Fatalf("during the rotation the old secret's holder got %d messages, %d unverified", rcv.ids(), rcv.bad.Load())
		}

		ep.Disabled = true
		if err := s.UpdateWebhookEndpoint(ctx, &ep); err != nil {
			t.Fatal(err)
		}
		ds, _ := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{})
		if _, err := s.ReplayWebhookDelivery(ctx, ep.TenantID, ds[0].ID, c.Now()); err != nil {
			t.Fatal(err)
		}
		drive(t, ctx, s, w, c, ep.TenantID, ep.ID)
		dl, err := s.WebhookDelivery(ctx, ep.TenantID, ds[0].ID)
		if err != nil || dl.State != evbill.WebhookDead || dl.LastError != "endpoint disabled: not sent" {
			t.Fatalf("delivery of a disabled endpoint: %+v, %v", dl, err)
		}
		if n := len(rcv.requests(dl.EventID)); n != 1 {
			t.Errorf("a disabled endpoint got a request: %d in all", n)
		}
		// New events are not fanned out to it.
		src.Emit(t, 1, "cdr.created")
		if _, made, err := (&webhook.Dispatcher{Store: s, Now: c.Now}).RunOnce(ctx); err != nil || made != 0 {
			t.Fatalf("fan-out to a disabled endpoint: %d, %v", made, err)
		}
	})
}

// TestNoRedirectsBoundedRead: a 3xx is a failed attempt and its target
// never gets a request; a receiver answering megabytes costs a bounded
// read and leaves a short excerpt in the log.
func TestNoRedirectsBoundedRead(t *testing.T) {
	ctx := t.Context()
	s := sqliteEngine(t).open(t)
	c := &clock{t: t0}
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	secret, _ := webhook.NewSecret()
	_, srv := newReceiver(t, c, []string{secret}, func(w http.ResponseWriter, _ string, n int, data map[string]any) bool {
		if data["n"].(float64) == 0 {
			w.Header().Set("Location", other.URL)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return false
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(strings.Repeat("x", 4<<20)))
		return true
	})
	src := storetest.NewEventSource(t, s)
	ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL, Secret: secret}
	if err := s.CreateWebhookEndpoint(ctx, &ep); err != nil {
		t.Fatal(err)
	}
	src.Emit(t, 2, "cdr.created")
	if _, _, err := (&webhook.Dispatcher{Store: s, Now: c.Now}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w := &webhook.Worker{Store: s, Now: c.Now}
	if n, err := w.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	ds, _ := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{})
	for _, dl := range ds {
		atts, _ := s.WebhookAttempts(ctx, ep.TenantID, dl.ID)
		switch {
		case strings.Contains(string(dl.Payload), `"n":0`):
			if dl.State != evbill.WebhookPending || atts[0].StatusCode != http.StatusTemporaryRedirect {
				t.Errorf("redirect: %s, %+v", dl.State, atts[0])
			}
		default:
			if dl.State != evbill.WebhookSucceeded || len(atts[0].Response) != 256 {
				t.Errorf("large answer: %s, excerpt of %d bytes", dl.State, len(atts[0].Response))
			}
		}
	}
	if elsewhere.Load() != 0 {
		t.Errorf("the redirect's target got %d requests", elsewhere.Load())
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{5 * time.Second, 24 * time.Hour, 1} {
		seen := map[bool]bool{}
		for range 1000 {
			j := webhook.Jitter(d)
			if j < d-d/10 || j > d+d/10 {
				t.Fatalf("Jitter(%s) = %s", d, j)
			}
			seen[j < d] = true
		}
		if d > 10 && len(seen) != 2 {
			t.Errorf("Jitter(%s) moves only one way", d)
		}
	}
	var total time.Duration
	for _, d := range webhook.RetrySchedule {
		total += d
	}
	if total != 75*time.Hour+35*time.Minute+5*time.Second {
		t.Errorf("the schedule spans %s, not the specification's 75:35:05", total)
	}
}

func TestBody(t *testing.T) {
	at := time.Date(2026, 6, 1, 10, 0, 0, 123456000, time.FixedZone("CEST", 7200))
	got := string(webhook.Body("cdr.created", at, json.RawMessage(`{"id":"cdr_1"}`)))
	want := `{"type":"cdr.created","timestamp":"2026-06-01T08:00:00.123456Z","data":{"id":"cdr_1"}}`
	if got != want {
		t.Errorf("Body = %s, want %s", got, want)
	}
	if got := string(webhook.Body("x", at, nil)); !strings.HasSuffix(got, `"data":null}`) {
		t.Errorf("Body without payload = %s", got)
	}
}

// cdrEvents is the filter of the tests' endpoints: the events they
// count are the CDR events their sources emit, not the session.started
// and session.ended the store adds for each source session.
var cdrEvents = []string{"cdr.created"}
