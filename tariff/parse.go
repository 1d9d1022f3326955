package tariff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// ErrInvalidTariff is matched by errors.Is for every validation failure.
var ErrInvalidTariff = errors.New("invalid tariff")

// FieldError names the JSON path of an invalid value and the rule it breaks,
// for example `elements[1].price_components[0].step_size: must be > 0`.
type FieldError struct {
	Path string
	Rule string
}

// Error returns "path: rule".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Rule
	}
	return e.Path + ": " + e.Rule
}

// ValidationError lists every problem found in a tariff, in document order.
type ValidationError struct {
	Problems []FieldError
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidTariff) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidTariff }

type problems []FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, FieldError{Path: path, Rule: fmt.Sprintf(format, args...)})
}

// Parse decodes and validates one OCPI 2.2.1 Tariff object. Unknown fields
// are accepted and kept: MarshalJSON returns the document as received.
func Parse(data []byte) (*Tariff, error) {
	var p problems
	t := decodeTariff(data, "", &p)
	if len(p) == 0 {
		t.raw = compactCopy(data)
		p = t.validate()
	}
	if len(p) > 0 {
		return nil, &ValidationError{Problems: p}
	}
	return t, nil
}

// ParseList decodes either one Tariff object or a JSON array of them, as
// `evbill price --tariff` accepts.
func ParseList(data []byte) ([]*Tariff, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		t, err := Parse(data)
		if err != nil {
			return nil, err
		}
		return []*Tariff{t}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, &ValidationError{Problems: []FieldError{jsonProblem("", err)}}
	}
	if len(raws) == 0 {
		return nil, &ValidationError{Problems: []FieldError{{Rule: "the tariff list is empty"}}}
	}
	out := make([]*Tariff, len(raws))
	for i, raw := range raws {
		t, err := Parse(raw)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				for j := range ve.Problems {
					ve.Problems[j].Path = join(fmt.Sprintf("[%d]", i), ve.Problems[j].Path)
				}
			}
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// MarshalJSON returns the tariff as it was received (unknown fields
// included) or, for a tariff built in code, its OCPI encoding.
func (t *Tariff) MarshalJSON() ([]byte, error) {
	if t.raw != nil {
		return bytes.Clone(t.raw), nil
	}
	return t.encode(), nil
}

func compactCopy(data []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return bytes.Clone(data)
	}
	return b.Bytes()
}

func join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}

func jsonProblem(path string, err error) FieldError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return FieldError{Path: path, Rule: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())}
	case errors.As(err, &te):
		return FieldError{Path: join(path, te.Field), Rule: fmt.Sprintf("must be %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)}
	}
	return FieldError{Path: path, Rule: err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	case "int64", "int":
		return "an integer"
	}
	return "a " + goKind
}

type wireTariff struct {
	CountryCode   *string           `json:"country_code"`
	PartyID       *string           `json:"party_id"`
	ID            *string           `json:"id"`
	Currency      *string           `json:"currency"`
	Type          *string           `json:"type"`
	AltText       []DisplayText     `json:"tariff_alt_text"`
	AltURL        *string           `json:"tariff_alt_url"`
	MinPrice      json.RawMessage   `json:"min_price"`
	MaxPrice      json.RawMessage   `json:"max_price"`
	Elements      []json.RawMessage `json:"elements"`
	StartDateTime *string           `json:"start_date_time"`
	EndDateTime   *string           `json:"end_date_time"`
	EnergyMix     json.RawMessage   `json:"energy_mix"`
	LastUpdated   *string           `json:"last_updated"`
}

type wireElement struct {
	PriceComponents []json.RawMessage `json:"price_components"`
	Restrictions    json.RawMessage   `json:"restrictions"`
}

type wireComponent struct {
	Type     *string         `json:"type"`
	Price    json.RawMessage `json:"price"`
	VAT      json.RawMessage `json:"vat"`
	StepSize json.RawMessage `json:"step_size"`
}

type wireRestrictions struct {
	StartTime   *string         `json:"start_time"`
	EndTime     *string         `json:"end_time"`
	StartDate   *string         `json:"start_date"`
	EndDate     *string         `json:"end_date"`
	MinKWh      json.RawMessage `json:"min_kwh"`
	MaxKWh      json.RawMessage `json:"max_kwh"`
	MinCurrent  json.RawMessage `json:"min_current"`
	MaxCurrent  json.RawMessage `json:"max_current"`
	MinPower    json.RawMessage `json:"min_power"`
	MaxPower    json.RawMessage `json:"max_power"`
	MinDuration json.RawMessage `json:"min_duration"`
	MaxDuration json.RawMessage `json:"max_duration"`
	DayOfWeek   []string        `json:"day_of_week"`
	Reservation *string         `json:"reservation"`
}

type wirePrice struct {
	ExclVAT json.RawMessage `json:"excl_vat"`
	InclVAT json.RawMessage `json:"incl_vat"`
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// decodeObject unmarshals raw into v, recording a problem at path if raw is
// not a JSON object of the right shape.
func decodeObject(raw []byte, v any, path string, p *problems) bool {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) > 0 && json.Valid(trimmed) {
			p.add(path, "must be a JSON object")
		} else {
			var x any
			*p = append(*p, jsonProblem(path, json.Unmarshal(raw, &x)))
		}
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		*p = append(*p, jsonProblem(path, err))
		return false
	}
	return true
}

// number decodes a JSON number exactly. Strings holding numbers are refused:
// OCPI numbers are JSON numbers.
func number(raw json.RawMessage, path string, p *problems) (decimal.Decimal, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		p.add(path, "must be a JSON number")
		return decimal.Decimal{}, false
	}
	d, err := money.ParseDecimal(string(raw))
	if err != nil {
		p.add(path, "%v", err)
		return decimal.Decimal{}, false
	}
	return d.Trim(0), true
}

func optNumber(raw json.RawMessage, path string, p *problems) *decimal.Decimal {
	if isNull(raw) {
		return nil
	}
	d, ok := number(raw, path, p)
	if !ok {
		return nil
	}
	return &d
}

func integer(raw json.RawMessage, path string, p *problems) (int64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		p.add(path, "must be a JSON integer")
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		// Accept integral numbers written with a fraction or exponent (300.0, 3e2).
		d, derr := money.ParseDecimal(string(raw))
		if derr != nil || !d.IsInt() {
			p.add(path, "must be an integer")
			return 0, false
		}
		whole, _, ok := d.Int64(0)
		if !ok {
			p.add(path, "is out of range")
			return 0, false
		}
		return whole, true
	}
	return n, true
}

func decodeTariff(data []byte, path string, p *problems) *Tariff {
	var w wireTariff
	if !decodeObject(data, &w, path, p) {
		return nil
	}
	t := &Tariff{}
	req := func(v *string, name string) string {
		if v == nil {
			p.add(join(path, name), "is required")
			return ""
		}
		return *v
	}
	t.CountryCode = req(w.CountryCode, "country_code")
	t.PartyID = req(w.PartyID, "party_id")
	t.ID = req(w.ID, "id")
	if cur := req(w.Currency, "currency"); w.Currency != nil {
		c, err := money.ParseCurrency(cur)
		if err != nil {
			p.add(join(path, "currency"), "must be an ISO 4217 currency code, got %q", cur)
		}
		t.Currency = c
	}
	if w.Type != nil {
		t.Type = *w.Type
	}
	t.AltText = w.AltText
	if w.AltURL != nil {
		t.AltURL = *w.AltURL
	}
	t.MinPrice = decodePrice(w.MinPrice, join(path, "min_price"), p)
	t.MaxPrice = decodePrice(w.MaxPrice, join(path, "max_price"), p)
	if w.Elements == nil {
		p.add(join(path, "elements"), "is required")
	}
	t.Elements = make([]Element, len(w.Elements))
	for i, raw := range w.Elements {
		t.Elements[i] = decodeElement(raw, join(path, fmt.Sprintf("elements[%d]", i)), p)
	}
	dt := func(v *string, name string) time.Time {
		if v == nil {
			return time.Time{}
		}
		tm, err := ParseDateTime(*v)
		if err != nil {
			p.add(join(path, name), "%v", err)
		}
		return tm
	}
	t.StartDateTime = dt(w.StartDateTime, "start_date_time")
	t.EndDateTime = dt(w.EndDateTime, "end_date_time")
	// last_updated is required by OCPI, yet the specification's own PUT
	// example omits it; it does not affect pricing, so a missing one is
	// accepted and left zero.
	t.LastUpdated = dt(w.LastUpdated, "last_updated")
	if !isNull(w.EnergyMix) {
		var em EnergyMix
		var probe struct {
			IsGreen *bool `json:"is_green_energy"`
		}
		emPath := join(path, "energy_mix")
		if decodeObject(w.EnergyMix, &em, emPath, p) && decodeObject(w.EnergyMix, &probe, emPath, p) {
			if probe.IsGreen == nil {
				p.add(join(emPath, "is_green_energy"), "is required")
			}
			t.EnergyMix = &em
		}
	}
	return t
}

func decodePrice(raw json.RawMessage, path string, p *problems) *Price {
	if isNull(raw) {
		return nil
	}
	var w wirePrice
	if !decodeObject(raw, &w, path, p) {
		return nil
	}
	pr := &Price{}
	if isNull(w.ExclVAT) {
		p.add(join(path, "excl_vat"), "is required")
	} else {
		pr.ExclVAT, _ = number(w.ExclVAT, join(path, "excl_vat"), p)
	}
	if !isNull(w.InclVAT) {
		pr.InclVAT, pr.HasInclVAT = number(w.InclVAT, join(path, "incl_vat"), p)
	}
	return pr
}

func decodeElement(raw json.RawMessage, path string, p *problems) Element {
	var w wireElement
	var e Element
	if !decodeObject(raw, &w, path, p) {
		return e
	}
	if w.PriceComponents == nil {
		p.add(join(path, "price_components"), "is required")
	}
	e.PriceComponents = make([]PriceComponent, len(w.PriceComponents))
	for i, raw := range w.PriceComponents {
		e.PriceComponents[i] = decodeComponent(raw, join(path, fmt.Sprintf("price_components[%d]", i)), p)
	}
	if !isNull(w.Restrictions) {
		e.Restrictions = decodeRestrictions(w.Restrictions, join(path, "restrictions"), p)
	}
	return e
}

func decodeComponent(raw json.RawMessage, path string, p *problems) PriceComponent {
	var w wireComponent
	var c PriceComponent
	if !decodeObject(raw, &w, path, p) {
		return c
	}
	if w.Type == nil {
		p.add(join(path, "type"), "is required")
	} else if d, ok := parseDimension(*w.Type); ok {
		c.Type = d
	} else {
		p.add(join(path, "type"), "must be one of ENERGY, FLAT, PARKING_TIME, TIME, got %q", *w.Type)
	}
	if isNull(w.Price) {
		p.add(join(path, "price"), "is required")
	} else {
		c.Price, _ = number(w.Price, join(path, "price"), p)
	}
	if !isNull(w.VAT) {
		c.VAT, c.HasVAT = number(w.VAT, join(path, "vat"), p)
	}
	if isNull(w.StepSize) {
		p.add(join(path, "step_size"), "is required")
	} else {
		c.StepSize, _ = integer(w.StepSize, join(path, "step_size"), p)
	}
	return c
}

func decodeRestrictions(raw json.RawMessage, path string, p *problems) *Restrictions {
	var w wireRestrictions
	if !decodeObject(raw, &w, path, p) {
		return nil
	}
	r := &Restrictions{}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	r.StartTime, r.EndTime = str(w.StartTime), str(w.EndTime)
	r.StartDate, r.EndDate = str(w.StartDate), str(w.EndDate)
	if w.StartTime != nil && *w.StartTime == "" {
		p.add(join(path, "start_time"), "must be HH:MM, not empty")
	}
	if w.EndTime != nil && *w.EndTime == "" {
		p.add(join(path, "end_time"), "must be HH:MM, not empty")
	}
	r.MinKWh = optNumber(w.MinKWh, join(path, "min_kwh"), p)
	r.MaxKWh = optNumber(w.MaxKWh, join(path, "max_kwh"), p)
	r.MinCurrent = optNumber(w.MinCurrent, join(path, "min_current"), p)
	r.MaxCurrent = optNumber(w.MaxCurrent, join(path, "max_current"), p)
	r.MinPower = optNumber(w.MinPower, join(path, "min_power"), p)
	r.MaxPower = optNumber(w.MaxPower, join(path, "max_power"), p)
	dur := func(raw json.RawMessage, name string) *int64 {
		if isNull(raw) {
			return nil
		}
		n, ok := integer(raw, join(path, name), p)
		if !ok {
			return nil
		}
		return &n
	}
	r.MinDuration = dur(w.MinDuration, "min_duration")
	r.MaxDuration = dur(w.MaxDuration, "max_duration")
	for i, d := range w.DayOfWeek {
		wd, ok := weekdays[d]
		if !ok {
			p.add(join(path, fmt.Sprintf("day_of_week[%d]", i)), "must be MONDAY … SUNDAY, got %q", d)
			continue
		}
		r.DayOfWeek = append(r.DayOfWeek, wd)
	}
	if w.Reservation != nil {
		switch *w.Reservation {
		case "RESERVATION":
			r.Reservation = ReservationActive
		case "RESERVATION_EXPIRES":
			r.Reservation = ReservationExpires
		default:
			p.add(join(path, "reservation"), "must be RESERVATION or RESERVATION_EXPIRES, got %q", *w.Reservation)
		}
	}
	return r
}

var weekdays = map[string]time.Weekday{
	"MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday,
	"THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday, "SUNDAY": time.Sunday,
}

var tariffTypes = map[string]bool{
	"AD_HOC_PAYMENT": true, "PROFILE_CHEAP": true, "PROFILE_FAST": true, "PROFILE_GREEN": true, "REGULAR": true,
}

// Validate checks every OCPI 2.2.1 rule and evbill's own pricing rules, and
// prepares the tariff for pricing. Parse calls it; call it yourself after
// building or changing a Tariff in code.
func (t *Tariff) Validate() error {
	if p := t.validate(); len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func (t *Tariff) validate() problems {
	var p problems
	ciString(&p, "country_code", t.CountryCode, 2, 2)
	ciString(&p, "party_id", t.PartyID, 3, 3)
	ciString(&p, "id", t.ID, 1, 36)
	if t.Currency.IsZero() && !hasPath(p, "currency") {
		p.add("currency", "is required")
	}
	if t.Type != "" && !tariffTypes[t.Type] {
		p.add("type", "must be one of AD_HOC_PAYMENT, PROFILE_CHEAP, PROFILE_FAST, PROFILE_GREEN, REGULAR, got %q", t.Type)
	}
	for i, dt := range t.AltText {
		path := fmt.Sprintf("tariff_alt_text[%d]", i)
		if len(dt.Language) != 2 {
			p.add(path+".language", "must be a two-letter ISO 639-1 code")
		}
		if dt.Text == "" || utf8.RuneCountInString(dt.Text) > 512 {
			p.add(path+".text", "must be 1 to 512 characters")
		}
	}
	if t.AltURL != "" {
		if u, err := url.Parse(t.AltURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("tariff_alt_url", "must be an absolute http(s) URL")
		}
	}
	if len(t.Elements) == 0 && !hasPath(p, "elements") {
		p.add("elements", "must hold at least one tariff element")
	}
	anyVAT := false
	for i, e := range t.Elements {
		path := fmt.Sprintf("elements[%d]", i)
		if len(e.PriceComponents) == 0 {
			p.add(path+".price_components", "must hold at least one price component")
		}
		for j, c := range e.PriceComponents {
			cp := fmt.Sprintf("%s.price_components[%d]", path, j)
			if c.Type >= numDimensions {
				p.add(cp+".type", "must be one of ENERGY, FLAT, PARKING_TIME, TIME")
			}
			if c.Price.IsNeg() {
				p.add(cp+".price", "must be >= 0")
			}
			if c.HasVAT {
				anyVAT = true
				if c.VAT.IsNeg() || c.VAT.Cmp(hundred) > 0 {
					p.add(cp+".vat", "must be a percentage from 0 to 100")
				}
			}
			switch {
			case c.Type == Flat && c.StepSize < 0:
				p.add(cp+".step_size", "must be >= 0")
			case c.Type != Flat && c.StepSize <= 0:
				p.add(cp+".step_size", "must be > 0")
			case c.StepSize > maxStepSize:
				p.add(cp+".step_size", "must be <= %d", maxStepSize)
			}
			if e.Restrictions != nil && e.Restrictions.Reservation != NoReservation && c.Type != Flat && c.Type != Time {
				p.add(cp+".type", "must be FLAT or TIME in a reservation element, got %s", c.Type)
			}
		}
		if e.Restrictions != nil {
			e.Restrictions.validate(path+".restrictions", &p)
		}
	}
	checkPrice := func(name string, pr *Price) {
		if pr == nil {
			return
		}
		if pr.ExclVAT.IsNeg() {
			p.add(name+".excl_vat", "must be >= 0")
		}
		if pr.HasInclVAT && pr.InclVAT.Cmp(pr.ExclVAT) < 0 {
			p.add(name+".incl_vat", "must be >= excl_vat")
		}
		if anyVAT && !pr.HasInclVAT {
			p.add(name+".incl_vat", "is required when price components state VAT")
		}
	}
	checkPrice("min_price", t.MinPrice)
	checkPrice("max_price", t.MaxPrice)
	if t.MinPrice != nil && t.MaxPrice != nil {
		if t.MinPrice.ExclVAT.Cmp(t.MaxPrice.ExclVAT) > 0 {
			p.add("min_price.excl_vat", "must be <= max_price.excl_vat")
		}
		if t.MinPrice.HasInclVAT && t.MaxPrice.HasInclVAT && t.MinPrice.InclVAT.Cmp(t.MaxPrice.InclVAT) > 0 {
			p.add("min_price.incl_vat", "must be <= max_price.incl_vat")
		}
	}
	if !t.StartDateTime.IsZero() && !t.EndDateTime.IsZero() && !t.EndDateTime.After(t.StartDateTime) {
		p.add("end_date_time", "must be after start_date_time")
	}
	if t.EnergyMix != nil {
		for i, s := range t.EnergyMix.EnergySources {
			if !energySources[s.Source] {
				p.add(fmt.Sprintf("energy_mix.energy_sources[%d].source", i), "must be one of NUCLEAR, GENERAL_FOSSIL, COAL, GAS, GENERAL_GREEN, SOLAR, WIND, WATER, got %q", s.Source)
			}
		}
		for i, e := range t.EnergyMix.EnvironImpact {
			if e.Category != "NUCLEAR_WASTE" && e.Category != "CARBON_DIOXIDE" {
				p.add(fmt.Sprintf("energy_mix.environ_impact[%d].category", i), "must be NUCLEAR_WASTE or CARBON_DIOXIDE, got %q", e.Category)
			}
		}
	}
	if len(p) == 0 {
		c, err := compile(t)
		if err != nil {
			p.add("", "%v", err)
		}
		t.compiled = c
	}
	return p
}

var energySources = map[string]bool{
	"NUCLEAR": true, "GENERAL_FOSSIL": true, "COAL": true, "GAS": true,
	"GENERAL_GREEN": true, "SOLAR": true, "WIND": true, "WATER": true,
}

// maxStepSize bounds step_size to a week of seconds or 600 MWh, far above
// any real tariff, so step arithmetic cannot overflow.
const maxStepSize = 604800

var hundred = decimal.MustNew(100, 0)

func hasPath(p problems, path string) bool {
	for _, f := range p {
		if f.Path == path {
			return true
		}
	}
	return false
}

func ciString(p *problems, path, s string, minLen, maxLen int) {
	if len(s) < minLen || len(s) > maxLen {
		if minLen == maxLen {
			p.add(path, "must be %d characters, got %q", minLen, s)
		} else {
			p.add(path, "must be %d to %d characters, got %q", minLen, maxLen, s)
		}
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			p.add(path, "must be printable ASCII")
			return
		}
	}
}

func (r *Restrictions) validate(path string, p *problems) {
	start, okStart := parseClock(r.StartTime)
	end, okEnd := parseClock(r.EndTime)
	if r.StartTime != "" && !okStart {
		p.add(path+".start_time", "must be HH:MM in 24-hour time, got %q", r.StartTime)
	}
	if r.EndTime != "" && !okEnd {
		p.add(path+".end_time", "must be HH:MM in 24-hour time, got %q", r.EndTime)
	}
	_ = start
	_ = end
	sd, okSD := parseDate(r.StartDate)
	ed, okED := parseDate(r.EndDate)
	if r.StartDate != "" && !okSD {
		p.add(path+".start_date", "must be a date YYYY-MM-DD, got %q", r.StartDate)
	}
	if r.EndDate != "" && !okED {
		p.add(path+".end_date", "must be a date YYYY-MM-DD, got %q", r.EndDate)
	}
	if okSD && okED && r.StartDate != "" && r.EndDate != "" && ed <= sd {
		p.add(path+".end_date", "must be after start_date (end_date is exclusive)")
	}
	pair := func(name string, lo, hi *decimal.Decimal) {
		if lo != nil && lo.IsNeg() {
			p.add(path+".min_"+name, "must be >= 0")
		}
		if hi != nil && hi.IsNeg() {
			p.add(path+".max_"+name, "must be >= 0")
		}
		if lo != nil && hi != nil && lo.Cmp(*hi) >= 0 {
			p.add(path+".max_"+name, "must be greater than min_%s", name)
		}
	}
	pair("kwh", r.MinKWh, r.MaxKWh)
	pair("current", r.MinCurrent, r.MaxCurrent)
	pair("power", r.MinPower, r.MaxPower)
	if r.MinDuration != nil && *r.MinDuration < 0 {
		p.add(path+".min_duration", "must be >= 0")
	}
	if r.MaxDuration != nil && *r.MaxDuration < 0 {
		p.add(path+".max_duration", "must be >= 0")
	}
	if r.MinDuration != nil && r.MaxDuration != nil && *r.MinDuration >= *r.MaxDuration {
		p.add(path+".max_duration", "must be greater than min_duration")
	}
	seen := map[time.Weekday]bool{}
	for i, d := range r.DayOfWeek {
		if d < time.Sunday || d > time.Saturday {
			p.add(fmt.Sprintf("%s.day_of_week[%d]", path, i), "must be a day of the week")
		}
		if seen[d] {
			p.add(fmt.Sprintf("%s.day_of_week[%d]", path, i), "repeats %s", strings.ToUpper(d.String()))
		}
		seen[d] = true
	}
	if r.Reservation > ReservationExpires {
		p.add(path+".reservation", "must be RESERVATION or RESERVATION_EXPIRES")
	}
}

// parseClock parses "HH:MM" into seconds after midnight.
func parseClock(s string) (int32, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	return int32(h*3600 + m*60), true
}

// parseDate parses "YYYY-MM-DD" into days since 1970-01-01.
func parseDate(s string) (int32, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return 0, false
	}
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400), true
}
