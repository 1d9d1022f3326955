package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// RollupFullStore is a store with sessions, payments, the ledger and
// rollups: what RunRollups tests.
type RollupFullStore interface {
	PaymentFullStore
	evbill.RollupStore
}

// RunRollups runs the conformance suite of evbill.RollupStore and of the
// rollups the stores keep as sessions end and refunds succeed: the rows
// are exactly those the attribution rule gives (evbill.RollupRows), on
// either engine, and RebuildRollups makes the same rows again from the
// records (a property over random sessions, CDRs and refunds). The tests
// move payments themselves, and a payment worker of another test takes
// any tenant's due payment (wallets and accounts need no gateway), so
// open must give each test a store of its own, as for RunWebhooks.
func RunRollups(t *testing.T, open func(t *testing.T) RollupFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RollupFullStore)
	}{
		{"RollupSession", testRollupSession},
		{"RollupUnbilled", testRollupUnbilled},
		{"RollupRefund", testRollupRefund},
		{"RollupStartMismatch", testRollupStartMismatch},
		{"RollupBatch", testRollupBatch},
		{"RollupSums", testRollupSums},
		{"RollupBusyHours", testRollupBusyHours},
		{"RollupTenantIsolation", testRollupTenantIsolation},
		{"RollupRebuildProperty", testRollupRebuildProperty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// rollupWorld is a tenant with a site in a half-hour zone, two stations
// with two connectors each, a tariff and a driver with a card.
type rollupWorld struct {
	sessionWorld
	zone *time.Location
}

func newRollupWorld(t testing.TB, s RollupFullStore) rollupWorld {
	t.Helper()
	w := rollupWorld{sessionWorld: newSessionWorld(t, s)}
	w.site.TimeZone = "Asia/Kolkata" // +05:30: local midnight is 18:30 UTC
	noErr(t, "UpdateSite", s.UpdateSite(context.Background(), &w.site))
	w.zone = evbill.RollupLocation(w.site.TimeZone)
	for _, st := range []string{w.station.ID, w.station2.ID} {
		newConnector(t, s, w.tenant.ID, st, 1)
		newConnector(t, s, w.tenant.ID, st, 2)
	}
	return w
}

// place is where the world's sessions on station st land.
func (w rollupWorld) place(st evbill.Session, currency, method string) evbill.RollupPlace {
	return evbill.RollupPlace{TenantID: w.tenant.ID, SiteID: w.site.ID, Location: w.zone, StationID: st.StationID,
		ConnectorNumber: st.ConnectorNumber, Currency: currency, TariffID: st.TariffID, PaymentMethod: method}
}

// expectedRows returns the rows place gets from hours, as a store keeps
// them.
func expectedRows(place evbill.RollupPlace, hours []evbill.RollupHour) []evbill.RollupRow {
	return evbill.RollupRows(place, hours)
}

// rollupsOf returns the tenant's stored rollups.
func rollupsOf(t testing.TB, s RollupFullStore, tenantID string) []evbill.RollupRow {
	t.Helper()
	rows, err := s.Rollups(context.Background(), tenantID)
	noErr(t, "Rollups", err)
	return rows
}

// sameRows compares rollup rows, naming the first that differs.
func sameRows(t testing.TB, what string, got, want []evbill.RollupRow) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("%s: row %d missing: %+v", what, i, want[i])
		case i >= len(want):
			t.Errorf("%s: row %d extra: %+v", what, i, got[i])
		case got[i] != want[i]:
			t.Errorf("%s: row %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		default:
			continue
		}
		break
	}
	t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
}

// paidSession starts a session of the world paid by the driver's card
// (a payment in state held), on the station and connector, at start.
func paidSession(t testing.TB, s RollupFullStore, w rollupWorld, station string, connector int, start time.Time) (evbill.Session, evbill.Payment) {
	t.Helper()
	ss := w.session(connector, 0)
	ss.StationID, ss.StartedAt = station, start
	p := evbill.Payment{TenantID: w.tenant.ID, DriverID: w.driver.ID, SiteID: w.site.ID, Gateway: "sandbox",
		PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 50000}
	ws := []evbill.SessionWrite{{Start: &ss, Payment: &p}}
	noErr(t, "ApplySessionWrites (start)", s.ApplySessionWrites(context.Background(), ws))
	noErr(t, "start", ws[0].Err)
	return ss, *ws[0].Payment
}

func testRollupSession(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	start := time.Date(2026, 3, 1, 17, 10, 0, 123456789, time.UTC) // 22:40 in Kolkata
	ss, _ := paidSession(t, s, w, w.station.ID, 2, start)
	parking := time.Date(2026, 3, 1, 19, 5, 0, 0, time.UTC)
	stop := time.Date(2026, 3, 1, 19, 40, 30, 0, time.UTC) // 01:10:30 the next day there
	ss.ParkingStartedAt, ss.StoppedAt, ss.MeterStopWh, ss.StopReason = &parking, &stop, "25000.75", "Local"
	c := &evbill.CDR{Currency: "EUR", TotalExclVAT: "7.2050", TotalInclVAT: "8.7181", AmountMinor: 872,
		Document: json.RawMessage(`{}`), Breakdown: json.RawMessage(`[]`)}
	noErr(t, "EndSession", s.EndSession(ctx, &ss, c, nil))

	got := rollupsOf(t, s, w.tenant.ID)
	hours := evbill.SessionRollupHours(ss, c, 721) // 7.2050 rounds half away from zero
	sameRows(t, "rollups of one session", got, expectedRows(w.place(ss, "EUR", evbill.RollupPayCard), hours))

	// By hand: the session's figures add up, and its days are Kolkata's.
	var days []evbill.RollupRow
	var total evbill.RollupFigures
	for _, r := range got {
		if r.Level == evbill.RollupSiteDay {
			days = append(days, r)
			total.Add(r.RollupFigures)
		}
	}
	d1, d2 := evbill.DayBucket(2026, 3, 1), evbill.DayBucket(2026, 3, 2)
	if len(days) != 2 || days[0].Bucket != d1 || days[1].Bucket != d2 {
		t.Fatalf("site days %+v, want 1 and 2 March", days)
	}
	equal(t, "charging µs", total.ChargingMicros, parking.Sub(start.Truncate(time.Microsecond)).Microseconds())
	equal(t, "idle µs", total.IdleMicros, stop.Sub(parking).Microseconds())
	equal(t, "energy mWh", total.EnergyMWh, int64(24000250))
	// 17:00 and 18:00 UTC start on 1 March in Kolkata (18:00 is 23:30);
	// 19:00 UTC, the hour of the end, is 00:30 on the 2nd.
	equal(t, "1 March", days[0].RollupFigures, evbill.RollupFigures{
		EnergyMWh: days[0].EnergyMWh, ChargingMicros: time.Date(2026, 3, 1, 19, 0, 0, 0, time.UTC).Sub(start.Truncate(time.Microsecond)).Microseconds()})
	equal(t, "2 March", days[1].RollupFigures, evbill.RollupFigures{Sessions: 1, EnergyMWh: days[1].EnergyMWh,
		ChargingMicros: 5 * 60e6, IdleMicros: stop.Sub(parking).Microseconds(), RevenueExclVAT: 721, RevenueInclVAT: 872})
}

// testRollupUnbilled: a session ended without a CDR, and one whose CDR the
// ledger's split refuses, count their time with currency "" and no money.
func testRollupUnbilled(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	start := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	var want []evbill.RollupRow
	for i, c := range []*evbill.CDR{nil, {Currency: "EUR", TotalExclVAT: "5.00", TotalInclVAT: "4.00", AmountMinor: 400}, {Currency: "XXY", TotalExclVAT: "1", AmountMinor: 100}} {
		ss := w.session(1, i*60)
		ss.StartedAt = start.Add(time.Duration(i) * time.Hour)
		ss = startNew(t, s, ss)
		stop := ss.StartedAt.Add(30 * time.Minute)
		ss.StoppedAt, ss.MeterStopWh = &stop, "2000.5"
		noErr(t, "EndSession", s.EndSession(ctx, &ss, c, nil))
		want = append(want, expectedRows(w.place(ss, "", evbill.RollupPayNone), evbill.SessionRollupHours(ss, nil, 0))...)
	}
	sameRows(t, "unbilled sessions", rollupsOf(t, s, w.tenant.ID), evbill.SumRollupRows(want))
}

// capturePayment takes a held payment to captured for amount, net of it
// excluding VAT, posting its entry.
func capturePayment(t testing.TB, s RollupFullStore, p *evbill.Payment, amount, net int64) {
	t.Helper()
	if p.State == evbill.PaymentHoldPending {
		move(t, s, p, evbill.PaymentHeld, "held", nil)
	}
	p.CaptureAmount, p.CaptureNet = amount, net
	move(t, s, p, evbill.PaymentCapturePending, "cdr in", nil)
	p.Captured = amount
	move(t, s, p, evbill.PaymentCaptured, "captured", capture(t, *p))
}

// refund makes a refund of amount of the captured payment p of CDR cdrID
// and records its outcome; it returns the refund and its entry.
func refund(t testing.TB, s RollupFullStore, p evbill.Payment, cdrID string, amount int64, succeed bool) (evbill.Refund, *evbill.LedgerEntry) {
	t.Helper()
	ctx := context.Background()
	r := evbill.Refund{TenantID: p.TenantID, CDRID: cdrID, Amount: amount, Reason: "goodwill"}
	noErr(t, "CreateRefund", s.CreateRefund(ctx, &r))
	if !succeed {
		r.State, r.FailureCode = evbill.RefundFailed, "declined"
		noErr(t, "CompleteRefund (failed)", s.CompleteRefund(ctx, &r, nil))
		return r, nil
	}
	cur, err := s.Payment(ctx, p.TenantID, p.ID)
	noErr(t, "Payment", err)
	e, err := ledger.Refunded(p.TenantID, r.ID, p.SiteID, ledger.GatewayClearing(p.Gateway), evbill.AccountAsset,
		ledger.Charge{Currency: cur.Currency, Total: cur.Captured, Net: cur.CaptureNet}, cur.Refunded, amount)
	noErr(t, "ledger.Refunded", err)
	r.State, r.Reference = evbill.RefundSucceeded, "re_"+r.ID
	noErr(t, "CompleteRefund", s.CompleteRefund(ctx, &r, &e))
	return r, &e
}

func testRollupRefund(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	start := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	ss, p := paidSession(t, s, w, w.station2.ID, 1, start)
	stop := start.Add(90 * time.Minute)
	ss.StoppedAt, ss.MeterStopWh = &stop, "31000"
	c := &evbill.CDR{Currency: "EUR", TotalExclVAT: "10.0000", TotalInclVAT: "12.1000", AmountMinor: 1210}
	noErr(t, "EndSession", s.EndSession(ctx, &ss, c, nil))
	capturePayment(t, s, &p, 1210, 1000)
	r1, e1 := refund(t, s, p, c.ID, 333, true)
	refund(t, s, p, c.ID, 100, false)
	r2, e2 := refund(t, s, p, c.ID, 877, true)

	place := w.place(ss, "EUR", evbill.RollupPayCard)
	want := expectedRows(place, evbill.SessionRollupHours(ss, c, 1000))
	for _, x := range []struct {
		r evbill.Refund
		e *evbill.LedgerEntry
	}{{r1, e1}, {r2, e2}} {
		want = append(want, expectedRows(place, []evbill.RollupHour{evbill.RefundRollupHour(x.r.UpdatedAt, x.r.Amount, evbill.RefundNet(x.e))})...)
	}
	got := rollupsOf(t, s, w.tenant.ID)
	sameRows(t, "session and refunds", got, evbill.SumRollupRows(want))
	// The refunds give back the whole charge: net and VAT as the ledger.
	var refunded evbill.RollupFigures
	for _, r := range got {
		if r.Level == evbill.RollupSiteMonth {
			refunded.Add(r.RollupFigures)
		}
	}
	equal(t, "refunds", [3]int64{refunded.Refunds, refunded.RefundedInclVAT, refunded.RefundedExclVAT}, [3]int64{2, 1210, 1000})
	acct, err := s.LedgerAccount(ctx, w.tenant.ID, ledger.Refunds(w.site.ID), "EUR")
	noErr(t, "LedgerAccount", err)
	equal(t, "refunds account", acct.Balance, refunded.RefundedExclVAT)
}

// testRollupStartMismatch: an end whose session does not start as the
// stored one is refused on both engines, and nothing of it is stored.
func testRollupStartMismatch(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	for name, change := range map[string]func(x *evbill.Session){
		"started_at":     func(x *evbill.Session) { x.StartedAt = x.StartedAt.Add(-time.Hour) },
		"meter_start_wh": func(x *evbill.Session) { x.MeterStartWh = "0" },
		"connector":      func(x *evbill.Session) { x.ConnectorNumber = 2 },
	} {
		x := ss
		change(&x)
		stop := ss.StartedAt.Add(time.Hour)
		x.StoppedAt, x.MeterStopWh = &stop, "5000"
		wantCode(t, "EndSession with another "+name, s.EndSession(ctx, &x, nil, nil), evbill.ECONFLICT, "stored session")
	}
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "state", got.State, evbill.SessionActive)
	equal(t, "rollups", len(rollupsOf(t, s, w.tenant.ID)), 0)
}

// testRollupBatch: ends in one batch each add their own rows once, a
// second end of a session in the same batch adds nothing, and a failed
// write next to them leaves them alone.
func testRollupBatch(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	a := startNew(t, s, w.session(1, 0))
	b := startNew(t, s, w.session(2, 1))
	var want []evbill.RollupRow
	var writes []evbill.SessionWrite
	for i, x := range []evbill.Session{a, b, a} {
		stop := x.StartedAt.Add(time.Duration(i+1) * 25 * time.Minute)
		x.StoppedAt, x.MeterStopWh = &stop, fmt.Sprintf("%d.125", 3000+i)
		c := &evbill.CDR{Currency: "EUR", TotalExclVAT: fmt.Sprintf("%d.0000", i+1), TotalInclVAT: "0", AmountMinor: int64(i+1) * 121}
		writes = append(writes, evbill.SessionWrite{End: &evbill.EndWrite{Session: &x, CDR: c}})
		if i < 2 {
			want = append(want, expectedRows(w.place(x, "EUR", evbill.RollupPayNone), evbill.SessionRollupHours(x, c, int64(i+1)*100))...)
		}
	}
	writes = append(writes, evbill.SessionWrite{Update: &evbill.Session{TenantID: w.tenant.ID, ID: "ses_missing", State: evbill.SessionParking}})
	noErr(t, "ApplySessionWrites", s.ApplySessionWrites(ctx, writes))
	noErr(t, "first end", writes[0].Err)
	noErr(t, "second end", writes[1].Err)
	wantCode(t, "the session's second end", writes[2].Err, evbill.ECONFLICT, "already ended")
	wantCode(t, "an update of no session", writes[3].Err, evbill.ENOTFOUND, "")
	sameRows(t, "a batch's rollups", rollupsOf(t, s, w.tenant.ID), evbill.SumRollupRows(want))
}

// sumRow is a RollupSums row for the test's expectations.
func sumRow(tenantID string, level evbill.RollupLevel, k evbill.RollupKey, f evbill.RollupFigures) evbill.RollupRow {
	k.TenantID, k.Level = tenantID, level
	return evbill.RollupRow{RollupKey: k, RollupFigures: f}
}

func testRollupSums(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	other := newTenant(t, s)
	row := func(tenant string, level evbill.RollupLevel, bucket int64, site, station string, conn int, cur, tariff, pm string, sessions, revenue int64) evbill.RollupRow {
		return evbill.RollupRow{RollupKey: evbill.RollupKey{TenantID: tenant, Level: level, Bucket: bucket, SiteID: site,
			StationID: station, ConnectorNumber: conn, Currency: cur, TariffID: tariff, PaymentMethod: pm},
			RollupFigures: evbill.RollupFigures{Sessions: sessions, RevenueExclVAT: revenue, RevenueInclVAT: revenue * 2, EnergyMWh: 1000 * sessions}}
	}
	d := evbill.RollupSiteDay
	rows := []evbill.RollupRow{
		row(tn.ID, d, 10, "site_a", "", 0, "EUR", "trf_1", "card", 1, 100),
		row(tn.ID, d, 10, "site_a", "", 0, "EUR", "trf_2", "card", 2, 200),
		row(tn.ID, d, 11, "site_a", "", 0, "EUR", "trf_1", "wallet", 3, 300),
		row(tn.ID, d, 11, "site_a", "", 0, "CHF", "trf_1", "card", 4, 400),
		row(tn.ID, d, 12, "site_a", "", 0, "EUR", "trf_1", "card", 5, 500), // outside [10, 12)
		row(tn.ID, d, 10, "site_b", "", 0, "EUR", "trf_1", "adhoc", 6, 600),
		row(tn.ID, d, 10, "site_c", "", 0, "EUR", "trf_1", "card", 7, 700), // a site not asked for
		row(tn.ID, evbill.RollupSiteMonth, 10, "site_a", "", 0, "EUR", "trf_1", "card", 8, 800),
		row(tn.ID, evbill.RollupStationDay, 10, "site_a", "st_1", 0, "EUR", "", "", 3, 300),
		row(tn.ID, evbill.RollupStationDay, 10, "site_a", "st_2", 0, "EUR", "", "", 9, 900),
		row(other.ID, d, 10, "site_a", "", 0, "EUR", "trf_1", "card", 10, 1000),
	}
	noErr(t, "AddRollups", s.AddRollups(ctx, rows))
	noErr(t, "AddRollups again", s.AddRollups(ctx, rows[:1])) // adds to the row
	sums := func(q evbill.RollupQuery) []evbill.RollupRow {
		t.Helper()
		q.TenantID = tn.ID
		got, err := s.RollupSums(ctx, q)
		noErr(t, "RollupSums", err)
		return got
	}
	f := func(sessions, revenue int64) evbill.RollupFigures {
		return evbill.RollupFigures{Sessions: sessions, RevenueExclVAT: revenue, RevenueInclVAT: 2 * revenue, EnergyMWh: 1000 * sessions}
	}
	ab := []string{"site_a", "site_b"}
	equal(t, "by site and bucket", sums(evbill.RollupQuery{Level: d, From: 10, To: 12, SiteIDs: ab, By: evbill.RollupBySite | evbill.RollupByBucket}),
		[]evbill.RollupRow{
			sumRow(tn.ID, d, evbill.RollupKey{Bucket: 10, SiteID: "site_a", Currency: "EUR"}, f(4, 400)),
			sumRow(tn.ID, d, evbill.RollupKey{Bucket: 11, SiteID: "site_a", Currency: "CHF"}, f(4, 400)),
			sumRow(tn.ID, d, evbill.RollupKey{Bucket: 11, SiteID: "site_a", Currency: "EUR"}, f(3, 300)),
			sumRow(tn.ID, d, evbill.RollupKey{Bucket: 10, SiteID: "site_b", Currency: "EUR"}, f(6, 600)),
		})
	equal(t, "by payment method", sums(evbill.RollupQuery{Level: d, From: 10, To: 12, SiteIDs: ab, By: evbill.RollupByPaymentMethod}),
		[]evbill.RollupRow{
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "CHF", PaymentMethod: "card"}, f(4, 400)),
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "EUR", PaymentMethod: "adhoc"}, f(6, 600)),
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "EUR", PaymentMethod: "card"}, f(4, 400)),
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "EUR", PaymentMethod: "wallet"}, f(3, 300)),
		})
	equal(t, "by tariff, one site", sums(evbill.RollupQuery{Level: d, From: 0, To: 100, SiteIDs: []string{"site_a"}, By: evbill.RollupByTariff}),
		[]evbill.RollupRow{
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "CHF", TariffID: "trf_1"}, f(4, 400)),
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "EUR", TariffID: "trf_1"}, f(10, 1000)),
			sumRow(tn.ID, d, evbill.RollupKey{Currency: "EUR", TariffID: "trf_2"}, f(2, 200)),
		})
	equal(t, "one station", sums(evbill.RollupQuery{Level: evbill.RollupStationDay, From: 0, To: 100, SiteIDs: []string{"site_a"}, StationID: "st_2", By: evbill.RollupByStation}),
		[]evbill.RollupRow{sumRow(tn.ID, evbill.RollupStationDay, evbill.RollupKey{StationID: "st_2", Currency: "EUR"}, f(9, 900))})
	equal(t, "an empty range", len(sums(evbill.RollupQuery{Level: d, From: 12, To: 12, SiteIDs: ab})), 0)
	for name, q := range map[string]evbill.RollupQuery{
		"no sites":  {TenantID: tn.ID, Level: d, To: 1},
		"no level":  {TenantID: tn.ID, SiteIDs: ab, To: 1},
		"backwards": {TenantID: tn.ID, Level: d, SiteIDs: ab, From: 2, To: 1},
		"no tenant": {Level: d, SiteIDs: ab, To: 1},
		"level 16":  {TenantID: tn.ID, Level: 16, SiteIDs: ab, To: 1},
	} {
		_, err := s.RollupSums(ctx, q)
		wantCode(t, "RollupSums with "+name, err, evbill.EINVALID, "")
	}
	wantCode(t, "AddRollups without a level", s.AddRollups(ctx, []evbill.RollupRow{{RollupKey: evbill.RollupKey{TenantID: tn.ID}}}), evbill.EINVALID, "")
}

func testRollupBusyHours(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	h := evbill.RollupConnectorHour
	occ := func(st string, conn int, hour int64, minutes int, pm string) evbill.RollupRow {
		return evbill.RollupRow{RollupKey: evbill.RollupKey{TenantID: w.tenant.ID, Level: h, Bucket: hour, SiteID: w.site.ID,
			StationID: st, ConnectorNumber: conn, Currency: "EUR", PaymentMethod: pm},
			RollupFigures: evbill.RollupFigures{ChargingMicros: int64(minutes) * 60e6}}
	}
	a, b := w.station.ID, w.station2.ID
	noErr(t, "AddRollups", s.AddRollups(ctx, []evbill.RollupRow{
		// hour 100: all four busy (one connector by two payment methods' rows)
		occ(a, 1, 100, 60, "card"), occ(a, 2, 100, 30, "card"), occ(a, 2, 100, 20, "wallet"), occ(b, 1, 100, 45, "card"), occ(b, 2, 100, 50, "card"),
		// hour 101: three busy, one under the threshold
		occ(a, 1, 101, 45, "card"), occ(a, 2, 101, 59, "card"), occ(b, 1, 101, 46, "card"), occ(b, 2, 101, 44, "card"),
		// hour 102: one busy; hour 103 outside the range
		occ(a, 1, 102, 60, "card"), occ(a, 1, 103, 60, "card"),
	}))
	got, err := s.RollupBusyHours(ctx, evbill.RollupBusyQuery{TenantID: w.tenant.ID, SiteIDs: []string{w.site.ID},
		From: 100, To: 103, MinOccupied: 45 * time.Minute})
	noErr(t, "RollupBusyHours", err)
	equal(t, "busy hours", got, []evbill.RollupBusy{
		{SiteID: w.site.ID, Busy: 1, Hours: 1}, {SiteID: w.site.ID, Busy: 3, Hours: 1}, {SiteID: w.site.ID, Busy: 4, Hours: 1}})
	conns, err := s.RollupConnectors(ctx, w.tenant.ID)
	noErr(t, "RollupConnectors", err)
	want := []evbill.RollupConnectors{
		{SiteID: w.site.ID, StationID: w.station.ID, Connectors: 2}, {SiteID: w.site.ID, StationID: w.station2.ID, Connectors: 2}}
	slices.SortFunc(want, func(x, y evbill.RollupConnectors) int { return cmpString(x.StationID, y.StationID) })
	equal(t, "connectors", conns, want)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testRollupTenantIsolation(t *testing.T, s RollupFullStore) {
	ctx := t.Context()
	w := newRollupWorld(t, s)
	other := newTenant(t, s)
	ss := startNew(t, s, w.session(1, 0))
	stop := ss.StartedAt.Add(time.Hour)
	ss.StoppedAt, ss.MeterStopWh = &stop, "9000"
	noErr(t, "EndSession", s.EndSession(ctx, &ss, nil, nil))
	equal(t, "the other tenant's rollups", len(rollupsOf(t, s, other.ID)), 0)
	got, err := s.RollupSums(ctx, evbill.RollupQuery{TenantID: other.ID, Level: evbill.RollupSiteMonth, SiteIDs: []string{w.site.ID}, To: 1 << 40})
	noErr(t, "RollupSums", err)
	equal(t, "the other tenant's sums of the site", len(got), 0)
	r, err := s.RebuildRollups(ctx, other.ID)
	noErr(t, "RebuildRollups of the other tenant", err)
	equal(t, "rebuilt", r, evbill.RollupRebuild{})
	if len(rollupsOf(t, s, w.tenant.ID)) == 0 {
		t.Errorf("rebuilding another tenant's rollups removed these")
	}
}

// Zones the property draws sites from: whole-hour offsets with and
// without daylight saving, half-hour and 45-minute offsets, and Lord
// Howe, whose daylight saving moves the clock by half an hour.
var rollupZones = []string{"UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
	"America/St_Johns", "Australia/Lord_Howe"}

// testRollupRebuildProperty ends random sessions (with and without CDRs,
// countable or not, paid in every way, across midnights and daylight
// saving changes, some twice in one batch) and makes random refunds, then
// checks that the stored rollups are exactly what the attribution rule
// gives for the stored records, and that RebuildRollups makes the same
// rows again.
func testRollupRebuildProperty(t *testing.T, s RollupFullStore) {
	ctx := context.Background()
	base := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC) // Europe's change is on the 29th, the US's on the 8th
	rapid.Check(t, func(rt *rapid.T) {
		must := func(what string, err error) {
			rt.Helper()
			if err != nil {
				rt.Fatalf("%s: %v", what, err)
			}
		}
		tn := evbill.Tenant{Name: uniq("rollups")}
		must("CreateTenant", s.CreateTenant(ctx, &tn))
		tariff := evbill.TariffVersion{TenantID: tn.ID, Currency: "EUR", Document: json.RawMessage(`{"id":"T"}`)}
		must("CreateTariff", s.CreateTariff(ctx, &tariff))
		driver := evbill.Driver{TenantID: tn.ID, Name: "D"}
		must("CreateDriver", s.CreateDriver(ctx, &driver))
		type station struct {
			evbill.Station
			site evbill.Site
		}
		var stations []station
		for i := range rapid.IntRange(1, 3).Draw(rt, "sites") {
			site := evbill.Site{TenantID: tn.ID, Name: fmt.Sprint("S", i), Country: "NL",
				TimeZone: rapid.SampledFrom(rollupZones).Draw(rt, "zone")}
			must("CreateSite", s.CreateSite(ctx, &site))
			for range rapid.IntRange(1, 2).Draw(rt, "stations") {
				st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: uniq("CP")}
				must("CreateStation", s.CreateStation(ctx, &st))
				stations = append(stations, station{st, site})
			}
		}
		type ended struct {
			sess    evbill.Session
			cdr     *evbill.CDR
			payment *evbill.Payment
			site    evbill.Site
		}
		var ends []ended
		var batch []evbill.SessionWrite
		var batchEnds []ended
		flush := func() {
			if len(batch) == 0 {
				return
			}
			must("ApplySessionWrites", s.ApplySessionWrites(ctx, batch))
			for i, w := range batch {
				if i < len(batchEnds) && batchEnds[i].sess.ID != "" {
					if w.Err != nil {
						if evbill.ErrorCode(w.Err) == evbill.ECONFLICT && slices.ContainsFunc(ends, func(e ended) bool { return e.sess.ID == batchEnds[i].sess.ID }) {
							continue // its second end
						}
						rt.Fatalf("end %d: %v", i, w.Err)
					}
					ends = append(ends, batchEnds[i])
				}
			}
			batch, batchEnds = nil, nil
		}
		n := rapid.IntRange(1, 12).Draw(rt, "sessions")
		for i := range n {
			st := rapid.SampledFrom(stations).Draw(rt, "station")
			start := base.Add(time.Duration(rapid.Int64Range(-3*24*3600e6, 3*24*3600e6).Draw(rt, "start µs")) * time.Microsecond)
			ss := evbill.Session{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: rapid.IntRange(1, 3).Draw(rt, "connector"),
				IDTag: fmt.Sprint("T", i), MeterStartWh: fmt.Sprintf("%d.%d", rapid.IntRange(0, 99999).Draw(rt, "meter"), rapid.IntRange(0, 9999).Draw(rt, "meter frac")),
				StartedAt: start}
			if rapid.Bool().Draw(rt, "tariff") {
				ss.TariffID, ss.TariffVersion = tariff.TariffID, tariff.Version
			}
			var pay *evbill.Payment
			switch method := rapid.IntRange(0, 4).Draw(rt, "method"); method {
			case 1, 2, 3:
				pay = &evbill.Payment{TenantID: tn.ID, DriverID: driver.ID, SiteID: st.SiteID, Gateway: []string{"", "sandbox", "wallet", "account"}[method],
					PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 1_000_000}
				ss.DriverID = driver.ID
			case 4:
				pay = &evbill.Payment{TenantID: tn.ID, SiteID: st.SiteID, Gateway: "sandbox", PaymentMethod: "card_ok", Currency: "EUR", HoldAmount: 1_000_000}
			}
			ws := []evbill.SessionWrite{{Start: &ss, Payment: pay}}
			must("start", s.ApplySessionWrites(ctx, ws))
			must("start", ws[0].Err)
			if pay != nil {
				pay = ws[0].Payment
			}
			stop := start.Add(time.Duration(rapid.Int64Range(0, 30*3600e6).Draw(rt, "duration µs")) * time.Microsecond)
			if rapid.Bool().Draw(rt, "parking") {
				p := start.Add(time.Duration(rapid.Int64Range(-3600e6, int64(stop.Sub(start)/time.Microsecond)+3600e6).Draw(rt, "parking µs")) * time.Microsecond)
				ss.ParkingStartedAt = &p
			}
			ss.StoppedAt, ss.StopReason = &stop, "Local"
			ss.MeterStopWh = fmt.Sprintf("%d.%03d", 100000+rapid.IntRange(-1000, 90000).Draw(rt, "energy"), rapid.IntRange(0, 999).Draw(rt, "energy frac"))
			if rapid.IntRange(0, 9).Draw(rt, "flagged") == 0 {
				ss.Flags = []string{evbill.FlagMeterBackwards}
			}
			var c *evbill.CDR
			switch rapid.IntRange(0, 5).Draw(rt, "cdr") {
			case 0: // none
			case 1: // one the ledger's split refuses
				c = &evbill.CDR{Currency: "EUR", TotalExclVAT: "9.0000", TotalInclVAT: "1", AmountMinor: 100}
			case 2: // a currency without minor units
				net := rapid.Int64Range(0, 5000).Draw(rt, "net")
				c = &evbill.CDR{Currency: "JPY", TotalExclVAT: fmt.Sprintf("%d.%04d", net, rapid.IntRange(0, 9999).Draw(rt, "frac")), TotalInclVAT: "0", AmountMinor: net*110/100 + 1}
			default:
				net := rapid.Int64Range(0, 100000).Draw(rt, "net")
				c = &evbill.CDR{Currency: "EUR", TotalExclVAT: fmt.Sprintf("%d.%02d%02d", net/100, net%100, rapid.IntRange(0, 49).Draw(rt, "frac")),
					TotalInclVAT: "0", AmountMinor: net + net*rapid.Int64Range(0, 25).Draw(rt, "vat %")/100}
			}
			e := ended{sess: ss, cdr: c, payment: pay, site: st.site}
			batch = append(batch, evbill.SessionWrite{End: &evbill.EndWrite{Session: &e.sess, CDR: e.cdr}})
			batchEnds = append(batchEnds, e)
			if rapid.IntRange(0, 4).Draw(rt, "twice") == 0 {
				again := e
				again.sess.MeterStopWh = "1"
				batch = append(batch, evbill.SessionWrite{End: &evbill.EndWrite{Session: &again.sess}})
				batchEnds = append(batchEnds, again)
			}
			if rapid.Bool().Draw(rt, "flush") {
				flush()
			}
		}
		flush()

		// Refunds of captured payments: some succeed, some fail.
		type refunded struct {
			r    evbill.Refund
			e    *evbill.LedgerEntry
			from ended
		}
		var refunds []refunded
		for _, e := range ends {
			if e.payment == nil || e.cdr == nil || rapid.IntRange(0, 2).Draw(rt, "capture") == 0 {
				continue
			}
			ch, err := ledger.ChargeOfCDR(*e.cdr)
			if err != nil || ch.Total == 0 || ch.Currency != e.payment.Currency {
				continue
			}
			p := *e.payment
			p.State = evbill.PaymentHeld
			must("held", s.TransitionPayment(ctx, &p, evbill.PaymentHoldPending, "held", nil))
			p.CaptureAmount, p.CaptureNet, p.State = ch.Total, ch.Net, evbill.PaymentCapturePending
			must("capture_pending", s.TransitionPayment(ctx, &p, evbill.PaymentHeld, "cdr in", nil))
			entry, err := ledger.CardCaptured(tn.ID, p.ID, p.Gateway, p.SiteID, ch)
			must("CardCaptured", err)
			p.Captured, p.State = ch.Total, evbill.PaymentCaptured
			must("captured", s.TransitionPayment(ctx, &p, evbill.PaymentCapturePending, "captured", &entry))
			for given := int64(0); given < ch.Total && rapid.Bool().Draw(rt, "refund"); {
				amount := rapid.Int64Range(1, ch.Total-given).Draw(rt, "amount")
				r := evbill.Refund{TenantID: tn.ID, CDRID: e.cdr.ID, Amount: amount}
				must("CreateRefund", s.CreateRefund(ctx, &r))
				if rapid.IntRange(0, 3).Draw(rt, "refund fails") == 0 {
					r.State, r.FailureCode = evbill.RefundFailed, "declined"
					must("CompleteRefund", s.CompleteRefund(ctx, &r, nil))
					continue
				}
				le, err := ledger.Refunded(tn.ID, r.ID, p.SiteID, ledger.GatewayClearing(p.Gateway), evbill.AccountAsset, ch, given, amount)
				must("ledger.Refunded", err)
				r.State, r.Reference = evbill.RefundSucceeded, "re"
				must("CompleteRefund", s.CompleteRefund(ctx, &r, &le))
				refunds = append(refunds, refunded{r, &le, e})
				given += amount
			}
		}

		// What the rule gives for the records as stored.
		var want []evbill.RollupRow
		for _, e := range ends {
			stored, err := s.Session(ctx, tn.ID, e.sess.ID)
			must("Session", err)
			c, net, currency := e.cdr, int64(0), ""
			if c != nil {
				ch, err := ledger.ChargeOfCDR(*c)
				if err != nil {
					c = nil
				} else {
					net, currency = ch.Net, c.Currency
				}
			}
			want = append(want, expectedRows(rollupPlace(e.site, stored, currency, e.payment), evbill.SessionRollupHours(stored, c, net))...)
		}
		for _, r := range refunds {
			want = append(want, expectedRows(rollupPlace(r.from.site, r.from.sess, r.from.cdr.Currency, r.from.payment),
				[]evbill.RollupHour{evbill.RefundRollupHour(r.r.UpdatedAt, r.r.Amount, evbill.RefundNet(r.e))})...)
		}
		want = evbill.SumRollupRows(want)
		got, err := s.Rollups(ctx, tn.ID)
		must("Rollups", err)
		if !slices.Equal(got, want) {
			rt.Fatalf("incremental rollups differ from the rule:\n got %d rows %+v\nwant %d rows %+v", len(got), got, len(want), want)
		}
		res, err := s.RebuildRollups(ctx, tn.ID)
		must("RebuildRollups", err)
		if res.Sessions != len(ends) || res.Refunds != len(refunds) || res.Rows != len(want) {
			rt.Fatalf("rebuild %+v, want %d sessions, %d refunds, %d rows", res, len(ends), len(refunds), len(want))
		}
		rebuilt, err := s.Rollups(ctx, tn.ID)
		must("Rollups", err)
		if !slices.Equal(rebuilt, got) {
			rt.Fatalf("rebuilt rollups differ from the incremental ones:\n got %+v\nwant %+v", rebuilt, got)
		}
	})
}

// rollupPlace is where the session's figures land at site, paid by p
// (nil for no payment).
func rollupPlace(site evbill.Site, s evbill.Session, currency string, p *evbill.Payment) evbill.RollupPlace {
	method := evbill.RollupPayNone
	switch {
	case p == nil:
	case p.Gateway == "wallet" || p.Gateway == "account":
		method = p.Gateway
	case p.DriverID == "":
		method = evbill.RollupPayAdHoc
	default:
		method = evbill.RollupPayCard
	}
	return evbill.RollupPlace{TenantID: s.TenantID, SiteID: site.ID, Location: evbill.RollupLocation(site.TimeZone),
		StationID: s.StationID, ConnectorNumber: s.ConnectorNumber, Currency: currency, TariffID: s.TariffID, PaymentMethod: method}
}
