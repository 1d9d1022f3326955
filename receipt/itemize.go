package receipt

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

// Itemization is a priced session in the form a receipt prints it: the
// engine's lines, the OCPI category totals, min/max price, VAT by rate and
// the amount charged. It is made once, when the CDR is priced, and stored
// with the CDR (in its breakdown), so that a receipt shows the numbers the
// CDR was made from rather than a second pricing's. Amounts are exact
// decimals at the OCPI precision of 4 places, written with all 4
// ("7.2000"), as the CDR's totals are; Amount is at the currency's.
type Itemization struct {
	// TariffID is the OCPI id of the tariff that priced the session, and
	// Currency its currency.
	TariffID string `json:"tariff_id"`
	Currency string `json:"currency"`
	// HasVAT tells whether the tariff states VAT; without it incl_vat
	// equals excl_vat and VAT is empty.
	HasVAT bool `json:"has_vat"`
	// Lines are the engine's lines, in its order: by charging period, and
	// within one by the tariff's elements.
	Lines []Line `json:"lines"`
	// Categories are the OCPI cost totals of the lines, before min/max.
	Categories Categories `json:"categories"`
	// Subtotal is the exact sum of the lines, rounded once.
	Subtotal Amounts `json:"subtotal"`
	// Adjustment is what min_price or max_price changed; nil when neither
	// applied.
	Adjustment *Adjustment `json:"adjustment,omitempty"`
	// Total is the CDR's total_cost.
	Total Amounts `json:"total"`
	// VAT is the total by VAT rate, in rising order of rate. The rows add
	// up exactly to Total (see vatRows).
	VAT []VATRow `json:"vat,omitempty"`
	// Amount is what is charged, at the currency's precision (incl. VAT
	// when the tariff states VAT); AmountMinor is the same in minor units.
	Amount      string `json:"amount"`
	AmountMinor int64  `json:"amount_minor"`
}

// Line is one priced quantity: one dimension of one charging period under
// one price component.
type Line struct {
	// Period is the charging period's number, from 1, as in the
	// explanation; Start is when it began.
	Period int       `json:"period"`
	Start  time.Time `json:"start"`
	// Kind is energy, time (charging time), parking, fee (a FLAT fee),
	// reservation_time or reservation_fee.
	Kind string `json:"kind"`
	// Dimension is the OCPI tariff dimension that priced it: ENERGY, TIME,
	// PARKING_TIME or FLAT.
	Dimension string `json:"dimension"`
	// Element is the tariff element that priced it, numbered from 1 as in
	// the explanation.
	Element int `json:"tariff_element"`
	// Quantity is in QuantityUnit: kWh for energy, seconds (s) for times,
	// 1 for a fee. It includes StepExtra, what step_size rounding added.
	Quantity     string `json:"quantity"`
	QuantityUnit string `json:"quantity_unit"`
	StepExtra    string `json:"step_extra,omitempty"`
	// UnitPrice excludes VAT and is per PriceUnit: kWh, h (hour) or fee.
	UnitPrice string `json:"unit_price"`
	PriceUnit string `json:"price_unit"`
	// StepSize is the component's step_size in Wh or seconds, when above 1.
	StepSize int64 `json:"step_size,omitempty"`
	// VATRate is the component's VAT in percent; "" when it states none.
	VATRate string `json:"vat_rate,omitempty"`
	// ExclVAT and InclVAT are the line's exact amount rounded to 4
	// places, as the explanation shows it; the totals are summed from the
	// exact amounts, so the shown lines may differ from them in the last
	// place.
	ExclVAT string `json:"excl_vat"`
	InclVAT string `json:"incl_vat"`
}

// Amounts is an amount excluding and including VAT.
type Amounts struct {
	// ExclVAT and InclVAT are exact decimals at 4 places; equal when the
	// tariff states no VAT.
	ExclVAT string `json:"excl_vat"`
	InclVAT string `json:"incl_vat"`
}

// Categories are the OCPI CDR cost totals.
type Categories struct {
	// Fixed is total_fixed_cost: the session's FLAT fees.
	Fixed Amounts `json:"fixed"`
	// Energy is total_energy_cost.
	Energy Amounts `json:"energy"`
	// Time is total_time_cost: the charging time.
	Time Amounts `json:"time"`
	// Parking is total_parking_cost: the time connected but not charging.
	Parking Amounts `json:"parking"`
	// Reservation is total_reservation_cost.
	Reservation Amounts `json:"reservation"`
}

// Adjustment is the change min_price or max_price made to the sum of the
// lines: Subtotal + Amount = Total, to the last place.
type Adjustment struct {
	// MinApplied and MaxApplied say which bound applied (excl. or incl.
	// VAT, each against its own).
	MinApplied bool `json:"min_price_applied"`
	MaxApplied bool `json:"max_price_applied"`
	// MinPrice and MaxPrice are the tariff's bounds, when it has them.
	MinPrice *Amounts `json:"min_price,omitempty"`
	MaxPrice *Amounts `json:"max_price,omitempty"`
	// Amount is Total − Subtotal: positive for min_price, negative for
	// max_price.
	Amount Amounts `json:"amount"`
}

// VATRow is the part of the total at one VAT rate.
type VATRow struct {
	// Rate is the VAT in percent; "" for lines whose component states
	// none, and for Adjustment rows.
	Rate string `json:"rate,omitempty"`
	// Adjustment marks the row of a min/max adjustment that cannot be put
	// to one rate, because the lines have several.
	Adjustment bool `json:"adjustment,omitempty"`
	// Net excludes VAT; VAT is the tax; Gross = Net + VAT.
	Net   string `json:"net"`
	VAT   string `json:"vat"`
	Gross string `json:"gross"`
}

// scale is the precision of OCPI price fields, and of every amount here
// but the charged one.
const scale = 4

// Itemize turns a priced session into its Itemization: r as Price (or
// PriceMetered) made it from s under t. It does only arithmetic, exactly;
// an error means an amount did not fit (money.ErrPrecision), which the
// pricing that made r would have met first.
func Itemize(t *tariff.Tariff, s *tariff.Session, r *tariff.Result) (Itemization, error) {
	it := Itemization{TariffID: r.TariffID, Currency: r.Currency.Code(), HasVAT: r.HasVAT,
		Lines: make([]Line, 0, len(r.Lines)), Amount: r.Charge.Decimal().String(), AmountMinor: r.Charge.Minor}
	var err error
	for i := range r.Lines {
		l := &r.Lines[i]
		line, err := itemLine(s, l)
		if err != nil {
			return Itemization{}, err
		}
		it.Lines = append(it.Lines, line)
	}
	for c, dst := range map[tariff.Category]*Amounts{
		tariff.CategoryFixed: &it.Categories.Fixed, tariff.CategoryEnergy: &it.Categories.Energy,
		tariff.CategoryTime: &it.Categories.Time, tariff.CategoryParking: &it.Categories.Parking,
		tariff.CategoryReservation: &it.Categories.Reservation,
	} {
		if *dst, err = amounts(r.ByCategory[c]); err != nil {
			return Itemization{}, err
		}
	}
	if it.Subtotal, err = amounts(r.Subtotal); err != nil {
		return Itemization{}, err
	}
	if it.Total, err = amounts(r.Total); err != nil {
		return Itemization{}, err
	}
	if r.MinApplied || r.MaxApplied {
		adj := &Adjustment{MinApplied: r.MinApplied, MaxApplied: r.MaxApplied,
			MinPrice: bound(t.MinPrice, r.HasVAT), MaxPrice: bound(t.MaxPrice, r.HasVAT)}
		if adj.Amount, err = difference(it.Total, it.Subtotal); err != nil {
			return Itemization{}, err
		}
		it.Adjustment = adj
	}
	if r.HasVAT {
		if it.VAT, err = vatRows(r); err != nil {
			return Itemization{}, err
		}
	}
	return it, nil
}

func itemLine(s *tariff.Session, l *tariff.Line) (Line, error) {
	price := l.UnitPrice()
	if price.Scale() < 2 {
		price = price.Pad(2) // as the explanation and price lists write prices
	}
	line := Line{Period: int(l.Period) + 1, Dimension: dimensionName(l.Dimension), Element: l.Element() + 1,
		Quantity: l.Quantity.Trim(0).String(), UnitPrice: price.String()}
	if p := int(l.Period); p >= 0 && p < len(s.Periods) {
		line.Start = s.Periods[p].Start.UTC()
	}
	if !l.StepExtra.IsZero() {
		line.StepExtra = l.StepExtra.Trim(0).String()
	}
	if step := l.StepSize(); step > 1 {
		line.StepSize = step
	}
	switch l.Dimension {
	case tariff.Energy:
		line.Kind, line.QuantityUnit, line.PriceUnit = "energy", "kWh", "kWh"
	case tariff.Time:
		line.Kind, line.QuantityUnit, line.PriceUnit = "time", "s", "h"
	case tariff.ParkingTime:
		line.Kind, line.QuantityUnit, line.PriceUnit = "parking", "s", "h"
	default:
		line.Kind, line.QuantityUnit, line.PriceUnit = "fee", "fee", "fee"
	}
	if l.Reservation {
		line.Kind = map[bool]string{true: "reservation_fee", false: "reservation_time"}[l.Dimension == tariff.Flat]
	}
	if v, ok := l.VAT(); ok {
		line.VATRate = v.Trim(0).String()
	}
	a, err := amounts(l.Cost)
	if err != nil {
		return Line{}, err
	}
	line.ExclVAT, line.InclVAT = a.ExclVAT, a.InclVAT
	return line, nil
}

func dimensionName(d tariff.Dimension) string {
	switch d {
	case tariff.Energy:
		return "ENERGY"
	case tariff.Time:
		return "TIME"
	case tariff.ParkingTime:
		return "PARKING_TIME"
	}
	return "FLAT"
}

// amounts rounds an exact cost to the OCPI precision, half away from zero.
func amounts(c tariff.Cost) (Amounts, error) {
	excl, incl, err := c.Round(scale)
	if err != nil {
		return Amounts{}, err
	}
	return Amounts{ExclVAT: excl.Pad(scale).String(), InclVAT: incl.Pad(scale).String()}, nil
}

func bound(p *tariff.Price, hasVAT bool) *Amounts {
	if p == nil {
		return nil
	}
	a := &Amounts{ExclVAT: p.ExclVAT.Pad(scale).String(), InclVAT: p.ExclVAT.Pad(scale).String()}
	if hasVAT && p.HasInclVAT {
		a.InclVAT = p.InclVAT.Pad(scale).String()
	}
	return a
}

// difference is a − b of amounts written by amounts.
func difference(a, b Amounts) (Amounts, error) {
	excl, err := sub(a.ExclVAT, b.ExclVAT)
	if err != nil {
		return Amounts{}, err
	}
	incl, err := sub(a.InclVAT, b.InclVAT)
	if err != nil {
		return Amounts{}, err
	}
	return Amounts{ExclVAT: excl, InclVAT: incl}, nil
}

func sub(a, b string) (string, error) {
	x, err := decimal.Parse(a)
	if err != nil {
		return "", err
	}
	y, err := decimal.Parse(b)
	if err != nil {
		return "", err
	}
	d, err := x.Sub(y)
	if err != nil {
		return "", err
	}
	return d.Pad(scale).String(), nil
}

// vatRows totals the lines by VAT rate. Each rate's exact sum is rounded
// only as part of a running total: a row is the rounded running total
// with it less the rounded running total before it. So the rows' nets add
// up to the CDR's total_cost.excl_vat and their grosses to its incl_vat to
// the last place, however many rates there are, and no row is off from
// its exact value by more than the rounding of one place. What min_price
// or max_price changed belongs to the one rate when there is one, and is
// a row of its own otherwise, since the tariff does not say how to split
// it.
func vatRows(r *tariff.Result) ([]VATRow, error) {
	type group struct {
		rate   string
		key    decimal.Decimal // for the order; -1 for no stated rate
		cost   tariff.Cost
		adjust bool
	}
	var groups []*group
	for i := range r.Lines {
		l := &r.Lines[i]
		g := &group{key: decimal.MustNew(-1, 0)}
		if v, ok := l.VAT(); ok {
			g.rate, g.key = v.Trim(0).String(), v
		}
		if j := slices.IndexFunc(groups, func(x *group) bool { return x.rate == g.rate }); j >= 0 {
			g = groups[j]
		} else {
			groups = append(groups, g)
		}
		var err error
		if g.cost, err = g.cost.Add(l.Cost); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(groups, func(a, b *group) int { return a.key.Cmp(b.key) })
	adj, err := r.Total.Sub(r.Subtotal)
	if err != nil {
		return nil, err
	}
	if !adj.IsZero() {
		if len(groups) == 1 {
			if groups[0].cost, err = groups[0].cost.Add(adj); err != nil {
				return nil, err
			}
		} else {
			groups = append(groups, &group{cost: adj, adjust: true})
		}
	}
	rows := make([]VATRow, 0, len(groups))
	var running tariff.Cost
	prevExcl, prevIncl := decimal.Zero, decimal.Zero
	for _, g := range groups {
		if running, err = running.Add(g.cost); err != nil {
			return nil, err
		}
		excl, incl, err := running.Round(scale)
		if err != nil {
			return nil, err
		}
		net, err1 := excl.Sub(prevExcl)
		gross, err2 := incl.Sub(prevIncl)
		vat, err3 := gross.Sub(net)
		if err := cmp.Or(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("receipt: VAT at %q: %w", g.rate, err)
		}
		rows = append(rows, VATRow{Rate: g.rate, Adjustment: g.adjust,
			Net: net.Pad(scale).String(), VAT: vat.Pad(scale).String(), Gross: gross.Pad(scale).String()})
		prevExcl, prevIncl = excl, incl
	}
	return rows, nil
}
