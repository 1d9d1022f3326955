package tariff

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// encode writes the tariff's fields as OCPI 2.2.1 JSON, for tariffs built
// in code. Parsed tariffs echo their original document instead.
func (t *Tariff) encode() []byte {
	b := []byte(`{"country_code":`)
	b = strconv.AppendQuote(b, t.CountryCode)
	b = append(b, `,"party_id":`...)
	b = strconv.AppendQuote(b, t.PartyID)
	b = append(b, `,"id":`...)
	b = strconv.AppendQuote(b, t.ID)
	b = append(b, `,"currency":`...)
	b = strconv.AppendQuote(b, t.Currency.Code())
	if t.Type != "" {
		b = append(b, `,"type":`...)
		b = strconv.AppendQuote(b, t.Type)
	}
	if len(t.AltText) > 0 {
		alt, _ := json.Marshal(t.AltText) // plain strings cannot fail
		b = append(b, `,"tariff_alt_text":`...)
		b = append(b, alt...)
	}
	if t.AltURL != "" {
		b = append(b, `,"tariff_alt_url":`...)
		b = strconv.AppendQuote(b, t.AltURL)
	}
	b = appendPrice(b, "min_price", t.MinPrice)
	b = appendPrice(b, "max_price", t.MaxPrice)
	b = append(b, `,"elements":[`...)
	for i, e := range t.Elements {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"price_components":[`...)
		for j, c := range e.PriceComponents {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"`...)
			b = append(b, c.Type.String()...)
			b = append(b, `","price":`...)
			b = appendNumber(b, c.Price)
			if c.HasVAT {
				b = append(b, `,"vat":`...)
				b = appendNumber(b, c.VAT)
			}
			b = append(b, `,"step_size":`...)
			b = strconv.AppendInt(b, c.StepSize, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
		if r := e.Restrictions; r != nil {
			b = append(b, `,"restrictions":{`...)
			n := len(b)
			field := func(name string) {
				if len(b) > n {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = append(b, name...)
				b = append(b, `":`...)
			}
			str := func(name, v string) {
				if v != "" {
					field(name)
					b = strconv.AppendQuote(b, v)
				}
			}
			num := func(name string, v *decimal.Decimal) {
				if v != nil {
					field(name)
					b = appendNumber(b, *v)
				}
			}
			integer := func(name string, v *int64) {
				if v != nil {
					field(name)
					b = strconv.AppendInt(b, *v, 10)
				}
			}
			str("start_time", r.StartTime)
			str("end_time", r.EndTime)
			str("start_date", r.StartDate)
			str("end_date", r.EndDate)
			num("min_kwh", r.MinKWh)
			num("max_kwh", r.MaxKWh)
			num("min_current", r.MinCurrent)
			num("max_current", r.MaxCurrent)
			num("min_power", r.MinPower)
			num("max_power", r.MaxPower)
			integer("min_duration", r.MinDuration)
			integer("max_duration", r.MaxDuration)
			if len(r.DayOfWeek) > 0 {
				field("day_of_week")
				b = append(b, '[')
				for k, d := range r.DayOfWeek {
					if k > 0 {
						b = append(b, ',')
					}
					b = strconv.AppendQuote(b, strings.ToUpper(d.String()))
				}
				b = append(b, ']')
			}
			str("reservation", r.Reservation.String())
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendTime(b, "start_date_time", t.StartDateTime)
	b = appendTime(b, "end_date_time", t.EndDateTime)
	if t.EnergyMix != nil {
		em, _ := json.Marshal(t.EnergyMix) // strings, bools and json.Numbers only
		b = append(b, `,"energy_mix":`...)
		b = append(b, em...)
	}
	b = appendTime(b, "last_updated", t.LastUpdated)
	return append(b, '}')
}

func appendPrice(b []byte, name string, p *Price) []byte {
	if p == nil {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":{"excl_vat":`...)
	b = appendNumber(b, p.ExclVAT)
	if p.HasInclVAT {
		b = append(b, `,"incl_vat":`...)
		b = appendNumber(b, p.InclVAT)
	}
	return append(b, '}')
}

func appendTime(b []byte, name string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = AppendDateTime(b, t)
	return append(b, '"')
}

// appendNumber writes d as a JSON number.
func appendNumber(b []byte, d decimal.Decimal) []byte {
	out, _ := d.AppendText(b) // never fails
	return out
}
