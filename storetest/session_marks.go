package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// RunSessionMarks runs the conformance suite of what a running session's
// readings announce: the events and the mark a SampleWrite carries, stored
// with the readings only when they bring something new, and
// SessionStore.SessionMark, as parallel subtests of t. Like RunSessions it
// makes its own tenants, so it can share a database with other runs.
func RunSessionMarks(t *testing.T, open func(t *testing.T) FullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FullStore)
	}{
		{"SessionMarks", testSessionMarks},
		{"SessionMarksSigned", testSessionMarksSigned},
		{"SessionMarksRefused", testSessionMarksRefused},
		{"SessionMarksBatch", testSessionMarksBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// markAt is a reading time with nanoseconds, which the store drops.
func markAt(sec int) time.Time { return t0.Add(time.Duration(sec)*time.Second + 789) }

func markSample(sec int) evbill.MeterSample {
	return evbill.MeterSample{Time: markAt(sec), EnergyWh: fmt.Sprintf("%d.25", 1000+sec), PowerW: "11000", Context: "Sample.Periodic"}
}

// markEvent is an event of the tenant as the charging path makes one,
// with a payload whose spacing the outbox must keep.
func markEvent(tenantID, typ string, sec int) evbill.Event {
	return evbill.Event{
		ID: uniq(evbill.PrefixEvent), TenantID: tenantID, Type: typ,
		Payload: json.RawMessage(fmt.Sprintf(`{ "energy_wh" : "%d.25",  "n":%d }`, 1000+sec, sec)), CreatedAt: markAt(sec + 1),
	}
}

// markWrite is a Samples write carrying events and a mark.
func markWrite(tenantID, sessionID string, samples []evbill.MeterSample, mark *evbill.SessionMark, events ...evbill.Event) evbill.SessionWrite {
	return evbill.SessionWrite{Samples: &evbill.SampleWrite{
		TenantID: tenantID, SessionID: sessionID, Samples: samples, Events: events, Mark: mark,
	}}
}

// stored returns the events as the outbox gives them back: times as the
// store keeps them.
func stored(events ...evbill.Event) []evbill.Event {
	out := make([]evbill.Event, len(events))
	for i, e := range events {
		e.CreatedAt = norm(e.CreatedAt)
		out[i] = e
	}
	return out
}

// storedMark is m as SessionMark returns it.
func storedMark(m evbill.SessionMark) evbill.SessionMark {
	if !m.UpdatedAsOf.IsZero() {
		m.UpdatedAsOf = norm(m.UpdatedAsOf)
	}
	return m
}

func applyOne(t *testing.T, s FullStore, w evbill.SessionWrite) error {
	t.Helper()
	ws := []evbill.SessionWrite{w}
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(t.Context(), ws))
	return ws[0].Err
}

func wantMark(t *testing.T, s FullStore, what, tenantID, sessionID string, want evbill.SessionMark) {
	t.Helper()
	got, err := s.SessionMark(t.Context(), tenantID, sessionID)
	noErr(t, what+": SessionMark", err)
	equal(t, what+": SessionMark", got, want)
}

// testSessionMarks: a write's events go into the outbox in their order and
// its mark is stored, as given to the microsecond; a retransmission
// (readings at instants the session has) stores neither; the next new
// readings replace the mark; an ended session takes neither; the mark is
// the tenant's session's only.
func testSessionMarks(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	ss := startNew(t, s, w.session(1, 0))
	tn := w.tenant.ID

	wantMark(t, s, "a new session", tn, ss.ID, evbill.SessionMark{})
	missing := uniq(evbill.PrefixSession)
	_, err := s.SessionMark(ctx, tn, missing)
	wantCode(t, "SessionMark of a missing session", err, evbill.ENOTFOUND, missing)
	_, err = s.SessionMark(ctx, other.tenant.ID, ss.ID)
	wantCode(t, "SessionMark through another tenant", err, evbill.ENOTFOUND, ss.ID)

	first := evbill.SessionMark{UpdatedAsOf: markAt(60), EnergyWh: "1060.25", Charge: 1234, HoldWarned: true}
	updated, warned := markEvent(tn, "session.updated", 60), markEvent(tn, "hold.nearly_exhausted", 60)
	noErr(t, "a write with events and a mark",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0), markSample(60)}, &first, updated, warned)))
	want := stored(updated, warned)
	equal(t, "events of the write, in order", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "after the write", tn, ss.ID, storedMark(first))
	got, err := s.Samples(ctx, tn, ss.ID)
	noErr(t, "Samples", err)
	if len(got) != 2 {
		t.Errorf("%d samples, want the write's 2", len(got))
	}

	// The charger resends the MeterValues: the charging path, not knowing,
	// would announce it again.
	again := evbill.SessionMark{UpdatedAsOf: markAt(61), EnergyWh: "9999", Charge: 9999}
	noErr(t, "a retransmitted write with events",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(60), markSample(0)}, &again,
			markEvent(tn, "session.updated", 61))))
	equal(t, "events after a retransmission", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "after a retransmission", tn, ss.ID, storedMark(first))

	// New readings replace the mark, a mark without a session.updated
	// included; a write with a mark and no events adds no event.
	next := evbill.SessionMark{EnergyWh: "1120.25", Charge: 0}
	noErr(t, "a write with a mark only", applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(120)}, &next)))
	equal(t, "events after a write with a mark only", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "after a write with a mark only", tn, ss.ID, next)
	last := evbill.SessionMark{UpdatedAsOf: markAt(180), EnergyWh: "1180.25", Charge: 2000, HoldWarned: true}
	third := markEvent(tn, "session.updated", 180)
	noErr(t, "a write with events and a mark", applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(180)}, &last, third)))
	want = append(want, stored(third)...)
	equal(t, "events after the third write", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "after the third write", tn, ss.ID, storedMark(last))
	// Events without a mark leave the mark alone.
	fourth := markEvent(tn, "session.updated", 240)
	noErr(t, "a write with events only", applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(240)}, nil, fourth)))
	want = append(want, stored(fourth)...)
	equal(t, "events after a write with events only", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "after a write with events only", tn, ss.ID, storedMark(last))

	// Marks are per session.
	ss2 := startNew(t, s, w.session(2, 0))
	wantMark(t, s, "another session", tn, ss2.ID, evbill.SessionMark{})

	// An ended session's readings are final, and announce nothing.
	end := endWith(ss, markAt(600), "test.ended")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	want = append(want, end.Events...)
	wantCode(t, "a write with events to an ended session",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(300)}, &again, markEvent(tn, "session.updated", 300))),
		evbill.ECONFLICT, "already ended")
	equal(t, "events after a write to an ended session", eventsOf(t, s, cursor, tn), want)
	wantMark(t, s, "an ended session", tn, ss.ID, storedMark(last))
	got, err = s.Samples(ctx, tn, ss.ID)
	noErr(t, "Samples", err)
	if len(got) != 5 {
		t.Errorf("%d samples after the refused write, want the 5 stored before", len(got))
	}
}

// testSessionMarksSigned: a signed value is news like a reading: a write
// of signed values alone that stores one stores its events and mark, and
// its retransmission neither.
func testSessionMarksSigned(t *testing.T, s FullStore) {
	w := newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	ss := startNew(t, s, w.session(1, 0))
	tn := w.tenant.ID
	rec := evbill.SignedValue{Time: markAt(0), Context: "Transaction.Begin", Raw: signedRecords[0]}

	mark := evbill.SessionMark{UpdatedAsOf: markAt(0), EnergyWh: "1000.25", Charge: 10}
	ev := markEvent(tn, "session.updated", 0)
	write := markWrite(tn, ss.ID, nil, &mark, ev)
	write.Samples.Signed = []evbill.SignedValue{rec}
	noErr(t, "a write of a signed value with events", applyOne(t, s, write))
	equal(t, "events of a write of a signed value", eventsOf(t, s, cursor, tn), stored(ev))
	wantMark(t, s, "after a write of a signed value", tn, ss.ID, storedMark(mark))

	// The same record again: nothing new.
	again := evbill.SessionMark{EnergyWh: "1", Charge: 1, HoldWarned: true}
	write = markWrite(tn, ss.ID, nil, &again, markEvent(tn, "session.updated", 1))
	write.Samples.Signed = []evbill.SignedValue{rec}
	noErr(t, "a retransmitted signed value", applyOne(t, s, write))
	equal(t, "events after a retransmitted signed value", eventsOf(t, s, cursor, tn), stored(ev))
	wantMark(t, s, "after a retransmitted signed value", tn, ss.ID, storedMark(mark))

	// A reading the session has with a new record: the record is news.
	noErr(t, "a reading", applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(60)}, nil)))
	next := markEvent(tn, "session.updated", 60)
	write = markWrite(tn, ss.ID, []evbill.MeterSample{markSample(60)}, &again, next)
	write.Samples.Signed = []evbill.SignedValue{{Time: markAt(60), Raw: signedRecords[1]}}
	noErr(t, "an old reading with a new record", applyOne(t, s, write))
	equal(t, "events after a new record", eventsOf(t, s, cursor, tn), stored(ev, next))
	wantMark(t, s, "after a new record", tn, ss.ID, again)
	vals, err := s.SignedValues(t.Context(), tn, ss.ID)
	noErr(t, "SignedValues", err)
	if len(vals) != 2 {
		t.Errorf("%d signed values, want 2", len(vals))
	}
}

// testSessionMarksRefused: events are checked before they reach the
// database; an event ID the outbox has already, or one the write gives
// twice, fails the write as a whole, unless the write stores nothing
// anyway; a missing session is ENOTFOUND.
func testSessionMarksRefused(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	ss := startNew(t, s, w.session(1, 0))
	tn := w.tenant.ID
	mark := &evbill.SessionMark{EnergyWh: "1", Charge: 1}

	foreign := markEvent(other.tenant.ID, "session.updated", 0)
	wantCode(t, "an event of another tenant",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, mark, foreign)), evbill.EINVALID, "tenant")
	noID := markEvent(tn, "session.updated", 0)
	noID.ID = ""
	wantCode(t, "an event without an ID",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, mark, noID)), evbill.EINVALID, "id")
	badType := markEvent(tn, "session updated", 0)
	wantCode(t, "an event of a malformed type",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, mark, badType)), evbill.EINVALID, "event_types")
	wantCode(t, "a mark with a negative charge",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, &evbill.SessionMark{Charge: -1})), evbill.EINVALID, "charge")
	missing := uniq(evbill.PrefixSession)
	wantCode(t, "a write with events to a missing session",
		applyOne(t, s, markWrite(tn, missing, []evbill.MeterSample{markSample(0)}, mark, markEvent(tn, "session.updated", 0))),
		evbill.ENOTFOUND, missing)
	wantCode(t, "a write with events through another tenant",
		applyOne(t, s, markWrite(other.tenant.ID, ss.ID, []evbill.MeterSample{markSample(0)}, mark, markEvent(other.tenant.ID, "session.updated", 0))),
		evbill.ENOTFOUND, ss.ID)

	first := markEvent(tn, "session.updated", 0)
	noErr(t, "a write with an event", applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, nil, first)))
	// An ID taken, by the outbox or twice in the write, with a new reading.
	taken := markEvent(tn, "session.updated", 60)
	taken.ID = first.ID
	wantCode(t, "a write with an event ID taken",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(60)}, mark, markEvent(tn, "session.updated", 60), taken)),
		evbill.ECONFLICT, first.ID)
	twice := markEvent(tn, "session.updated", 60)
	wantCode(t, "a write with an event ID twice",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(60)}, mark, twice, twice)),
		evbill.ECONFLICT, twice.ID)
	// The same, with nothing new to store: no event would go in, so
	// nothing conflicts (a write retried after an unknown outcome).
	noErr(t, "a retransmitted write with an event ID taken",
		applyOne(t, s, markWrite(tn, ss.ID, []evbill.MeterSample{markSample(0)}, mark, taken)))

	equal(t, "events after refused writes", eventsOf(t, s, cursor, tn), stored(first))
	wantMark(t, s, "after refused writes", tn, ss.ID, evbill.SessionMark{})
	got, err := s.Samples(ctx, tn, ss.ID)
	noErr(t, "Samples", err)
	if len(got) != 1 {
		t.Errorf("%d samples after refused writes, want 1: %+v", len(got), got)
	}
	if n := len(eventsOf(t, s, cursor, other.tenant.ID)); n != 0 {
		t.Errorf("the other tenant has %d events", n)
	}
}

// testSessionMarksBatch: announcing writes ride the group commit with the
// others; one that fails on its own, or a write next to them that does
// (which makes PostgreSQL's store send the rest of its pipeline again),
// neither loses nor doubles their events, which keep the batch's order.
func testSessionMarksBatch(t *testing.T, s FullStore) {
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	cursor := marker(t, s, w, 9)
	tn := w.tenant.ID
	a := startNew(t, s, w.session(1, 0))
	b := startNew(t, s, w.session(2, 0))
	badStart := w.session(4, 0)
	badStart.StationID = other.station.ID
	ma := evbill.SessionMark{UpdatedAsOf: markAt(60), EnergyWh: "a", Charge: 1}
	mb := evbill.SessionMark{UpdatedAsOf: markAt(120), EnergyWh: "b", Charge: 2, HoldWarned: true}
	ea1, ea2 := markEvent(tn, "session.updated", 60), markEvent(tn, "session.updated", 61)
	eb1, eb2 := markEvent(tn, "session.updated", 120), markEvent(tn, "hold.nearly_exhausted", 120)
	dup := markEvent(tn, "session.updated", 180)
	dup.ID = ea1.ID
	writes := []evbill.SessionWrite{
		markWrite(tn, a.ID, []evbill.MeterSample{markSample(60)}, &ma, ea1),
		{Start: &badStart},
		markWrite(tn, b.ID, []evbill.MeterSample{markSample(180)}, &mb, dup), // ea1's ID, stored just before
		markWrite(tn, a.ID, []evbill.MeterSample{markSample(61)}, nil, ea2),
		{Samples: &evbill.SampleWrite{TenantID: tn, SessionID: b.ID, Samples: []evbill.MeterSample{markSample(100)}}},
		{Start: ptr(w.session(5, 0)), Update: &a},
		markWrite(tn, b.ID, []evbill.MeterSample{markSample(120)}, &mb, eb1, eb2),
	}
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(t.Context(), writes))
	for i, bad := range []bool{false, true, true, false, false, true, false} {
		if (writes[i].Err != nil) != bad {
			t.Errorf("write %d: Err = %v", i, writes[i].Err)
		}
	}
	wantCode(t, "the write with a taken event ID", writes[2].Err, evbill.ECONFLICT, ea1.ID)
	equal(t, "events of the batch", eventsOf(t, s, cursor, tn), stored(ea1, ea2, eb1, eb2))
	wantMark(t, s, "session a", tn, a.ID, storedMark(ma))
	wantMark(t, s, "session b", tn, b.ID, storedMark(mb))
	got, err := s.Samples(t.Context(), tn, b.ID)
	noErr(t, "Samples", err)
	want := []evbill.MeterSample{markSample(100), markSample(120)}
	for i := range want {
		want[i].SessionID, want[i].Time = b.ID, norm(want[i].Time)
	}
	equal(t, "readings of b, without the refused write's", got, want)
}
