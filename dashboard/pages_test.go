package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/money"
)

// TestDashboardPages walks the pages through a session: the overview and
// the stations page follow the charger's connection and its session; the
// session's page shows its figures while it runs and its bill, with the
// receipt's link, once it has ended; the overview then counts it in
// today's revenue and energy. Another tenant's session is not found.
func TestDashboardPages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		b := w.browser()
		b.mustLogin(emails[evbill.RoleOperator])

		_, body := b.get("/")
		contains(t, "the overview before any session", body, `data-figure="revenue">—</p>`, `data-figure="energy">0.00 kWh`,
			`data-figure="active">0</p>`, "No session is running.", "(Europe/Amsterdam)")
		_, body = b.get("/stations")
		contains(t, "the stations page before the charger connects", body, "<h2>Centraal</h2>", "Stationsplein 1, Amsterdam, NL",
			"CP-1", "Alfen Eve", `data-station="CP-1">Not connected`, "#1", "Type 2, AC, 3 phases, 22 kW", "Free")

		ch := w.dial()
		_, body = b.get("/stations")
		contains(t, "the stations page", body, `data-station="CP-1">Connected`)
		ch.start()
		ch.meter(30*time.Minute, 7000, 11000)
		s := w.session(ch)

		res, body := b.do(http.MethodGet, "/", nil, http.Header{"HX-Request": {"true"}})
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(body, `<section id="figures"`) || strings.Contains(body, "<html") {
			t.Errorf("the overview's figures for htmx: %d\n%s", res.StatusCode, body)
		}
		contains(t, "the overview while charging", body, `data-figure="active">1</p>`, `<a href="/sessions/`+s.ID+`">CP-1 #1</a>`,
			`data-figure="running-energy">7.00 kWh`, "11.0 kW", "EUR ")
		_, body = b.get("/stations")
		contains(t, "the stations page while charging", body, `<a href="/sessions/`+s.ID+`">Charging since`)
		_, body = b.get("/sessions/" + s.ID)
		contains(t, "the running session's page", body, `data-figure="state">Charging`, "7.00 kWh", "11.0 kW", "Cost so far", "TAG1",
			`href="`+w.pages.LivePath(w.tenant.ID, s.ID)+`"`, "Centraal")
		if strings.Contains(body, "Itemized receipt") {
			t.Errorf("a running session links a receipt:\n%s", body)
		}

		ch.stop(40*time.Minute, 7500)
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		total := money.Amount{Minor: record.AmountMinor, Currency: money.MustCurrency("EUR")}.String()
		_, body = b.get("/")
		contains(t, "the overview after the session", body, `data-figure="revenue">`+total+`</p>`, `data-figure="billed">1</span>`,
			`data-figure="energy">7.50 kWh`, `data-figure="active">0</p>`)
		_, body = b.get("/sessions")
		contains(t, "the sessions list", body, `data-session="`+s.ID+`"`, `data-figure="total">`+total, "CP-1 #1", "Ended", "7.50 kWh", "40 min")
		_, body = b.get("/sessions/" + s.ID)
		receipt := "/r/" + strings.TrimPrefix(w.pages.LivePath(w.tenant.ID, s.ID), "/s/")
		contains(t, "the ended session's page", body, `data-figure="total">`+total, record.ID, `href="`+receipt+`">Itemized receipt`,
			`href="`+receipt+`/receipt.pdf"`, "EVDisconnected", "7.50 kWh", "40 min")
		if res, rc := b.get(receipt); res.StatusCode != http.StatusOK || !strings.Contains(rc, record.ID) {
			t.Errorf("the receipt the dashboard links to: %d\n%s", res.StatusCode, rc)
		}

		// Another tenant's user sees none of it.
		o := w.browser()
		o.mustLogin(otherEmail)
		if res, _ := o.get("/sessions/" + s.ID); res.StatusCode != http.StatusNotFound {
			t.Errorf("another tenant's session: %d", res.StatusCode)
		}
		_, body = o.get("/")
		contains(t, "the other tenant's overview", body, `data-figure="revenue">—</p>`, `data-figure="active">0</p>`)
		_, body = o.get("/sessions")
		if strings.Contains(body, s.ID) {
			t.Errorf("another tenant's sessions list shows the session")
		}
		if res, _ := b.get("/sessions/ses_NOPE"); res.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown session: %d", res.StatusCode)
		}
	})
}

// TestDashboardSessionsPaging: the sessions list is newest first, a page
// at a time, and says where the next one starts.
func TestDashboardSessionsPaging(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		var ids []string
		for i := range 55 {
			s := evbill.Session{TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 1, IDTag: "TAG1", MeterStartWh: "0",
				StartedAt: time.Date(2026, 3, 1, 8, i, 0, 0, time.UTC)}
			if _, err := w.store.StartSession(ctx, &s); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		// IDs sort by creation only to the millisecond.
		slices.Sort(ids)
		b := w.browser()
		b.mustLogin(emails[evbill.RoleReadonly])
		_, first := b.get("/sessions")
		if n := strings.Count(first, "data-session="); n != 50 {
			t.Errorf("the first page lists %d sessions", n)
		}
		older := fmt.Sprintf(`href="/sessions?before=%s"`, ids[5])
		contains(t, "the first page", first, older)
		_, second := b.get("/sessions?before=" + ids[5])
		if n := strings.Count(second, "data-session="); n != 5 || !strings.Contains(second, ids[0]) || strings.Contains(second, "Older") {
			t.Errorf("the second page lists %d sessions:\n%s", n, second)
		}
		contains(t, "the second page", second, `<a href="/sessions">← Newest</a>`)
	})
}

// TestDashboardTariffs: the tariffs list shows each tariff's latest
// version; a tariff's page its prices, its versions and its document.
func TestDashboardTariffs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		vs, err := w.store.ListTariffs(ctx, w.tenant.ID, evbill.Page{})
		if err != nil || len(vs) != 1 {
			t.Fatalf("tariffs: %v, %v", vs, err)
		}
		v2 := vs[0]
		v2.Document = []byte(strings.Replace(string(v2.Document), `"price": 0.45`, `"price": 0.49`, 1))
		if err := w.store.AddTariffVersion(ctx, &v2); err != nil {
			t.Fatal(err)
		}
		b := w.browser()
		b.mustLogin(emails[evbill.RoleFinance])
		_, body := b.get("/tariffs")
		contains(t, "the tariffs list", body, `<a href="/tariffs/`+v2.TariffID+`">`, "v2", "EUR", "€0.35 start fee")
		_, body = b.get("/tariffs/" + v2.TariffID)
		contains(t, "the tariff's page", body, "Version 2", "EUR 0.49 per kWh", "EUR 0.35 per session", "EUR 6.00 per hour parked",
			"21 %", "07:00–19:00", "300 s", `href="/tariffs/`+v2.TariffID+`?version=1">v1</a>`, "<strong>v2</strong>", "OCPI document", "AMS-TOU-1")
		_, body = b.get("/tariffs/" + v2.TariffID + "?version=1")
		contains(t, "version 1's page", body, "Version 1", "EUR 0.45 per kWh")
		if res, _ := b.get("/tariffs/trf_NOPE"); res.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown tariff: %d", res.StatusCode)
		}
	})
}

// fakeReports answers revenue with a table and a chart, and nothing else.
type fakeReports struct{ got dashboard.ReportQuery }

func (f *fakeReports) Revenue(_ context.Context, tenantID string, q dashboard.ReportQuery) (dashboard.Report, error) {
	f.got = q
	return dashboard.Report{Note: "Billed per day, VAT included.", Columns: []string{"Day", "Billed"},
		Rows: [][]string{{"2026-03-01", "EUR 12.34"}, {"2026-03-02", "EUR 0.99"}},
		Chart: &dashboard.Chart{X: []int64{1772323200, 1772409600},
			Series: []dashboard.Series{{Label: "Billed", Unit: "EUR", Scale: 2, Values: []int64{1234, 99}}}}}, nil
}

func (f *fakeReports) Utilization(context.Context, string, dashboard.ReportQuery) (dashboard.Report, error) {
	return dashboard.Report{}, dashboard.ErrNotAvailable
}

func (f *fakeReports) WhatIf(context.Context, string, dashboard.ReportQuery) (dashboard.Report, error) {
	return dashboard.Report{}, evbill.Errorf(evbill.EINVALID, "choose a tariff to compare with")
}

func (f *fakeReports) Forecast(context.Context, string, dashboard.ReportQuery) (dashboard.Report, error) {
	return dashboard.Report{}, errors.New("the model is down")
}

// TestDashboardReports: without Reports every report page says it is not
// available yet; with them, a report is a table and a chart whose data
// the page carries as JSON for its script (uPlot, loaded on that page
// only); the period comes from the query.
func TestDashboardReports(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		b.mustLogin(emails[evbill.RoleReadonly])
		for _, path := range []string{"/revenue", "/utilization", "/what-if", "/forecast"} {
			res, body := b.get(path)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-report="unavailable"`) || !strings.Contains(body, "It is not available yet.") {
				t.Errorf("GET %s without reports: %d\n%s", path, res.StatusCode, body)
			}
		}
	})
	reports := &fakeReports{}
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		b.mustLogin(emails[evbill.RoleReadonly])
		res, body := b.get("/revenue?from=2026-03-01&to=2026-03-02")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("the revenue page: %d\n%s", res.StatusCode, body)
		}
		contains(t, "the revenue page", body, "Billed per day, VAT included.", "<td>EUR 12.34</td>", `id="chart"`,
			`<script type="application/json" id="chart-data">{"x":[1772323200,1772409600],"series":[{"label":"Billed","unit":"EUR","scale":2,"values":[1234,99]}]}</script>`,
			"vendor/uplot/uPlot.iife.min.js", `value="2026-03-01"`, `value="2026-03-02"`)
		if want := (dashboard.ReportQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}); reports.got != want {
			t.Errorf("the query: %+v, want %+v", reports.got, want)
		}
		if _, body := b.get("/"); strings.Contains(body, "uPlot") {
			t.Errorf("the overview loads uPlot")
		}
		_, body = b.get("/utilization")
		contains(t, "the utilization page", body, `data-report="unavailable"`)
		if res, body := b.get("/what-if"); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "choose a tariff") {
			t.Errorf("the what-if page: %d\n%s", res.StatusCode, body)
		}
		if res, _ := b.get("/forecast"); res.StatusCode != http.StatusInternalServerError {
			t.Errorf("the forecast page: %d", res.StatusCode)
		}
		if res, _ := b.get("/revenue?from=March"); res.StatusCode != http.StatusBadRequest {
			t.Errorf("a period that is not dates: %d", res.StatusCode)
		}
	}, func(c *dashboard.Config) { c.Reports = reports })
}
