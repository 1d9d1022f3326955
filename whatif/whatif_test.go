package whatif_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/examples"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/tariff"
	"github.com/evbill/evbill/whatif"
)

func mustTariff(t testing.TB, doc []byte) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func loc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// priced is a session as charging would store it: the OCPI document and
// the session the engine priced.
type priced struct {
	doc    []byte
	amount int64
	sess   tariff.Session
	start  time.Time // as stored
}

func pricedSessions(t testing.TB, tf *tariff.Tariff, n int, zone *time.Location) []priced {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	site := evbill.Site{ID: "site_1", Name: "Depot", Address: "Main St 1", City: "Amsterdam", Country: "NL"}
	station := evbill.Station{ID: "sta_1", ChargePointID: "CP-1"}
	out := make([]priced, n)
	for i := range out {
		start := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(14 * 24 * time.Hour)))).Truncate(time.Millisecond)
		m := storetest.Metered(rng, start, zone)
		ss := &evbill.Session{ID: "ses_1", IDTag: "TAG", ConnectorNumber: 1}
		c, sess, err := storetest.PricedCDR(tf, examples.Tariff, site, station, ss, m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = priced{doc: c.Document, amount: c.AmountMinor, sess: sess, start: start}
	}
	return out
}

// samePeriods fails t unless the sessions are equal period by period.
func samePeriods(t testing.TB, got, want *tariff.Session) {
	t.Helper()
	if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || len(got.Periods) != len(want.Periods) {
		t.Fatalf("session %v–%v with %d periods, want %v–%v with %d", got.Start, got.End, len(got.Periods), want.Start, want.End, len(want.Periods))
	}
	for i := range got.Periods {
		a, b := &got.Periods[i], &want.Periods[i]
		if !a.Start.Equal(b.Start) || a.Has != b.Has || !a.Energy.Equal(b.Energy) || !a.Time.Equal(b.Time) ||
			!a.ParkingTime.Equal(b.ParkingTime) || !a.MinPower.Equal(b.MinPower) || !a.MaxPower.Equal(b.MaxPower) ||
			!a.MinCurrent.Equal(b.MinCurrent) || !a.MaxCurrent.Equal(b.MaxCurrent) || !a.ReservationTime.Equal(b.ReservationTime) {
			t.Fatalf("period %d: %+v, want %+v", i, *a, *b)
		}
	}
}

// TestEncodeGivesThePricedPeriods encodes charging's documents and checks
// that every form of record (Encode's, AppendRecord's, and the legacy
// record around the document) decodes to the header given and to the
// periods the engine priced, and prices to the CDR's amount.
func TestEncodeGivesThePricedPeriods(t *testing.T) {
	tf := mustTariff(t, examples.Tariff)
	ams := loc(t, "Europe/Amsterdam")
	var dec whatif.Decoder
	for i, p := range pricedSessions(t, tf, 400, ams) {
		id := "ses_" + strconv.Itoa(i)
		enc, err := whatif.Encode(p.doc, id, p.start, "EUR", p.amount)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if len(enc)*10 > len(p.doc) {
			t.Errorf("session %d: a %d-byte record from a %d-byte document", i, len(enc), len(p.doc))
		}
		direct, err := whatif.AppendRecord(nil, id, p.start, "EUR", p.amount, &p.sess)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []struct {
			name string
			b    []byte
		}{{"encoded", enc}, {"appended", direct}, {"legacy", whatif.LegacyRecord(p.doc, id, p.start, "EUR", p.amount)},
			{"recorded", whatif.Record(p.doc, id, p.start, "EUR", p.amount)}} {
			s := tariff.Session{Location: ams}
			h, err := dec.Decode(form.b, &s)
			if err != nil {
				t.Fatalf("session %d %s: %v", i, form.name, err)
			}
			if string(h.SessionID) != id || string(h.Currency) != "EUR" || h.Amount != p.amount || h.StartedAt != p.start.UnixMicro() {
				t.Fatalf("session %d %s: header %s %s %d %d", i, form.name, h.SessionID, h.Currency, h.Amount, h.StartedAt)
			}
			samePeriods(t, &s, &p.sess)
			r, err := tf.Price(&s)
			if err != nil || r.Charge.Minor != p.amount {
				t.Fatalf("session %d %s: re-priced at %v (%v), the CDR charged %d", i, form.name, r.Charge, err, p.amount)
			}
		}
	}
	if dec.FromDocument != 400 {
		t.Errorf("FromDocument = %d, want 400", dec.FromDocument)
	}
	// A document Encode refuses is kept around its header.
	rec := whatif.Record([]byte(`{"not":"a cdr"}`), "ses_x", time.Unix(0, 0), "EUR", 5)
	var s tariff.Session
	if h, err := dec.Header(rec); err != nil || string(h.SessionID) != "ses_x" || dec.Periods(&s) == nil {
		t.Errorf("an unencodable document: header %v, %v", h, err)
	}
}

// TestDocumentHoursAloneAreNotExact shows why Encode recovers the spans:
// the document's hours, rounded to 6 decimals, are not the seconds the
// engine priced.
func TestDocumentHoursAloneAreNotExact(t *testing.T) {
	tf := mustTariff(t, examples.Tariff)
	off := 0
	for _, p := range pricedSessions(t, tf, 200, loc(t, "Europe/Amsterdam")) {
		c, err := cdr.Parse(p.doc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.Session.Periods {
			if !c.Session.Periods[i].Time.Equal(p.sess.Periods[i].Time) || !c.Session.Periods[i].ParkingTime.Equal(p.sess.Periods[i].ParkingTime) {
				off++
				break
			}
		}
	}
	if off == 0 {
		t.Error("every document's hours were exact; the test sessions do not exercise the recovery")
	}
}

// TestDecodeRefusesDamage decodes every prefix of a record, and the
// record with bytes added, without panicking and without success.
func TestDecodeRefusesDamage(t *testing.T) {
	tf := mustTariff(t, examples.Tariff)
	p := pricedSessions(t, tf, 1, time.UTC)[0]
	enc, err := whatif.AppendRecord(nil, "ses_1", p.start, "EUR", p.amount, &p.sess)
	if err != nil {
		t.Fatal(err)
	}
	var dec whatif.Decoder
	var s tariff.Session
	for n := range len(enc) {
		if _, err := dec.Decode(enc[:n], &s); err == nil {
			t.Errorf("a %d-byte prefix of %d decoded", n, len(enc))
		}
	}
	for _, b := range [][]byte{append(slices.Clone(enc), 0), {2, 0, 0, 0}, {'x'}, nil, []byte("L1 2 ses\n{}"), []byte("Lx 2 ses EUR\n{}")} {
		if _, err := dec.Decode(b, &s); err == nil {
			t.Errorf("%q decoded", b)
		}
	}
}

// TestLargeCoefficients round-trips decimals whose coefficient does not
// fit in an int64.
func TestLargeCoefficients(t *testing.T) {
	big := decimal.MustParse("9999999999.999999999")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := tariff.Session{Start: at, End: at.Add(time.Hour), Periods: []tariff.Period{
		{Start: at, Energy: big, MaxPower: decimal.MustParse("-0.5"), Has: tariff.HasEnergy | tariff.HasMaxPower}}}
	enc, err := whatif.AppendRecord(nil, "ses_1", at, "EUR", -3, &s)
	if err != nil {
		t.Fatal(err)
	}
	var got tariff.Session
	var dec whatif.Decoder
	h, err := dec.Decode(enc, &got)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Periods[0].Energy.Equal(big) || got.Periods[0].MaxPower.String() != "-0.5" || h.Amount != -3 {
		t.Errorf("decoded %s, %s and %d", got.Periods[0].Energy, got.Periods[0].MaxPower, h.Amount)
	}
}

// fee is a tariff that charges 1.00 EUR per session and nothing else, so
// that a session's candidate price is known.
var fee = []byte(`{"country_code":"NL","party_id":"EVB","id":"FEE","currency":"EUR",
"elements":[{"price_components":[{"type":"FLAT","price":1.00,"step_size":1}]}],"last_updated":"2025-01-01T00:00:00Z"}`)

// row is a CDR of the given start, site and amount with one period.
func row(t testing.TB, id, site string, start time.Time, currency string, actual int64) evbill.WhatIfCDR {
	t.Helper()
	s := tariff.Session{Start: start, End: start.Add(time.Hour), Periods: []tariff.Period{
		{Start: start, Energy: decimal.MustNew(10, 0), Time: decimal.MustNew(3600, 0), Has: tariff.HasEnergy | tariff.HasTime}}}
	rec, err := whatif.AppendRecord(nil, id, start, currency, actual, &s)
	if err != nil {
		t.Fatal(err)
	}
	return evbill.WhatIfCDR{SiteID: site, Record: rec}
}

// TestRunnerTotals checks the totals, the local dates (a session at 23:30
// in New York is on that date there, the next day in UTC), the skipped
// and unpriced sessions, and the percentiles by nearest rank.
func TestRunnerTotals(t *testing.T) {
	zones := map[string]*time.Location{"ams": loc(t, "Europe/Amsterdam"), "nyc": loc(t, "America/New_York")}
	calls := map[string]int{}
	var mu sync.Mutex
	r, err := whatif.New(whatif.Config{Candidate: mustTariff(t, fee), Zone: func(id string) (*time.Location, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[id]++
		return zones[id], nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var batch []evbill.WhatIfCDR
	// Ten sessions in Amsterdam charged 0.10 … 1.00: changes 0.90 … 0.
	for i := range 10 {
		batch = append(batch, row(t, "a"+string(rune('0'+i)), "ams", day.Add(time.Duration(9+i)*time.Hour), "EUR", int64(10*(i+1))))
	}
	// 23:30 on 2 March in New York is 04:30 UTC on the 3rd.
	batch = append(batch, row(t, "n1", "nyc", time.Date(2026, 3, 3, 4, 30, 0, 0, time.UTC), "EUR", 250))
	batch = append(batch, row(t, "u1", "nyc", day, "USD", 999))
	bad := row(t, "x1", "ams", day, "EUR", 100)
	bad.Record = whatif.LegacyRecord([]byte(`{"id":"x1"}`), "x1", day, "EUR", 100)
	batch = append(batch, bad)
	var wg sync.WaitGroup
	for i := range batch {
		wg.Go(func() {
			if err := r.Add(batch[i : i+1]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	res, err := r.Result()
	if err != nil {
		t.Fatal(err)
	}
	if r.Seen() != int64(len(batch)) {
		t.Errorf("Seen = %d, want %d", r.Seen(), len(batch))
	}
	if calls["ams"] != 1 || calls["nyc"] != 1 {
		t.Errorf("zone lookups %v, want one per site", calls)
	}
	want := whatif.Totals{Sessions: 11, Actual: 550 + 250, Candidate: 1100}
	if res.Totals != want {
		t.Errorf("totals %+v, want %+v", res.Totals, want)
	}
	if len(res.Sites) != 2 || res.Sites[0].ID != "ams" || res.Sites[0].Actual != 550 || res.Sites[1].TimeZone != "America/New_York" {
		t.Errorf("sites %+v", res.Sites)
	}
	if d := res.Sites[1].Days; len(d) != 1 || d[0].Date != "2026-03-02" {
		t.Errorf("New York's days %+v, want 2026-03-02", d)
	}
	if len(res.Days) != 1 || res.Days[0].Date != "2026-03-02" || res.Days[0].Sessions != 11 {
		t.Errorf("days %+v", res.Days)
	}
	if len(res.OtherCurrency) != 1 || res.OtherCurrency[0] != (whatif.Skipped{Currency: "USD", Sessions: 1}) {
		t.Errorf("skipped %+v", res.OtherCurrency)
	}
	if res.Unpriced != 1 || len(res.Examples) != 1 || res.Examples[0].SessionID != "x1" {
		t.Errorf("unpriced %d %+v", res.Unpriced, res.Examples)
	}
	// Changes, sorted: -150, 0, 10, 20, …, 90 (11 of them). Nearest rank:
	// p10 is the 2nd (ceil 1.1), p50 the 6th (ceil 5.5), p90 the 10th (ceil 9.9).
	c := res.Change
	if c == nil || c.P10 != 0 || c.P50 != 40 || c.P90 != 80 || c.Min != -150 || c.Max != 90 || c.Lower != 1 || c.Unchanged != 1 || c.Higher != 9 {
		t.Errorf("change %+v", c)
	}
	if res.Assumption == "" || res.Currency.Code() != "EUR" {
		t.Errorf("assumption %q, currency %s", res.Assumption, res.Currency)
	}
}

// TestRunnerOverflow refuses revenue that does not fit in int64.
func TestRunnerOverflow(t *testing.T) {
	r, err := whatif.New(whatif.Config{Candidate: mustTariff(t, fee), Zone: func(string) (*time.Location, error) { return time.UTC, nil }})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := r.Add([]evbill.WhatIfCDR{row(t, "a", "s", at, "EUR", math.MaxInt64-10), row(t, "b", "s", at, "EUR", 100)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Result(); !errors.Is(err, whatif.ErrOverflow) {
		t.Errorf("Result: %v, want ErrOverflow", err)
	}
}

// TestRunnerZoneError stops the what-if when a site's zone cannot be had.
func TestRunnerZoneError(t *testing.T) {
	boom := errors.New("boom")
	r, err := whatif.New(whatif.Config{Candidate: mustTariff(t, fee), Zone: func(string) (*time.Location, error) { return nil, boom }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add([]evbill.WhatIfCDR{row(t, "a", "s", time.Now(), "EUR", 1)}); !errors.Is(err, boom) {
		t.Errorf("Add: %v", err)
	}
}

// TestReadStretches checks that the stretches cover [first, last] once,
// in microseconds, and that the first error stops the others.
func TestReadStretches(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 123000, time.UTC)
	last := first.Add(3*time.Hour + 7*time.Microsecond)
	for _, readers := range []int{1, 2, 5} {
		var mu sync.Mutex
		var got [][2]int64
		err := whatif.ReadStretches(context.Background(), first, last, readers, func(_ context.Context, from, to time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, [2]int64{from.UnixMicro(), to.UnixMicro()})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		if len(got) == 0 || got[0][0] != first.UnixMicro() || got[len(got)-1][1] != last.UnixMicro()+1 {
			t.Fatalf("readers %d: stretches %v", readers, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i][0] != got[i-1][1] {
				t.Fatalf("readers %d: stretch %d starts at %d, the one before ends at %d", readers, i, got[i][0], got[i-1][1])
			}
		}
	}
	boom := errors.New("boom")
	err := whatif.ReadStretches(context.Background(), first, last, 2, func(ctx context.Context, from, to time.Time) error {
		if from.Equal(first) {
			return boom
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Errorf("ReadStretches: %v, want the first error", err)
	}
	if err := whatif.ReadStretches(context.Background(), last, first, 2, nil); err != nil {
		t.Errorf("an empty span: %v", err)
	}
}

// TestApproximate counts the sessions with a period a candidate's
// boundary falls inside: a time of day (in the site's zone), a duration
// or an energy; a boundary at a period's start does not count.
func TestApproximate(t *testing.T) {
	ams := loc(t, "Europe/Amsterdam")
	candidate := []byte(`{"country_code":"NL","party_id":"EVB","id":"B","currency":"EUR","elements":[
 {"price_components":[{"type":"ENERGY","price":0.50,"step_size":1}],"restrictions":{"start_time":"17:00","end_time":"21:00"}},
 {"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}]}],"last_updated":"2025-01-01T00:00:00Z"}`)
	// 16:30 and 17:00 in Amsterdam (UTC+1 on 2 March).
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	across := row(t, "across", "ams", day.Add(15*time.Hour+30*time.Minute), "EUR", 100) // 16:30–17:30 local
	at := row(t, "at", "ams", day.Add(16*time.Hour), "EUR", 100)                        // 17:00–18:00 local
	late := row(t, "late", "ams", day.Add(20*time.Hour+30*time.Minute), "EUR", 100)     // 21:30–22:30 local
	for _, tc := range []struct {
		doc  []byte
		rows []evbill.WhatIfCDR
		want int64
	}{
		{candidate, []evbill.WhatIfCDR{across, at, late}, 1},
		{fee, []evbill.WhatIfCDR{across, at, late}, 0},
		{[]byte(`{"country_code":"NL","party_id":"EVB","id":"D","currency":"EUR","elements":[
 {"price_components":[{"type":"TIME","price":1,"step_size":1}],"restrictions":{"min_duration":1800}},
 {"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}],"restrictions":{"max_kwh":20}}],"last_updated":"2025-01-01T00:00:00Z"}`),
			[]evbill.WhatIfCDR{at}, 1},
		{[]byte(`{"country_code":"NL","party_id":"EVB","id":"K","currency":"EUR","elements":[
 {"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}],"restrictions":{"max_kwh":5}}],"last_updated":"2025-01-01T00:00:00Z"}`),
			[]evbill.WhatIfCDR{at}, 1},
	} {
		r, err := whatif.New(whatif.Config{Candidate: mustTariff(t, tc.doc), Zone: func(string) (*time.Location, error) { return ams, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(tc.rows); err != nil {
			t.Fatal(err)
		}
		res, err := r.Result()
		if err != nil {
			t.Fatal(err)
		}
		if res.Approximate != tc.want || res.Sessions != int64(len(tc.rows)) {
			t.Errorf("%s: %d of %d sessions approximate, want %d", mustTariff(t, tc.doc).ID, res.Approximate, res.Sessions, tc.want)
		}
	}
}

// TestFanout hands every row to fn once, with its own copy of the bytes
// the reader reused, and stops at the first error of either side.
func TestFanout(t *testing.T) {
	const n = 10*whatif.BatchSize + 17
	var mu sync.Mutex
	seen := map[string]string{}
	err := whatif.Fanout(context.Background(), 3, func(b []evbill.WhatIfCDR) error {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range b {
			if _, dup := seen[string(c.Record)]; dup {
				return fmt.Errorf("%s twice", c.Record)
			}
			seen[string(c.Record)] = c.SiteID
		}
		return nil
	}, func(ctx context.Context, emit func(site, rec []byte) error) error {
		buf := make([]byte, 0, 16)
		for i := range n {
			buf = strconv.AppendInt(buf[:0], int64(i), 10) // reused, as a driver does
			if err := emit([]byte("site"+strconv.Itoa(i/1000)), buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(seen) != n || seen["4321"] != "site4" {
		t.Fatalf("Fanout: %v, %d rows, row 4321 at %q", err, len(seen), seen["4321"])
	}
	boom := errors.New("boom")
	var emitted atomic.Int64
	err = whatif.Fanout(context.Background(), 2, func([]evbill.WhatIfCDR) error { return boom },
		func(ctx context.Context, emit func(site, rec []byte) error) error {
			for {
				if err := emit([]byte("s"), []byte("r")); err != nil {
					return err
				}
				if emitted.Add(1) > 100*whatif.BatchSize {
					return errors.New("the reader was not stopped")
				}
			}
		})
	if !errors.Is(err, boom) {
		t.Errorf("an error of fn: %v", err)
	}
	err = whatif.Fanout(context.Background(), 2, func([]evbill.WhatIfCDR) error { return nil },
		func(context.Context, func(site, rec []byte) error) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("an error of the reader: %v", err)
	}
}
