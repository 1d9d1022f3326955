package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/examples"
	"github.com/evbill/evbill/tariff"
	"github.com/evbill/evbill/whatif"
)

// WhatIfFullStore is a store of sessions that answers what-ifs, which is
// what RunWhatIf tests.
type WhatIfFullStore interface {
	FullStore
	evbill.WhatIfStore
}

// RunWhatIf runs the conformance suite of evbill.WhatIfStore as parallel
// subtests of t: the CDRs are made as the charging path makes them (the
// engine's periods and price, the OCPI document of cdr.AppendNew) and
// stored through EndSession; re-priced under the tariff that priced them
// they must give their amounts back exactly, session by session. Like Run
// it makes its own tenants, so it can share a database.
func RunWhatIf(t *testing.T, open func(t *testing.T) WhatIfFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s WhatIfFullStore)
	}{
		{"WhatIfPeriods", testWhatIfPeriods},
		{"WhatIfCurrentTariff", testWhatIfCurrentTariff},
		{"WhatIfCheaper", testWhatIfCheaper},
		{"WhatIfFilters", testWhatIfFilters},
		{"WhatIfCurrency", testWhatIfCurrency},
		{"WhatIfUnencodable", testWhatIfUnencodable},
		{"WhatIfTenantIsolation", testWhatIfIsolation},
		{"WhatIfPages", testWhatIfPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// CheaperTariff is the shipped example tariff (examples.Tariff) with
// every price lower, the start fee included, so that every session costs
// less under it.
var CheaperTariff = []byte(`{"country_code":"NL","party_id":"EVB","id":"AMS-TOU-CHEAP","currency":"EUR","type":"REGULAR",
"elements":[
 {"price_components":[{"type":"FLAT","price":0.25,"vat":21.0,"step_size":1}]},
 {"price_components":[{"type":"ENERGY","price":0.40,"vat":21.0,"step_size":1},{"type":"TIME","price":0.50,"vat":21.0,"step_size":60}],
  "restrictions":{"start_time":"07:00","end_time":"19:00"}},
 {"price_components":[{"type":"ENERGY","price":0.28,"vat":21.0,"step_size":1},{"type":"TIME","price":0.25,"vat":21.0,"step_size":60}]},
 {"price_components":[{"type":"PARKING_TIME","price":5.00,"vat":21.0,"step_size":300}],
  "restrictions":{"start_time":"08:00","end_time":"20:00"}}],
"last_updated":"2025-01-01T00:00:00Z"}`)

// flatTariff prices energy only, the same all day.
var flatTariff = []byte(`{"country_code":"NL","party_id":"EVB","id":"FLAT-1","currency":"EUR",
"elements":[{"price_components":[{"type":"ENERGY","price":0.39,"vat":21.0,"step_size":1}]}],
"last_updated":"2025-01-01T00:00:00Z"}`)

// usdTariff is a tariff in another currency.
var usdTariff = []byte(`{"country_code":"US","party_id":"EVB","id":"US-1","currency":"USD",
"elements":[{"price_components":[{"type":"FLAT","price":1.00,"step_size":1},{"type":"ENERGY","price":0.42,"step_size":1}]}],
"last_updated":"2025-01-01T00:00:00Z"}`)

// whatIfSession is a session a what-if test stored, with what the engine
// priced it at.
type whatIfSession struct {
	ID        string
	SiteID    string
	StationID string
	TariffID  string
	StartedAt time.Time
	Currency  string
	Amount    int64
	Session   tariff.Session // as priced: its periods, in the site's time zone
}

// whatIfWorld is a tenant with two sites in different time zones, three
// stations and three tariffs, and the sessions stored in it.
type whatIfWorld struct {
	tenant   evbill.Tenant
	sites    []evbill.Site // Amsterdam, New York
	zones    map[string]*time.Location
	stations []evbill.Station // two in Amsterdam, one in New York
	tou      evbill.TariffVersion
	flat     evbill.TariffVersion
	usd      evbill.TariffVersion
	parsed   map[string]*tariff.Tariff
	sessions []whatIfSession
}

// day0 is the first day of the what-if worlds' sessions.
var day0 = time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)

func newWhatIfWorld(t testing.TB, s evbill.Store) *whatIfWorld {
	t.Helper()
	ctx := context.Background()
	w := &whatIfWorld{tenant: newTenant(t, s), zones: map[string]*time.Location{}, parsed: map[string]*tariff.Tariff{}}
	for _, z := range []string{"Europe/Amsterdam", "America/New_York"} {
		site := evbill.Site{TenantID: w.tenant.ID, Name: z, Address: "Main St 1", City: z, Country: "NL", TimeZone: z}
		noErr(t, "CreateSite", s.CreateSite(ctx, &site))
		loc, err := time.LoadLocation(z)
		noErr(t, "LoadLocation", err)
		w.sites = append(w.sites, site)
		w.zones[site.ID] = loc
	}
	for _, site := range []int{0, 0, 1} {
		w.stations = append(w.stations, newStation(t, s, w.tenant.ID, w.sites[site].ID))
	}
	for _, v := range []struct {
		into *evbill.TariffVersion
		doc  []byte
	}{{&w.tou, examples.Tariff}, {&w.flat, flatTariff}, {&w.usd, usdTariff}} {
		tf, err := tariff.Parse(v.doc)
		noErr(t, "tariff.Parse", err)
		*v.into = evbill.TariffVersion{TenantID: w.tenant.ID, Currency: tf.Currency.Code(), Document: v.doc}
		noErr(t, "CreateTariff", s.CreateTariff(ctx, v.into))
		w.parsed[v.into.TariffID] = tf
	}
	return w
}

// zone is the world's whatif.Config.Zone.
func (w *whatIfWorld) zone(siteID string) (*time.Location, error) {
	loc, ok := w.zones[siteID]
	if !ok {
		return nil, evbill.Errorf(evbill.ENOTFOUND, "no site %q", siteID)
	}
	return loc, nil
}

// plan is a session to store: where, under which tariff, from when.
type plan struct {
	station int
	tariff  evbill.TariffVersion
	start   time.Time
}

// plans returns n sessions spread over days days from day0 at every hour
// of the day (so that they cross the example tariff's time-of-use
// boundaries), at starts with milliseconds, the finest OCPP timestamps
// carry (so that durations in hours are not finite decimals), mostly
// under the time-of-use tariff.
func (w *whatIfWorld) plans(rng *rand.Rand, n, days int) []plan {
	out := make([]plan, n)
	for i := range out {
		p := plan{station: rng.IntN(len(w.stations)), tariff: w.tou}
		switch {
		case p.station == 2 && rng.IntN(3) == 0:
			p.tariff = w.usd // New York's
		case rng.IntN(8) == 0:
			p.tariff = w.flat
		}
		p.start = day0.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour)))).Truncate(time.Millisecond)
		out[i] = p
	}
	return out
}

// Metered returns a realistic metered session starting at start: 20 min
// to 4 h of charging at 3.7 to 50 kW, a reading every 15 minutes with
// power, and for most sessions up to 90 min of parking after charging.
func Metered(rng *rand.Rand, start time.Time, loc *time.Location) *tariff.Metered {
	charging := time.Duration(20+rng.IntN(220)) * time.Minute
	watts := int64(3700 + rng.IntN(46300))
	m := &tariff.Metered{Start: start, MeterStartWh: decimal.MustNew(int64(rng.IntN(5_000_000)), 0), Location: loc}
	wh := m.MeterStartWh
	for at := 15 * time.Minute; at < charging; at += 15 * time.Minute {
		// Energy to the tenth of a Wh, power to the watt.
		var err error
		if wh, err = wh.Add(decimal.MustNew(watts*int64(15*time.Minute/time.Second)/360+int64(rng.IntN(10)), 1)); err != nil {
			panic(err) // unreachable: a few million Wh
		}
		m.Samples = append(m.Samples, tariff.Sample{Time: start.Add(at), EnergyWh: wh,
			PowerW: decimal.MustNew(watts+int64(rng.IntN(500)), 0), HasPower: true})
	}
	end := start.Add(charging)
	if rng.IntN(4) > 0 {
		m.ParkingStart = end.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		m.Samples = append(m.Samples, tariff.Sample{Time: m.ParkingStart, EnergyWh: wh, PowerW: decimal.Zero, HasPower: true})
		end = m.ParkingStart.Add(time.Duration(1+rng.IntN(90)) * time.Minute)
	}
	m.End = end.Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
	m.MeterStopWh, m.HasMeterStop = wh, true
	return m
}

// PricedCDR prices a metered session as charging's Service does at the
// stop (tf.PriceMetered) and returns the CDR it would store (the OCPI
// document of cdr.AppendNew, with the metered start and end as the
// service writes them), with the session as priced.
func PricedCDR(tf *tariff.Tariff, tariffDoc []byte, site evbill.Site, station evbill.Station, ss *evbill.Session, m *tariff.Metered) (*evbill.CDR, tariff.Session, error) {
	result, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		return nil, tariff.Session{}, err
	}
	// The engine priced the session with its instants to the millisecond.
	ts := tariff.Session{Start: m.Start.Truncate(time.Millisecond), End: m.End.Truncate(time.Millisecond), Periods: periods, Location: m.Location}
	h := &cdr.Header{
		CountryCode: "NL", PartyID: "EVB", ID: evbill.NewID(evbill.PrefixCDR), Start: m.Start, End: m.End, SessionID: ss.ID,
		Token:      cdr.Token{CountryCode: "NL", PartyID: "EVB", UID: ss.IDTag, Type: "RFID", ContractID: ss.IDTag},
		AuthMethod: "WHITELIST", Currency: tf.Currency.Code(), Tariffs: []json.RawMessage{tariffDoc}, LastUpdated: m.End,
		Location: cdr.Location{ID: site.ID, Name: site.Name, Address: site.Address, City: site.City, Country: "NLD",
			EVSEUID: station.ID, EVSEID: station.ChargePointID, ConnectorID: strconv.Itoa(ss.ConnectorNumber),
			ConnectorStandard: "IEC_62196_T2", ConnectorFormat: "SOCKET", ConnectorPowerType: "AC_3_PHASE"},
	}
	doc, err := cdr.AppendNew(nil, h, &ts, &result)
	if err != nil {
		return nil, tariff.Session{}, err
	}
	excl, incl, err := result.Total.Round(4)
	if err != nil {
		return nil, tariff.Session{}, err
	}
	explain := tariff.AppendExplanation(nil, tf, &ts, &result)
	breakdown, err := json.Marshal(map[string]string{"explanation": string(explain)})
	if err != nil {
		return nil, tariff.Session{}, err
	}
	return &evbill.CDR{ID: h.ID, Currency: h.Currency, TotalExclVAT: excl.String(), TotalInclVAT: incl.String(),
		AmountMinor: result.Charge.Minor, Document: doc, Breakdown: breakdown}, ts, nil
}

// store starts and ends the planned sessions, batch by batch through
// ApplySessionWrites as the OCPP path does, each with its priced CDR.
func (w *whatIfWorld) store(t testing.TB, s FullStore, rng *rand.Rand, plans []plan) []whatIfSession {
	t.Helper()
	ctx := context.Background()
	var out []whatIfSession
	const batch = 250
	for len(plans) > 0 {
		n := min(batch, len(plans))
		chunk := plans[:n]
		plans = plans[n:]
		starts := make([]evbill.SessionWrite, n)
		meters := make([]*tariff.Metered, n)
		sites := make([]evbill.Site, n)
		for i, p := range chunk {
			st := w.stations[p.station]
			sites[i] = w.sites[0]
			if st.SiteID != sites[i].ID {
				sites[i] = w.sites[1]
			}
			meters[i] = Metered(rng, p.start, w.zones[st.SiteID])
			starts[i].Start = &evbill.Session{TenantID: w.tenant.ID, StationID: st.ID, ConnectorNumber: 1 + i%2,
				IDTag: "TAG" + strconv.Itoa(len(w.sessions)+len(out)+i), TariffID: p.tariff.TariffID, TariffVersion: p.tariff.Version,
				MeterStartWh: meters[i].MeterStartWh.String(), StartedAt: p.start}
		}
		noErr(t, "ApplySessionWrites (starts)", s.ApplySessionWrites(ctx, starts))
		ends := make([]evbill.SessionWrite, n)
		made := make([]whatIfSession, n)
		for i, p := range chunk {
			if starts[i].Err != nil {
				t.Fatalf("start %d: %v", i, starts[i].Err)
			}
			ss := *starts[i].Start
			st, site, m := w.stations[p.station], sites[i], meters[i]
			c, priced, err := PricedCDR(w.parsed[p.tariff.TariffID], p.tariff.Document, site, st, &ss, m)
			noErr(t, "PricedCDR", err)
			stop := m.End
			ss.MeterStopWh, ss.StoppedAt, ss.StopReason = m.MeterStopWh.String(), &stop, "EVDisconnected"
			if !m.ParkingStart.IsZero() {
				ps := m.ParkingStart
				ss.ParkingStartedAt = &ps
			}
			ends[i].End = &evbill.EndWrite{Session: &ss, CDR: c}
			made[i] = whatIfSession{ID: ss.ID, SiteID: site.ID, StationID: st.ID, TariffID: p.tariff.TariffID,
				StartedAt: ss.StartedAt, Currency: c.Currency, Amount: c.AmountMinor, Session: priced}
		}
		noErr(t, "ApplySessionWrites (ends)", s.ApplySessionWrites(ctx, ends))
		for i := range ends {
			if ends[i].Err != nil {
				t.Fatalf("end %d: %v", i, ends[i].Err)
			}
		}
		out = append(out, made...)
	}
	w.sessions = append(w.sessions, out...)
	return out
}

// storedCDR is a CDR as a what-if read it: its site and the record's
// header, and the record.
type storedCDR struct {
	SiteID    string
	SessionID string
	StartedAt time.Time
	Currency  string
	Amount    int64
	Record    []byte
}

// collect reads every CDR the filter selects, failing on one read twice.
func collect(t testing.TB, s evbill.WhatIfStore, f evbill.WhatIfFilter) map[string]storedCDR {
	t.Helper()
	var mu sync.Mutex
	got := map[string]storedCDR{}
	err := s.WhatIfCDRs(context.Background(), f, func(batch []evbill.WhatIfCDR) error {
		mu.Lock()
		defer mu.Unlock()
		var dec whatif.Decoder
		for _, c := range batch {
			h, err := dec.Header(c.Record)
			if err != nil {
				return err
			}
			id := string(h.SessionID)
			if _, dup := got[id]; dup {
				return fmt.Errorf("session %s read twice", id)
			}
			got[id] = storedCDR{SiteID: c.SiteID, SessionID: id, StartedAt: time.UnixMicro(h.StartedAt).UTC(),
				Currency: string(h.Currency), Amount: h.Amount, Record: append([]byte(nil), c.Record...)}
		}
		return nil
	})
	noErr(t, "WhatIfCDRs", err)
	return got
}

// runWhatIf re-prices the CDRs the filter selects under candidate.
func runWhatIf(t testing.TB, s evbill.WhatIfStore, w *whatIfWorld, f evbill.WhatIfFilter, candidate []byte) *whatif.Result {
	t.Helper()
	tf, err := tariff.Parse(candidate)
	noErr(t, "tariff.Parse", err)
	r, err := whatif.New(whatif.Config{Candidate: tf, Zone: w.zone})
	noErr(t, "whatif.New", err)
	noErr(t, "WhatIfCDRs", s.WhatIfCDRs(context.Background(), f, r.Add))
	res, err := r.Result()
	noErr(t, "Result", err)
	return res
}

// all is a filter for all of the world's sessions.
func (w *whatIfWorld) all() evbill.WhatIfFilter {
	return evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0)}
}

// sessionsWhere returns the world's sessions that keep holds for.
func (w *whatIfWorld) sessionsWhere(keep func(whatIfSession) bool) []whatIfSession {
	var out []whatIfSession
	for _, x := range w.sessions {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// sameIDs fails t unless got holds exactly the sessions of want.
func sameIDs(t testing.TB, what string, got map[string]storedCDR, want []whatIfSession) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d CDRs, want %d", what, len(got), len(want))
	}
	for _, x := range want {
		if _, ok := got[x.ID]; !ok {
			t.Errorf("%s: session %s missing", what, x.ID)
			return
		}
	}
}

// testWhatIfPeriods checks each row against its session: start, site,
// currency and amount as stored, and periods that decode to exactly the
// periods the engine priced.
func testWhatIfPeriods(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(1, 2)), w.plans(rand.New(rand.NewPCG(3, 4)), 40, 7))
	got := collect(t, s, w.all())
	sameIDs(t, "all", got, w.sessions)
	var dec whatif.Decoder
	for _, x := range w.sessions {
		c := got[x.ID]
		equal(t, "StartedAt of "+x.ID, c.StartedAt, x.StartedAt)
		equal(t, "SiteID of "+x.ID, c.SiteID, x.SiteID)
		equal(t, "Currency of "+x.ID, c.Currency, x.Currency)
		equal(t, "Amount of "+x.ID, c.Amount, x.Amount)
		var ts tariff.Session
		_, err := dec.Decode(c.Record, &ts)
		noErr(t, "Decode", err)
		if !ts.Start.Equal(x.Session.Start) || !ts.End.Equal(x.Session.End) || len(ts.Periods) != len(x.Session.Periods) {
			t.Fatalf("session %s decodes to %v–%v with %d periods, want %v–%v with %d",
				x.ID, ts.Start, ts.End, len(ts.Periods), x.Session.Start, x.Session.End, len(x.Session.Periods))
		}
		for i := range ts.Periods {
			if d := periodDiff(&ts.Periods[i], &x.Session.Periods[i]); d != "" {
				t.Fatalf("session %s period %d: %s", x.ID, i, d)
			}
		}
	}
	if dec.FromDocument != 0 {
		t.Errorf("%d sessions were read from their document, want none", dec.FromDocument)
	}
}

// periodDiff says how two periods differ, "" when they are equal.
func periodDiff(a, b *tariff.Period) string {
	if !a.Start.Equal(b.Start) || a.Has != b.Has {
		return fmt.Sprintf("start %v has %b, want %v has %b", a.Start, a.Has, b.Start, b.Has)
	}
	pairs := [][3]any{{"energy", a.Energy, b.Energy}, {"time", a.Time, b.Time}, {"parking", a.ParkingTime, b.ParkingTime},
		{"reservation", a.ReservationTime, b.ReservationTime}, {"min current", a.MinCurrent, b.MinCurrent},
		{"max current", a.MaxCurrent, b.MaxCurrent}, {"min power", a.MinPower, b.MinPower}, {"max power", a.MaxPower, b.MaxPower}}
	var diffs []string
	for _, p := range pairs {
		if x, y := p[1].(decimal.Decimal), p[2].(decimal.Decimal); !x.Equal(y) {
			diffs = append(diffs, fmt.Sprintf("%s %s, want %s", p[0], x, y))
		}
	}
	return strings.Join(diffs, "; ")
}

// testWhatIfCurrentTariff re-prices each tariff's sessions under that
// tariff: the totals and every session's price are the CDRs'.
func testWhatIfCurrentTariff(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(5, 6)), w.plans(rand.New(rand.NewPCG(7, 8)), 60, 10))
	for _, v := range []evbill.TariffVersion{w.tou, w.flat, w.usd} {
		f := w.all()
		f.TariffID = v.TariffID
		want := w.sessionsWhere(func(x whatIfSession) bool { return x.TariffID == v.TariffID })
		res := runWhatIf(t, s, w, f, v.Document)
		var actual int64
		perSite := map[string]int64{}
		for _, x := range want {
			actual += x.Amount
			perSite[x.SiteID] += x.Amount
		}
		equal(t, v.Currency+" sessions", res.Sessions, int64(len(want)))
		equal(t, v.Currency+" actual", res.Actual, actual)
		equal(t, v.Currency+" candidate", res.Candidate, actual)
		if len(want) > 0 && (res.Change == nil || res.Change.Min != 0 || res.Change.Max != 0 || res.Change.Unchanged != int64(len(want))) {
			t.Errorf("%s: change per session %+v, want none for each of %d", v.TariffID, res.Change, len(want))
		}
		if res.Unpriced != 0 || len(res.OtherCurrency) != 0 || res.Approximate != 0 {
			t.Errorf("%s: %d unpriced (%v), skipped %v, %d approximate", v.TariffID, res.Unpriced, res.Examples, res.OtherCurrency, res.Approximate)
		}
		var days int64
		for _, site := range res.Sites {
			equal(t, "actual of site "+site.ID, site.Actual, perSite[site.ID])
			equal(t, "candidate of site "+site.ID, site.Candidate, perSite[site.ID])
			for _, d := range site.Days {
				days += d.Candidate
			}
		}
		equal(t, "sum of the days", days, actual)
	}
	// Session by session, through the engine itself.
	got := collect(t, s, w.all())
	var dec whatif.Decoder
	for _, x := range w.sessions {
		c := got[x.ID]
		ts := tariff.Session{Location: w.zones[x.SiteID]}
		_, err := dec.Decode(c.Record, &ts)
		noErr(t, "Decode", err)
		r, err := w.parsed[x.TariffID].Price(&ts)
		noErr(t, "Price", err)
		if r.Charge.Minor != c.Amount {
			t.Errorf("session %s re-prices to %d, its CDR charged %d", x.ID, r.Charge.Minor, c.Amount)
		}
	}
}

// testWhatIfCheaper re-prices under a tariff with every price lower: every
// session costs less.
func testWhatIfCheaper(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(9, 10)), w.plans(rand.New(rand.NewPCG(11, 12)), 50, 10))
	f := w.all()
	f.TariffID = w.tou.TariffID
	want := w.sessionsWhere(func(x whatIfSession) bool { return x.TariffID == w.tou.TariffID })
	res := runWhatIf(t, s, w, f, CheaperTariff)
	n := int64(len(want))
	if res.Sessions != n || res.Change == nil || res.Change.Lower != n || res.Change.Max >= 0 {
		t.Fatalf("cheaper: %d sessions, change %+v; want all %d lower", res.Sessions, res.Change, n)
	}
	if !(res.Change.Min <= res.Change.P10 && res.Change.P10 <= res.Change.P50 && res.Change.P50 <= res.Change.P90 && res.Change.P90 <= res.Change.Max) {
		t.Errorf("percentiles out of order: %+v", res.Change)
	}
	if res.Candidate >= res.Actual || res.Approximate != 0 {
		t.Errorf("cheaper: candidate %d, actual %d, %d approximate (its boundaries are the example's)", res.Candidate, res.Actual, res.Approximate)
	}
	for _, site := range res.Sites {
		for _, d := range site.Days {
			if d.Candidate >= d.Actual {
				t.Errorf("site %s day %s: candidate %d, actual %d", site.ID, d.Date, d.Candidate, d.Actual)
			}
		}
	}
}

// testWhatIfFilters checks the range (start inclusive, end exclusive, to
// the microsecond) and each scope, alone and together, against the
// counts.
func testWhatIfFilters(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(13, 14)), w.plans(rand.New(rand.NewPCG(15, 16)), 60, 10))
	ctx := context.Background()
	pivot := w.sessions[7].StartedAt
	cases := []struct {
		name string
		f    evbill.WhatIfFilter
		keep func(whatIfSession) bool
	}{
		{"all", w.all(), func(whatIfSession) bool { return true }},
		{"from a start", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: pivot, To: day0.AddDate(1, 0, 0)},
			func(x whatIfSession) bool { return !x.StartedAt.Before(pivot) }},
		{"just after a start", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: pivot.Add(time.Nanosecond), To: day0.AddDate(1, 0, 0)},
			func(x whatIfSession) bool { return x.StartedAt.After(pivot) }},
		{"until a start", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0.AddDate(-1, 0, 0), To: pivot},
			func(x whatIfSession) bool { return x.StartedAt.Before(pivot) }},
		{"days 3 to 5", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0.AddDate(0, 0, 3), To: day0.AddDate(0, 0, 5)},
			func(x whatIfSession) bool {
				return !x.StartedAt.Before(day0.AddDate(0, 0, 3)) && x.StartedAt.Before(day0.AddDate(0, 0, 5))
			}},
		{"site", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0), SiteID: w.sites[0].ID},
			func(x whatIfSession) bool { return x.SiteID == w.sites[0].ID }},
		{"station", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0), StationID: w.stations[1].ID},
			func(x whatIfSession) bool { return x.StationID == w.stations[1].ID }},
		{"tariff", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0), TariffID: w.flat.TariffID},
			func(x whatIfSession) bool { return x.TariffID == w.flat.TariffID }},
		{"site, tariff and days", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0.AddDate(0, 0, 2), To: day0.AddDate(0, 0, 8),
			SiteID: w.sites[0].ID, TariffID: w.tou.TariffID},
			func(x whatIfSession) bool {
				return x.SiteID == w.sites[0].ID && x.TariffID == w.tou.TariffID &&
					!x.StartedAt.Before(day0.AddDate(0, 0, 2)) && x.StartedAt.Before(day0.AddDate(0, 0, 8))
			}},
		{"another site's station", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0),
			SiteID: w.sites[1].ID, StationID: w.stations[0].ID}, func(whatIfSession) bool { return false }},
		{"unknown tariff", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0, To: day0.AddDate(0, 1, 0), TariffID: "trf_none"},
			func(whatIfSession) bool { return false }},
		{"before everything", evbill.WhatIfFilter{TenantID: w.tenant.ID, From: day0.AddDate(-1, 0, 0), To: day0},
			func(whatIfSession) bool { return false }},
	}
	for _, c := range cases {
		want := w.sessionsWhere(c.keep)
		sameIDs(t, c.name, collect(t, s, c.f), want)
		n, err := s.CountWhatIfCDRs(ctx, c.f)
		noErr(t, "CountWhatIfCDRs", err)
		equal(t, c.name+": count", n, int64(len(want)))
	}
	for _, f := range []evbill.WhatIfFilter{
		{TenantID: w.tenant.ID, From: day0, To: day0},
		{TenantID: w.tenant.ID, From: day0, To: day0.Add(-time.Hour)},
	} {
		wantCode(t, "WhatIfCDRs of an empty range", s.WhatIfCDRs(ctx, f, func([]evbill.WhatIfCDR) error { return nil }), evbill.EINVALID, "")
		_, err := s.CountWhatIfCDRs(ctx, f)
		wantCode(t, "CountWhatIfCDRs of an empty range", err, evbill.EINVALID, "")
	}
}

// testWhatIfCurrency re-prices everything under a EUR tariff: the USD
// sessions are skipped and counted, the others re-priced.
func testWhatIfCurrency(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(17, 18)), w.plans(rand.New(rand.NewPCG(19, 20)), 80, 10))
	usd := int64(len(w.sessionsWhere(func(x whatIfSession) bool { return x.Currency == "USD" })))
	if usd == 0 {
		t.Fatal("the world has no USD session")
	}
	res := runWhatIf(t, s, w, w.all(), examples.Tariff)
	equal(t, "sessions", res.Sessions, int64(len(w.sessions))-usd)
	if len(res.OtherCurrency) != 1 || res.OtherCurrency[0] != (whatif.Skipped{Currency: "USD", Sessions: usd}) {
		t.Errorf("skipped %+v, want %d USD", res.OtherCurrency, usd)
	}
	equal(t, "currency", res.Currency.Code(), "EUR")
}

// testWhatIfUnencodable stores a CDR whose document is not OCPI (the
// conformance suite's own): it is read, and counted as not re-priced.
func testWhatIfUnencodable(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	ctx := context.Background()
	ss := evbill.Session{TenantID: w.tenant.ID, StationID: w.stations[0].ID, ConnectorNumber: 1, IDTag: "TAG",
		TariffID: w.tou.TariffID, TariffVersion: w.tou.Version, MeterStartWh: "0", StartedAt: day0.Add(time.Hour)}
	ss = startNew(t, s, ss)
	end := endWith(ss, day0.Add(2*time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	got := collect(t, s, w.all())
	if len(got) != 1 {
		t.Fatalf("%d CDRs read, want 1", len(got))
	}
	res := runWhatIf(t, s, w, w.all(), examples.Tariff)
	if res.Sessions != 0 || res.Unpriced != 1 || len(res.Examples) != 1 || res.Examples[0].SessionID != ss.ID {
		t.Errorf("result %+v, want the session counted as not re-priced", res)
	}
}

// testWhatIfIsolation checks that a tenant reads only its own CDRs.
func testWhatIfIsolation(t *testing.T, s WhatIfFullStore) {
	a, b := newWhatIfWorld(t, s), newWhatIfWorld(t, s)
	a.store(t, s, rand.New(rand.NewPCG(21, 22)), a.plans(rand.New(rand.NewPCG(23, 24)), 20, 5))
	b.store(t, s, rand.New(rand.NewPCG(25, 26)), b.plans(rand.New(rand.NewPCG(27, 28)), 25, 5))
	sameIDs(t, "tenant a", collect(t, s, a.all()), a.sessions)
	sameIDs(t, "tenant b", collect(t, s, b.all()), b.sessions)
	f := b.all()
	f.SiteID = a.sites[0].ID
	sameIDs(t, "tenant b with a's site", collect(t, s, f), nil)
}

// testWhatIfPages stores more CDRs than a store reads in one page, most
// of them started at one instant (so that a page ends among sessions of
// the same start, and all of them fall in one of the stretches the store
// reads at once), and checks that each is read once and re-prices
// exactly.
func testWhatIfPages(t *testing.T, s WhatIfFullStore) {
	w := newWhatIfWorld(t, s)
	plans := w.plans(rand.New(rand.NewPCG(29, 30)), 2400, 3)
	same := day0.Add(30 * time.Hour)
	for i := range 2100 {
		plans[i].start = same
	}
	w.store(t, s, rand.New(rand.NewPCG(31, 32)), plans)
	sameIDs(t, "all", collect(t, s, w.all()), w.sessions)
	f := w.all()
	f.TariffID = w.tou.TariffID
	want := w.sessionsWhere(func(x whatIfSession) bool { return x.TariffID == w.tou.TariffID })
	res := runWhatIf(t, s, w, f, examples.Tariff)
	equal(t, "sessions", res.Sessions, int64(len(want)))
	if res.Change == nil || res.Change.Unchanged != int64(len(want)) || res.Actual != res.Candidate {
		t.Errorf("current tariff over pages: actual %d, candidate %d, change %+v", res.Actual, res.Candidate, res.Change)
	}
}

// WhatIfBench is a tenant for a what-if benchmark: one Amsterdam site
// with ten stations and the example tariff, whose CDRs the engine's own
// bulk loader stores (see WhatIfBenchCDRs).
type WhatIfBench struct {
	// Tenant is the benchmark's own, named for the number of CDRs.
	Tenant evbill.Tenant
	// Site, Stations and Tariff are the records the CDRs refer to; they
	// are zero in a database kept from an earlier run.
	Site     evbill.Site
	Stations []evbill.Station
	Tariff   evbill.TariffVersion
	zone     *time.Location
}

// NewWhatIfBench makes the benchmark's tenant, named for n, and its
// records; or, in a database kept from an earlier run (a benchmark may
// keep one, since loading a million CDRs takes minutes), finds that
// tenant, and reports it loaded.
func NewWhatIfBench(tb testing.TB, s evbill.Store, n int) (w *WhatIfBench, loaded bool) {
	tb.Helper()
	ctx := context.Background()
	w = &WhatIfBench{}
	var err error
	if w.zone, err = time.LoadLocation("Europe/Amsterdam"); err != nil {
		tb.Fatal(err)
	}
	name := "whatif-bench-" + strconv.Itoa(n)
	if w.Tenant, err = s.TenantByName(ctx, name); err == nil {
		return w, true
	} else if evbill.ErrorCode(err) != evbill.ENOTFOUND {
		tb.Fatal(err)
	}
	w.Tenant = evbill.Tenant{Name: name}
	noErr(tb, "CreateTenant", s.CreateTenant(ctx, &w.Tenant))
	w.Site = evbill.Site{TenantID: w.Tenant.ID, Name: "Centraal", Address: "Stationsplein 1", City: "Amsterdam", Country: "NL", TimeZone: "Europe/Amsterdam"}
	noErr(tb, "CreateSite", s.CreateSite(ctx, &w.Site))
	for range 10 {
		w.Stations = append(w.Stations, newStation(tb, s, w.Tenant.ID, w.Site.ID))
	}
	w.Tariff = evbill.TariffVersion{TenantID: w.Tenant.ID, Currency: "EUR", Document: examples.Tariff}
	noErr(tb, "CreateTariff", s.CreateTariff(ctx, &w.Tariff))
	return w, false
}

// WhatIfBenchCDR is one CDR a benchmark loads: the session's and CDR's
// IDs, its station, its span, what the engine charged and its what-if
// record.
type WhatIfBenchCDR struct {
	// SessionID and CDRID are new IDs; TransactionID counts from 1.
	SessionID, CDRID     string
	TransactionID        int64
	StationID            string
	StartedAt, StoppedAt time.Time
	Amount               int64
	Record               []byte
}

// whatIfBenchBase is how many distinct sessions the benchmark's CDRs
// repeat: cutting a session into periods (tariff.Periods) costs tens of
// microseconds, too long to do a million times before each run.
const whatIfBenchBase = 20_000

// WhatIfBenchCDRs calls load with n CDRs of the benchmark's tenant, in
// order of start: 20,000 realistic sessions (Metered) over one week,
// cut into periods by the engine, repeated week after week with every
// instant moved by the weeks, each priced by the engine under the example
// tariff at its own instants, so that every CDR's amount is the engine's.
func (w *WhatIfBench) WhatIfBenchCDRs(tb testing.TB, n int, load func(*WhatIfBenchCDR) error) {
	tb.Helper()
	tf, err := tariff.Parse(examples.Tariff)
	noErr(tb, "tariff.Parse", err)
	rng := rand.New(rand.NewPCG(41, 42))
	week := 7 * 24 * time.Hour
	begin := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	base := make([]tariff.Session, min(n, whatIfBenchBase))
	starts := make([]time.Duration, len(base))
	for i := range starts {
		starts[i] = time.Duration(rng.Int64N(int64(week))).Truncate(time.Millisecond)
	}
	slices.Sort(starts)
	for i := range base {
		m := Metered(rng, begin.Add(starts[i]), w.zone)
		periods, err := tf.Periods(m)
		noErr(tb, "Periods", err)
		base[i] = tariff.Session{Start: m.Start.Truncate(time.Millisecond), End: m.End.Truncate(time.Millisecond), Periods: periods, Location: w.zone}
	}
	var (
		c   WhatIfBenchCDR
		s   tariff.Session
		r   tariff.Result
		buf []tariff.Period
	)
	s.Location = w.zone
	for i := range n {
		b := &base[i%len(base)]
		shift := time.Duration(i/len(base)) * week
		s.Start, s.End = b.Start.Add(shift), b.End.Add(shift)
		buf = append(buf[:0], b.Periods...)
		for j := range buf {
			buf[j].Start = buf[j].Start.Add(shift)
		}
		s.Periods = buf
		noErr(tb, "PriceInto", tf.PriceInto(&s, &r))
		c = WhatIfBenchCDR{SessionID: evbill.NewID(evbill.PrefixSession), CDRID: evbill.NewID(evbill.PrefixCDR),
			TransactionID: int64(i + 1), StationID: w.Stations[i%len(w.Stations)].ID, StartedAt: s.Start, StoppedAt: s.End,
			Amount: r.Charge.Minor}
		c.Record, err = whatif.AppendRecord(c.Record[:0], c.SessionID, c.StartedAt, "EUR", c.Amount, &s)
		noErr(tb, "AppendRecord", err)
		noErr(tb, "load", load(&c))
	}
}

// BenchmarkWhatIf measures a what-if over the n CDRs WhatIfBenchCDRs
// loaded: every one re-priced under CheaperTariff. Before the clock
// starts it checks, once, that the example tariff gives every CDR's
// amount back. It reports CDRs re-priced per second and, when cpu is not
// nil (it returns the CPU time the process has used), the CPU seconds a
// what-if takes: on a machine that runs other work too, the wall clock
// says little, and CPU seconds over the cores are the best wall time the
// machine can give.
func (w *WhatIfBench) BenchmarkWhatIf(b *testing.B, s evbill.WhatIfStore, n int, cpu func() time.Duration) {
	ctx := context.Background()
	zone := func(string) (*time.Location, error) { return w.zone, nil }
	f := evbill.WhatIfFilter{TenantID: w.Tenant.ID, From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	run := func(doc []byte) *whatif.Result {
		tf, err := tariff.Parse(doc)
		noErr(b, "tariff.Parse", err)
		r, err := whatif.New(whatif.Config{Candidate: tf, Zone: zone})
		noErr(b, "whatif.New", err)
		noErr(b, "WhatIfCDRs", s.WhatIfCDRs(ctx, f, r.Add))
		res, err := r.Result()
		noErr(b, "Result", err)
		if res.Sessions != int64(n) {
			b.Fatalf("%d sessions re-priced, want %d (unpriced %d: %v)", res.Sessions, n, res.Unpriced, res.Examples)
		}
		return res
	}
	start := time.Now()
	if res := run(examples.Tariff); res.Actual != res.Candidate || res.Change.Unchanged != int64(n) {
		b.Fatalf("the tariff in force: actual %d, candidate %d, change %+v", res.Actual, res.Candidate, res.Change)
	}
	b.Logf("the example tariff gives back all %d CDRs' amounts (%v, cold)", n, time.Since(start).Round(time.Millisecond))
	var cpu0 time.Duration
	if cpu != nil {
		cpu0 = cpu()
	}
	b.ResetTimer()
	for b.Loop() {
		run(CheaperTariff)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
	if cpu != nil {
		b.ReportMetric((cpu()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	}
}

// RunWhatIfLegacy checks the records a migration makes in SQL for CDRs
// stored before records existed: it stores sessions through EndSession,
// then empties cdr_periods and runs the migration's backfill (its INSERT
// INTO cdr_periods statement) through exec, as the migration did for a
// database that had CDRs. The what-if over those legacy records, parsed
// from the documents, must give what the records EndSession wrote gave.
// s must be a database of its own: the backfill covers every tenant.
func RunWhatIfLegacy(t *testing.T, s WhatIfFullStore, migration []byte, exec func(query string) error) {
	const insert = "INSERT INTO cdr_periods"
	text := string(migration)
	if i := strings.Index(text, "-- +goose Down"); i >= 0 {
		text = text[:i]
	}
	i := strings.Index(text, insert)
	j := strings.LastIndex(text, ";")
	if i < 0 || j < i {
		t.Fatalf("the migration has no %s statement", insert)
	}
	w := newWhatIfWorld(t, s)
	w.store(t, s, rand.New(rand.NewPCG(33, 34)), w.plans(rand.New(rand.NewPCG(35, 36)), 30, 5))
	want := runWhatIf(t, s, w, w.all(), CheaperTariff)
	noErr(t, "DELETE", exec("DELETE FROM cdr_periods"))
	noErr(t, "the migration's backfill", exec(text[i:j]))
	got := runWhatIf(t, s, w, w.all(), CheaperTariff)
	if got.Totals != want.Totals || got.FromDocument != got.Sessions || want.FromDocument != 0 || got.Unpriced != 0 {
		t.Errorf("from legacy records: %+v, %d from documents, %d unpriced (%v); from EndSession's: %+v",
			got.Totals, got.FromDocument, got.Unpriced, got.Examples, want.Totals)
	}
	if len(got.OtherCurrency) != len(want.OtherCurrency) || *got.Change != *want.Change {
		t.Errorf("from legacy records: skipped %v, change %+v; from EndSession's: %v, %+v", got.OtherCurrency, got.Change, want.OtherCurrency, want.Change)
	}
}
