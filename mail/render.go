package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/receipt"
	"github.com/evbill/evbill/tariff"
)

//go:embed templates/receipt.txt templates/receipt.html
var templates embed.FS

var (
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templates, "templates/receipt.txt"))
	htmlTmpl = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/receipt.html"))
)

// Render makes the three views of a receipt: the plain text and HTML
// bodies of the email and the PDF attached to it. They show the same
// facts, laid out once in a view the templates and the PDF share.
func Render(r receipt.Receipt) (text, html string, pdf []byte, err error) {
	v := newView(r)
	var b bytes.Buffer
	if err := textTmpl.Execute(&b, v); err != nil {
		return "", "", nil, evbill.Errorf(evbill.EINTERNAL, "receipt %s: text: %v", r.CDRID, err)
	}
	text = b.String()
	b.Reset()
	if err := htmlTmpl.Execute(&b, v); err != nil {
		return "", "", nil, evbill.Errorf(evbill.EINTERNAL, "receipt %s: HTML: %v", r.CDRID, err)
	}
	html = b.String()
	if pdf, err = renderPDF(v); err != nil {
		return "", "", nil, evbill.Errorf(evbill.EINTERNAL, "receipt %s: PDF: %v", r.CDRID, err)
	}
	return text, html, pdf, nil
}

// Subject is the subject line of a receipt's email.
func Subject(r receipt.Receipt) string {
	s := "Your charging receipt"
	if r.Site.Name != "" {
		s += ": " + r.Site.Name
	}
	return s + ", " + r.Start.Format("2 Jan 2006")
}

// PDFName is the file name of a receipt's PDF.
func PDFName(r receipt.Receipt) string { return "receipt-" + r.CDRID + ".pdf" }

// view is a receipt as the email and the PDF show it: every field a
// ready string, so the three views cannot word a fact differently.
type view struct {
	Operator    string
	Party       string // the OCPI party, "NL*EVB"
	Site        string
	Address     string
	Station     string
	Connector   string
	Start, End  string
	TimeZone    string
	Duration    string
	Energy      string
	Tariff      string
	TariffURL   string
	Currency    string
	Lines       []viewLine
	Subtotal    receipt.Amounts
	Adjustment  string // what min/max price did, "" for nothing
	AdjustExcl  string
	AdjustIncl  string
	VAT         []viewVAT
	HasVAT      bool
	Total       receipt.Amounts
	Charged     string // "7.20 EUR"
	ChargedNet  string
	ChargedVAT  string
	Payment     string // "" without a payment
	OCMFStatus  string
	OCMFReason  string
	EnergyCheck string
	PublicKey   string
	Records     []string
	Flags       string
	CDRID       string
	SessionID   string
	ended       time.Time // the PDF's date
}

type viewLine struct {
	Period    int
	From      string // the period's start, local clock time
	What      string
	Quantity  string
	UnitPrice string
	VATRate   string
	Excl      string
	Incl      string
}

type viewVAT struct {
	Rate            string
	Net, VAT, Gross string
	Adjustment      bool
}

const (
	timeLayout  = "Mon 2 Jan 2006, 15:04 MST"
	clockLayout = "15:04"
)

func newView(r receipt.Receipt) view {
	v := view{
		Operator: r.Operator.Name, Site: r.Site.Name, Address: address(r.Site),
		Station: r.Station.ChargePointID, Connector: connector(r.Connector),
		Start: r.Start.Format(timeLayout), End: r.End.Format(timeLayout), TimeZone: r.TimeZone,
		Duration: duration(r.DurationSeconds), Energy: r.EnergyKWh + " kWh", Currency: r.Currency,
		Subtotal: r.Subtotal, Total: r.Total, HasVAT: len(r.VAT) > 0,
		Charged: r.Charge.Amount + " " + r.Currency, ChargedNet: r.Charge.Net, ChargedVAT: r.Charge.VAT,
		PublicKey: r.Signed.PublicKey, Records: r.Signed.Records, Flags: strings.Join(r.Flags, ", "),
		CDRID: r.CDRID, SessionID: r.SessionID, ended: r.End,
	}
	if r.Operator.CountryCode != "" || r.Operator.PartyID != "" {
		v.Party = r.Operator.CountryCode + "*" + r.Operator.PartyID
	}
	if v.Operator == "" {
		v.Operator = "Charging receipt"
	}
	if model := strings.TrimSpace(r.Station.Vendor + " " + r.Station.Model); model != "" {
		v.Station += " (" + model + ")"
	}
	v.Tariff, v.TariffURL = tariffText(r.Tariff.Text), r.Tariff.URL
	for _, l := range r.Lines {
		vl := viewLine{Period: l.Period, From: l.Start.Format(clockLayout), What: kind(l.Kind), Excl: l.ExclVAT, Incl: l.InclVAT}
		switch l.QuantityUnit {
		case "fee":
			vl.Quantity = l.Quantity
		default:
			vl.Quantity = l.Quantity + " " + l.QuantityUnit
		}
		if l.PriceUnit == "fee" {
			vl.UnitPrice = l.UnitPrice + " " + r.Currency
		} else {
			vl.UnitPrice = l.UnitPrice + " " + r.Currency + "/" + l.PriceUnit
		}
		if l.VATRate != "" {
			vl.VATRate = l.VATRate + " %"
		}
		v.Lines = append(v.Lines, vl)
	}
	if a := r.Adjustment; a != nil {
		switch {
		case a.MinApplied:
			v.Adjustment = "Minimum price applied"
		case a.MaxApplied:
			v.Adjustment = "Maximum price applied"
		}
		v.AdjustExcl, v.AdjustIncl = a.Amount.ExclVAT, a.Amount.InclVAT
	}
	for _, row := range r.VAT {
		vr := viewVAT{Net: row.Net, VAT: row.VAT, Gross: row.Gross, Adjustment: row.Adjustment}
		switch {
		case row.Adjustment:
			vr.Rate = "min/max adjustment"
		case row.Rate == "":
			vr.Rate = "no VAT stated"
		default:
			vr.Rate = row.Rate + " %"
		}
		v.VAT = append(v.VAT, vr)
	}
	if p := r.Payment; p != nil {
		v.Payment = payment(p)
	}
	v.OCMFStatus, v.OCMFReason = ocmfStatus(r.Signed.Status), r.Signed.Reason
	if ec := r.Signed.EnergyCheck; ec != nil {
		v.EnergyCheck = energyCheck(ec)
	}
	return v
}

func address(s receipt.Location) string {
	var parts []string
	for _, p := range []string{s.Address, strings.TrimSpace(s.PostalCode + " " + s.City), s.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func connector(c receipt.Plug) string {
	s := "connector " + strconv.Itoa(c.Number)
	var about []string
	for _, p := range []string{c.Standard, c.PowerType} {
		if p != "" {
			about = append(about, p)
		}
	}
	if c.MaxPowerKW != "" {
		about = append(about, c.MaxPowerKW+" kW")
	}
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s
}

// duration writes whole seconds as hours, minutes and seconds.
func duration(sec int64) string {
	d := time.Duration(sec) * time.Second
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return strconv.FormatInt(h, 10) + " h " + twoDigits(m) + " min"
	case m > 0:
		return strconv.FormatInt(m, 10) + " min " + twoDigits(s) + " s"
	}
	return strconv.FormatInt(s, 10) + " s"
}

func twoDigits(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// tariffText picks the operator's English text of the tariff, or the
// first of another language.
func tariffText(texts []tariff.DisplayText) string {
	if i := slices.IndexFunc(texts, func(t tariff.DisplayText) bool { return strings.EqualFold(t.Language, "en") }); i >= 0 {
		return texts[i].Text
	}
	if len(texts) > 0 {
		return texts[0].Text
	}
	return ""
}

func kind(k string) string {
	switch k {
	case "energy":
		return "Energy"
	case "time":
		return "Charging time"
	case "parking":
		return "Parking time"
	case "fee":
		return "Fee"
	case "reservation_time":
		return "Reservation time"
	case "reservation_fee":
		return "Reservation fee"
	}
	return k
}

func payment(p *receipt.Settlement) string {
	how := map[string]string{evbill.PayByCard: "card", evbill.PayByWallet: "wallet", evbill.PayByAccount: "account"}[p.Method]
	if how == "" {
		how = p.Method
	}
	if p.Gateway != "" {
		how += " (" + p.Gateway + ")"
	}
	switch p.State {
	case evbill.PaymentCaptured:
		return "Paid by " + how + ": " + p.Captured + " " + p.Currency
	case evbill.PaymentPartiallyRefunded, evbill.PaymentRefunded:
		return "Paid by " + how + ": " + p.Captured + " " + p.Currency + ", of which " + p.Refunded + " " + p.Currency + " refunded"
	case evbill.PaymentReleased:
		return "Nothing was charged to your " + how
	case evbill.PaymentFailed:
		return "The payment by " + how + " failed"
	}
	return "Payment by " + how + " pending"
}

func ocmfStatus(s string) string {
	switch s {
	case receipt.StatusVerified:
		return "verified: every signed meter value checks out under the station's meter key"
	case receipt.StatusNotVerifiable:
		return "not verifiable"
	case receipt.StatusSignatureInvalid:
		return "SIGNATURE INVALID"
	}
	return "none"
}

func energyCheck(ec *receipt.EnergyCheck) string {
	switch ec.Outcome {
	case receipt.EnergyMatch:
		return "the signed readings (" + ec.SignedWh + " Wh) match the energy billed (" + ec.BilledWh + " Wh)"
	case receipt.EnergyMismatch:
		return "the signed readings (" + ec.SignedWh + " Wh) differ from the energy billed (" + ec.BilledWh + " Wh)"
	}
	s := "not compared"
	if ec.Reason != "" {
		s += ": " + ec.Reason
	}
	return s
}
