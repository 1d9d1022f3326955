package dashboard

import (
	"net/http"
	"strings"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
)

// stationsPage is the tenant's stations, grouped by site, with whether
// each is connected and what each connector is doing.
type stationsPage struct {
	chrome
	Live stationsLive
}

// stationsLive is the stations page's live part, refreshed by htmx.
type stationsLive struct {
	Every string
	Self  string // the page's own URL, which htmx asks again
	Sites []siteGroup
	// Next is the cursor of the next page of stations; "" on the last.
	Next string
	// StatusKnown is false when the dashboard has no central system to
	// ask: connections are then shown as unknown.
	StatusKnown bool
}

// siteGroup is one site and its stations on the page.
type siteGroup struct {
	Name, Place, TimeZone string
	Stations              []stationRow
}

// stationRow is one station: its identity, its connection and its
// connectors.
type stationRow struct {
	ChargePoint string
	Model       string
	Status      string // Connected, Not connected, Unknown
	Connected   bool
	Connectors  []connectorRow
	// Unlisted are running sessions on connectors the station does not
	// list (a charger reporting a connector nobody entered).
	Unlisted []connectorRow
}

// connectorRow is a connector and the session on it, if any.
type connectorRow struct {
	Number    int
	Kind      string
	Busy      string // "Charging since …", "Parked since …", "Free"
	SessionID string
}

// stationsPerPage is how many stations a page shows: each costs a look at
// its open sessions.
const stationsPerPage = 50

// stations serves GET /stations. The connection status is what this
// instance's central system knows: with several instances behind one
// address, a charger connected to another shows as not connected here
// (the ocpp package keeps connections per process; TODO: a shared
// last-seen time once connections are recorded in the database).
func (h *Handler) stations(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	tenantID := v.Tenant.ID
	page, err := h.cfg.Store.ListStations(ctx, tenantID, evbill.Page{After: r.URL.Query().Get("after"), Limit: stationsPerPage})
	if err != nil {
		h.internal(w, r, v, err)
		return
	}
	live := stationsLive{Every: h.every(), Self: r.URL.RequestURI(), StatusKnown: h.cfg.Chargers != nil}
	if len(page) == stationsPerPage {
		live.Next = page[len(page)-1].ID
	}
	groups := map[string]int{}
	for _, st := range page {
		sc, err := h.cfg.Resolver.Station(ctx, tenantID, st.ID)
		if err != nil {
			h.internal(w, r, v, err)
			return
		}
		open, err := h.cfg.Store.OpenSessions(ctx, tenantID, st.ID)
		if err != nil {
			h.internal(w, r, v, err)
			return
		}
		i, ok := groups[st.SiteID]
		if !ok {
			i = len(live.Sites)
			groups[st.SiteID] = i
			place := strings.Trim(strings.Join([]string{sc.Site.Address, sc.Site.City, sc.Site.Country}, ", "), ", ")
			live.Sites = append(live.Sites, siteGroup{Name: sc.Site.Name, Place: place, TimeZone: sc.Location.String()})
		}
		row := stationRow{ChargePoint: st.ChargePointID, Model: strings.TrimSpace(st.Vendor + " " + st.Model), Status: "Unknown"}
		if h.cfg.Chargers != nil {
			row.Connected = h.cfg.Chargers.Connected(ocpp.StationKey{TenantID: tenantID, StationID: st.ID})
			row.Status = "Not connected"
			if row.Connected {
				row.Status = "Connected"
			}
		}
		busy := map[int]evbill.Session{}
		for _, s := range open {
			busy[s.ConnectorNumber] = s
		}
		for _, c := range sc.Connectors {
			cr := connectorRow{Number: c.ConnectorNumber, Kind: connectorKind(c), Busy: "Free"}
			if s, ok := busy[c.ConnectorNumber]; ok {
				cr.Busy, cr.SessionID = stateText(s.State)+" since "+s.StartedAt.In(sc.Location).Format(timeFormat), s.ID
				delete(busy, c.ConnectorNumber)
			}
			row.Connectors = append(row.Connectors, cr)
		}
		for _, s := range open {
			if _, ok := busy[s.ConnectorNumber]; ok {
				row.Unlisted = append(row.Unlisted, connectorRow{Number: s.ConnectorNumber, SessionID: s.ID,
					Busy: stateText(s.State) + " since " + s.StartedAt.In(sc.Location).Format(timeFormat)})
			}
		}
		live.Sites[i].Stations = append(live.Sites[i].Stations, row)
	}
	h.render(w, r, http.StatusOK, "stations", stationsPage{
		chrome: chrome{Title: "Stations", Active: "/stations", Viewer: v, Refresh: 60},
		Live:   live,
	})
}

// connectorKind words a connector: its plug, current and power.
func connectorKind(c evbill.Connector) string {
	parts := []string{}
	switch c.Standard {
	case "IEC_62196_T2":
		parts = append(parts, "Type 2")
	case "IEC_62196_T2_COMBO":
		parts = append(parts, "CCS")
	case "CHADEMO":
		parts = append(parts, "CHAdeMO")
	case "":
	default:
		parts = append(parts, c.Standard)
	}
	switch c.PowerType {
	case "AC_1_PHASE":
		parts = append(parts, "AC, 1 phase")
	case "AC_2_PHASE":
		parts = append(parts, "AC, 2 phases")
	case "AC_3_PHASE":
		parts = append(parts, "AC, 3 phases")
	case "DC":
		parts = append(parts, "DC")
	}
	if c.MaxPowerKW != "" {
		if d, err := money.ParseDecimal(c.MaxPowerKW); err == nil {
			parts = append(parts, d.Trim(0).String()+" kW")
		}
	}
	return strings.Join(parts, ", ")
}
