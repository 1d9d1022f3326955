package dashboard

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/evbill/evbill"
)

// overviewPage is the dashboard's first page: the tenant's day so far and
// the sessions running now.
type overviewPage struct {
	chrome
	Figures overviewFigures
}

// overviewFigures is the overview's live part, which htmx replaces every
// few seconds.
type overviewFigures struct {
	Every string // htmx's polling interval
	// Day says which day "today" is: the date in the sites' time zone, or
	// that each site counts its own when they are in several.
	Day string
	// Revenue is the amount billed today per currency ("EUR 12.38"),
	// VAT included: what the CDRs charge.
	Revenue []string
	Energy  string // billed today, in kWh
	Billed  int    // CDRs made today
	Active  int    // sessions running now
	Running []runningRow
	More    int // running sessions not listed
	AsOf    string
}

// runningRow is a session running now, with its figures so far.
type runningRow struct {
	ID          string
	ChargePoint string
	Connector   int
	State       string
	Started     string
	Duration    string
	Energy      string
	Power       string
	Cost        string
}

// runningListed is how many running sessions the overview lists; the
// sessions page has the rest.
const runningListed = 10

// overview serves GET /: the page, or its figures alone for htmx.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, v *viewer) {
	f, err := h.figures(r.Context(), v.Tenant.ID)
	if err != nil {
		h.internal(w, r, v, err)
		return
	}
	h.render(w, r, http.StatusOK, "overview", overviewPage{
		chrome:  chrome{Title: "Overview", Active: "/", Viewer: v, Refresh: 30},
		Figures: f,
	})
}

// figures reads the overview's figures. Today's revenue and energy are the
// tenant's CDRs made since midnight at each site's own time zone: one
// indexed range of today's CDRs per distinct zone (cdrs_tenant_created_idx),
// so their cost grows with today's CDRs, not with the tenant's history.
// The running sessions are counted and listed from the index of sessions
// not ended; the ten listed get their figures from the engine that bills
// them (charging.Live).
func (h *Handler) figures(ctx context.Context, tenantID string) (overviewFigures, error) {
	now := h.cfg.Now()
	st := h.cfg.Store
	zones, err := st.SiteTimeZones(ctx, tenantID)
	if err != nil {
		return overviewFigures{}, err
	}
	f := overviewFigures{Every: h.every()}
	shown := time.UTC
	if len(zones) == 1 {
		shown = h.location(zones[0])
	}
	f.Day = now.In(shown).Format("Monday 2 January 2006") + " (" + shown.String() + ")"
	if len(zones) > 1 {
		f.Day = "Today, from midnight at each site"
	}
	revenue := map[string]int64{}
	var mwh int64
	for _, z := range zones {
		loc := h.location(z)
		y, m, d := now.In(loc).Date()
		from := time.Date(y, m, d, 0, 0, 0, 0, loc)
		totals, err := st.BilledBetween(ctx, tenantID, z, from, from.AddDate(0, 0, 1))
		if err != nil {
			return overviewFigures{}, err
		}
		for _, t := range totals {
			revenue[t.Currency] += t.AmountMinor
			mwh += t.EnergyMilliWh
			f.Billed += t.CDRs
		}
	}
	currencies := make([]string, 0, len(revenue))
	for c := range revenue {
		currencies = append(currencies, c)
	}
	slices.Sort(currencies)
	for _, c := range currencies {
		f.Revenue = append(f.Revenue, amount(c, revenue[c]))
	}
	f.Energy = milliWhText(mwh)

	if f.Active, err = st.OpenSessionCount(ctx, tenantID); err != nil {
		return overviewFigures{}, err
	}
	running, err := st.OpenSessionList(ctx, tenantID, runningListed)
	if err != nil {
		return overviewFigures{}, err
	}
	f.More = max(f.Active-len(running), 0)
	for _, it := range running {
		f.Running = append(f.Running, h.runningOf(ctx, it, shown, now))
	}
	f.AsOf = now.In(shown).Format("15:04:05 MST")
	return f, nil
}

// runningOf is a running session's row; its figures are left out when
// the engine cannot read them now, which the row shows rather than
// failing the overview.
func (h *Handler) runningOf(ctx context.Context, it evbill.SessionListItem, loc *time.Location, now time.Time) runningRow {
	s := it.Session
	row := runningRow{ID: s.ID, ChargePoint: it.ChargePointID, Connector: s.ConnectorNumber, State: stateText(s.State),
		Started: s.StartedAt.In(loc).Format(timeFormat), Duration: durationText(now.Sub(s.StartedAt)),
		Energy: noDatum, Power: noDatum, Cost: noDatum}
	if h.cfg.Charging == nil {
		return row
	}
	l, err := h.cfg.Charging.Live(ctx, s.TenantID, s.ID)
	if err != nil && l.Session.ID == "" {
		h.cfg.Logger.Warn("dashboard: a running session's figures", "session", s.ID, "err", err)
		return row
	}
	row.Energy = kWhOf(l.EnergyKWh)
	if l.HasPower {
		row.Power = powerText(l.PowerKW)
	}
	if l.Result != nil {
		row.Cost = l.Result.Charge.String()
	}
	return row
}
