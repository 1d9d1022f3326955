package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
)

// WebhookFullStore is a store with sessions (whose outbox feeds the
// webhooks) and webhooks.
type WebhookFullStore interface {
	FullStore
	evbill.WebhookStore
}

// RunWebhooks runs the conformance suite of evbill.WebhookStore as
// parallel subtests. Claims take due deliveries of every tenant and the
// fan-out reads the whole outbox, so open must give each subtest a store
// of its own (a fresh SQLite file, a fresh PostgreSQL schema: see
// OpenPostgresSchema), unlike the other suites.
func RunWebhooks(t *testing.T, open func(t *testing.T) WebhookFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s WebhookFullStore)
	}{
		{"Endpoints", testWebhookEndpoints},
		{"EndpointRefusals", testWebhookEndpointRefusals},
		{"FanOut", testWebhookFanOut},
		{"CursorGuard", testWebhookCursorGuard},
		{"ClaimAndRecord", testWebhookClaimAndRecord},
		{"ConcurrentClaims", testWebhookConcurrentClaims},
		{"Replay", testWebhookReplay},
		{"ListDeliveries", testWebhookListDeliveries},
		{"DeleteCascades", testWebhookDeleteCascades},
		{"TenantIsolation", testWebhookTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// EventSource writes outbox events of one tenant the way the OCPP path
// does, in a session's end: for tests of what consumes the outbox.
type EventSource struct {
	s FullStore
	w sessionWorld
	n int
}

// NewEventSource makes a tenant with what a session needs.
func NewEventSource(t testing.TB, s FullStore) *EventSource {
	t.Helper()
	return &EventSource{s: s, w: newSessionWorld(t, s)}
}

// TenantID is the tenant whose events Emit writes.
func (e *EventSource) TenantID() string { return e.w.tenant.ID }

// Emit starts a session and ends it with n events of the type, payloads
// {"n":…}, and returns them as stored (IDs and times filled in).
func (e *EventSource) Emit(t testing.TB, n int, eventType string) []evbill.Event {
	t.Helper()
	e.n++
	ss := startNew(t, e.s, e.w.session(1+e.n%2, e.n))
	stop := t0.Add(time.Duration(e.n)*time.Minute + time.Hour)
	ss.MeterStopWh, ss.StoppedAt, ss.StopReason = "25000.75", &stop, "Local"
	evs := make([]evbill.Event, n)
	for i := range evs {
		evs[i] = evbill.Event{Type: eventType, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
	}
	noErr(t, "EndSession", e.s.EndSession(context.Background(), &ss, nil, evs))
	return evs
}

// NewWebhookEndpoint stores an endpoint of the tenant with a fresh
// secret-shaped value, receiving every type unless types are given.
func NewWebhookEndpoint(t testing.TB, s evbill.WebhookStore, tenantID, url string, types ...string) evbill.WebhookEndpoint {
	t.Helper()
	e := evbill.WebhookEndpoint{TenantID: tenantID, URL: url, EventTypes: types,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(context.Background(), &e))
	return e
}

// fanOutAll fans out every event of the outbox for the consumer, page by
// page from its cursor, at now, and returns the deliveries made.
func fanOutAll(t testing.TB, s WebhookFullStore, consumer string, now time.Time) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for {
		from, err := s.WebhookCursor(ctx, consumer)
		noErr(t, "WebhookCursor", err)
		evs, err := s.PendingEvents(ctx, from, 100)
		noErr(t, "PendingEvents", err)
		if len(evs) == 0 {
			return total
		}
		n, err := s.FanOutWebhookEvents(ctx, consumer, from, evs[len(evs)-1].ID, evs, now)
		noErr(t, "FanOutWebhookEvents", err)
		total += n
	}
}

func testWebhookEndpoints(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	exp := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	e := evbill.WebhookEndpoint{TenantID: tn.ID, URL: "https://example.com/hooks?x=1", Description: "billing",
		EventTypes: []string{"cdr.created", "session.started"}, Secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		PreviousSecret: "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", PreviousSecretExpiresAt: &exp}
	noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, &e))
	hasPrefix(t, "ID", e.ID, evbill.PrefixWebhookEndpoint)
	storeTime(t, "CreatedAt", e.CreatedAt)
	equal(t, "UpdatedAt", e.UpdatedAt, e.CreatedAt)
	equal(t, "PreviousSecretExpiresAt", *e.PreviousSecretExpiresAt, norm(exp))
	got, err := s.WebhookEndpoint(ctx, tn.ID, e.ID)
	noErr(t, "WebhookEndpoint", err)
	equal(t, "read back", got, e)

	all := NewWebhookEndpoint(t, s, tn.ID, "http://127.0.0.1:9/all")
	equal(t, "no filter", all.EventTypes, []string(nil))
	if !all.Wants("anything.at_all") || e.Wants("other.type") || !e.Wants("cdr.created") {
		t.Errorf("Wants does not follow the filter")
	}

	e.URL, e.Description, e.EventTypes, e.Disabled = "http://example.org/x", "", nil, true
	e.PreviousSecret, e.PreviousSecretExpiresAt = "", nil
	before := e.UpdatedAt
	noErr(t, "UpdateWebhookEndpoint", s.UpdateWebhookEndpoint(ctx, &e))
	if e.UpdatedAt.Before(before) {
		t.Errorf("UpdatedAt went back")
	}
	got, err = s.WebhookEndpoint(ctx, tn.ID, e.ID)
	noErr(t, "WebhookEndpoint", err)
	equal(t, "updated", got, e)
	if got.Wants("cdr.created") {
		t.Errorf("a disabled endpoint wants events")
	}

	var ids []string
	for range 3 {
		ids = append(ids, NewWebhookEndpoint(t, s, tn.ID, "https://example.com/p").ID)
	}
	ids = append(ids, e.ID, all.ID)
	slices.Sort(ids)
	var listed []string
	after := ""
	for {
		page, err := s.ListWebhookEndpoints(ctx, tn.ID, evbill.Page{After: after, Limit: 2})
		noErr(t, "ListWebhookEndpoints", err)
		if len(page) == 0 {
			break
		}
		for _, p := range page {
			listed = append(listed, p.ID)
		}
		after = page[len(page)-1].ID
	}
	equal(t, "listed", listed, ids)

	noErr(t, "DeleteWebhookEndpoint", s.DeleteWebhookEndpoint(ctx, tn.ID, e.ID))
	_, err = s.WebhookEndpoint(ctx, tn.ID, e.ID)
	wantCode(t, "read deleted", err, evbill.ENOTFOUND, "")
	wantCode(t, "delete twice", s.DeleteWebhookEndpoint(ctx, tn.ID, e.ID), evbill.ENOTFOUND, "")
	wantCode(t, "update deleted", s.UpdateWebhookEndpoint(ctx, &e), evbill.ENOTFOUND, "")
}

func testWebhookEndpointRefusals(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	ok := evbill.WebhookEndpoint{TenantID: tn.ID, URL: "https://example.com/", Secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	for _, tc := range []struct {
		name   string
		change func(e *evbill.WebhookEndpoint)
		want   string
	}{
		{"ftp", func(e *evbill.WebhookEndpoint) { e.URL = "ftp://example.com/" }, "scheme"},
		{"relative", func(e *evbill.WebhookEndpoint) { e.URL = "/hooks" }, "scheme"},
		{"no host", func(e *evbill.WebhookEndpoint) { e.URL = "https:///x" }, "host"},
		{"credentials", func(e *evbill.WebhookEndpoint) { e.URL = "https://u:p@example.com/" }, "credentials"},
		{"fragment", func(e *evbill.WebhookEndpoint) { e.URL = "https://example.com/#x" }, "fragment"},
		{"empty url", func(e *evbill.WebhookEndpoint) { e.URL = "" }, "url"},
		{"bad type", func(e *evbill.WebhookEndpoint) { e.EventTypes = []string{"cdr,created"} }, "event_types"},
		{"empty part", func(e *evbill.WebhookEndpoint) { e.EventTypes = []string{"cdr..created"} }, "event_types"},
		{"twice", func(e *evbill.WebhookEndpoint) { e.EventTypes = []string{"a", "a"} }, "twice"},
		{"no secret", func(e *evbill.WebhookEndpoint) { e.Secret = "" }, "secret"},
		{"not a secret", func(e *evbill.WebhookEndpoint) { e.Secret = "hunter2" }, "secret"},
		{"previous without expiry", func(e *evbill.WebhookEndpoint) { e.PreviousSecret = e.Secret }, "previous_secret"},
		{"unknown tenant", func(e *evbill.WebhookEndpoint) { e.TenantID = "ten_nobody" }, "tenant_id"},
	} {
		e := ok
		tc.change(&e)
		wantCode(t, tc.name, s.CreateWebhookEndpoint(ctx, &e), evbill.EINVALID, tc.want)
	}
	e := ok
	noErr(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, &e))
	bad := e
	bad.URL = "mailto:x@example.com"
	wantCode(t, "update to a bad URL", s.UpdateWebhookEndpoint(ctx, &bad), evbill.EINVALID, "url")
}

func testWebhookFanOut(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	src := NewEventSource(t, s)
	ten := src.TenantID()
	all := NewWebhookEndpoint(t, s, ten, "https://example.com/all")
	cdrs := NewWebhookEndpoint(t, s, ten, "https://example.com/cdrs", "cdr.created")
	other := NewWebhookEndpoint(t, s, ten, "https://example.com/other", "session.started")
	off := NewWebhookEndpoint(t, s, ten, "https://example.com/off")
	off.Disabled = true
	noErr(t, "UpdateWebhookEndpoint", s.UpdateWebhookEndpoint(ctx, &off))
	// Another tenant's events reach only its own endpoints.
	src2 := NewEventSource(t, s)
	NewWebhookEndpoint(t, s, src2.TenantID(), "https://example.com/theirs")

	created := src.Emit(t, 3, "cdr.created")
	misc := src.Emit(t, 2, "test.misc")
	src2.Emit(t, 4, "cdr.created")
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	n := fanOutAll(t, s, "test", at)
	// Each Emit is a session: the store adds its session.started and
	// session.ended, which the unfiltered endpoints and the one that
	// wants session.started receive too.
	equal(t, "deliveries made", n, (3+2+4)+3+2+(4+2))
	equal(t, "again", fanOutAll(t, s, "test", at), 0)

	count := func(ep evbill.WebhookEndpoint) []evbill.WebhookDelivery {
		ds, err := s.ListWebhookDeliveries(ctx, ten, ep.ID, "", evbill.Page{Limit: 100})
		noErr(t, "ListWebhookDeliveries", err)
		return ds
	}
	var ds []evbill.WebhookDelivery
	for _, d := range count(all) {
		if d.EventType != evbill.EventSessionStarted && d.EventType != evbill.EventSessionEnded {
			ds = append(ds, d)
		}
	}
	equal(t, "to the unfiltered endpoint", len(count(all)), 5+4)
	equal(t, "to the cdr endpoint", len(count(cdrs)), 3)
	equal(t, "to the session endpoint", len(count(other)), 2)
	equal(t, "to the disabled endpoint", len(count(off)), 0)
	var events []string
	for _, d := range ds {
		hasPrefix(t, "delivery ID", d.ID, evbill.PrefixWebhookDelivery)
		events = append(events, d.EventID)
		equal(t, "state", d.State, evbill.WebhookPending)
		equal(t, "due", d.NextAttemptAt, at)
		equal(t, "attempts", d.Attempts, 0)
		storeTime(t, "CreatedAt", d.CreatedAt)
	}
	var want []string
	for _, e := range append(created, misc...) {
		want = append(want, e.ID)
	}
	slices.Sort(events)
	slices.Sort(want)
	equal(t, "events delivered", events, want)
	d := ds[0]
	var ev evbill.Event
	for _, e := range append(created, misc...) {
		if e.ID == d.EventID {
			ev = e
		}
	}
	equal(t, "type", d.EventType, ev.Type)
	equal(t, "payload", string(d.Payload), string(ev.Payload))
	equal(t, "event time", d.EventCreatedAt, ev.CreatedAt)

	// The fan-out is idempotent even past the cursor: the same events
	// given again make nothing.
	cur, err := s.WebhookCursor(ctx, "test")
	noErr(t, "WebhookCursor", err)
	n, err = s.FanOutWebhookEvents(ctx, "test", cur, cur, append(created, misc...), at)
	noErr(t, "FanOutWebhookEvents again", err)
	equal(t, "made again", n, 0)
	// Another consumer has a cursor of its own.
	c2, err := s.WebhookCursor(ctx, "other-consumer")
	noErr(t, "WebhookCursor", err)
	equal(t, "a new consumer's cursor", c2, "")
}

func testWebhookCursorGuard(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	src := NewEventSource(t, s)
	NewWebhookEndpoint(t, s, src.TenantID(), "https://example.com/")
	evs := src.Emit(t, 4, "cdr.created")
	at := time.Now()
	n, err := s.FanOutWebhookEvents(ctx, "c", "", evs[1].ID, evs[:2], at)
	noErr(t, "first page", err)
	equal(t, "made", n, 2)
	// A dispatcher that read the cursor before that move is refused, and
	// stores nothing.
	_, err = s.FanOutWebhookEvents(ctx, "c", "", evs[3].ID, evs, at)
	wantCode(t, "stale start", err, evbill.ECONFLICT, "another dispatcher")
	_, err = s.FanOutWebhookEvents(ctx, "c", evs[0].ID, evs[3].ID, evs[2:], at)
	wantCode(t, "stale cursor", err, evbill.ECONFLICT, "")
	cur, err := s.WebhookCursor(ctx, "c")
	noErr(t, "WebhookCursor", err)
	equal(t, "cursor", cur, evs[1].ID)
	got, err := s.PendingEvents(ctx, cur, 10)
	noErr(t, "PendingEvents", err)
	equal(t, "resumes after the cursor", len(got), 2)
	n, err = s.FanOutWebhookEvents(ctx, "c", cur, evs[3].ID, got, at)
	noErr(t, "second page", err)
	equal(t, "made", n, 2)
	_, err = s.FanOutWebhookEvents(ctx, "", "", "x", nil, at)
	wantCode(t, "no consumer", err, evbill.EINVALID, "")
}

// claimAll claims what is due at now, with a lease of a minute.
func claimAll(t testing.TB, s evbill.WebhookStore, now time.Time) []evbill.WebhookDelivery {
	t.Helper()
	ds, err := s.ClaimWebhookDeliveries(context.Background(), now, now.Add(time.Minute), evbill.MaxPageLimit)
	noErr(t, "ClaimWebhookDeliveries", err)
	return ds
}

// webhookSetup makes n pending deliveries of one endpoint, due at at.
func webhookSetup(t testing.TB, s WebhookFullStore, n int, at time.Time) (evbill.WebhookEndpoint, []evbill.WebhookDelivery) {
	t.Helper()
	src := NewEventSource(t, s)
	// Only the CDR events: Emit's session adds its own two.
	ep := NewWebhookEndpoint(t, s, src.TenantID(), "https://example.com/", "cdr.created")
	src.Emit(t, n, "cdr.created")
	fanOutAll(t, s, "setup", at)
	ds, err := s.ListWebhookDeliveries(context.Background(), src.TenantID(), ep.ID, "", evbill.Page{Limit: evbill.MaxPageLimit})
	noErr(t, "ListWebhookDeliveries", err)
	return ep, ds
}

func testWebhookClaimAndRecord(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	ep, _ := webhookSetup(t, s, 3, at)
	if got := claimAll(t, s, at.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(got))
	}
	ds := claimAll(t, s, at)
	equal(t, "claimed", len(ds), 3)
	for _, d := range ds {
		equal(t, "leased until", d.NextAttemptAt, at.Add(time.Minute))
	}
	if again := claimAll(t, s, at.Add(time.Second)); len(again) != 0 {
		t.Fatalf("claimed %d leased deliveries", len(again))
	}
	// A lapsed lease makes them due again: a worker that died.
	lapsed := claimAll(t, s, at.Add(time.Minute))
	equal(t, "claimed after the lease", len(lapsed), 3)

	t1 := at.Add(time.Minute + 100*time.Millisecond)
	results := []evbill.WebhookResult{
		{Delivery: &lapsed[0], State: evbill.WebhookSucceeded, NextAttemptAt: t1,
			Attempt: evbill.WebhookAttempt{At: t1, StatusCode: 204, Duration: 1500 * time.Microsecond, Response: "ok"}},
		{Delivery: &lapsed[1], State: evbill.WebhookPending, NextAttemptAt: t1.Add(5 * time.Second),
			Attempt: evbill.WebhookAttempt{At: t1, StatusCode: 500, Error: "status 500", Response: "boom"}},
		{Delivery: &lapsed[2], State: evbill.WebhookDead, NextAttemptAt: t1,
			Attempt: evbill.WebhookAttempt{At: t1, Error: "no answer within 10s"}},
		{Delivery: &evbill.WebhookDelivery{ID: "x"}, State: evbill.WebhookPending},
		{Delivery: &lapsed[0], State: "lost"},
	}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, results))
	for i := range 3 {
		noErr(t, fmt.Sprintf("result %d", i), results[i].Err)
	}
	wantCode(t, "result without tenant", results[3].Err, evbill.EINVALID, "")
	wantCode(t, "unknown state", results[4].Err, evbill.EINVALID, "")

	ok, retry, dead := results[0].Delivery, results[1].Delivery, results[2].Delivery
	equal(t, "succeeded", ok.State, evbill.WebhookSucceeded)
	equal(t, "attempts", ok.Attempts, 1)
	equal(t, "failures", ok.Failures, 0)
	equal(t, "last status", ok.LastStatus, 204)
	equal(t, "retry", retry.State, evbill.WebhookPending)
	equal(t, "retry failures", retry.Failures, 1)
	equal(t, "retry due", retry.NextAttemptAt, t1.Add(5*time.Second))
	equal(t, "retry error", retry.LastError, "status 500")
	equal(t, "dead", dead.State, evbill.WebhookDead)
	equal(t, "dead status", dead.LastStatus, 0)
	read, err := s.WebhookDelivery(ctx, ep.TenantID, retry.ID)
	noErr(t, "WebhookDelivery", err)
	equal(t, "read back", read, *retry)

	atts, err := s.WebhookAttempts(ctx, ep.TenantID, ok.ID)
	noErr(t, "WebhookAttempts", err)
	equal(t, "attempt log", atts, []evbill.WebhookAttempt{{TenantID: ep.TenantID, DeliveryID: ok.ID, N: 1, At: t1,
		StatusCode: 204, Duration: 1500 * time.Microsecond, Response: "ok"}})

	// The first worker, whose lease lapsed, answers late: refused.
	stale := ds[0]
	late := []evbill.WebhookResult{{Delivery: &stale, State: evbill.WebhookSucceeded, NextAttemptAt: t1,
		Attempt: evbill.WebhookAttempt{At: t1, StatusCode: 200}}}
	noErr(t, "RecordWebhookAttempts (late)", s.RecordWebhookAttempts(ctx, late))
	wantCode(t, "late result", late[0].Err, evbill.ECONFLICT, "")
	atts, err = s.WebhookAttempts(ctx, ep.TenantID, ok.ID)
	noErr(t, "WebhookAttempts", err)
	equal(t, "attempts after a late result", len(atts), 1)

	// Only the retry comes due again, at its time.
	if got := claimAll(t, s, t1.Add(4*time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d before the retry was due", len(got))
	}
	got := claimAll(t, s, t1.Add(5*time.Second))
	if len(got) != 1 || got[0].ID != retry.ID {
		t.Fatalf("claimed %v, want only the retry", got)
	}
	t2 := t1.Add(6 * time.Second)
	res := []evbill.WebhookResult{{Delivery: &got[0], State: evbill.WebhookSucceeded, NextAttemptAt: t2,
		Attempt: evbill.WebhookAttempt{At: t2, StatusCode: 200}}}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, res))
	noErr(t, "retry result", res[0].Err)
	equal(t, "attempts", got[0].Attempts, 2)
	atts, err = s.WebhookAttempts(ctx, ep.TenantID, retry.ID)
	noErr(t, "WebhookAttempts", err)
	if len(atts) != 2 || atts[0].N != 1 || atts[1].N != 2 || atts[0].StatusCode != 500 || atts[0].Response != "boom" {
		t.Errorf("attempt log %+v", atts)
	}
	noErr(t, "RecordWebhookAttempts of nothing", s.RecordWebhookAttempts(ctx, nil))
}

func testWebhookConcurrentClaims(t *testing.T, s WebhookFullStore) {
	at := time.Now()
	webhookSetup(t, s, 200, at)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				ds, err := s.ClaimWebhookDeliveries(context.Background(), at, at.Add(time.Hour), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "claimed", len(seen), 200)
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}

func testWebhookReplay(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	ep, _ := webhookSetup(t, s, 2, at)
	ds := claimAll(t, s, at)
	res := []evbill.WebhookResult{
		{Delivery: &ds[0], State: evbill.WebhookDead, NextAttemptAt: at, Attempt: evbill.WebhookAttempt{At: at, Error: "x"}},
		{Delivery: &ds[1], State: evbill.WebhookSucceeded, NextAttemptAt: at, Attempt: evbill.WebhookAttempt{At: at, StatusCode: 200}},
	}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, res))
	later := at.Add(72 * time.Hour)
	for _, r := range res {
		d, err := s.ReplayWebhookDelivery(ctx, ep.TenantID, r.Delivery.ID, later)
		noErr(t, "ReplayWebhookDelivery", err)
		equal(t, "state", d.State, evbill.WebhookPending)
		equal(t, "failures", d.Failures, 0)
		equal(t, "attempts kept", d.Attempts, 1)
		equal(t, "due", d.NextAttemptAt, later)
	}
	_, err := s.ReplayWebhookDelivery(ctx, ep.TenantID, ds[0].ID, later)
	wantCode(t, "replay of a pending delivery", err, evbill.ECONFLICT, "pending")
	_, err = s.ReplayWebhookDelivery(ctx, ep.TenantID, "whd_nope", later)
	wantCode(t, "replay of nothing", err, evbill.ENOTFOUND, "")
	got := claimAll(t, s, later)
	equal(t, "due after the replay", len(got), 2)
	// The attempt after a replay is numbered on.
	r := []evbill.WebhookResult{{Delivery: &got[0], State: evbill.WebhookSucceeded, NextAttemptAt: later,
		Attempt: evbill.WebhookAttempt{At: later, StatusCode: 200}}}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, r))
	noErr(t, "result", r[0].Err)
	atts, err := s.WebhookAttempts(ctx, ep.TenantID, got[0].ID)
	noErr(t, "WebhookAttempts", err)
	if len(atts) != 2 || atts[1].N != 2 {
		t.Errorf("attempts after a replay: %+v", atts)
	}
}

func testWebhookListDeliveries(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	ep, all := webhookSetup(t, s, 7, at)
	ds := claimAll(t, s, at)
	var res []evbill.WebhookResult
	for i := range ds[:3] {
		res = append(res, evbill.WebhookResult{Delivery: &ds[i], State: evbill.WebhookDead, NextAttemptAt: at,
			Attempt: evbill.WebhookAttempt{At: at, Error: "x"}})
	}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, res))
	var ids []string
	after := ""
	for {
		page, err := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, "", evbill.Page{After: after, Limit: 3})
		noErr(t, "ListWebhookDeliveries", err)
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		after = page[len(page)-1].ID
	}
	want := make([]string, len(all))
	for i, d := range all {
		want[i] = d.ID
	}
	equal(t, "listed", ids, want)
	if !slices.IsSorted(ids) {
		t.Errorf("not ordered by ID")
	}
	dead, err := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, evbill.WebhookDead, evbill.Page{})
	noErr(t, "ListWebhookDeliveries dead", err)
	equal(t, "dead", len(dead), 3)
	pending, err := s.ListWebhookDeliveries(ctx, ep.TenantID, ep.ID, evbill.WebhookPending, evbill.Page{})
	noErr(t, "ListWebhookDeliveries pending", err)
	equal(t, "pending", len(pending), 4)
}

func testWebhookDeleteCascades(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	at := time.Now()
	ep, _ := webhookSetup(t, s, 2, at)
	ds := claimAll(t, s, at)
	res := []evbill.WebhookResult{{Delivery: &ds[0], State: evbill.WebhookSucceeded, NextAttemptAt: at,
		Attempt: evbill.WebhookAttempt{At: at, StatusCode: 200}}}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, res))
	noErr(t, "DeleteWebhookEndpoint", s.DeleteWebhookEndpoint(ctx, ep.TenantID, ep.ID))
	for _, d := range ds {
		_, err := s.WebhookDelivery(ctx, ep.TenantID, d.ID)
		wantCode(t, "delivery of a deleted endpoint", err, evbill.ENOTFOUND, "")
	}
	atts, err := s.WebhookAttempts(ctx, ep.TenantID, ds[0].ID)
	noErr(t, "WebhookAttempts", err)
	equal(t, "attempts left", len(atts), 0)
	// A worker that claimed them before the delete records nothing.
	late := []evbill.WebhookResult{{Delivery: &ds[1], State: evbill.WebhookSucceeded, NextAttemptAt: at,
		Attempt: evbill.WebhookAttempt{At: at, StatusCode: 200}}}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, late))
	wantCode(t, "late result", late[0].Err, evbill.ECONFLICT, "")
}

func testWebhookTenantIsolation(t *testing.T, s WebhookFullStore) {
	ctx := t.Context()
	at := time.Now()
	ep, ds := webhookSetup(t, s, 1, at)
	other := newTenant(t, s)
	_, err := s.WebhookEndpoint(ctx, other.ID, ep.ID)
	wantCode(t, "another tenant's endpoint", err, evbill.ENOTFOUND, "")
	mine := ep
	mine.TenantID = other.ID
	wantCode(t, "update another tenant's endpoint", s.UpdateWebhookEndpoint(ctx, &mine), evbill.ENOTFOUND, "")
	wantCode(t, "delete another tenant's endpoint", s.DeleteWebhookEndpoint(ctx, other.ID, ep.ID), evbill.ENOTFOUND, "")
	list, err := s.ListWebhookEndpoints(ctx, other.ID, evbill.Page{})
	noErr(t, "ListWebhookEndpoints", err)
	equal(t, "other tenant's endpoints", len(list), 0)
	_, err = s.WebhookDelivery(ctx, other.ID, ds[0].ID)
	wantCode(t, "another tenant's delivery", err, evbill.ENOTFOUND, "")
	_, err = s.ReplayWebhookDelivery(ctx, other.ID, ds[0].ID, at)
	wantCode(t, "replay another tenant's delivery", err, evbill.ENOTFOUND, "")
	dl, err := s.ListWebhookDeliveries(ctx, other.ID, ep.ID, "", evbill.Page{})
	noErr(t, "ListWebhookDeliveries", err)
	equal(t, "other tenant's deliveries", len(dl), 0)
	// A result naming the delivery under another tenant records nothing.
	d := ds[0]
	d.TenantID = other.ID
	res := []evbill.WebhookResult{{Delivery: &d, State: evbill.WebhookSucceeded, NextAttemptAt: at, Attempt: evbill.WebhookAttempt{At: at}}}
	noErr(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, res))
	wantCode(t, "result under another tenant", res[0].Err, evbill.ECONFLICT, "")
}

// OpenPostgresSchema opens a migrated PostgreSQL store in a schema of its
// own (PostgresSchema), closed when the test ends: a store no other test
// claims deliveries from. The test skips when PostgresEnv is unset.
func OpenPostgresSchema(t testing.TB) WebhookFullStore {
	t.Helper()
	dsn, _ := PostgresSchema(t)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
