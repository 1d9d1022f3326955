package dashboard

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/evbill/evbill"
)

// sessionsPage is a page of the tenant's sessions, newest first.
type sessionsPage struct {
	chrome
	Rows []sessionRow
	// Older is the cursor of the next (older) page; "" on the last.
	Older string
	// First is false on every page but the newest, which then links back.
	First bool
}

// sessionRow is one session in the list.
type sessionRow struct {
	ID          string
	Started     string
	ChargePoint string
	Connector   int
	State       string
	Duration    string
	Energy      string
	Total       string // the CDR's amount to charge; noDatum without one
	Flags       string
}

// sessionsPerPage is the length of a page of the sessions list.
const sessionsPerPage = 50

// sessions serves GET /sessions?before=ID: one indexed read of a page of
// sessions with their stations' charge point IDs and their CDRs.
func (h *Handler) sessions(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	before := r.URL.Query().Get("before")
	items, err := h.cfg.Store.RecentSessions(ctx, v.Tenant.ID, before, sessionsPerPage)
	if err != nil {
		h.internal(w, r, v, err)
		return
	}
	p := sessionsPage{chrome: chrome{Title: "Sessions", Active: "/sessions", Viewer: v}, First: before == ""}
	if len(items) == sessionsPerPage {
		p.Older = items[len(items)-1].Session.ID
	}
	now := h.cfg.Now()
	for _, it := range items {
		s := it.Session
		loc := h.stationLocation(ctx, s)
		row := sessionRow{ID: s.ID, Started: s.StartedAt.In(loc).Format(timeFormat), ChargePoint: it.ChargePointID,
			Connector: s.ConnectorNumber, State: stateText(s.State), Energy: sessionEnergy(s), Total: noDatum,
			Flags: strings.Join(s.Flags, ", ")}
		end := now
		if s.StoppedAt != nil {
			end = *s.StoppedAt
		}
		row.Duration = durationText(end.Sub(s.StartedAt))
		if it.CDRID != "" {
			row.Total = amount(it.Currency, it.AmountMinor)
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, http.StatusOK, "sessions", p)
}

// stationLocation is the time zone of a session's site, from the
// resolver's cache; UTC when the station cannot be read.
func (h *Handler) stationLocation(ctx context.Context, s evbill.Session) *time.Location {
	if sc, err := h.cfg.Resolver.Station(ctx, s.TenantID, s.StationID); err == nil && sc.Location != nil {
		return sc.Location
	}
	return time.UTC
}

// sessionPage is one session in full: what the charger reported, what
// it was billed, and the links to the driver's receipt and live page.
type sessionPage struct {
	chrome
	Session     evbill.Session
	State       string
	ChargePoint string
	Site        string
	TimeZone    string
	Started     string
	Stopped     string
	Duration    string
	Energy      string
	Power       string
	Cost        string // running: the cost so far; ended: noDatum (the CDR says)
	Flags       string
	CDR         *cdrView
	LivePath    string
	ReceiptPath string
}

// cdrView is a session's CDR as the page shows it.
type cdrView struct {
	ID      string
	ExclVAT string
	InclVAT string
	Total   string
}

// session serves GET /sessions/{id}. A running session's figures come
// from the engine that will bill it; an ended one's from its CDR, never
// priced again.
func (h *Handler) session(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	tenantID := v.Tenant.ID
	s, err := h.cfg.Store.Session(ctx, tenantID, r.PathValue("id"))
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		h.fail(w, r, v, http.StatusNotFound, "Not found", "There is no such session.", nil)
		return
	default:
		h.internal(w, r, v, err)
		return
	}
	loc := time.UTC
	p := sessionPage{chrome: chrome{Title: "Session", Active: "/sessions", Viewer: v}, Session: s, State: stateText(s.State),
		ChargePoint: s.StationID, Energy: sessionEnergy(s), Power: noDatum, Cost: noDatum, Stopped: noDatum,
		Flags: strings.Join(s.Flags, ", ")}
	if sc, err := h.cfg.Resolver.Station(ctx, tenantID, s.StationID); err == nil {
		loc, p.ChargePoint, p.Site = sc.Location, sc.Station.ChargePointID, sc.Site.Name
	}
	p.TimeZone = loc.String()
	p.Started = s.StartedAt.In(loc).Format(timeFormat)
	end := h.cfg.Now()
	if s.StoppedAt != nil {
		end = *s.StoppedAt
		p.Stopped = s.StoppedAt.In(loc).Format(timeFormat)
	}
	p.Duration = durationText(end.Sub(s.StartedAt))
	if s.State != evbill.SessionEnded && h.cfg.Charging != nil {
		if l, err := h.cfg.Charging.Live(ctx, tenantID, s.ID); l.Session.ID != "" {
			p.Energy, p.Duration = kWhOf(l.EnergyKWh), durationText(l.Duration)
			if l.HasPower {
				p.Power = powerText(l.PowerKW)
			}
			if l.Result != nil {
				p.Cost = l.Result.Charge.String()
			}
		} else if err != nil {
			h.cfg.Logger.Warn("dashboard: a running session's figures", "session", s.ID, "err", err)
		}
	}
	c, err := h.cfg.Store.CDRBySession(ctx, tenantID, s.ID)
	switch evbill.ErrorCode(err) {
	case "":
		p.CDR = &cdrView{ID: c.ID, ExclVAT: c.Currency + " " + c.TotalExclVAT, InclVAT: c.Currency + " " + c.TotalInclVAT,
			Total: amount(c.Currency, c.AmountMinor)}
		if h.cfg.ReceiptPath != nil {
			p.ReceiptPath = h.cfg.ReceiptPath(tenantID, s.ID)
		}
	case evbill.ENOTFOUND: // running, or ended without a price
	default:
		h.internal(w, r, v, err)
		return
	}
	if h.cfg.LivePath != nil {
		p.LivePath = h.cfg.LivePath(tenantID, s.ID)
	}
	h.render(w, r, http.StatusOK, "session", p)
}
