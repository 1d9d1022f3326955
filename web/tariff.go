package web

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/tariff"
)

// tariffView is the tariff in force as a guest reads it before paying.
type tariffView struct {
	Text     string      // the operator's own words (OCPI tariff_alt_text), if any
	Prices   []priceLine // every price, in the tariff's order
	TimeZone string      // the zone its times of day are in
	MinPrice string
	MaxPrice string
	Example  string // a quote from the engine that will bill the session
}

// priceLine is one price component and when it applies.
type priceLine struct {
	Price string
	When  string
}

// exampleEnergy and exampleTime are the session the example quote prices:
// a common top-up on an AC charger.
var exampleEnergy = decimal.MustNew(20, 0)

const exampleTime = time.Hour

// describeTariff writes the tariff out for the guest: the operator's text,
// each price with when it applies, and an example priced by the engine
// itself, as the API's quotes are.
func (h *Handler) describeTariff(ctx context.Context, t target, now time.Time) tariffView {
	tf := t.Tariff.Tariff
	v := tariffView{Text: altText(tf.AltText)}
	if t.Tariff.Location != nil {
		v.TimeZone = t.Tariff.Location.String()
	}
	restricted := false
	for _, e := range tf.Elements {
		if e.Restrictions != nil && e.Restrictions.Reservation != tariff.NoReservation {
			continue // a guest reserves nothing
		}
		when := "always"
		switch {
		case e.Restrictions != nil:
			when = restrictionText(e.Restrictions)
		case restricted:
			when = "otherwise"
		}
		restricted = restricted || e.Restrictions != nil
		for _, pc := range e.PriceComponents {
			v.Prices = append(v.Prices, priceLine{Price: componentText(pc, tf.Currency), When: when})
		}
	}
	if tf.MinPrice != nil {
		v.MinPrice = limitText(tf.MinPrice, tf.Currency)
	}
	if tf.MaxPrice != nil {
		v.MaxPrice = limitText(tf.MaxPrice, tf.Currency)
	}
	q, err := h.cfg.Resolver.Quote(ctx, pricing.QuoteRequest{
		Target: pricing.Target{TenantID: t.Station.Station.TenantID, StationID: t.Station.Station.ID, ConnectorID: t.Connector.ID},
		Start:  now.UTC(), EnergyKWh: exampleEnergy, Charging: exampleTime,
	})
	if err == nil {
		vat := ""
		if q.Result.HasVAT {
			vat = " incl. VAT"
		}
		v.Example = "Charging " + exampleEnergy.String() + " kWh in one hour, starting now, costs " + q.Result.Charge.String() + vat + "."
	}
	return v
}

// altText picks the English text, or the first.
func altText(texts []tariff.DisplayText) string {
	for _, t := range texts {
		if strings.HasPrefix(strings.ToLower(t.Language), "en") {
			return t.Text
		}
	}
	if len(texts) > 0 {
		return texts[0].Text
	}
	return ""
}

// componentText writes one price: "EUR 0.45 per kWh plus 21 % VAT".
func componentText(pc tariff.PriceComponent, c money.Currency) string {
	var b strings.Builder
	b.WriteString(formatPrice(pc.Price, c))
	switch pc.Type {
	case tariff.Energy:
		b.WriteString(" per kWh")
		if pc.StepSize > 1 {
			b.WriteString(", per " + strconv.FormatInt(pc.StepSize, 10) + " Wh begun")
		}
	case tariff.Time:
		b.WriteString(" per hour of charging")
		b.WriteString(stepText(pc.StepSize))
	case tariff.ParkingTime:
		b.WriteString(" per hour parked after charging")
		b.WriteString(stepText(pc.StepSize))
	case tariff.Flat:
		b.WriteString(" per session")
	}
	if pc.HasVAT {
		b.WriteString(" plus " + pc.VAT.Trim(0).String() + " % VAT")
	}
	return b.String()
}

// stepText says how time is counted when it is not by the second.
func stepText(seconds int64) string {
	switch {
	case seconds <= 1:
		return ""
	case seconds == 60:
		return ", per minute begun"
	case seconds%60 == 0:
		return ", per " + strconv.FormatInt(seconds/60, 10) + " min begun"
	}
	return ", per " + strconv.FormatInt(seconds, 10) + " s begun"
}

func limitText(p *tariff.Price, c money.Currency) string {
	if p.HasInclVAT {
		return formatPrice(p.InclVAT, c) + " incl. VAT"
	}
	return formatPrice(p.ExclVAT, c) + " excl. VAT"
}

// restrictionText writes when an element applies, in the order a driver
// thinks of it: days, dates, hours, then amounts.
func restrictionText(r *tariff.Restrictions) string {
	var parts []string
	if len(r.DayOfWeek) > 0 && len(r.DayOfWeek) < 7 {
		days := make([]string, len(r.DayOfWeek))
		for i, d := range r.DayOfWeek {
			days[i] = d.String()[:3]
		}
		parts = append(parts, strings.Join(days, ", "))
	}
	switch {
	case r.StartDate != "" && r.EndDate != "":
		parts = append(parts, "from "+r.StartDate+" until before "+r.EndDate)
	case r.StartDate != "":
		parts = append(parts, "from "+r.StartDate)
	case r.EndDate != "":
		parts = append(parts, "until before "+r.EndDate)
	}
	switch {
	case r.StartTime != "" && r.EndTime != "":
		parts = append(parts, r.StartTime+"–"+r.EndTime)
	case r.StartTime != "":
		parts = append(parts, "from "+r.StartTime)
	case r.EndTime != "":
		parts = append(parts, "until "+r.EndTime)
	}
	if r.MinKWh != nil {
		parts = append(parts, "from "+r.MinKWh.Trim(0).String()+" kWh")
	}
	if r.MaxKWh != nil {
		parts = append(parts, "up to "+r.MaxKWh.Trim(0).String()+" kWh")
	}
	if r.MinPower != nil {
		parts = append(parts, "at "+r.MinPower.Trim(0).String()+" kW or more")
	}
	if r.MaxPower != nil {
		parts = append(parts, "below "+r.MaxPower.Trim(0).String()+" kW")
	}
	if r.MinCurrent != nil {
		parts = append(parts, "at "+r.MinCurrent.Trim(0).String()+" A or more")
	}
	if r.MaxCurrent != nil {
		parts = append(parts, "below "+r.MaxCurrent.Trim(0).String()+" A")
	}
	if r.MinDuration != nil {
		parts = append(parts, "after "+durationText(time.Duration(*r.MinDuration)*time.Second))
	}
	if r.MaxDuration != nil {
		parts = append(parts, "for the first "+durationText(time.Duration(*r.MaxDuration)*time.Second))
	}
	if len(parts) == 0 {
		return "always"
	}
	return strings.Join(parts, ", ")
}

// durationText writes a duration as a driver reads it: "1 h 05 min",
// "12 min", "45 s".
func durationText(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return strconv.Itoa(h) + " h " + twoDigits(m) + " min"
	case m > 0 && s == 0:
		return strconv.Itoa(m) + " min"
	case m > 0:
		return strconv.Itoa(m) + " min " + twoDigits(s) + " s"
	}
	return strconv.Itoa(s) + " s"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
