package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// FullStore is a store of both the records and the OCPP path, which is
// what an engine offers and what RunSessions tests.
type FullStore interface {
	evbill.Store
	evbill.SessionStore
}

// RunSessions runs the conformance suite of evbill.SessionStore as
// subtests of t, in parallel, as Run does for evbill.Store. Like Run, it
// makes its own tenants and never truncates, so it can share a database
// with other runs; PendingEvents, which is not scoped by tenant, is
// checked only for the suite's own tenants.
func RunSessions(t *testing.T, open func(t *testing.T) FullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FullStore)
	}{
		{"Start", testSessionStart},
		{"StartReferences", testSessionStartReferences},
		{"ConcurrentStarts", testConcurrentStarts},
		{"Samples", testSessionSamples},
		{"Update", testSessionUpdate},
		{"End", testSessionEnd},
		{"EndAtomic", testSessionEndAtomic},
		{"Batch", testSessionBatch},
		{"LargeBatch", testSessionLargeBatch},
		{"TransactionFailure", testSessionTransactionFailure},
		{"OpenSessions", testOpenSessions},
		{"StaleOpenSessions", testStaleOpenSessions},
		{"Pagination", testSessionPagination},
		{"PendingEvents", testPendingEvents},
		{"LifecycleEvents", testLifecycleEvents},
		{"OutboxFollowedLive", testOutboxFollowedLive},
		{"TenantIsolation", testSessionTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Helpers.

// t0 is a start time with nanoseconds and a zone: the store keeps it in
// UTC, to the microsecond.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))

// norm is how the store keeps a time.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// sessionWorld is a tenant with the records a session refers to.
type sessionWorld struct {
	tenant   evbill.Tenant
	site     evbill.Site
	station  evbill.Station
	station2 evbill.Station
	group    evbill.DriverGroup
	driver   evbill.Driver
	token    evbill.Token
	tariff   evbill.TariffVersion
}

func newSessionWorld(t testing.TB, s evbill.Store) sessionWorld {
	t.Helper()
	var w sessionWorld
	w.tenant = newTenant(t, s)
	w.site = newSite(t, s, w.tenant.ID)
	w.station = newStation(t, s, w.tenant.ID, w.site.ID)
	w.station2 = newStation(t, s, w.tenant.ID, w.site.ID)
	w.group = newGroup(t, s, w.tenant.ID)
	w.driver = newDriver(t, s, w.tenant.ID, w.group.ID)
	w.token = newToken(t, s, w.tenant.ID, w.driver.ID, w.group.ID)
	w.tariff = newTariff(t, s, w.tenant.ID)
	return w
}

// session returns a new session of the world's station, not yet stored,
// started at t0 plus n minutes on the connector.
func (w sessionWorld) session(connector, n int) evbill.Session {
	return evbill.Session{
		TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: connector,
		IDTag: w.token.UID, TokenID: w.token.ID, DriverID: w.driver.ID, GroupID: w.group.ID,
		TariffID: w.tariff.TariffID, TariffVersion: w.tariff.Version,
		MeterStartWh: fmt.Sprintf("%d.5", 1000+n), StartedAt: t0.Add(time.Duration(n) * time.Minute),
	}
}

func startNew(t testing.TB, s evbill.SessionStore, ss evbill.Session) evbill.Session {
	t.Helper()
	created, err := s.StartSession(context.Background(), &ss)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if !created {
		t.Fatalf("StartSession of a new session: created = false")
	}
	return ss
}

// endWith returns an end of the session at stop, with a small CDR and one
// event of the given type.
func endWith(ss evbill.Session, stop time.Time, eventType string) *evbill.EndWrite {
	ss.MeterStopWh = "25000.75"
	ss.StoppedAt = &stop
	ss.StopReason = "Local"
	return &evbill.EndWrite{
		Session: &ss,
		CDR: &evbill.CDR{
			Currency: "EUR", TotalExclVAT: "7.2000", TotalInclVAT: "8.7120", AmountMinor: 871,
			Document: json.RawMessage(`{"id":"` + ss.ID + `", "total_cost" : {"excl_vat":7.2000}}`), Breakdown: json.RawMessage(`[{"kind":"ENERGY"}]`),
		},
		Events: []evbill.Event{{Type: eventType, Payload: json.RawMessage(`{"session":"` + ss.ID + `"}`)}},
	}
}

// eventsOf returns the events of the tenant after the cursor, in outbox
// order, reading every page: other tests and runs may write events to the
// same outbox in between.
func eventsOf(t testing.TB, s evbill.SessionStore, after, tenantID string) []evbill.Event {
	t.Helper()
	var out []evbill.Event
	for {
		page, err := s.PendingEvents(context.Background(), after, 100)
		noErr(t, "PendingEvents", err)
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			if e.TenantID == tenantID && !lifecycle(e) {
				out = append(out, e)
			}
		}
		after = page[len(page)-1].ID
	}
}

// marker ends a session of its own with one event and returns that
// event's ID: a cursor from which a test reads only what follows.
func marker(t testing.TB, s FullStore, w sessionWorld, connector int) string {
	t.Helper()
	ss := startNew(t, s, w.session(connector, 10000+connector))
	end := endWith(ss, t0.Add(time.Hour), "test.marker")
	end.CDR = nil
	noErr(t, "EndSession (marker)", s.EndSession(context.Background(), end.Session, nil, end.Events))
	return end.Events[0].ID
}

func sessionID(x evbill.Session) string { return x.ID }

func countSessions(t testing.TB, s evbill.SessionStore, tenantID string) int {
	t.Helper()
	n, after := 0, ""
	for {
		page, err := s.ListSessions(context.Background(), tenantID, evbill.Page{After: after, Limit: evbill.MaxPageLimit})
		noErr(t, "ListSessions", err)
		if len(page) == 0 {
			return n
		}
		n += len(page)
		after = page[len(page)-1].ID
	}
}

// Tests.

func testSessionStart(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	in := w.session(1, 0)
	in.ID, in.TransactionID = "ignored", 99 // the store sets both
	ss := in
	created, err := s.StartSession(ctx, &ss)
	noErr(t, "StartSession", err)
	if !created {
		t.Errorf("StartSession: created = false for a new session")
	}
	hasPrefix(t, "ID", ss.ID, evbill.PrefixSession)
	storeTime(t, "CreatedAt", ss.CreatedAt)
	equal(t, "UpdatedAt", ss.UpdatedAt, ss.CreatedAt)
	want := in
	want.ID, want.TransactionID, want.CreatedAt, want.UpdatedAt = ss.ID, 1, ss.CreatedAt, ss.UpdatedAt
	want.StartedAt = norm(in.StartedAt)
	want.State = evbill.SessionActive
	equal(t, "StartSession fills the session", ss, want)

	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "Session", got, ss)
	got, err = s.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, 1)
	noErr(t, "SessionByTransaction", err)
	equal(t, "SessionByTransaction", got, ss)
	_, err = s.SessionByTransaction(ctx, w.tenant.ID, w.station2.ID, 1)
	wantCode(t, "SessionByTransaction of another station", err, evbill.ENOTFOUND, "")
	_, err = s.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, 2)
	wantCode(t, "SessionByTransaction of an unused ID", err, evbill.ENOTFOUND, "")
	_, err = s.Session(ctx, w.tenant.ID, uniq(evbill.PrefixSession))
	wantCode(t, "Session of a missing ID", err, evbill.ENOTFOUND, "")

	// A retransmitted StartTransaction: the same key, with the start time
	// in another zone and below the microsecond, returns the session as
	// stored and creates nothing, whatever else differs.
	re := in
	re.StartedAt = norm(in.StartedAt).In(time.FixedZone("EST", -5*3600)) // .123456000 for .123456789
	re.TokenID, re.DriverID, re.Flags = "", "", []string{evbill.FlagOrphanStop}
	created, err = s.StartSession(ctx, &re)
	noErr(t, "StartSession retransmitted", err)
	if created {
		t.Errorf("StartSession retransmitted: created = true")
	}
	equal(t, "StartSession retransmitted returns the stored session", re, ss)
	if n := countSessions(t, s, w.tenant.ID); n != 1 {
		t.Errorf("%d sessions after a retransmission, want 1", n)
	}

	// Transaction IDs count 1, 2, 3 per tenant: a retransmission took
	// none, and another tenant counts on its own.
	other := newSessionWorld(t, s)
	for i, tc := range []struct {
		w    sessionWorld
		want int64
	}{{w, 2}, {other, 1}, {w, 3}, {other, 2}, {w, 4}} {
		x := tc.w.session(2, i+1)
		x = startNew(t, s, x)
		if x.TransactionID != tc.want {
			t.Errorf("start %d: TransactionID = %d, want %d", i, x.TransactionID, tc.want)
		}
	}
	// Any part of the key differing makes a new session.
	for i, mod := range []func(*evbill.Session){
		func(x *evbill.Session) { x.ConnectorNumber = 3 },
		func(x *evbill.Session) { x.IDTag = "other-tag" },
		func(x *evbill.Session) { x.MeterStartWh = "1000.50" },
		func(x *evbill.Session) { x.StartedAt = x.StartedAt.Add(time.Microsecond) },
		func(x *evbill.Session) { x.StationID = w.station2.ID },
	} {
		x := in
		mod(&x)
		x = startNew(t, s, x)
		if x.TransactionID != int64(5+i) {
			t.Errorf("key variant %d: TransactionID = %d, want %d", i, x.TransactionID, 5+i)
		}
	}

	// A session may start parking, flagged, without a token or tariff.
	bare := evbill.Session{
		TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 4, IDTag: "unknown",
		MeterStartWh: "0", StartedAt: t0, State: evbill.SessionParking,
		ParkingStartedAt: ptr(t0.Add(time.Second + 999)), Flags: []string{evbill.FlagMeterBackwards, evbill.FlagImplausibleEnergy},
	}
	bare = startNew(t, s, bare)
	got, err = s.Session(ctx, w.tenant.ID, bare.ID)
	noErr(t, "Session", err)
	equal(t, "bare session", got, bare)
	equal(t, "ParkingStartedAt", *got.ParkingStartedAt, norm(t0.Add(time.Second+999)))
	equal(t, "Flags", got.Flags, []string{evbill.FlagMeterBackwards, evbill.FlagImplausibleEnergy})
	if got.TokenID != "" || got.TariffID != "" || got.TariffVersion != 0 {
		t.Errorf("bare session has references: %+v", got)
	}
}

func testSessionStartReferences(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	for _, tc := range []struct {
		name  string
		mod   func(*evbill.Session)
		field string
	}{
		{"missing station", func(x *evbill.Session) { x.StationID = uniq(evbill.PrefixStation) }, "station_id"},
		{"another tenant's station", func(x *evbill.Session) { x.StationID = other.station.ID }, "station_id"},
		{"another tenant's token", func(x *evbill.Session) { x.TokenID = other.token.ID }, "token_id"},
		{"missing token", func(x *evbill.Session) { x.TokenID = uniq(evbill.PrefixToken) }, "token_id"},
		{"another tenant's driver", func(x *evbill.Session) { x.DriverID = other.driver.ID }, "driver_id"},
		{"another tenant's group", func(x *evbill.Session) { x.GroupID = other.group.ID }, "group_id"},
		{"another tenant's tariff", func(x *evbill.Session) { x.TariffID = other.tariff.TariffID }, "tariff_id"},
		{"missing tariff version", func(x *evbill.Session) { x.TariffVersion = 9 }, "tariff_version"},
	} {
		x := w.session(1, 0)
		tc.mod(&x)
		created, err := s.StartSession(ctx, &x)
		wantCode(t, "StartSession with "+tc.name, err, evbill.EINVALID, tc.field)
		if created {
			t.Errorf("StartSession with %s: created = true", tc.name)
		}
	}
	for _, tc := range []struct {
		name     string
		mod      func(*evbill.Session)
		contains string
	}{
		{"no tenant", func(x *evbill.Session) { x.TenantID = "" }, "tenant_id"},
		{"a missing tenant", func(x *evbill.Session) { x.TenantID = uniq(evbill.PrefixTenant) }, "tenant_id"},
		{"no station", func(x *evbill.Session) { x.StationID = "" }, "station_id"},
		{"no start time", func(x *evbill.Session) { x.StartedAt = time.Time{} }, "started_at"},
		{"an unknown state", func(x *evbill.Session) { x.State = "charging" }, "state"},
		{"ended without a stop time", func(x *evbill.Session) { x.State = evbill.SessionEnded }, "stopped_at"},
		{"a stop time while active", func(x *evbill.Session) { x.StoppedAt = ptr(t0) }, "stopped_at"},
		{"a tariff without a version", func(x *evbill.Session) { x.TariffVersion = 0 }, "tariff_version"},
		{"a version without a tariff", func(x *evbill.Session) { x.TariffID = "" }, "tariff_version"},
		{"a flag with a comma", func(x *evbill.Session) { x.Flags = []string{"a,b"} }, "flag"},
		{"an empty flag", func(x *evbill.Session) { x.Flags = []string{""} }, "flag"},
		{"a connector out of range", func(x *evbill.Session) { x.ConnectorNumber = math.MaxInt32 + 1 }, "connector_number"},
		// PostgreSQL's text takes neither; both engines refuse them alike.
		{"a NUL in the idTag", func(x *evbill.Session) { x.IDTag = "a\x00b" }, "id_tag"},
		{"invalid UTF-8 in the meter start", func(x *evbill.Session) { x.MeterStartWh = "1\xff" }, "meter_start_wh"},
		{"a NUL in a flag", func(x *evbill.Session) { x.Flags = []string{"x\x00"} }, "flag"},
	} {
		x := w.session(1, 0)
		tc.mod(&x)
		_, err := s.StartSession(ctx, &x)
		wantCode(t, "StartSession with "+tc.name, err, evbill.EINVALID, tc.contains)
	}
	// None of the refused starts took a transaction ID or left a session.
	if n := countSessions(t, s, w.tenant.ID); n != 0 {
		t.Errorf("%d sessions after refused starts", n)
	}
	x := startNew(t, s, w.session(1, 0))
	if x.TransactionID != 1 {
		t.Errorf("first start after refused ones: TransactionID = %d, want 1", x.TransactionID)
	}
}

// testConcurrentStarts starts sessions of two tenants from many
// goroutines, in batches that name the tenants in opposite orders: every
// start succeeds, and each tenant's transaction IDs are 1..n without a
// gap or a repeat.
func testConcurrentStarts(t *testing.T, s FullStore) {
	ctx := t.Context()
	a, b := newSessionWorld(t, s), newSessionWorld(t, s)
	const workers, rounds = 6, 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string][]int64{}
		errs []error
	)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				n := 100 * (g*rounds + r)
				first, second := a, b
				if g%2 == 1 {
					first, second = b, a
				}
				ws := []evbill.SessionWrite{
					{Start: ptr(first.session(1, n))}, {Start: ptr(second.session(1, n))}, {Start: ptr(first.session(2, n))},
				}
				err := s.ApplySessionWrites(ctx, ws)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, w := range ws {
					if w.Err != nil {
						errs = append(errs, w.Err)
						continue
					}
					ids[w.Start.TenantID] = append(ids[w.Start.TenantID], w.Start.TransactionID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent starts: %v", err)
	}
	for _, w := range []sessionWorld{a, b} {
		got := ids[w.tenant.ID]
		slices.Sort(got)
		want := make([]int64, len(got))
		for i := range want {
			want[i] = int64(i + 1)
		}
		equal(t, "transaction IDs of "+w.tenant.ID, got, want)
	}
	if n := len(ids[a.tenant.ID]) + len(ids[b.tenant.ID]); n != workers*rounds*3 {
		t.Errorf("%d sessions started, want %d", n, workers*rounds*3)
	}
}

func testSessionSamples(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec)*time.Second + 789) }
	sample := func(sec int, energy string) evbill.MeterSample {
		return evbill.MeterSample{Time: at(sec), EnergyWh: energy, PowerW: "11000", CurrentA: "16.0", SoC: "", Context: "Sample.Periodic"}
	}
	empty, err := s.Samples(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Samples of a session without any", err)
	if len(empty) != 0 {
		t.Errorf("Samples of a new session = %v", empty)
	}

	// Out of order, with a repeat inside the call and one across calls:
	// the first reading of an instant stays.
	noErr(t, "AddSamples", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{
		sample(60, "1100"), sample(0, "1000.5"), sample(120, "1200"), sample(60, "9999"),
	}))
	noErr(t, "AddSamples", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{
		sample(30, "1050"), sample(120, "8888"), {Time: at(90), EnergyWh: "1150", SoC: "42", Context: "Sample.Clock"},
	}))
	noErr(t, "AddSamples of nothing", s.AddSamples(ctx, w.tenant.ID, ss.ID, nil))
	want := []evbill.MeterSample{sample(0, "1000.5"), sample(30, "1050"), sample(60, "1100"),
		{Time: at(90), EnergyWh: "1150", SoC: "42", Context: "Sample.Clock"}, sample(120, "1200")}
	for i := range want {
		want[i].SessionID, want[i].Time = ss.ID, norm(want[i].Time)
	}
	got, err := s.Samples(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Samples", err)
	equal(t, "Samples in time order, first reading of each instant", got, want)

	// Samples of a session that is missing or another tenant's.
	missing := uniq(evbill.PrefixSession)
	wantCode(t, "AddSamples to a missing session", s.AddSamples(ctx, w.tenant.ID, missing, []evbill.MeterSample{sample(1, "1")}), evbill.ENOTFOUND, missing)
	wantCode(t, "AddSamples through another tenant", s.AddSamples(ctx, other.tenant.ID, ss.ID, []evbill.MeterSample{sample(1, "1")}), evbill.ENOTFOUND, ss.ID)
	_, err = s.Samples(ctx, other.tenant.ID, ss.ID)
	wantCode(t, "Samples through another tenant", err, evbill.ENOTFOUND, ss.ID)
	_, err = s.Samples(ctx, w.tenant.ID, missing)
	wantCode(t, "Samples of a missing session", err, evbill.ENOTFOUND, missing)
	wantCode(t, "AddSamples without a time", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{{EnergyWh: "1"}}), evbill.EINVALID, "time")
	wantCode(t, "AddSamples without a session", s.AddSamples(ctx, w.tenant.ID, "", nil), evbill.EINVALID, "session_id")
	wantCode(t, "AddSamples with invalid UTF-8", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{{Time: at(500), EnergyWh: "\xff"}}), evbill.EINVALID, "energy_wh")
	wantCode(t, "AddSamples with a NUL", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{{Time: at(500), Context: "\x00"}}), evbill.EINVALID, "context")

	// An ended session's samples are final.
	end := endWith(ss, at(200), "test.ended")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	wantCode(t, "AddSamples to an ended session", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{sample(300, "2000")}), evbill.ECONFLICT, "already ended")
	got, err = s.Samples(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Samples", err)
	equal(t, "Samples after refused writes", got, want)
}

func testSessionUpdate(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))

	up := ss
	up.State = evbill.SessionParking
	up.ParkingStartedAt = ptr(t0.Add(time.Hour + 1))
	up.Flags = []string{evbill.FlagImplausibleEnergy}
	// Fields an update does not store.
	up.MeterStopWh, up.IDTag, up.StopReason, up.TokenID, up.TransactionID = "5", "changed", "Local", "", 77
	noErr(t, "UpdateSession", s.UpdateSession(ctx, &up))
	want := ss
	want.State, want.ParkingStartedAt, want.Flags = evbill.SessionParking, ptr(norm(t0.Add(time.Hour))), []string{evbill.FlagImplausibleEnergy}
	want.UpdatedAt = up.UpdatedAt
	storeTime(t, "UpdatedAt", up.UpdatedAt)
	if up.UpdatedAt.Before(ss.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", ss.UpdatedAt, up.UpdatedAt)
	}
	equal(t, "UpdateSession fills the stored session", up, want)
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "Session after UpdateSession", got, want)

	// Back to active, flags cleared.
	back := got
	back.State, back.ParkingStartedAt, back.Flags = evbill.SessionActive, nil, nil
	noErr(t, "UpdateSession", s.UpdateSession(ctx, &back))
	if back.State != evbill.SessionActive || back.ParkingStartedAt != nil || back.Flags != nil {
		t.Errorf("UpdateSession back to active: %+v", back)
	}

	missing := ss
	missing.ID = uniq(evbill.PrefixSession)
	wantCode(t, "UpdateSession of a missing session", s.UpdateSession(ctx, &missing), evbill.ENOTFOUND, missing.ID)
	stolen := got
	stolen.TenantID = other.tenant.ID
	wantCode(t, "UpdateSession through another tenant", s.UpdateSession(ctx, &stolen), evbill.ENOTFOUND, ss.ID)
	bad := got
	bad.State = evbill.SessionEnded
	wantCode(t, "UpdateSession to ended", s.UpdateSession(ctx, &bad), evbill.EINVALID, "ended")
	bad.State = ""
	wantCode(t, "UpdateSession without a state", s.UpdateSession(ctx, &bad), evbill.EINVALID, "state")

	end := endWith(back, t0.Add(2*time.Hour), "test.ended")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	late := *end.Session
	late.State = evbill.SessionParking
	wantCode(t, "UpdateSession of an ended session", s.UpdateSession(ctx, &late), evbill.ECONFLICT, "already ended")
	got, err = s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "ended session after a refused update", got, *end.Session)
}

func testSessionEnd(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	ss := startNew(t, s, w.session(1, 0))
	noErr(t, "AddSamples", s.AddSamples(ctx, w.tenant.ID, ss.ID, []evbill.MeterSample{{Time: t0.Add(time.Minute), EnergyWh: "2000"}}))

	stop := t0.Add(90*time.Minute + 5)
	ended := ss
	ended.MeterStopWh, ended.StoppedAt, ended.StopReason = "25000.750", &stop, "EVDisconnected"
	ended.ParkingStartedAt = ptr(t0.Add(80 * time.Minute))
	ended.Flags = []string{evbill.FlagMeterBackwards}
	ended.State = evbill.SessionActive // End sets ended whatever is given
	doc := "{\"id\":\"x\",  \"total_cost\":{ \"excl_vat\": 7.20 },\n\"z\":[1e3]}"
	c := evbill.CDR{
		ID: "cdr_given", Currency: "EUR", TotalExclVAT: "7.2000", TotalInclVAT: "8.7120", AmountMinor: 871,
		Document: json.RawMessage(doc), Breakdown: json.RawMessage(`[{"kind":"ENERGY","amount":"7.2"}]`),
	}
	events := []evbill.Event{
		{Type: "test.ended", Payload: json.RawMessage(`{"session":"` + ss.ID + `"}`)},
		{ID: "evt_given_" + ss.ID, Type: "cdr.created", Payload: json.RawMessage(`{ "cdr" : "cdr_given" }`)},
	}
	noErr(t, "EndSession", s.EndSession(ctx, &ended, &c, events))

	want := ss
	want.MeterStopWh, want.StoppedAt, want.StopReason = "25000.750", ptr(norm(stop)), "EVDisconnected"
	want.ParkingStartedAt = ptr(norm(t0.Add(80 * time.Minute)))
	want.Flags = []string{evbill.FlagMeterBackwards}
	want.State = evbill.SessionEnded
	want.UpdatedAt = ended.UpdatedAt
	storeTime(t, "UpdatedAt", ended.UpdatedAt)
	equal(t, "EndSession fills the ended session", ended, want)
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "Session after EndSession", got, want)

	equal(t, "CDR ID as given", c.ID, "cdr_given")
	equal(t, "CDR TenantID", c.TenantID, w.tenant.ID)
	equal(t, "CDR SessionID", c.SessionID, ss.ID)
	storeTime(t, "CDR CreatedAt", c.CreatedAt)
	gotCDR, err := s.CDR(ctx, w.tenant.ID, c.ID)
	noErr(t, "CDR", err)
	equal(t, "CDR", gotCDR, c)
	if string(gotCDR.Document) != doc {
		t.Errorf("CDR document = %q, want %q byte for byte", gotCDR.Document, doc)
	}
	gotCDR, err = s.CDRBySession(ctx, w.tenant.ID, ss.ID)
	noErr(t, "CDRBySession", err)
	equal(t, "CDRBySession", gotCDR, c)

	hasPrefix(t, "event ID", events[0].ID, "evt")
	equal(t, "given event ID", events[1].ID, "evt_given_"+ss.ID)
	for i, e := range events {
		equal(t, fmt.Sprintf("event %d TenantID", i), e.TenantID, w.tenant.ID)
		storeTime(t, fmt.Sprintf("event %d CreatedAt", i), e.CreatedAt)
	}
	equal(t, "events in the outbox", eventsOf(t, s, cursor, w.tenant.ID), events)

	// Ending twice is a conflict that stores nothing.
	again := got
	again.MeterStopWh = "1"
	c2 := evbill.CDR{Currency: "EUR", TotalExclVAT: "1", TotalInclVAT: "1", AmountMinor: 1, Document: json.RawMessage(`{}`)}
	err = s.EndSession(ctx, &again, &c2, []evbill.Event{{Type: "test.ended"}})
	wantCode(t, "EndSession twice", err, evbill.ECONFLICT, "already ended")
	got, err = s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "Session after a second end", got, want)
	gotCDR, err = s.CDRBySession(ctx, w.tenant.ID, ss.ID)
	noErr(t, "CDRBySession", err)
	equal(t, "CDR after a second end", gotCDR, c)
	equal(t, "events after a second end", eventsOf(t, s, cursor, w.tenant.ID), events)
	list, err := s.ListCDRs(ctx, w.tenant.ID, evbill.Page{})
	noErr(t, "ListCDRs", err)
	equal(t, "ListCDRs after a second end", list, []evbill.CDR{c})

	// A session that could not be priced ends without a CDR; its events
	// are still written.
	flagged := startNew(t, s, w.session(2, 0))
	fend := endWith(flagged, t0.Add(time.Hour), "session.flagged")
	fend.Session.Flags = []string{evbill.FlagImplausibleEnergy}
	noErr(t, "EndSession without a CDR", s.EndSession(ctx, fend.Session, nil, fend.Events))
	_, err = s.CDRBySession(ctx, w.tenant.ID, flagged.ID)
	wantCode(t, "CDRBySession of an unpriced session", err, evbill.ENOTFOUND, flagged.ID)
	equal(t, "events after an unpriced end", eventsOf(t, s, cursor, w.tenant.ID), append(slices.Clone(events), fend.Events...))

	// Ends that cannot be: missing session, another tenant's, no stop
	// time, a CDR or event of another tenant or session.
	open := startNew(t, s, w.session(3, 0))
	missing := endWith(open, stop, "x")
	missing.Session.ID = uniq(evbill.PrefixSession)
	wantCode(t, "EndSession of a missing session", s.EndSession(ctx, missing.Session, missing.CDR, missing.Events), evbill.ENOTFOUND, missing.Session.ID)
	stolen := endWith(open, stop, "x")
	stolen.Session.TenantID = other.tenant.ID
	wantCode(t, "EndSession through another tenant", s.EndSession(ctx, stolen.Session, stolen.CDR, stolen.Events), evbill.ENOTFOUND, open.ID)
	noStop := endWith(open, stop, "x")
	noStop.Session.StoppedAt = nil
	wantCode(t, "EndSession without a stop time", s.EndSession(ctx, noStop.Session, noStop.CDR, noStop.Events), evbill.EINVALID, "stopped_at")
	foreignCDR := endWith(open, stop, "x")
	foreignCDR.CDR.TenantID = other.tenant.ID
	wantCode(t, "EndSession with another tenant's CDR", s.EndSession(ctx, foreignCDR.Session, foreignCDR.CDR, foreignCDR.Events), evbill.EINVALID, "tenant_id")
	wrongCDR := endWith(open, stop, "x")
	wrongCDR.CDR.SessionID = flagged.ID
	wantCode(t, "EndSession with another session's CDR", s.EndSession(ctx, wrongCDR.Session, wrongCDR.CDR, wrongCDR.Events), evbill.EINVALID, "session_id")
	foreignEvent := endWith(open, stop, "x")
	foreignEvent.Events[0].TenantID = other.tenant.ID
	wantCode(t, "EndSession with another tenant's event", s.EndSession(ctx, foreignEvent.Session, foreignEvent.CDR, foreignEvent.Events), evbill.EINVALID, "tenant_id")
	nul := endWith(open, stop, "x")
	nul.Session.StopReason = "Local\x00"
	wantCode(t, "EndSession with a NUL in the stop reason", s.EndSession(ctx, nul.Session, nul.CDR, nul.Events), evbill.EINVALID, "stop_reason")
	badCurrency := endWith(open, stop, "x")
	badCurrency.CDR.Currency = "\xffUR"
	wantCode(t, "EndSession with invalid UTF-8 in the CDR", s.EndSession(ctx, badCurrency.Session, badCurrency.CDR, badCurrency.Events), evbill.EINVALID, "currency")
	untyped := endWith(open, stop, "")
	wantCode(t, "EndSession with an event without a type", s.EndSession(ctx, untyped.Session, untyped.CDR, untyped.Events), evbill.EINVALID, "type")
	got, err = s.Session(ctx, w.tenant.ID, open.ID)
	noErr(t, "Session", err)
	equal(t, "session after refused ends", got, open)
	equal(t, "events after refused ends", eventsOf(t, s, cursor, w.tenant.ID), append(slices.Clone(events), fend.Events...))
}

// testSessionEndAtomic checks that an end whose CDR cannot be stored
// stores nothing: the session stays open and no event is written.
func testSessionEndAtomic(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	first := startNew(t, s, w.session(1, 0))
	end1 := endWith(first, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end1.Session, end1.CDR, end1.Events))

	second := startNew(t, s, w.session(2, 0))
	end2 := endWith(second, t0.Add(time.Hour), "cdr.created")
	end2.CDR.ID = end1.CDR.ID // already used: the CDR insert fails after the session update
	err := s.EndSession(ctx, end2.Session, end2.CDR, end2.Events)
	wantCode(t, "EndSession with a used CDR ID", err, evbill.ECONFLICT, end1.CDR.ID)
	got, err := s.Session(ctx, w.tenant.ID, second.ID)
	noErr(t, "Session", err)
	equal(t, "session whose end failed", got, second)
	_, err = s.CDRBySession(ctx, w.tenant.ID, second.ID)
	wantCode(t, "CDRBySession of a session whose end failed", err, evbill.ENOTFOUND, "")
	equal(t, "events after a failed end", eventsOf(t, s, cursor, w.tenant.ID), end1.Events)

	// A used event ID fails the end the same way, after the CDR.
	end3 := endWith(second, t0.Add(time.Hour), "cdr.created")
	end3.Events = append(end3.Events, evbill.Event{ID: end1.Events[0].ID, Type: "dup"})
	err = s.EndSession(ctx, end3.Session, end3.CDR, end3.Events)
	wantCode(t, "EndSession with a used event ID", err, evbill.ECONFLICT, end1.Events[0].ID)
	got, err = s.Session(ctx, w.tenant.ID, second.ID)
	noErr(t, "Session", err)
	equal(t, "session whose end failed", got, second)
	_, err = s.CDRBySession(ctx, w.tenant.ID, second.ID)
	wantCode(t, "CDRBySession of a session whose end failed", err, evbill.ENOTFOUND, "")
	equal(t, "events after a failed end", eventsOf(t, s, cursor, w.tenant.ID), end1.Events)

	// The same end without the clash succeeds.
	end4 := endWith(second, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end4.Session, end4.CDR, end4.Events))
	equal(t, "events after the retried end", eventsOf(t, s, cursor, w.tenant.ID), append(slices.Clone(end1.Events), end4.Events...))
}

// testSessionBatch applies one batch in which some writes fail: those are
// undone alone and report their own error; the rest commit.
func testSessionBatch(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	a := startNew(t, s, w.session(1, 0))
	b := startNew(t, s, w.session(2, 0))
	otherSession := startNew(t, s, other.session(1, 0))
	missing := uniq(evbill.PrefixSession)

	newStart := w.session(3, 0)
	retransmit := w.session(3, 0)
	upA := a
	upA.State, upA.ParkingStartedAt = evbill.SessionParking, ptr(t0.Add(time.Hour))
	endB := endWith(b, t0.Add(2*time.Hour), "cdr.created")
	badStart := w.session(4, 0)
	badStart.StationID = other.station.ID
	writes := []evbill.SessionWrite{
		{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: a.ID, Samples: []evbill.MeterSample{{Time: t0.Add(time.Minute), EnergyWh: "1"}}}},
		{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: missing, Samples: []evbill.MeterSample{{Time: t0, EnergyWh: "1"}}}},
		{Start: &newStart},
		{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: otherSession.ID, Samples: []evbill.MeterSample{{Time: t0, EnergyWh: "1"}}}},
		{Update: &upA},
		{Start: &badStart},
		{End: endB},
		{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: b.ID, Samples: []evbill.MeterSample{{Time: t0.Add(3 * time.Hour), EnergyWh: "1"}}}},
		{},
		{Start: ptr(w.session(5, 0)), Update: &upA},
		{End: endWith(b, t0.Add(3*time.Hour), "cdr.created")},
		{Start: &retransmit},
		{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: a.ID, Samples: []evbill.MeterSample{{Time: t0.Add(2 * time.Minute), EnergyWh: "2"}}}},
	}
	writes[0].Err = fmt.Errorf("stale") // reset by the store
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, writes))
	for i, want := range []struct{ code, contains string }{
		{"", ""},
		{evbill.ENOTFOUND, missing},
		{"", ""},
		{evbill.ENOTFOUND, otherSession.ID},
		{"", ""},
		{evbill.EINVALID, "station_id"},
		{"", ""},
		{evbill.ECONFLICT, "already ended"},
		{evbill.EINVALID, "exactly one"},
		{evbill.EINVALID, "exactly one"},
		{evbill.ECONFLICT, "already ended"},
		{"", ""},
		{"", ""},
	} {
		if want.code == "" {
			if writes[i].Err != nil {
				t.Errorf("write %d: Err = %v, want none", i, writes[i].Err)
			}
			continue
		}
		wantCode(t, fmt.Sprintf("write %d", i), writes[i].Err, want.code, want.contains)
	}
	if !writes[2].Created || writes[11].Created {
		t.Errorf("Created = %v, %v for a start and its retransmission in one batch, want true, false", writes[2].Created, writes[11].Created)
	}
	equal(t, "retransmission in the same batch", retransmit, newStart)
	// After the marker, a and b; the refused start took no ID.
	if newStart.TransactionID != 4 {
		t.Errorf("TransactionID = %d, want 4", newStart.TransactionID)
	}

	samples, err := s.Samples(ctx, w.tenant.ID, a.ID)
	noErr(t, "Samples", err)
	if len(samples) != 2 {
		t.Errorf("%d samples of a, want 2", len(samples))
	}
	gotA, err := s.Session(ctx, w.tenant.ID, a.ID)
	noErr(t, "Session", err)
	equal(t, "updated in a batch", gotA, upA)
	gotB, err := s.Session(ctx, w.tenant.ID, b.ID)
	noErr(t, "Session", err)
	equal(t, "ended in a batch", gotB, *endB.Session)
	gotCDR, err := s.CDRBySession(ctx, w.tenant.ID, b.ID)
	noErr(t, "CDRBySession", err)
	equal(t, "CDR of a batch", gotCDR, *endB.CDR)
	equal(t, "events of a batch", eventsOf(t, s, cursor, w.tenant.ID), endB.Events)
	samples, err = s.Samples(ctx, other.tenant.ID, otherSession.ID)
	noErr(t, "Samples", err)
	if len(samples) != 0 {
		t.Errorf("a refused write stored samples in another tenant's session: %v", samples)
	}
	if n := countSessions(t, s, w.tenant.ID); n != 4 { // marker, a, b, newStart
		t.Errorf("%d sessions, want 4", n)
	}
	noErr(t, "ApplySessionWrites of nothing", s.ApplySessionWrites(ctx, nil))
}

// testSessionLargeBatch applies 1,000 mixed writes in one batch, as a
// group commit under load would.
func testSessionLargeBatch(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 99)
	const open = 40
	var sessions []evbill.Session
	for i := range open {
		sessions = append(sessions, startNew(t, s, w.session(1+i%4, i)))
	}
	var (
		writes   []evbill.SessionWrite
		starts   []*evbill.Session
		ends     []*evbill.EndWrite
		stored   = map[string]map[int]bool{} // session ID → seconds of its readings
		failures []int
	)
	for i := range 1000 {
		switch {
		case i%200 == 99: // a write that fails before changing anything
			failures = append(failures, i)
			writes = append(writes, evbill.SessionWrite{Samples: &evbill.SampleWrite{TenantID: w.tenant.ID, SessionID: uniq(evbill.PrefixSession)}})
		case i%200 == 199: // a write that the database refuses half-way
			failures = append(failures, i)
			bad := w.session(1, 5000+i)
			bad.StationID = uniq(evbill.PrefixStation)
			writes = append(writes, evbill.SessionWrite{Start: &bad})
		case i%50 == 10: // 20 new sessions
			st := w.session(5+i%3, 1000+i)
			starts = append(starts, &st)
			writes = append(writes, evbill.SessionWrite{Start: &st})
		case i >= 960: // the last 30 or so end sessions 0..29
			ss := sessions[len(ends)]
			e := endWith(ss, t0.Add(24*time.Hour), "cdr.created")
			ends = append(ends, e)
			writes = append(writes, evbill.SessionWrite{End: e})
		default: // samples, one reading each, every 7th a retransmission
			ss := sessions[i%open]
			sec := i
			if i%7 == 0 && i > open {
				sec = i - open // the same session's instant of an earlier write
			}
			if stored[ss.ID] == nil {
				stored[ss.ID] = map[int]bool{}
			}
			stored[ss.ID][sec] = true
			writes = append(writes, evbill.SessionWrite{Samples: &evbill.SampleWrite{
				TenantID: w.tenant.ID, SessionID: ss.ID,
				Samples: []evbill.MeterSample{{Time: t0.Add(time.Duration(sec) * time.Second), EnergyWh: fmt.Sprint(sec)}},
			}})
		}
	}
	noErr(t, "ApplySessionWrites of 1000", s.ApplySessionWrites(ctx, writes))
	for i, wr := range writes {
		switch {
		case slices.Contains(failures, i) && wr.Samples != nil:
			wantCode(t, fmt.Sprintf("write %d", i), wr.Err, evbill.ENOTFOUND, "")
		case slices.Contains(failures, i):
			wantCode(t, fmt.Sprintf("write %d", i), wr.Err, evbill.EINVALID, "station_id")
		case wr.Err != nil:
			t.Errorf("write %d: %v", i, wr.Err)
		}
	}
	for i, ss := range sessions {
		got, err := s.Samples(ctx, w.tenant.ID, ss.ID)
		noErr(t, "Samples", err)
		if len(got) != len(stored[ss.ID]) {
			t.Errorf("session %d: %d samples, want %d", i, len(got), len(stored[ss.ID]))
		}
		if !slices.IsSortedFunc(got, func(a, b evbill.MeterSample) int { return a.Time.Compare(b.Time) }) {
			t.Errorf("session %d: samples out of order", i)
		}
	}
	for i, st := range starts {
		if st.TransactionID != int64(open+2+i) { // after the marker and the open sessions
			t.Errorf("start %d: TransactionID = %d, want %d", i, st.TransactionID, open+2+i)
		}
	}
	var wantEvents []evbill.Event
	for _, e := range ends {
		got, err := s.CDRBySession(ctx, w.tenant.ID, e.Session.ID)
		noErr(t, "CDRBySession", err)
		equal(t, "CDR", got, *e.CDR)
		wantEvents = append(wantEvents, e.Events...)
	}
	equal(t, "events of the batch, in order", eventsOf(t, s, cursor, w.tenant.ID), wantEvents)
	if n := countSessions(t, s, w.tenant.ID); n != 1+open+len(starts) {
		t.Errorf("%d sessions, want %d", n, 1+open+len(starts))
	}
}

// testSessionTransactionFailure checks that when the transaction itself
// fails, the error is returned, every write reports it, and nothing is
// stored.
func testSessionTransactionFailure(t *testing.T, s FullStore) {
	w := newSessionWorld(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	st := w.session(1, 0)
	writes := []evbill.SessionWrite{{Start: &st}, {}}
	err := s.ApplySessionWrites(ctx, writes)
	if err == nil {
		t.Fatal("ApplySessionWrites with a cancelled context succeeded")
	}
	if writes[0].Err == nil || writes[0].Created {
		t.Errorf("write 0 after a failed transaction: Err = %v, Created = %v", writes[0].Err, writes[0].Created)
	}
	wantCode(t, "write 1 (its own error)", writes[1].Err, evbill.EINVALID, "exactly one")
	if n := countSessions(t, s, w.tenant.ID); n != 0 {
		t.Errorf("%d sessions after a failed transaction", n)
	}
	_, err = s.StartSession(ctx, &st)
	if err == nil {
		t.Errorf("StartSession with a cancelled context succeeded")
	}
	// The next start still gets the first transaction ID.
	x := startNew(t, s, w.session(1, 0))
	if x.TransactionID != 1 {
		t.Errorf("TransactionID = %d after a failed transaction, want 1", x.TransactionID)
	}
}

func testOpenSessions(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	active := startNew(t, s, w.session(1, 0))
	parking := w.session(2, 0)
	parking.State, parking.ParkingStartedAt = evbill.SessionParking, ptr(t0)
	parking = startNew(t, s, parking)
	ended := startNew(t, s, w.session(3, 0))
	end := endWith(ended, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	elsewhere := w.session(1, 0)
	elsewhere.StationID = w.station2.ID
	elsewhere = startNew(t, s, elsewhere)
	startNew(t, s, other.session(1, 0))

	got, err := s.OpenSessions(ctx, w.tenant.ID, w.station.ID)
	noErr(t, "OpenSessions", err)
	equal(t, "OpenSessions", got, sortBy(sessionID, active, parking))
	got, err = s.OpenSessions(ctx, w.tenant.ID, w.station2.ID)
	noErr(t, "OpenSessions", err)
	equal(t, "OpenSessions of the second station", got, []evbill.Session{elsewhere})
	got, err = s.OpenSessions(ctx, other.tenant.ID, w.station.ID)
	noErr(t, "OpenSessions through another tenant", err)
	if len(got) != 0 {
		t.Errorf("OpenSessions through another tenant = %v", got)
	}
	got, err = s.OpenSessions(ctx, w.tenant.ID, uniq(evbill.PrefixStation))
	noErr(t, "OpenSessions of a missing station", err)
	if len(got) != 0 {
		t.Errorf("OpenSessions of a missing station = %v", got)
	}
}

// testStaleOpenSessions: the sweep's query finds open sessions carrying
// the flag in every tenant, by when they last changed, and nothing else.
// The sessions it flags are ended afterwards, so that runs sharing a
// database do not pile them up.
func testStaleOpenSessions(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	flag := func(ss evbill.Session, flags ...string) evbill.Session {
		ss.Flags = flags
		noErr(t, "UpdateSession", s.UpdateSession(ctx, &ss))
		return ss
	}
	before := time.Now().Add(-time.Second)
	rebooted := flag(startNew(t, s, w.session(1, 0)), evbill.FlagEndedByReboot)
	twoFlags := flag(startNew(t, s, w.session(2, 0)), evbill.FlagMeterBackwards, evbill.FlagEndedByReboot)
	elsewhere := flag(startNew(t, s, other.session(1, 0)), evbill.FlagEndedByReboot)
	flag(startNew(t, s, w.session(3, 0)), evbill.FlagMeterBackwards)
	startNew(t, s, w.session(4, 0))
	ended := flag(startNew(t, s, w.session(5, 0)), evbill.FlagEndedByReboot)
	end := endWith(ended, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	mine := []evbill.Session{rebooted, twoFlags, elsewhere}
	t.Cleanup(func() {
		for _, ss := range mine {
			end := endWith(ss, t0.Add(time.Hour), "cdr.created")
			_ = s.EndSession(context.Background(), end.Session, end.CDR, end.Events)
		}
	})
	after := time.Now().Add(time.Second)

	got, err := s.StaleOpenSessions(ctx, evbill.FlagEndedByReboot, after, evbill.MaxPageLimit)
	noErr(t, "StaleOpenSessions", err)
	found := map[string]bool{}
	for i, ss := range got {
		if ss.State == evbill.SessionEnded || !slices.Contains(ss.Flags, evbill.FlagEndedByReboot) {
			t.Errorf("StaleOpenSessions returned %+v: ended, or without the flag", ss)
		}
		if i > 0 && ss.UpdatedAt.Before(got[i-1].UpdatedAt) {
			t.Errorf("StaleOpenSessions not ordered by last change: %v before %v", got[i-1].UpdatedAt, ss.UpdatedAt)
		}
		found[ss.ID] = true
	}
	for _, ss := range mine {
		if !found[ss.ID] {
			t.Errorf("StaleOpenSessions missed %s (flags %v, tenant %s)", ss.ID, ss.Flags, ss.TenantID)
		}
	}
	got, err = s.StaleOpenSessions(ctx, evbill.FlagEndedByReboot, before, evbill.MaxPageLimit)
	noErr(t, "StaleOpenSessions", err)
	for _, ss := range got {
		for _, m := range mine {
			if ss.ID == m.ID {
				t.Errorf("StaleOpenSessions before the change returned %s, changed since", ss.ID)
			}
		}
	}
	if got, err := s.StaleOpenSessions(ctx, evbill.FlagEndedByReboot, after, 1); err != nil || len(got) != 1 {
		t.Errorf("StaleOpenSessions with limit 1 = %d sessions, %v", len(got), err)
	}
}

func testSessionPagination(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	const n = 7
	var sessions, cdrs []string
	for i := range n {
		ss := startNew(t, s, w.session(1, i))
		sessions = append(sessions, ss.ID)
		if i%2 == 0 {
			e := endWith(ss, t0.Add(time.Hour), "cdr.created")
			noErr(t, "EndSession", s.EndSession(ctx, e.Session, e.CDR, e.Events))
			cdrs = append(cdrs, e.CDR.ID)
		}
		// The other tenant's records are interleaved and must not show.
		os := startNew(t, s, other.session(1, i))
		e := endWith(os, t0.Add(time.Hour), "cdr.created")
		noErr(t, "EndSession", s.EndSession(ctx, e.Session, e.CDR, e.Events))
	}
	slices.Sort(sessions)
	slices.Sort(cdrs)
	for _, limit := range []int{1, 2, 3, n + 1, 100} {
		paginate(t, "ListSessions", limit, func(p evbill.Page) ([]evbill.Session, error) { return s.ListSessions(ctx, w.tenant.ID, p) },
			sessionID, sessions)
		paginate(t, "ListCDRs", limit, func(p evbill.Page) ([]evbill.CDR, error) { return s.ListCDRs(ctx, w.tenant.ID, p) },
			func(x evbill.CDR) string { return x.ID }, cdrs)
	}
	list, err := s.ListSessions(ctx, w.tenant.ID, evbill.Page{After: sessions[len(sessions)-1]})
	noErr(t, "ListSessions past the end", err)
	if len(list) != 0 {
		t.Errorf("ListSessions past the end = %v", list)
	}
}

func testPendingEvents(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)

	// Events in one end, across ends in one batch, and across
	// transactions, of two tenants: the outbox gives them back in the
	// order they were written.
	var want, wantOther []evbill.Event
	for round := range 3 {
		var writes []evbill.SessionWrite
		for i := range 2 {
			ss := startNew(t, s, w.session(1+i, round))
			e := endWith(ss, t0.Add(time.Hour), fmt.Sprintf("round%d.end%d", round, i))
			e.Events = append(e.Events, evbill.Event{Type: "second", Payload: json.RawMessage(`[]`)})
			writes = append(writes, evbill.SessionWrite{End: e})
			os := startNew(t, s, other.session(1+i, round))
			oe := endWith(os, t0.Add(time.Hour), "other")
			writes = append(writes, evbill.SessionWrite{End: oe})
		}
		noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, writes))
		for _, wr := range writes {
			noErr(t, "write", wr.Err)
			if wr.End.Session.TenantID == w.tenant.ID {
				want = append(want, wr.End.Events...)
			} else {
				wantOther = append(wantOther, wr.End.Events...)
			}
		}
	}
	equal(t, "events of the tenant in order", eventsOf(t, s, cursor, w.tenant.ID), want)
	equal(t, "events of the other tenant in order", eventsOf(t, s, cursor, other.tenant.ID), wantOther)

	// after is exclusive, and a cursor in the middle gives the rest.
	equal(t, "events after the third", eventsOf(t, s, want[2].ID, w.tenant.ID), want[3:])
	page, err := s.PendingEvents(ctx, cursor, 1)
	noErr(t, "PendingEvents with limit 1", err)
	if len(page) != 1 {
		t.Errorf("PendingEvents with limit 1 returned %d events", len(page))
	}

	// "" and "0" both start at the beginning of the outbox.
	first, err := s.PendingEvents(ctx, "", 1)
	noErr(t, `PendingEvents from ""`, err)
	zero, err := s.PendingEvents(ctx, "0", 1)
	noErr(t, `PendingEvents from "0"`, err)
	if len(first) != 1 {
		t.Fatalf(`PendingEvents from "" returned %d events with one in the outbox`, len(first))
	}
	equal(t, `PendingEvents from "0"`, zero, first)
	beyond, err := s.PendingEvents(ctx, fmt.Sprint(int64(math.MaxInt64)), 10)
	noErr(t, "PendingEvents after the last position", err)
	if len(beyond) != 0 {
		t.Errorf("PendingEvents after the last position = %v", beyond)
	}
	_, err = s.PendingEvents(ctx, "12x", 10)
	wantCode(t, "PendingEvents after a malformed position", err, evbill.EINVALID, "12x")
	missing := uniq("evt")
	_, err = s.PendingEvents(ctx, missing, 10)
	wantCode(t, "PendingEvents after a missing event", err, evbill.ENOTFOUND, missing)
	for _, e := range eventsOf(t, s, cursor, w.tenant.ID) {
		if !strings.HasPrefix(e.ID, "evt_") {
			t.Errorf("event ID %q", e.ID)
		}
	}
}

// testSessionTenantIsolation makes a session with samples and a CDR in
// tenant A and checks that tenant B can read, list or change none of it.
func testSessionTenantIsolation(t *testing.T, s FullStore) {
	ctx := t.Context()
	a, b := newSessionWorld(t, s), newSessionWorld(t, s)
	startNew(t, s, b.session(1, 0)) // B is not empty: its lists have something to leak into
	ended := startNew(t, s, a.session(1, 0))
	noErr(t, "AddSamples", s.AddSamples(ctx, a.tenant.ID, ended.ID, []evbill.MeterSample{{Time: t0, EnergyWh: "1"}}))
	end := endWith(ended, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	ended, c := *end.Session, *end.CDR
	open := startNew(t, s, a.session(2, 0))

	notFound := func(what string, err error) {
		t.Helper()
		wantCode(t, what+" through another tenant", err, evbill.ENOTFOUND, "")
	}
	var err error
	_, err = s.Session(ctx, b.tenant.ID, open.ID)
	notFound("Session", err)
	_, err = s.SessionByTransaction(ctx, b.tenant.ID, a.station.ID, open.TransactionID)
	notFound("SessionByTransaction", err)
	_, err = s.Samples(ctx, b.tenant.ID, ended.ID)
	notFound("Samples", err)
	_, err = s.CDR(ctx, b.tenant.ID, c.ID)
	notFound("CDR", err)
	_, err = s.CDRBySession(ctx, b.tenant.ID, ended.ID)
	notFound("CDRBySession", err)
	notFound("AddSamples", s.AddSamples(ctx, b.tenant.ID, open.ID, []evbill.MeterSample{{Time: t0, EnergyWh: "2"}}))
	up := open
	up.TenantID, up.State = b.tenant.ID, evbill.SessionParking
	notFound("UpdateSession", s.UpdateSession(ctx, &up))
	e := endWith(open, t0.Add(time.Hour), "stolen")
	e.Session.TenantID = b.tenant.ID
	notFound("EndSession", s.EndSession(ctx, e.Session, e.CDR, e.Events))
	// B's own transaction 1 is B's session, not A's.
	got, err := s.SessionByTransaction(ctx, b.tenant.ID, b.station.ID, 1)
	noErr(t, "SessionByTransaction of B", err)
	if got.TenantID != b.tenant.ID {
		t.Errorf("SessionByTransaction of B returned %+v", got)
	}

	empty := func(what string, n int, err error) {
		t.Helper()
		noErr(t, what, err)
		if n != 0 {
			t.Errorf("%s of B returned %d of A's records", what, n)
		}
	}
	opens, err := s.OpenSessions(ctx, b.tenant.ID, a.station.ID)
	empty("OpenSessions", len(opens), err)
	cdrs, err := s.ListCDRs(ctx, b.tenant.ID, evbill.Page{})
	empty("ListCDRs", len(cdrs), err)
	list, err := s.ListSessions(ctx, b.tenant.ID, evbill.Page{})
	noErr(t, "ListSessions", err)
	for _, x := range list {
		if x.TenantID != b.tenant.ID {
			t.Errorf("ListSessions of B returned %+v", x)
		}
	}
	if len(list) != 1 {
		t.Errorf("ListSessions of B has %d sessions, want 1", len(list))
	}

	// A's records are as they were.
	gotOpen, err := s.Session(ctx, a.tenant.ID, open.ID)
	noErr(t, "Session", err)
	equal(t, "A's open session", gotOpen, open)
	gotEnded, err := s.Session(ctx, a.tenant.ID, ended.ID)
	noErr(t, "Session", err)
	equal(t, "A's ended session", gotEnded, ended)
	gotCDR, err := s.CDR(ctx, a.tenant.ID, c.ID)
	noErr(t, "CDR", err)
	equal(t, "A's CDR", gotCDR, c)
	samples, err := s.Samples(ctx, a.tenant.ID, open.ID)
	noErr(t, "Samples", err)
	if len(samples) != 0 {
		t.Errorf("B's AddSamples stored %v in A's session", samples)
	}
}

// testOutboxFollowedLive follows the outbox with PendingEvents while
// several goroutines commit events concurrently, as the delivery worker
// does: it must see every event, each once. An outbox whose positions
// follow insert order rather than commit order fails this: a reader
// passes a position whose transaction has not committed yet, and never
// goes back for it.
func testOutboxFollowedLive(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 99)
	const writers, batches, ends = 4, 10, 3
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written = map[string]bool{}
		done    = make(chan struct{})
	)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range batches {
				var ws []evbill.SessionWrite
				for i := range ends {
					ss, err := startNewE(ctx, s, w.session(1+i, 1000*g+10*r+i))
					if err != nil {
						t.Error(err)
						return
					}
					ws = append(ws, evbill.SessionWrite{End: endWith(ss, t0.Add(time.Hour), "cdr.created")})
				}
				if err := s.ApplySessionWrites(ctx, ws); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, wr := range ws {
					if wr.Err != nil {
						t.Error(wr.Err)
					}
					for _, e := range wr.End.Events {
						written[e.ID] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	finished := false
	for {
		page, err := s.PendingEvents(ctx, cursor, 7)
		noErr(t, "PendingEvents", err)
		for _, e := range page {
			if e.TenantID == w.tenant.ID && !lifecycle(e) {
				seen[e.ID]++
			}
		}
		if len(page) > 0 {
			cursor = page[len(page)-1].ID
			continue
		}
		if finished {
			break
		}
		select {
		case <-done:
			finished = true // one more read: everything is committed now
		case <-time.After(time.Millisecond):
		}
	}
	if len(written) != writers*batches*ends {
		t.Fatalf("%d events written, want %d", len(written), writers*batches*ends)
	}
	for id := range written {
		if seen[id] != 1 {
			t.Errorf("event %s seen %d times by the reader following the outbox", id, seen[id])
		}
	}
	for id := range seen {
		if !written[id] {
			t.Errorf("the reader saw event %s, which no writer wrote", id)
		}
	}
}

// lifecycle reports whether e is one of the events the store itself adds
// when a session starts or ends; the tests of the outbox's order follow
// the events their writes carry, and testLifecycleEvents checks these.
func lifecycle(e evbill.Event) bool {
	return e.Type == evbill.EventSessionStarted || e.Type == evbill.EventSessionEnded
}

// startNewE is startNew for goroutines, which must not call t.Fatal.
func startNewE(ctx context.Context, s evbill.SessionStore, ss evbill.Session) (evbill.Session, error) {
	created, err := s.StartSession(ctx, &ss)
	if err == nil && !created {
		err = fmt.Errorf("StartSession of a new session: created = false")
	}
	return ss, err
}
