package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// testLifecycleEvents: the store puts session.started in the outbox with
// a new session (not with a retransmitted start) and session.ended ahead
// of the end's own events, each carrying the session as the API shows it.
func testLifecycleEvents(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 2)
	ss := startNew(t, s, w.session(1, 0))
	again := w.session(1, 0)
	if created, err := s.StartSession(ctx, &again); err != nil || created {
		t.Fatalf("the retransmitted start: created %v, %v", created, err)
	}
	end := endWith(ss, t0.Add(2*time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))

	got := allEventsOf(t, s, cursor, w.tenant.ID)
	types := make([]string, len(got))
	for i, e := range got {
		types[i] = e.Type
	}
	equal(t, "events", types, []string{evbill.EventSessionStarted, evbill.EventSessionEnded, "cdr.created"})
	if len(got) != 3 {
		return
	}
	var started, ended evbill.SessionEventData
	noErr(t, "session.started payload", json.Unmarshal(got[0].Payload, &started))
	noErr(t, "session.ended payload", json.Unmarshal(got[1].Payload, &ended))
	equal(t, "session.started", [4]any{started.ID, started.TransactionID, started.State, started.MeterStartWh},
		[4]any{ss.ID, ss.TransactionID, evbill.SessionActive, ss.MeterStartWh})
	equal(t, "session.ended", [3]any{ended.ID, ended.State, ended.MeterStopWh}, [3]any{ss.ID, evbill.SessionEnded, "25000.75"})
}

// allEventsOf is eventsOf with the store's own lifecycle events kept.
func allEventsOf(t testing.TB, s evbill.SessionStore, after, tenantID string) []evbill.Event {
	t.Helper()
	var out []evbill.Event
	for {
		page, err := s.PendingEvents(t.Context(), after, 100)
		noErr(t, "PendingEvents", err)
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			if e.TenantID == tenantID {
				out = append(out, e)
			}
		}
		after = page[len(page)-1].ID
	}
}
