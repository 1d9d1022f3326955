package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// tariffsPage is a page of the tenant's tariffs, each at its latest
// version.
type tariffsPage struct {
	chrome
	Rows []tariffRow
	Next string
}

// tariffRow is one tariff in the list.
type tariffRow struct {
	ID       string
	Version  int
	Currency string
	Updated  string
	Text     string // the operator's own words (OCPI tariff_alt_text)
	Prices   int    // price components
}

const tariffsPerPage = 50

// tariffs serves GET /tariffs?after=ID.
func (h *Handler) tariffs(w http.ResponseWriter, r *http.Request, v *viewer) {
	vs, err := h.cfg.Store.ListTariffs(r.Context(), v.Tenant.ID, evbill.Page{After: r.URL.Query().Get("after"), Limit: tariffsPerPage})
	if err != nil {
		h.internal(w, r, v, err)
		return
	}
	p := tariffsPage{chrome: chrome{Title: "Tariffs", Active: "/tariffs", Viewer: v}}
	if len(vs) == tariffsPerPage {
		p.Next = vs[len(vs)-1].TariffID
	}
	for _, tv := range vs {
		row := tariffRow{ID: tv.TariffID, Version: tv.Version, Currency: tv.Currency, Updated: tv.CreatedAt.UTC().Format(timeFormat)}
		if tf, err := tariff.Parse(tv.Document); err == nil {
			row.Text = altText(tf.AltText)
			for _, e := range tf.Elements {
				row.Prices += len(e.PriceComponents)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, http.StatusOK, "tariffs", p)
}

// tariffPage is one tariff: its versions, and one version's prices and
// document.
type tariffPage struct {
	chrome
	ID       string
	Shown    evbill.TariffVersion
	Versions []versionRow
	Text     string
	Prices   []priceRow
	MinPrice string
	MaxPrice string
	Invalid  string // why the document does not parse, if it does not
	Document string // indented JSON
}

// versionRow is one version in the history.
type versionRow struct {
	Version int
	Created string
	Shown   bool
}

// priceRow is one price component and when it applies.
type priceRow struct {
	Element   int
	Dimension string
	Price     string
	VAT       string
	Step      string
	When      string
}

// tariff serves GET /tariffs/{id}?version=n (the latest without it).
func (h *Handler) tariff(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	id := r.PathValue("id")
	vs, err := h.cfg.Store.ListTariffVersions(ctx, v.Tenant.ID, id)
	if err == nil && len(vs) == 0 {
		err = evbill.Errorf(evbill.ENOTFOUND, "no tariff %q", id)
	}
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		h.fail(w, r, v, http.StatusNotFound, "Not found", "There is no such tariff.", nil)
		return
	default:
		h.internal(w, r, v, err)
		return
	}
	shown := vs[len(vs)-1]
	if n, err := strconv.Atoi(r.URL.Query().Get("version")); err == nil {
		for _, tv := range vs {
			if tv.Version == n {
				shown = tv
			}
		}
	}
	p := tariffPage{chrome: chrome{Title: "Tariff " + id, Active: "/tariffs", Viewer: v}, ID: id, Shown: shown}
	for i := len(vs) - 1; i >= 0; i-- {
		p.Versions = append(p.Versions, versionRow{Version: vs[i].Version, Created: vs[i].CreatedAt.UTC().Format(timeFormat), Shown: vs[i].Version == shown.Version})
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, shown.Document, "", "  ") == nil {
		p.Document = pretty.String()
	} else {
		p.Document = string(shown.Document)
	}
	tf, err := tariff.Parse(shown.Document)
	if err != nil {
		p.Invalid = err.Error()
		h.render(w, r, http.StatusOK, "tariff", p)
		return
	}
	c := tf.Currency
	p.Text = altText(tf.AltText)
	if tf.MinPrice != nil {
		p.MinPrice = price(tf.MinPrice.ExclVAT, c) + " excl. VAT"
	}
	if tf.MaxPrice != nil {
		p.MaxPrice = price(tf.MaxPrice.ExclVAT, c) + " excl. VAT"
	}
	for i, e := range tf.Elements {
		for _, pc := range e.PriceComponents {
			row := priceRow{Element: i + 1, Dimension: pc.Type.String(), Price: price(pc.Price, c) + " " + perUnit(pc.Type.String()),
				VAT: noDatum, Step: noDatum, When: "always"}
			if pc.HasVAT {
				row.VAT = pc.VAT.Trim(0).String() + " %"
			}
			if pc.StepSize > 0 && pc.Type.String() != "FLAT" {
				row.Step = stepText(pc.Type.String(), pc.StepSize)
			}
			if e.Restrictions != nil {
				row.When = restrictionText(e.Restrictions)
			}
			p.Prices = append(p.Prices, row)
		}
	}
	h.render(w, r, http.StatusOK, "tariff", p)
}

// altText picks the tariff's English text, else its first.
func altText(ts []tariff.DisplayText) string {
	for _, t := range ts {
		if strings.EqualFold(t.Language, "en") {
			return t.Text
		}
	}
	if len(ts) > 0 {
		return ts[0].Text
	}
	return ""
}

// price writes a price to at least the currency's decimals, keeping any
// finer ones the tariff has (a price per kWh may have four).
func price(d decimal.Decimal, c money.Currency) string {
	return c.Code() + " " + string(money.FormatDecimal(nil, d, c.Exponent()))
}

func perUnit(dimension string) string {
	switch dimension {
	case "ENERGY":
		return "per kWh"
	case "TIME":
		return "per hour"
	case "PARKING_TIME":
		return "per hour parked"
	case "FLAT":
		return "per session"
	}
	return ""
}

func stepText(dimension string, step int64) string {
	if dimension == "ENERGY" {
		return strconv.FormatInt(step, 10) + " Wh"
	}
	return strconv.FormatInt(step, 10) + " s"
}

// restrictionText words an element's restrictions, tersely: this page is
// for the operator, who wrote them.
func restrictionText(r *tariff.Restrictions) string {
	var parts []string
	if r.StartTime != "" || r.EndTime != "" {
		parts = append(parts, orAny(r.StartTime)+"–"+orAny(r.EndTime))
	}
	if r.StartDate != "" || r.EndDate != "" {
		parts = append(parts, "dates "+orAny(r.StartDate)+" to "+orAny(r.EndDate))
	}
	if len(r.DayOfWeek) > 0 {
		days := make([]string, len(r.DayOfWeek))
		for i, d := range r.DayOfWeek {
			days[i] = d.String()[:3]
		}
		parts = append(parts, strings.Join(days, " "))
	}
	bound := func(name, unit string, lo, hi *decimal.Decimal) {
		if lo != nil {
			parts = append(parts, name+" ≥ "+lo.Trim(0).String()+" "+unit)
		}
		if hi != nil {
			parts = append(parts, name+" < "+hi.Trim(0).String()+" "+unit)
		}
	}
	bound("energy", "kWh", r.MinKWh, r.MaxKWh)
	bound("current", "A", r.MinCurrent, r.MaxCurrent)
	bound("power", "kW", r.MinPower, r.MaxPower)
	if r.MinDuration != nil {
		parts = append(parts, "after "+strconv.FormatInt(*r.MinDuration, 10)+" s")
	}
	if r.MaxDuration != nil {
		parts = append(parts, "before "+strconv.FormatInt(*r.MaxDuration, 10)+" s")
	}
	if r.Reservation != tariff.NoReservation {
		parts = append(parts, "reservations")
	}
	if len(parts) == 0 {
		return "always"
	}
	return strings.Join(parts, "; ")
}

func orAny(s string) string {
	if s == "" {
		return "…"
	}
	return s
}
