package api_test

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// reportWorld is a tenant with a site in Amsterdam (station A, two
// connectors) and one in Kolkata (station B, one connector).
type reportWorld struct {
	tn                 *tenant
	siteA, siteB       string
	stationA, stationB evbill.Station
}

func newReportWorld(t *testing.T, e *env) reportWorld {
	t.Helper()
	ctx := context.Background()
	w := reportWorld{tn: e.newTenant()}
	w.siteA = w.tn.admin.do(http.MethodPost, "/api/v1/sites", map[string]any{"name": "A", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, http.StatusCreated)["id"].(string)
	w.siteB = w.tn.admin.do(http.MethodPost, "/api/v1/sites", map[string]any{"name": "B", "country": "IN", "time_zone": "Asia/Kolkata"}).must(t, http.StatusCreated)["id"].(string)
	for _, x := range []struct {
		st    *evbill.Station
		site  string
		conns int
	}{{&w.stationA, w.siteA, 2}, {&w.stationB, w.siteB, 1}} {
		*x.st = evbill.Station{TenantID: w.tn.id, SiteID: x.site, ChargePointID: evbill.NewID("CP")}
		if err := e.store.CreateStation(ctx, x.st); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= x.conns; n++ {
			c := evbill.Connector{TenantID: w.tn.id, StationID: x.st.ID, ConnectorNumber: n, Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}
			if err := e.store.CreateConnector(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// session stores a session of the station from start to stop with its
// CDR (none when totalIncl is 0) and returns it ended.
func (w reportWorld) session(t *testing.T, e *env, st evbill.Station, connector int, start, stop string, excl string, totalIncl int64) evbill.Session {
	t.Helper()
	ctx := context.Background()
	ss := e.store.(evbill.SessionStore)
	s := evbill.Session{TenantID: w.tn.id, StationID: st.ID, ConnectorNumber: connector, IDTag: "T", MeterStartWh: "1000",
		StartedAt: mustTime(t, start)}
	if _, err := ss.StartSession(ctx, &s); err != nil {
		t.Fatal(err)
	}
	end := mustTime(t, stop)
	s.StoppedAt, s.MeterStopWh, s.State = &end, "23000.5", evbill.SessionEnded
	var c *evbill.CDR
	if totalIncl > 0 {
		c = &evbill.CDR{Currency: "EUR", TotalExclVAT: excl, TotalInclVAT: "0", AmountMinor: totalIncl}
	}
	if err := ss.EndSession(ctx, &s, c, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// report reads a report as JSON.
func report[T any](t *testing.T, c *client, path string) T {
	t.Helper()
	r := c.do(http.MethodGet, path, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %s", path, r)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, r.body)
	}
	return v
}

type revenueRow struct {
	Period          string      `json:"period"`
	Group           string      `json:"group"`
	Currency        string      `json:"currency"`
	Sessions        int64       `json:"sessions"`
	EnergyKWh       json.Number `json:"energy_kwh"`
	RevenueExclVAT  int64       `json:"revenue_excl_vat"`
	RevenueInclVAT  int64       `json:"revenue_incl_vat"`
	Refunds         int64       `json:"refunds"`
	RefundedExclVAT int64       `json:"refunded_excl_vat"`
	RefundedInclVAT int64       `json:"refunded_incl_vat"`
	NetExclVAT      int64       `json:"net_excl_vat"`
	NetInclVAT      int64       `json:"net_incl_vat"`
}

type revenueReport struct {
	Rows   []revenueRow `json:"rows"`
	Totals []revenueRow `json:"totals"`
}

// TestReportRoutes reads the three reports over sessions at two sites in
// two zones, as JSON and CSV, on both engines, and refuses bad queries.
func TestReportRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		w := newReportWorld(t, e)
		other := e.newTenant()
		// Tuesday 10 March 2026: 09:00–10:30 in Amsterdam on connector 1,
		// 09:05–10:00 on connector 2 (unbilled); in Kolkata 23:30 on the
		// 10th to 00:30 on the 11th.
		w.session(t, e, w.stationA, 1, "2026-03-10T08:00:00Z", "2026-03-10T09:30:00Z", "10.0000", 1210)
		w.session(t, e, w.stationA, 2, "2026-03-10T08:05:00Z", "2026-03-10T09:00:00Z", "", 0)
		w.session(t, e, w.stationB, 1, "2026-03-10T18:00:00Z", "2026-03-10T19:00:00Z", "5.0050", 606)
		w.session(t, e, w.stationA, 1, "2026-04-01T08:00:00Z", "2026-04-01T09:00:00Z", "1.0000", 121)

		rev := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-03-01&to=2026-04-01")
		want := []revenueRow{
			{Period: "2026-03-01", Group: w.siteA, Currency: "EUR", Sessions: 1, EnergyKWh: "22.0005", RevenueExclVAT: 1000, RevenueInclVAT: 1210, NetExclVAT: 1000, NetInclVAT: 1210},
			{Period: "2026-03-01", Group: w.siteB, Currency: "EUR", Sessions: 1, EnergyKWh: "22.0005", RevenueExclVAT: 501, RevenueInclVAT: 606, NetExclVAT: 501, NetInclVAT: 606},
		}
		if w.siteB < w.siteA {
			want[0], want[1] = want[1], want[0]
		}
		equalJSON(t, "revenue by site", rev.Rows, want)
		equalJSON(t, "revenue totals", rev.Totals, []revenueRow{{Period: "all", Currency: "EUR", Sessions: 2, EnergyKWh: "44.001",
			RevenueExclVAT: 1501, RevenueInclVAT: 1816, NetExclVAT: 1501, NetInclVAT: 1816}})

		// Kolkata's session charged from 23:30 on the 10th, local time,
		// and ended at 00:30 on the 11th: its energy is the 10th's, its
		// revenue the 11th's.
		days := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-03-10&to=2026-03-12&period=day&group_by=none&site_id="+w.siteB)
		equalJSON(t, "Kolkata by day", days.Rows, []revenueRow{
			{Period: "2026-03-10", Currency: "EUR", EnergyKWh: "22.0005"},
			{Period: "2026-03-11", Currency: "EUR", Sessions: 1, EnergyKWh: "0.000", RevenueExclVAT: 501, RevenueInclVAT: 606, NetExclVAT: 501, NetInclVAT: 606}})
		// Instants read the hours, and days are still each site's.
		inst := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z&period=day")
		if len(inst.Rows) != 3 || inst.Totals[0].RevenueInclVAT != 1816 {
			t.Errorf("by instants: %+v", inst.Rows)
		}
		for _, r := range inst.Rows {
			if r.Sessions == 1 && (r.Group == w.siteA) != (r.Period == "2026-03-10") {
				t.Errorf("by instants, row %+v", r)
			}
		}
		byStation := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-01-01&to=2027-01-01&period=month&group_by=station&station_id="+w.stationA.ID)
		if len(byStation.Rows) != 2 || byStation.Rows[0].Group != w.stationA.ID || byStation.Rows[1].Period != "2026-04-01" {
			t.Errorf("one station by month: %+v", byStation.Rows)
		}
		byMethod := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-01-01&to=2027-01-01&period=all&group_by=payment_method&station_id="+w.stationA.ID)
		if len(byMethod.Rows) != 1 || byMethod.Rows[0].Group != evbill.RollupPayNone || byMethod.Rows[0].RevenueInclVAT != 1331 {
			t.Errorf("one station by payment method: %+v", byMethod.Rows)
		}

		// The fleet by payment method reads the fleet's own rows.
		fleet := report[revenueReport](t, w.tn.readonly, "/api/v1/reports/revenue?from=2026-03-01&to=2026-04-01&period=month&group_by=payment_method")
		if len(fleet.Rows) != 1 || fleet.Rows[0].Group != evbill.RollupPayNone || fleet.Rows[0].RevenueInclVAT != 1816 || fleet.Rows[0].Sessions != 2 {
			t.Errorf("the fleet by payment method: %+v", fleet.Rows)
		}

		// CSV.
		r := w.tn.readonly.do(http.MethodGet, "/api/v1/reports/revenue?from=2026-03-01&to=2026-04-01&format=csv", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(r.header.Get("Content-Disposition"), "revenue-report.csv") {
			t.Fatalf("CSV: %s %v", r, r.header)
		}
		lines, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(lines) != 3 || lines[0][0] != "period" || lines[0][5] != "revenue_excl_vat" {
			t.Fatalf("CSV lines %q (%v)", lines, err)
		}

		// Utilization of Amsterdam in March: two connectors, 743 hours
		// (the clocks went forward on the 29th).
		type util struct {
			Rows []struct {
				Group          string      `json:"group"`
				Connectors     int         `json:"connectors"`
				ConnectorHours int64       `json:"connector_hours"`
				Sessions       int64       `json:"sessions"`
				OccupiedHours  json.Number `json:"occupied_hours"`
				IdleShare      json.Number `json:"idle_share"`
				OccupiedShare  json.Number `json:"occupied_share"`
				Revenue        []struct {
					Currency         string      `json:"currency"`
					PerKWh           json.Number `json:"per_kwh"`
					PerConnectorHour json.Number `json:"per_connector_hour"`
				} `json:"revenue"`
			} `json:"rows"`
			Heatmap []struct {
				Weekday, Hour int
				Hours         int64
				OccupiedShare json.Number `json:"occupied_share"`
			} `json:"heatmap"`
		}
		u := report[util](t, w.tn.readonly, "/api/v1/reports/utilization?from=2026-03-01&to=2026-04-01&site_id="+w.siteA)
		if len(u.Rows) != 1 {
			t.Fatalf("utilization rows %+v", u.Rows)
		}
		row := u.Rows[0]
		// 90 + 55 minutes of 1486 connector-hours.
		if row.Connectors != 2 || row.ConnectorHours != 1486 || row.Sessions != 2 || row.OccupiedHours != "2.4167" || row.OccupiedShare != "0.0016" || row.IdleShare != "0.0000" {
			t.Errorf("utilization %+v", row)
		}
		// 10.00 EUR for 22.0005 kWh; over 1486 connector-hours.
		if len(row.Revenue) != 1 || row.Revenue[0].PerKWh != "0.4545" || row.Revenue[0].PerConnectorHour != "0.0067" {
			t.Errorf("revenue %+v", row.Revenue)
		}
		if len(u.Heatmap) != 168 {
			t.Fatalf("%d heatmap cells", len(u.Heatmap))
		}
		// Tuesdays 09:00 local (five of them in March): 60 + 55 minutes of
		// 2 × 5 connector-hours.
		tue9 := u.Heatmap[1*24+9]
		if tue9.Weekday != 2 || tue9.Hour != 9 || tue9.Hours != 5 || tue9.OccupiedShare != "0.1917" {
			t.Errorf("Tuesday 09:00: %+v", tue9)
		}
		// Over months and the days either side of them, read from the week
		// hours and the hours: nine Tuesdays, eight Wednesdays (1 April
		// 10:00 is summer time).
		u = report[util](t, w.tn.readonly, "/api/v1/reports/utilization?from=2026-02-15&to=2026-04-15&site_id="+w.siteA)
		if tue9, wed10 := u.Heatmap[1*24+9], u.Heatmap[2*24+10]; tue9.Hours != 9 || tue9.OccupiedShare != "0.1065" || wed10.Hours != 8 || wed10.OccupiedShare != "0.0625" {
			t.Errorf("Tuesday 09:00 %+v, Wednesday 10:00 %+v", tue9, wed10)
		}
		if all := report[util](t, w.tn.readonly, "/api/v1/reports/utilization?from=2026-03-01&to=2026-04-01&group_by=station&period=month"); len(all.Rows) != 2 || all.Heatmap != nil {
			t.Errorf("by station: %+v", all)
		}

		// Saturation: at 09:00 in Amsterdam both connectors were busy.
		type sat struct {
			Sites []struct {
				SiteID         string      `json:"site_id"`
				Connectors     int         `json:"connectors"`
				Hours          int64       `json:"hours"`
				SaturatedHours int64       `json:"saturated_hours"`
				SaturatedShare json.Number `json:"saturated_share"`
				PeakBusy       int         `json:"peak_busy"`
			} `json:"sites"`
		}
		sa := report[sat](t, w.tn.readonly, "/api/v1/reports/saturation?from=2026-03-01&to=2026-04-01")
		for _, x := range sa.Sites {
			switch x.SiteID {
			case w.siteA:
				if x.Connectors != 2 || x.Hours != 743 || x.SaturatedHours != 1 || x.SaturatedShare != "0.0013" || x.PeakBusy != 2 {
					t.Errorf("Amsterdam %+v", x)
				}
			case w.siteB: // its one connector busy 18:00–19:00 UTC
				if x.Connectors != 1 || x.Hours != 744 || x.SaturatedHours != 1 {
					t.Errorf("Kolkata %+v", x)
				}
			}
		}
		if s := report[sat](t, w.tn.readonly, "/api/v1/reports/saturation?from=2026-03-01&to=2026-04-01&busy_minutes=60"); s.Sites[0].SaturatedHours+s.Sites[1].SaturatedHours != 1 {
			t.Errorf("busy the whole hour: %+v", s)
		}

		// Refusals.
		base := "/api/v1/reports/revenue?"
		for q, loc := range map[string]string{
			"to=2026-04-01":                                              "query.from",
			"from=2026-03-01&to=2026-03-01":                              "query.to",
			"from=2026-03-01&to=2026-03-02T00:00:00Z":                    "query.to",
			"from=2026-03-01T00:30:00Z&to=2026-03-02T00:00:00Z":          "query.from",
			"from=2026-03-01T00:00:00Z&to=2026-06-03T00:00:00Z":          "query.to",
			"from=2026-03-01&to=2026-04-01&group_by=colour":              "query.group_by",
			"from=2026-03-01&to=2026-04-01&period=year":                  "query.period",
			"from=2026-03-01&to=2026-04-01&format=xml":                   "query.format",
			"from=yesterday&to=2026-04-01":                               "query.from",
			"from=2026-03-01&to=2026-04-01&site_id=site_nope":            "query.site_id",
			"from=2026-03-01&to=2026-04-01&station_id=st_nope":           "query.station_id",
			"from=2026-03-01&to=2026-04-01&site_id=SITEB&station_id=STA": "query.station_id",
		} {
			q = strings.NewReplacer("SITEB", w.siteB, "STA", w.stationA.ID).Replace(q)
			if r := w.tn.readonly.do(http.MethodGet, base+q, nil); r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %s", q, r)
			} else {
				r.problem(t, http.StatusUnprocessableEntity, "invalid", loc)
			}
		}
		w.tn.readonly.do(http.MethodGet, base+"from=2026-03-01&to=2026-04-01&limit=3", nil).problem(t, http.StatusUnprocessableEntity, "invalid")
		w.tn.readonly.do(http.MethodGet, "/api/v1/reports/saturation?from=2026-03-01&to=2026-04-01&station_id="+w.stationA.ID, nil).
			problem(t, http.StatusUnprocessableEntity, "invalid", "query.station_id")
		w.tn.readonly.do(http.MethodGet, "/api/v1/reports/saturation?from=2026-03-01&to=2026-04-01&busy_minutes=61", nil).
			problem(t, http.StatusUnprocessableEntity, "invalid", "query.busy_minutes")
		e.anon().do(http.MethodGet, base+"from=2026-03-01&to=2026-04-01", nil).problem(t, http.StatusUnauthorized, "unauthorized")
		// Another tenant sees none of it, and cannot name the sites.
		if o := report[revenueReport](t, other.readonly, base+"from=2026-03-01&to=2026-04-01"); len(o.Rows) != 0 {
			t.Errorf("another tenant's report %+v", o)
		}
		other.readonly.do(http.MethodGet, base+"from=2026-03-01&to=2026-04-01&site_id="+w.siteA, nil).problem(t, http.StatusUnprocessableEntity, "invalid", "query.site_id")
	})
}

// equalJSON compares two values by their JSON.
func equalJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(g) != string(wj) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, wj)
	}
}

// TestRevenueReportMatchesLedger: when every session is paid by card and
// captured in full, the revenue report is the ledger. The sessions end at
// two sites in two zones, by the payment worker through the sandbox
// gateway, which captures each CDR's total and posts its net to the
// site's charging_revenue account, and some are partly refunded (net and
// VAT in proportion, rounded per refund). The report attributes revenue
// to the hour each session ended and the ledger posts it when the capture
// is recorded, so the same range means the same sessions: over the
// tenant's whole history the totals per site must equal the account
// balances; over March alone they must equal the capture entries of the
// payments whose sessions ended in March (in the site's calendar), and
// the refund entries posted, all of them today, are in neither month but
// today's.
func TestRevenueReportMatchesLedger(t *testing.T) {
	// Each engine in a database of its own: the worker takes every
	// tenant's due payments, and other tests' workers would take these.
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) { testRevenueMatchesLedger(t, newEnvWith(t, eng.Open(t))) })
	}
}

// testRevenueMatchesLedger is TestRevenueReportMatchesLedger on one engine.
func testRevenueMatchesLedger(t *testing.T, e *env) {
	ctx := context.Background()
	ps := e.store.(evbill.PaymentStore)
	ls := e.store.(evbill.LedgerStore)
	ss := e.store.(evbill.SessionStore)
	w := newReportWorld(t, e)
	sbx, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wk := &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
	rounds := func() {
		t.Helper()
		for range 3 {
			if _, err := wk.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	type paid struct {
		site  string
		march bool
		cdr   evbill.CDR
		payID string
	}
	var sessions []paid
	driver := evbill.Driver{TenantID: w.tn.id, Name: "D"}
	if err := e.store.CreateDriver(ctx, &driver); err != nil {
		t.Fatal(err)
	}
	// Ends around local midnight of 31 March / 1 April at both sites,
	// with totals that round.
	for i := range 12 {
		st, site, loc := w.stationA, w.siteA, "Europe/Amsterdam"
		if i%2 == 1 {
			st, site, loc = w.stationB, w.siteB, "Asia/Kolkata"
		}
		zone, _ := time.LoadLocation(loc)
		stop := time.Date(2026, 3, 31, 23, 0, 0, 0, zone).Add(time.Duration(i*17) * time.Minute)
		start := stop.Add(-95 * time.Minute)
		s := evbill.Session{TenantID: w.tn.id, StationID: st.ID, ConnectorNumber: 1, IDTag: "T", DriverID: driver.ID,
			MeterStartWh: "0", StartedAt: start}
		p := evbill.Payment{TenantID: w.tn.id, DriverID: driver.ID, SiteID: site, Gateway: "sandbox", PaymentMethod: sandbox.CardSucceeds,
			Currency: "EUR", HoldAmount: 10000}
		ws := []evbill.SessionWrite{{Start: &s, Payment: &p}}
		if err := ss.ApplySessionWrites(ctx, ws); err != nil || ws[0].Err != nil {
			t.Fatal(err, ws[0].Err)
		}
		p = *ws[0].Payment
		rounds()
		net := int64(1000 + 137*i)
		s.StoppedAt, s.MeterStopWh, s.State = &stop, fmt.Sprint(10000+i*1111), evbill.SessionEnded
		// …50 rounds up, half away from zero; …49 down.
		c := &evbill.CDR{Currency: "EUR", TotalExclVAT: fmt.Sprintf("%d.%02d%s", net/100, net%100, []string{"50", "49"}[i/2%2]), TotalInclVAT: "0",
			AmountMinor: (net*121 + 50) / 100}
		if err := ss.EndSession(ctx, &s, c, nil); err != nil {
			t.Fatal(err)
		}
		// The rollups count a session in the day its end's UTC hour
		// starts on: in Kolkata, 00:25 on 1 April is in the hour from
		// 23:30 on 31 March, so that session is March's.
		march := evbill.DayDate(evbill.LocalDay(evbill.HourBucket(stop), zone)).Month() == time.March
		sessions = append(sessions, paid{site, march, *c, p.ID})
	}
	rounds()
	for i, x := range sessions {
		p, err := ps.Payment(ctx, w.tn.id, x.payID)
		if err != nil || p.State != evbill.PaymentCaptured || p.Captured != x.cdr.AmountMinor {
			t.Fatalf("session %d: payment %+v (%v)", i, p, err)
		}
		if i%3 == 0 {
			for _, amount := range []int64{101, 333} {
				if err := ps.CreateRefund(ctx, &evbill.Refund{TenantID: w.tn.id, CDRID: x.cdr.ID, Amount: amount}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	rounds()

	balance := func(code string) int64 {
		a, err := ls.LedgerAccount(ctx, w.tn.id, code, "EUR")
		if evbill.ErrorCode(err) == evbill.ENOTFOUND {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}
	today := time.Now().UTC()
	all := report[revenueReport](t, w.tn.finance, "/api/v1/reports/revenue?period=all&from=2026-01-01&to="+today.AddDate(0, 0, 2).Format(time.DateOnly))
	if len(all.Rows) != 2 {
		t.Fatalf("rows %+v", all.Rows)
	}
	for _, r := range all.Rows {
		if rev := -balance(ledger.ChargingRevenue(r.Group)); r.RevenueExclVAT != rev || rev == 0 {
			t.Errorf("site %s: revenue %d, ledger %d", r.Group, r.RevenueExclVAT, rev)
		}
		if ref := balance(ledger.Refunds(r.Group)); r.RefundedExclVAT != ref || ref == 0 || r.Refunds != 4 {
			t.Errorf("site %s: refunded %d in %d refunds, ledger %d", r.Group, r.RefundedExclVAT, r.Refunds, ref)
		}
	}
	// March alone: the captures of the sessions that ended in March.
	march := map[string]int64{}
	for _, x := range sessions {
		if !x.march {
			continue
		}
		entries, err := ls.ListLedgerEntries(ctx, w.tn.id, "", evbill.Page{Limit: evbill.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if en.Key != "capture:"+x.payID {
				continue
			}
			for _, p := range en.Postings {
				if p.Account == ledger.ChargingRevenue(x.site) {
					march[x.site] -= p.Amount
				}
			}
		}
	}
	m := report[revenueReport](t, w.tn.finance, "/api/v1/reports/revenue?period=month&from=2026-03-01&to=2026-04-01")
	got := map[string]int64{}
	for _, r := range m.Rows {
		got[r.Group] += r.RevenueExclVAT
		if r.Refunds != 0 {
			t.Errorf("refunds made today counted in March: %+v", r)
		}
	}
	if len(march) != 2 || fmt.Sprint(got) != fmt.Sprint(march) {
		t.Errorf("March: report %v, ledger entries %v", got, march)
	}
}

// The reports' benchmark: rollups equivalent to a fleet's two years of
// sessions, bulk-loaded once, then each report asked again and again
// through the API, with the 50th and 95th percentiles of its latency.
//
// The fleet (a large operator's): 125 sites of 8 stations with 2
// connectors each (2,000 connectors), 2024 and 2025, 6.85 sessions per
// connector and day (10,000,000 sessions, exactly), charging 15 minutes
// to 2 hours and idling up to 40 minutes after (connectors occupied about
// 42 % of the time: a busy fleet), at random times of day, 4 to 60 kWh,
// paid by card, guest card, wallet, account or not through evbill, under
// one of two tariffs per site; 100 sites in Europe/Amsterdam, 15 in
// Europe/London, 10 in Asia/Kolkata. Each session
// is turned into rollup rows by the attribution rule itself
// (evbill.SessionRollupHours, evbill.RollupRows), summed per site, and
// bulk-loaded with AddRollups: the rows a store would hold had it ended
// them one by one, without storing the sessions.
//
// It runs only when EVBILL_BENCH_ROLLUPS is set, to the number of
// sessions (10000000 for the full fleet; fewer scale the sites down). The
// loaded databases are kept for the next run: SQLite under
// EVBILL_BENCH_ROLLUPS_DIR (default the system's temporary directory),
// PostgreSQL in the schema evbill_bench_rollups_v<layout>_<n> of the
// database EVBILL_TEST_POSTGRES_URL names.
//
//	EVBILL_BENCH_ROLLUPS=10000000 go test ./api -run '^$' -bench Reports -benchtime 50x -timeout 2h
func BenchmarkReports(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("EVBILL_BENCH_ROLLUPS"))
	if n <= 0 {
		b.Skip("EVBILL_BENCH_ROLLUPS is not set: it loads rollups of millions of sessions")
	}
	sites := max(1, int(int64(n)*125/10_000_000))
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			st, done := benchStore(b, engine, n)
			defer done()
			e := newEnvWith(b, st)
			fleet := benchFleet(b, e, st, n, sites)
			from2y, to2y := "2024-01-01", "2026-01-01"
			site := fleet.sites[len(fleet.sites)/2]
			queries := []struct{ name, path string }{
				{"revenue-month-by-site-2y", "/api/v1/reports/revenue?period=month&group_by=site&from=" + from2y + "&to=" + to2y},
				{"revenue-month-by-station-2y", "/api/v1/reports/revenue?period=month&group_by=station&from=" + from2y + "&to=" + to2y},
				{"revenue-week-by-payment-1y", "/api/v1/reports/revenue?period=week&group_by=payment_method&from=2025-01-01&to=" + to2y},
				{"revenue-day-by-site-30d", "/api/v1/reports/revenue?period=day&group_by=site&from=2025-12-02&to=" + to2y},
				{"revenue-day-by-station-30d", "/api/v1/reports/revenue?period=day&group_by=station&from=2025-12-02&to=" + to2y},
				{"revenue-month-by-tariff-site-2y", "/api/v1/reports/revenue?period=month&group_by=tariff&site_id=" + site + "&from=" + from2y + "&to=" + to2y},
				{"revenue-all-odd-range", "/api/v1/reports/revenue?period=all&group_by=site&from=2024-01-17&to=2025-11-09"},
				{"revenue-day-instants-7d", "/api/v1/reports/revenue?period=day&group_by=site&from=2025-12-24T00:00:00Z&to=2025-12-31T00:00:00Z"},
				{"utilization-all-by-site-2y", "/api/v1/reports/utilization?group_by=site&from=" + from2y + "&to=" + to2y},
				{"utilization-month-by-site-1y", "/api/v1/reports/utilization?period=month&group_by=site&from=2025-01-01&to=" + to2y},
				{"utilization-by-station-90d", "/api/v1/reports/utilization?group_by=station&from=2025-10-03&to=" + to2y},
				{"utilization-site-heatmap-2y", "/api/v1/reports/utilization?site_id=" + site + "&from=" + from2y + "&to=" + to2y},
				{"utilization-site-heatmap-90d", "/api/v1/reports/utilization?period=week&site_id=" + site + "&from=2025-10-03&to=" + to2y},
				{"saturation-site-90d", "/api/v1/reports/saturation?site_id=" + site + "&from=2025-10-03&to=" + to2y},
				{"saturation-all-30d", "/api/v1/reports/saturation?from=2025-12-02&to=" + to2y},
			}
			for _, q := range queries {
				b.Run(q.name, func(b *testing.B) {
					var lat []time.Duration
					rows := 0
					for b.Loop() {
						t0 := time.Now()
						r := fleet.client.do(http.MethodGet, q.path, nil)
						lat = append(lat, time.Since(t0))
						if r.status != http.StatusOK {
							b.Fatalf("%s: %s", q.path, r)
						}
						rows = strings.Count(string(r.body), `"period"`) + strings.Count(string(r.body), `"site_id"`)
					}
					slices.Sort(lat)
					pct := func(p float64) float64 {
						return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
					}
					b.ReportMetric(pct(0.5), "p50-ms")
					b.ReportMetric(pct(0.95), "p95-ms")
					b.ReportMetric(float64(rows), "rows")
				})
			}
		})
	}
}

// benchLayout numbers the rollups' layout the benchmark's databases were
// loaded with: a new level makes new databases.
const benchLayout = 3

// benchStore opens the benchmark's database of engine for n sessions,
// kept from an earlier run when there was one.
func benchStore(b *testing.B, engine string, n int) (evbill.Store, func()) {
	b.Helper()
	ctx := context.Background()
	if engine == "sqlite" {
		dir := cmp.Or(os.Getenv("EVBILL_BENCH_ROLLUPS_DIR"), os.TempDir())
		st, err := sqlite.Open(ctx, filepath.Join(dir, fmt.Sprintf("evbill-bench-rollups-v%d-%d.db", benchLayout, n)))
		if err != nil {
			b.Fatal(err)
		}
		return st, func() { st.Close() }
	}
	base := os.Getenv("EVBILL_TEST_POSTGRES_URL")
	if base == "" {
		b.Skip("EVBILL_TEST_POSTGRES_URL is not set")
	}
	schema := fmt.Sprintf("evbill_bench_rollups_v%d_%d", benchLayout, n)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		b.Fatal(err)
	}
	conn.Close(ctx)
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	return st, func() { st.Close() }
}

// fleet is the benchmark's tenant: its sites and a reader's client.
type fleet struct {
	sites  []string
	client *client
}

// benchFleet returns the benchmark's tenant in the store, making it and
// loading its rollups the first time.
func benchFleet(b *testing.B, e *env, st evbill.Store, n, nSites int) fleet {
	b.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("bench-rollups-%d", n)
	// The API key is made anew each run: its secret is shown only once.
	secret, prefix, hash := auth.NewAPIKey()
	tn, err := st.TenantByName(ctx, name)
	if err == nil {
		k := evbill.APIKey{TenantID: tn.ID, Name: "bench", Role: evbill.RoleReadonly, Prefix: prefix}
		if err := st.CreateAPIKey(ctx, &k, hash); err != nil {
			b.Fatal(err)
		}
		sites, err := st.ListSites(ctx, tn.ID, evbill.Page{Limit: evbill.MaxPageLimit})
		if err != nil {
			b.Fatal(err)
		}
		f := fleet{client: &client{e: e, key: secret}}
		for _, s := range sites {
			f.sites = append(f.sites, s.ID)
		}
		return f
	}
	rs := st.(evbill.RollupStore)
	start := time.Now()
	tn = evbill.Tenant{Name: name}
	if err := st.CreateTenant(ctx, &tn); err != nil {
		b.Fatal(err)
	}
	k := evbill.APIKey{TenantID: tn.ID, Name: "bench", Role: evbill.RoleReadonly, Prefix: prefix}
	if err := st.CreateAPIKey(ctx, &k, hash); err != nil {
		b.Fatal(err)
	}
	f := fleet{client: &client{e: e, key: secret}}
	rng := rand.New(rand.NewPCG(uint64(n), 2024))
	methods := []string{evbill.RollupPayCard, evbill.RollupPayCard, evbill.RollupPayCard, evbill.RollupPayCard, evbill.RollupPayCard,
		evbill.RollupPayAdHoc, evbill.RollupPayAdHoc, evbill.RollupPayWallet, evbill.RollupPayAccount, evbill.RollupPayNone}
	begin, end := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sessions, rows := 0, 0
	for i := range nSites {
		zone := "Europe/Amsterdam"
		switch {
		case i%25 >= 22:
			zone = "Asia/Kolkata"
		case i%25 >= 19:
			zone = "Europe/London"
		}
		site := evbill.Site{TenantID: tn.ID, Name: fmt.Sprint("Site ", i), Country: "NL", TimeZone: zone}
		if err := st.CreateSite(ctx, &site); err != nil {
			b.Fatal(err)
		}
		f.sites = append(f.sites, site.ID)
		loc, _ := time.LoadLocation(zone)
		tariffs := []string{evbill.NewID("trf"), evbill.NewID("trf")}
		sums := map[evbill.RollupKey]*evbill.RollupFigures{}
		for si := range 8 {
			station := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: evbill.NewID("CP")}
			if err := st.CreateStation(ctx, &station); err != nil {
				b.Fatal(err)
			}
			for c := 1; c <= 2; c++ {
				conn := evbill.Connector{TenantID: tn.ID, StationID: station.ID, ConnectorNumber: c, Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}
				if err := st.CreateConnector(ctx, &conn); err != nil {
					b.Fatal(err)
				}
				// This connector's share of the sessions, exactly: their
				// lengths first, then the time left spread between them
				// in random gaps.
				all, ci := nSites*16, i*16+si*2+c-1
				k := n / all
				if ci < n%all {
					k++
				}
				type occ struct{ charging, idle time.Duration }
				occs := make([]occ, k)
				var busy time.Duration
				for j := range occs {
					occs[j] = occ{time.Duration(15+rng.IntN(106)) * time.Minute, time.Duration(rng.IntN(41)) * time.Minute}
					busy += occs[j].charging + occs[j].idle
				}
				weights := make([]float64, k+1)
				var total float64
				for j := range weights {
					weights[j] = rng.ExpFloat64()
					total += weights[j]
				}
				free := float64(end.Sub(begin) - busy)
				t := begin
				for j, o := range occs {
					t = t.Add(time.Duration(weights[j] / total * free))
					stop, parking := t.Add(o.charging+o.idle), t.Add(o.charging)
					wh := 4000 + rng.IntN(56000)
					s := evbill.Session{StartedAt: t, ParkingStartedAt: &parking, StoppedAt: &stop, MeterStartWh: "0", MeterStopWh: strconv.Itoa(wh)}
					net := int64(wh) * 35 / 100 // about 0.35 a kWh
					hours := evbill.SessionRollupHours(s, &evbill.CDR{AmountMinor: net * 121 / 100}, net)
					place := evbill.RollupPlace{TenantID: tn.ID, SiteID: site.ID, Location: loc, StationID: station.ID,
						ConnectorNumber: c, Currency: "EUR", TariffID: tariffs[rng.IntN(4)/3], PaymentMethod: methods[rng.IntN(len(methods))]}
					for _, r := range evbill.RollupRows(place, hours) {
						if sums[r.RollupKey] == nil {
							sums[r.RollupKey] = &evbill.RollupFigures{}
						}
						sums[r.RollupKey].Add(r.RollupFigures)
					}
					sessions++
					t = stop
				}
			}
		}
		batch := make([]evbill.RollupRow, 0, len(sums))
		for k, v := range sums {
			batch = append(batch, evbill.RollupRow{RollupKey: k, RollupFigures: *v})
		}
		evbill.SortRollupRows(batch)
		for len(batch) > 0 {
			m := min(len(batch), 100_000)
			if err := rs.AddRollups(ctx, batch[:m]); err != nil {
				b.Fatal(err)
			}
			rows += m
			batch = batch[m:]
		}
		if i%10 == 9 {
			b.Logf("%d of %d sites, %d sessions, %d rows, %s", i+1, nSites, sessions, rows, time.Since(start).Round(time.Second))
		}
	}
	b.Logf("loaded %d sessions as %d rollup rows in %s", sessions, rows, time.Since(start).Round(time.Second))
	return f
}

// TestReportsOpenAPI: the reports are documented, with their query
// parameters and both the JSON schema and CSV.
func TestReportsOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.anon().do(http.MethodGet, "/api/v1/openapi.json", nil)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	for path, params := range map[string][]string{
		"/api/v1/reports/revenue":     {"from", "to", "site_id", "station_id", "format", "period", "group_by"},
		"/api/v1/reports/utilization": {"from", "to", "site_id", "station_id", "format", "period", "group_by"},
		"/api/v1/reports/saturation":  {"from", "to", "site_id", "station_id", "format", "busy_minutes"},
	} {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("%s is not documented", path)
			continue
		}
		var got []string
		for _, p := range op.Parameters {
			got = append(got, p.Name)
		}
		slices.Sort(got)
		slices.Sort(params)
		if !slices.Equal(got, params) {
			t.Errorf("%s: parameters %v, want %v", path, got, params)
		}
		ok200 := op.Responses["200"].Content
		if !strings.Contains(string(ok200["application/json"]), "$ref") || ok200["text/csv"] == nil {
			t.Errorf("%s: 200 is documented as %v", path, ok200)
		}
		if op.Responses["422"].Content == nil {
			t.Errorf("%s: 422 is not documented", path)
		}
	}
}
