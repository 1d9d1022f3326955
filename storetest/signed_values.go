package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// RunSignedValues runs the conformance suite of signed meter values (OCMF
// records stored with a session's readings, SessionStore.SignedValues)
// and of the station's meter key that verifies them, as parallel subtests
// of t. Like RunSessions it makes its own tenants, so it can share a
// database with other runs.
func RunSignedValues(t *testing.T, open func(t *testing.T) FullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FullStore)
	}{
		{"SignedValues", testSignedValuesStore},
		{"SignedValuesRefused", testSignedValuesRefusals},
		{"SignedValuesBatch", testSignedValuesBatch},
		{"StationMeterPublicKey", testStationMeterPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Records that are hard to keep byte for byte: white space inside and
// around the sections, escapes that a JSON encoder writes otherwise, text
// outside ASCII, and one long enough that no index could hold it whole.
var signedRecords = []string{
	`OCMF|{"FV":"1.0","GS":"808829900001","PG":"T1","MS":"BQ27400330016","RD":[{"TM":"2026-03-01T10:00:00,000+0100 S","TX":"B","RV":2935.600,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]}|{"SD":"3045022100AB"}`,
	"OCMF|{ \"FV\" : \"1.0\",\t\"GI\":\"Stra\\u00dfe \\/ \u00e9t\u00e9 \u26a1\", \"PG\":\"T2\" }\n|{\"SA\":\"ECDSA-secp256r1-SHA256\",\"SD\":\"30\"}\r\n",
	"OCMF|{\"FV\":\"1.0\",\"PG\":\"T3\",\"TT\":\"" + longText(4000) + "\"}|{\"SD\":\"30\"}",
}

func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func signedWrite(tenantID, sessionID string, samples []evbill.MeterSample, signed ...evbill.SignedValue) evbill.SessionWrite {
	return evbill.SessionWrite{Samples: &evbill.SampleWrite{TenantID: tenantID, SessionID: sessionID, Samples: samples, Signed: signed}}
}

// testSignedValuesStore: records are kept exactly as given, in the order
// received; one the session has already (a retransmitted MeterValues, or
// the same record twice in one) is not stored again; a write of records
// without readings stores them; an ended session keeps its records.
func testSignedValuesStore(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec)*time.Second + 789) }

	none, err := s.SignedValues(ctx, w.tenant.ID, ss.ID)
	noErr(t, "SignedValues of a session without any", err)
	if len(none) != 0 {
		t.Errorf("SignedValues of a new session = %v", none)
	}

	begin := evbill.SignedValue{Time: at(0), Context: "Transaction.Begin", Raw: signedRecords[0]}
	odd := evbill.SignedValue{Time: at(60), Context: "", Raw: signedRecords[1]}
	long := evbill.SignedValue{Time: at(120), Context: "Transaction.End", Raw: signedRecords[2]}
	first := signedWrite(w.tenant.ID, ss.ID, []evbill.MeterSample{{Time: at(0), EnergyWh: "1000.5", Context: "Transaction.Begin"}}, begin, odd, begin)
	for range 2 { // the second time is the charger resending the same MeterValues
		ws := []evbill.SessionWrite{first}
		noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, ws))
		noErr(t, "the write", ws[0].Err)
	}
	// A retransmitted record before a new one, and records without
	// readings: only the new one goes in, after the others.
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, []evbill.SessionWrite{signedWrite(w.tenant.ID, ss.ID, nil, odd, long)}))

	want := []evbill.SignedValue{begin, odd, long}
	check := func(what string) {
		t.Helper()
		got, err := s.SignedValues(ctx, w.tenant.ID, ss.ID)
		noErr(t, "SignedValues", err)
		if len(got) != len(want) {
			t.Fatalf("%s: %d signed values, want %d: %+v", what, len(got), len(want), got)
		}
		for i := range got {
			storeTime(t, fmt.Sprintf("%s: CreatedAt of %d", what, i), got[i].CreatedAt)
			w := want[i]
			w.SessionID, w.Seq, w.Time, w.CreatedAt = ss.ID, i+1, norm(w.Time), got[i].CreatedAt
			equal(t, fmt.Sprintf("%s: signed value %d", what, i), got[i], w)
			if got[i].Raw != want[i].Raw { // spelled out: the bytes are the point
				t.Errorf("%s: record %d changed:\n got %q\nwant %q", what, i, got[i].Raw, want[i].Raw)
			}
		}
	}
	check("after a retransmission")
	samples, err := s.Samples(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Samples", err)
	if len(samples) != 1 {
		t.Errorf("%d samples, want the one sent with the records", len(samples))
	}

	end := endWith(ss, at(300), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	check("after the end")
}

// testSignedValuesRefusals: records go only into an open session of the
// tenant, and are checked like readings before they reach the database.
func testSignedValuesRefusals(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	rec := evbill.SignedValue{Time: t0, Context: "Sample.Periodic", Raw: signedRecords[0]}
	apply := func(write evbill.SessionWrite) error {
		t.Helper()
		ws := []evbill.SessionWrite{write}
		noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, ws))
		return ws[0].Err
	}
	missing := uniq(evbill.PrefixSession)
	wantCode(t, "records for a missing session", apply(signedWrite(w.tenant.ID, missing, nil, rec)), evbill.ENOTFOUND, missing)
	wantCode(t, "records through another tenant", apply(signedWrite(other.tenant.ID, ss.ID, nil, rec)), evbill.ENOTFOUND, ss.ID)
	wantCode(t, "a record without a time", apply(signedWrite(w.tenant.ID, ss.ID, nil, evbill.SignedValue{Raw: rec.Raw})), evbill.EINVALID, "time")
	wantCode(t, "an empty record", apply(signedWrite(w.tenant.ID, ss.ID, nil, evbill.SignedValue{Time: t0})), evbill.EINVALID, "record")
	wantCode(t, "a record with a NUL", apply(signedWrite(w.tenant.ID, ss.ID, nil, evbill.SignedValue{Time: t0, Raw: "OCMF|\x00"})), evbill.EINVALID, "record")
	wantCode(t, "a record of invalid UTF-8", apply(signedWrite(w.tenant.ID, ss.ID, nil, evbill.SignedValue{Time: t0, Raw: "OCMF|\xff"})), evbill.EINVALID, "record")
	wantCode(t, "a context with a NUL", apply(signedWrite(w.tenant.ID, ss.ID, nil, evbill.SignedValue{Time: t0, Context: "\x00", Raw: rec.Raw})), evbill.EINVALID, "context")
	_, err := s.SignedValues(ctx, other.tenant.ID, ss.ID)
	wantCode(t, "SignedValues through another tenant", err, evbill.ENOTFOUND, ss.ID)
	_, err = s.SignedValues(ctx, w.tenant.ID, missing)
	wantCode(t, "SignedValues of a missing session", err, evbill.ENOTFOUND, missing)

	end := endWith(ss, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	wantCode(t, "records for an ended session", apply(signedWrite(w.tenant.ID, ss.ID, nil, rec)), evbill.ECONFLICT, "already ended")
	got, err := s.SignedValues(ctx, w.tenant.ID, ss.ID)
	noErr(t, "SignedValues", err)
	if len(got) != 0 {
		t.Errorf("refused writes stored records: %+v", got)
	}
}

// testSignedValuesBatch: records ride the group commit with the other
// writes; a write that fails on its own around them (which makes
// PostgreSQL's store send the rest of its pipeline again) neither loses
// nor doubles them.
func testSignedValuesBatch(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	a := startNew(t, s, w.session(1, 0))
	b := startNew(t, s, w.session(2, 0))
	badStart := w.session(4, 0)
	badStart.StationID = other.station.ID
	rec := func(i int) evbill.SignedValue {
		return evbill.SignedValue{Time: t0.Add(time.Duration(i) * time.Minute), Context: "Sample.Periodic",
			Raw: fmt.Sprintf(`OCMF|{"FV":"1.0","PG":"T%d"}|{"SD":"30"}`, i)}
	}
	sample := func(i int) []evbill.MeterSample {
		return []evbill.MeterSample{{Time: t0.Add(time.Duration(i) * time.Minute), EnergyWh: fmt.Sprint(1000 + i)}}
	}
	writes := []evbill.SessionWrite{
		signedWrite(w.tenant.ID, a.ID, sample(1), rec(1)),
		{Start: &badStart},
		signedWrite(w.tenant.ID, b.ID, nil, rec(2)),
		signedWrite(w.tenant.ID, a.ID, sample(3), rec(3), rec(1)),
		{Start: ptr(w.session(5, 0)), Update: &a},
		signedWrite(w.tenant.ID, b.ID, sample(4), rec(4)),
	}
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, writes))
	for i, bad := range []bool{false, true, false, false, true, false} {
		if (writes[i].Err != nil) != bad {
			t.Errorf("write %d: Err = %v", i, writes[i].Err)
		}
	}
	for _, c := range []struct {
		id   string
		want []int
	}{{a.ID, []int{1, 3}}, {b.ID, []int{2, 4}}} {
		got, err := s.SignedValues(ctx, w.tenant.ID, c.id)
		noErr(t, "SignedValues", err)
		var pages []string
		for _, v := range got {
			pages = append(pages, v.Raw)
		}
		var want []string
		for _, i := range c.want {
			want = append(want, rec(i).Raw)
		}
		equal(t, "records of "+c.id, pages, want)
	}
}

// testStationMeterPublicKey: the meter's key survives every way a station
// is written and read, the lookup across tenants included, and is ""
// for a station without one.
func testStationMeterPublicKey(t *testing.T, s FullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	site := newSite(t, s, tn.ID)
	const key = "3059301306072A8648CE3D020106082A8648CE3D030107034200043AEEB45C392357820A58FDFB0857BD77ADA31585C61C430531DFA53B440AFBFDD95AC887C658EA55260F808F55CA948DF235C2108A0D6DC7D4AB1A5E1A7955BE"

	plain := newStation(t, s, tn.ID, site.ID)
	if plain.MeterPublicKey != "" {
		t.Errorf("a station created without a key has %q", plain.MeterPublicKey)
	}
	st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: uniq("CP"), MeterPublicKey: key}
	noErr(t, "CreateStation", s.CreateStation(ctx, &st))
	got, err := s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "Station with a key", got, st)
	got, err = s.StationByChargePointID(ctx, tn.ID, st.ChargePointID)
	noErr(t, "StationByChargePointID", err)
	equal(t, "StationByChargePointID with a key", got, st)
	across, err := s.StationsByChargePointID(ctx, st.ChargePointID)
	noErr(t, "StationsByChargePointID", err)
	equal(t, "StationsByChargePointID with a key", across, []evbill.Station{st})
	list, err := s.ListStations(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListStations", err)
	equal(t, "ListStations", list, sortBy(func(x evbill.Station) string { return x.ID }, plain, st))

	for _, k := range []string{"", key} {
		upd := st
		upd.MeterPublicKey = k
		noErr(t, "UpdateStation", s.UpdateStation(ctx, &upd))
		if upd.MeterPublicKey != k {
			t.Errorf("UpdateStation returned key %q, want %q", upd.MeterPublicKey, k)
		}
		got, err = s.Station(ctx, tn.ID, st.ID)
		noErr(t, "Station after update", err)
		equal(t, "Station after UpdateStation", got, upd)
	}
}
