package tariff

import (
	"fmt"
	"strings"
	"time"

	"github.com/govalues/decimal"
)

// AppendExplanation appends a plain-text account of how r was computed from
// s under t: one row per priced quantity with the tariff element, quantity,
// unit price and amount, then the totals and the amount to charge. Amounts
// per row are shown to 4 decimals; the totals are computed from the exact
// rows, not from the shown ones.
func AppendExplanation(dst []byte, t *Tariff, s *Session, r *Result) []byte {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	w := func(format string, args ...any) { dst = fmt.Appendf(dst, format, args...) }
	w("Tariff %s (%s), times in %s\n", t.ID, t.Currency, loc)
	w("Session %s – %s (%s)%s\n", s.Start.In(loc).Format("Mon 2006-01-02 15:04:05"),
		s.End.In(loc).Format("Mon 2006-01-02 15:04:05"), s.End.Sub(s.Start), map[bool]string{true: ", running"}[s.Running])
	vatCol := ""
	if r.HasVAT {
		vatCol = "  VAT      incl. VAT"
	}
	if r.Final {
		w("step_size rounding applied once per session, in the last period of each dimension\n")
	}
	w("\n%-6s %-9s %-4s %-13s %-22s %-18s %10s%s\n", "period", "starts", "elem", "dimension", "quantity", "unit price", "excl. VAT", vatCol)
	li := 0
	for i := range s.Periods {
		p := s.Periods[i]
		if li >= len(r.Lines) || int(r.Lines[li].Period) != i {
			w("%-6d %-9s      no price component applies: free\n", i+1, p.Start.In(loc).Format("15:04:05"))
			continue
		}
		for ; li < len(r.Lines) && int(r.Lines[li].Period) == i; li++ {
			l := r.Lines[li]
			dim := l.Dimension.String()
			if l.Reservation {
				dim = "RESERVATION " + map[Dimension]string{Time: "TIME", Flat: "FLAT"}[l.Dimension]
			}
			excl, incl, _ := l.Cost.Round(4)
			w("%-6d %-9s %-4d %-13s %-22s %-18s %10s", i+1, p.Start.In(loc).Format("15:04:05"), l.Element()+1, dim,
				quantityText(l), unitPriceText(l), excl.Pad(4))
			if r.HasVAT {
				vat := "-"
				if v, ok := l.VAT(); ok {
					vat = v.Trim(0).String() + "%"
				}
				w("  %-6s %11s", vat, incl.Pad(4))
			}
			w("\n")
		}
	}
	w("\n")
	names := [NumCategories]string{"fixed", "energy", "time", "parking", "reservation"}
	for c, cost := range r.ByCategory {
		if cost.IsZero() {
			continue
		}
		excl, incl, _ := cost.Round(4)
		w("%-28s %10s", names[c]+" cost", excl.Pad(4))
		if r.HasVAT {
			w("  %18s", incl.Pad(4))
		}
		w("\n")
	}
	if r.MinApplied || r.MaxApplied {
		excl, incl, _ := r.Subtotal.Round(4)
		w("%-28s %10s", "sum of rows", excl.Pad(4))
		if r.HasVAT {
			w("  %18s", incl.Pad(4))
		}
		w("\n")
		if r.MinApplied {
			w("min_price applies: %s\n", priceText(t.MinPrice, r.HasVAT))
		}
		if r.MaxApplied {
			w("max_price applies: %s\n", priceText(t.MaxPrice, r.HasVAT))
		}
	}
	excl, incl, _ := r.Total.Round(4)
	w("%-28s %10s", "total", excl.Pad(4))
	if r.HasVAT {
		w("  %18s", incl.Pad(4))
	}
	w("\n\nAmount to charge: %s", r.Charge)
	if r.HasVAT {
		w(" (incl. VAT)")
	} else {
		w(" (the tariff states no VAT)")
	}
	w("\nRounding: rows are exact; the total is rounded once, half away from zero, to 4 decimals for OCPI and to the minor unit for the charge.\n")
	return dst
}

func quantityText(l Line) string {
	var q string
	switch l.Dimension {
	case Energy:
		q = l.Quantity.Trim(0).String() + " kWh"
	case Flat:
		return "1"
	default:
		q = clockText(l.Quantity)
	}
	if !l.StepExtra.IsZero() {
		extra := l.StepExtra.Trim(0).String() + " kWh"
		if l.Dimension != Energy {
			extra = clockText(l.StepExtra)
		}
		q += " (+" + extra + " step)"
	}
	return q
}

// clockText formats seconds as h:mm:ss, keeping any fraction of a second.
func clockText(sec decimal.Decimal) string {
	whole, frac, _ := sec.Int64(3)
	s := fmt.Sprintf("%d:%02d:%02d", whole/3600, whole%3600/60, whole%60)
	if frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}

func unitPriceText(l Line) string {
	price := l.UnitPrice()
	if price.Scale() < 2 {
		price = price.Pad(2)
	}
	p := price.String()
	switch l.Dimension {
	case Energy:
		return p + " /kWh"
	case Flat:
		return p + " fee"
	}
	step := ""
	if l.StepSize() > 1 {
		step = fmt.Sprintf(" per %ds", l.StepSize())
	}
	return p + " /h" + step
}

func priceText(p *Price, vat bool) string {
	if p == nil {
		return ""
	}
	s := p.ExclVAT.Trim(2).String() + " excl. VAT"
	if vat && p.HasInclVAT {
		s += ", " + p.InclVAT.Trim(2).String() + " incl. VAT"
	}
	return s
}
