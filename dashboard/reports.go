package dashboard

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/evbill/evbill"
)

// ErrNotAvailable is what a Reports method answers for a report it cannot
// give yet; the page then says so, as it does without Reports at all.
var ErrNotAvailable = errors.New("dashboard: this report is not available yet")

// Reports draws the dashboard's report pages from the reports other
// packages compute (revenue and utilization from the rollups, what-if
// from repricing history under another tariff, forecasts from the demand
// models). The dashboard formats nothing of them: a Report comes with its
// figures written out (amounts with the money package) and its chart's
// series as integers.
type Reports interface {
	// Revenue is what the tenant billed per day (or site) in the period.
	Revenue(ctx context.Context, tenantID string, q ReportQuery) (Report, error)
	// Utilization is how busy the connectors were in the period.
	Utilization(ctx context.Context, tenantID string, q ReportQuery) (Report, error)
	// WhatIf is what the period's sessions would have cost under
	// q.TariffID instead of the tariffs they were billed under.
	WhatIf(ctx context.Context, tenantID string, q ReportQuery) (Report, error)
	// Forecast is the expected demand and revenue of the days after the
	// period.
	Forecast(ctx context.Context, tenantID string, q ReportQuery) (Report, error)
}

// ReportQuery is what a report page asks for, from its URL's query:
// ?from=2026-03-01&to=2026-03-31&site=…&tariff=… (dates in UTC days,
// to inclusive; the last 30 days without them).
type ReportQuery struct {
	From   time.Time // the first instant of the period
	To     time.Time // the instant after the period
	SiteID string    // one site, or "" for all
	// TariffID is the tariff a what-if prices under; "" elsewhere.
	TariffID string
}

// Report is a report as a page shows it: a table and, when it has one, a
// chart of series over the same x values.
type Report struct {
	Note    string // a sentence under the title: what the figures are
	Columns []string
	Rows    [][]string
	Chart   *Chart
}

// Chart is a report's chart, drawn by uPlot in the browser.
type Chart struct {
	// X are the points' times, Unix seconds.
	X      []int64  `json:"x"`
	Series []Series `json:"series"`
}

// Series is one line of a chart. Its values are integers, exact, in units
// of 10^-Scale (Scale 2 for cents of EUR, 3 for kWh counted in Wh), divided
// by 10^Scale in the browser only to draw them.
type Series struct {
	Label  string  `json:"label"`
	Unit   string  `json:"unit"`
	Scale  int     `json:"scale"`
	Values []int64 `json:"values"`
}

// reportKind is one of the report pages.
type reportKind struct {
	path, title string
	what        string // what the page will show, said while it cannot
	get         func(Reports) func(context.Context, string, ReportQuery) (Report, error)
}

var (
	reportRevenue = reportKind{"/revenue", "Revenue", "what your sessions billed, per day and per site",
		func(r Reports) func(context.Context, string, ReportQuery) (Report, error) { return r.Revenue }}
	reportUtilization = reportKind{"/utilization", "Utilization", "how busy each connector was, per day and hour",
		func(r Reports) func(context.Context, string, ReportQuery) (Report, error) { return r.Utilization }}
	reportWhatIf = reportKind{"/what-if", "What-if", "what past sessions would have cost under another tariff",
		func(r Reports) func(context.Context, string, ReportQuery) (Report, error) { return r.WhatIf }}
	reportForecast = reportKind{"/forecast", "Forecast", "the demand and revenue to expect in the coming days",
		func(r Reports) func(context.Context, string, ReportQuery) (Report, error) { return r.Forecast }}
)

// reportPage is a report, or the word that it is not available yet.
type reportPage struct {
	chrome
	Unavailable string
	From, To    string // the period, as the form shows it
	SiteID      string
	TariffID    string
	WhatIf      bool
	Report      Report
}

// reportDays is the period a report page shows without one asked for.
const reportDays = 30

// report serves a report page.
func (h *Handler) report(k reportKind) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		q, err := reportQuery(r, h.cfg.Now())
		p := reportPage{chrome: chrome{Title: k.title, Active: k.path, Viewer: v}, WhatIf: k.path == "/what-if",
			SiteID: q.SiteID, TariffID: q.TariffID,
			From: q.From.Format(time.DateOnly), To: q.To.AddDate(0, 0, -1).Format(time.DateOnly)}
		if err != nil {
			h.fail(w, r, v, http.StatusBadRequest, k.title, err.Error(), nil)
			return
		}
		if h.cfg.Reports == nil {
			p.Unavailable = "This page will show " + k.what + ". It is not available yet."
			h.render(w, r, http.StatusOK, "report", p)
			return
		}
		rep, err := k.get(h.cfg.Reports)(r.Context(), v.Tenant.ID, q)
		switch {
		case errors.Is(err, ErrNotAvailable):
			p.Unavailable = "This page will show " + k.what + ". It is not available yet."
		case evbill.ErrorCode(err) == evbill.EINVALID || evbill.ErrorCode(err) == evbill.ENOTFOUND:
			h.fail(w, r, v, http.StatusBadRequest, k.title, err.Error(), nil)
			return
		case err != nil:
			h.internal(w, r, v, err)
			return
		}
		// The chart's data goes into the page as JSON, which html/template
		// writes escaped for a script element; the page's script reads it.
		p.Report = rep
		h.render(w, r, http.StatusOK, "report", p)
	}
}

// reportQuery reads a report page's query: whole UTC days from "from" to
// "to", both included.
func reportQuery(r *http.Request, now time.Time) (ReportQuery, error) {
	qs := r.URL.Query()
	today := now.UTC().Truncate(24 * time.Hour)
	q := ReportQuery{From: today.AddDate(0, 0, 1-reportDays), To: today.AddDate(0, 0, 1), SiteID: qs.Get("site"), TariffID: qs.Get("tariff")}
	if s := qs.Get("from"); s != "" {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, evbill.Errorf(evbill.EINVALID, "from must be a date like 2026-03-01, not %q", s)
		}
		q.From = d
	}
	if s := qs.Get("to"); s != "" {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, evbill.Errorf(evbill.EINVALID, "to must be a date like 2026-03-31, not %q", s)
		}
		q.To = d.AddDate(0, 0, 1)
	}
	if !q.To.After(q.From) {
		return q, evbill.Errorf(evbill.EINVALID, "the period must end on or after its first day")
	}
	return q, nil
}

// usersPage lists the tenant's users, for admins.
type usersPage struct {
	chrome
	Users []evbill.User
	Next  string
}

// users serves GET /users?after=ID. Users are made and given passwords
// with `evbill user`; this page only lists them.
func (h *Handler) users(w http.ResponseWriter, r *http.Request, v *viewer) {
	us, err := h.cfg.Store.ListUsers(r.Context(), v.Tenant.ID, evbill.Page{After: r.URL.Query().Get("after")})
	if err != nil {
		h.internal(w, r, v, err)
		return
	}
	p := usersPage{chrome: chrome{Title: "Users", Active: "/users", Viewer: v}, Users: us}
	if len(us) == evbill.DefaultPageLimit {
		p.Next = us[len(us)-1].ID
	}
	h.render(w, r, http.StatusOK, "users", p)
}
