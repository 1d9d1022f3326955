package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/internal/sse"
	"github.com/evbill/evbill/money"
)

// livePage is a session as its driver follows it at /s/{token}: its
// figures while it runs, updated by the page's script from the event
// stream, and its receipt once it has ended.
type livePage struct {
	chrome
	ChargePoint string
	Connector   int
	Site        evbill.Site
	Figures     liveFigures
	Receipt     *receiptView // set once the session has ended
}

// liveFigures are a running session's figures, formatted here from the
// engine's decimals: the page's script only puts these strings in place,
// so no number is computed or rounded in the browser. The JSON names are
// the data-live attributes of the page's elements.
type liveFigures struct {
	Headline string `json:"headline"`
	Energy   string `json:"energy"`
	Power    string `json:"power"`
	Duration string `json:"duration"`
	Rate     string `json:"rate"`
	Cost     string `json:"cost"`
	AsOf     string `json:"as_of"`
}

// receiptView is an ended session: what it cost, from its CDR, and what
// was delivered.
type receiptView struct {
	Total    string `json:"total"` // the CDR's amount, which the driver pays; "" without a CDR
	ExclVAT  string `json:"excl_vat,omitempty"`
	Energy   string `json:"energy"`
	Duration string `json:"duration"`
	Started  string `json:"started"`
	Ended    string `json:"ended"`
	// Itemized is the itemized receipt's page (with its PDF and the
	// signed meter values), once there is a CDR.
	Itemized string `json:"itemized,omitempty"`
}

// noDatum stands for a figure the charger has not reported (yet).
const noDatum = "—"

// timeFormat shows times on the site's clock, which the driver stands by.
const timeFormat = "15:04:05 MST, 2 Jan 2006"

// live serves GET /s/{token}: the session's figures, or its receipt once
// it has ended. The token is the capability; a wrong one is 404, as a
// session that does not exist.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	tenantID, sessionID, ok := h.checkLiveToken(r.PathValue("token"))
	if !ok {
		h.fail(w, r, http.StatusNotFound, "Not found", "There is no charging session at this address. Check the link you were given.", nil)
		return
	}
	ctx := r.Context()
	l, err := h.cfg.Charging.Live(ctx, tenantID, sessionID)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		h.fail(w, r, http.StatusNotFound, "Not found", "There is no charging session at this address. Check the link you were given.", nil)
		return
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	var record *evbill.CDR
	if l.Session.State == evbill.SessionEnded {
		c, err := h.cfg.Store.CDRBySession(ctx, tenantID, sessionID)
		switch evbill.ErrorCode(err) {
		case "":
			record = &c
		case evbill.ENOTFOUND: // ended unpriced: flagged for review, or no tariff
		default:
			h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
			return
		}
	}
	loc := h.location(ctx, l.Session)
	page := livePage{chrome: chrome{Title: "Your charging session", TestMode: h.paidInTestMode(ctx, l.Session)},
		ChargePoint: l.Session.StationID, Connector: l.Session.ConnectorNumber, Figures: figuresOf(&l, loc)}
	if sc, err := h.cfg.Resolver.Station(ctx, tenantID, l.Session.StationID); err == nil {
		page.ChargePoint, page.Site = sc.Station.ChargePointID, sc.Site
	}
	if l.Session.State == evbill.SessionEnded {
		page.Title = "Receipt"
		page.Receipt = receiptOf(&l, record, loc)
		if record != nil {
			page.Receipt.Itemized = "/r/" + r.PathValue("token")
		}
	} else {
		// The script follows the stream; without it, the page reloads
		// itself as often as a charger reports.
		page.Script, page.NoscriptRefresh = "/pay/assets/live.js", 30
	}
	h.render(w, r, http.StatusOK, "live", page)
}

// liveEvents serves GET /s/{token}/events, the live page's event stream:
// a "snapshot" with the figures as the store has them, an "update" after
// each change the charger reports, and "ended" with the receipt, after
// which the stream ends. A comment every 15 s keeps it open.
func (h *Handler) liveEvents(w http.ResponseWriter, r *http.Request) {
	tenantID, sessionID, ok := h.checkLiveToken(r.PathValue("token"))
	if !ok {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	ctx := r.Context()
	updates, cancel := h.cfg.Charging.Subscribe(tenantID, sessionID)
	defer cancel()
	// The first update is read from the store after subscribing: the
	// figures now, with nothing missed before the stream opens.
	var first charging.Update
	select {
	case <-ctx.Done():
		return
	case u, open := <-updates:
		if !open {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		first = u
	}
	switch evbill.ErrorCode(first.Err) {
	case "":
	case evbill.ENOTFOUND:
		http.Error(w, "no such session", http.StatusNotFound)
		return
	default:
		h.cfg.Logger.Error("live page: reading a session", "session", sessionID, "err", first.Err)
		http.Error(w, "the session cannot be read now", http.StatusServiceUnavailable)
		return
	}
	st, err := sse.Start(w)
	if err != nil {
		return
	}
	loc := h.location(ctx, first.Live.Session)
	name := "snapshot"
	// Every subscriber of the session is sent the same bytes, made once:
	// the figures depend on the update and the site's clock only.
	type key struct {
		h   *Handler
		loc *time.Location
		end bool
	}
	send := func(u charging.Update) (bool, error) {
		if u.Err != nil {
			// The browser reconnects and starts from the store again.
			h.cfg.Logger.Warn("live page: reading a session", "session", sessionID, "err", u.Err)
			return true, nil
		}
		if !u.Ended() || name == "snapshot" {
			b, _ := u.Encoded(key{h, loc, false}, func() ([]byte, error) { return json.Marshal(figuresOf(u.Live, loc)) })
			if err := st.Event(name, b); err != nil {
				return true, err
			}
			name = "update"
		}
		if !u.Ended() {
			return false, nil
		}
		b, _ := u.Encoded(key{h, loc, true}, func() ([]byte, error) { return json.Marshal(receiptOf(u.Live, u.CDR, loc)) })
		return true, st.Event("ended", b)
	}
	if done, err := send(first); done || err != nil {
		return
	}
	_ = sse.Relay(ctx, st, updates, sse.Heartbeat, send)
}

// location is the session's site's time zone; UTC when unknown.
func (h *Handler) location(ctx context.Context, s evbill.Session) *time.Location {
	if sc, err := h.cfg.Resolver.Station(ctx, s.TenantID, s.StationID); err == nil && sc.Location != nil {
		return sc.Location
	}
	return time.UTC
}

// paidInTestMode reports whether the session is paid through the
// sandbox, whose money is not real: the page then says so.
func (h *Handler) paidInTestMode(ctx context.Context, s evbill.Session) bool {
	p, err := h.cfg.Store.PaymentBySession(ctx, s.TenantID, s.ID)
	return err == nil && p.Gateway == GatewaySandbox
}

// figuresOf formats a session's live figures for the page.
func figuresOf(l *charging.Live, loc *time.Location) liveFigures {
	f := liveFigures{Headline: "Charging", Energy: kWh(l), Power: noDatum, Duration: durationText(l.Duration),
		Rate: noDatum, Cost: noDatum, AsOf: "As of " + l.AsOf.In(loc).Format(timeFormat)}
	switch l.Session.State {
	case evbill.SessionParking:
		f.Headline = "Charging finished — still plugged in"
	case evbill.SessionEnded:
		f.Headline, f.AsOf = "Charging ended", "Ended "+l.AsOf.In(loc).Format(timeFormat)
	}
	if l.HasPower {
		f.Power = string(money.FormatDecimal(nil, money.Round(l.PowerKW, 1), 1)) + " kW"
	}
	if res := l.Result; res != nil {
		f.Cost = res.Charge.String()
		if l.Rate != nil {
			c, _ := money.ParseCurrency(l.Currency)
			f.Rate = rateText(l.Rate.Dimension.String(), formatPrice(l.Rate.UnitPrice(), c))
		}
	}
	return f
}

// receiptOf is an ended session's receipt: the CDR's amount is the
// total; a session that ended without a CDR has none.
func receiptOf(l *charging.Live, record *evbill.CDR, loc *time.Location) *receiptView {
	v := &receiptView{Energy: kWh(l), Duration: durationText(l.Duration), Started: l.Session.StartedAt.In(loc).Format(timeFormat),
		Ended: l.AsOf.In(loc).Format(timeFormat)}
	if record == nil {
		return v
	}
	c, err := money.ParseCurrency(record.Currency)
	if err != nil {
		return v
	}
	v.Total = money.Amount{Minor: record.AmountMinor, Currency: c}.String()
	if excl, err := money.ParseDecimal(record.TotalExclVAT); err == nil && record.TotalExclVAT != record.TotalInclVAT {
		v.ExclVAT = formatPrice(money.Round(excl, c.Exponent()), c)
	}
	return v
}

func kWh(l *charging.Live) string {
	return string(money.FormatDecimal(nil, money.Round(l.EnergyKWh, 2), 2)) + " kWh"
}
