package mail

import (
	"bytes"
	"strconv"

	"codeberg.org/go-pdf/fpdf"
)

// The PDF's page: A4 portrait, in millimetres, with the width left
// between the margins.
const (
	pdfMargin = 15.0
	pdfWidth  = 210 - 2*pdfMargin
)

// renderPDF lays the receipt out on an A4 page with the PDF core fonts,
// which every reader has, so nothing is embedded; text outside Windows-1252
// (the core fonts' encoding) shows as a dot. The document's dates are the
// session's end, so the same receipt makes the same bytes when it is
// mailed again.
func renderPDF(v view) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, pdfMargin)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetCreationDate(v.ended)
	pdf.SetModificationDate(v.ended)
	pdf.SetTitle("Charging receipt "+v.CDRID, true)
	pdf.SetAuthor(v.Operator, true)
	pdf.SetCreator("evbill", true)
	pdf.AddPage()

	text := func(style string, size float64, h float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(pdfWidth, h, tr(s), "", "L", false)
	}
	gray := func(on bool) {
		if on {
			pdf.SetTextColor(100, 100, 100)
		} else {
			pdf.SetTextColor(0, 0, 0)
		}
	}
	text("B", 16, 7, v.Operator)
	if v.Party != "" {
		gray(true)
		text("", 9, 4, v.Party)
		gray(false)
	}
	pdf.Ln(3)
	text("B", 12, 6, "Receipt for your charging session")
	pdf.Ln(1)

	const labelW = 28.0
	field := func(label, value string) {
		if value == "" {
			return
		}
		pdf.SetFont("Helvetica", "", 9)
		gray(true)
		pdf.CellFormat(labelW, 4.5, tr(label), "", 0, "L", false, 0, "")
		gray(false)
		pdf.MultiCell(pdfWidth-labelW, 4.5, tr(value), "", "L", false)
	}
	site := v.Site
	if v.Address != "" {
		site += ", " + v.Address
	}
	field("Site", site)
	field("Station", v.Station+", "+v.Connector)
	field("Start", v.Start)
	field("End", v.End)
	field("Time zone", v.TimeZone)
	field("Duration", v.Duration)
	field("Energy", v.Energy)
	field("Tariff", v.Tariff)
	field("", v.TariffURL)
	pdf.Ln(3)

	// The lines: the columns add up to the page's width.
	cols := []struct {
		title string
		w     float64
		align string
	}{{"Period", 20, "L"}, {"What", 28, "L"}, {"Quantity", 30, "L"}, {"Price", 34, "L"}, {"VAT", 14, "L"},
		{"Excl. VAT", 27, "R"}, {"Incl. VAT", 27, "R"}}
	row := func(style string, cells ...string) {
		pdf.SetFont("Helvetica", style, 8)
		for i, c := range cells {
			pdf.CellFormat(cols[i].w, 5, tr(c), "B", 0, cols[i].align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	pdf.SetDrawColor(200, 200, 200)
	row("B", titles...)
	for _, l := range v.Lines {
		row("", strconv.Itoa(l.Period)+" ("+l.From+")", l.What, l.Quantity, l.UnitPrice, l.VATRate, l.Excl, l.Incl)
	}
	row("", "Subtotal", "", "", "", "", v.Subtotal.ExclVAT, v.Subtotal.InclVAT)
	if v.Adjustment != "" {
		row("", v.Adjustment, "", "", "", "", v.AdjustExcl, v.AdjustIncl)
	}
	row("B", "Total ("+v.Currency+")", "", "", "", "", v.Total.ExclVAT, v.Total.InclVAT)
	pdf.Ln(3)

	if v.HasVAT {
		pdf.SetFont("Helvetica", "B", 8)
		for _, c := range []string{"VAT rate", "Net", "VAT", "Gross"} {
			pdf.CellFormat(30, 5, c, "B", 0, map[bool]string{true: "L", false: "R"}[c == "VAT rate"], false, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 8)
		for _, r := range v.VAT {
			pdf.CellFormat(30, 5, tr(r.Rate), "B", 0, "L", false, 0, "")
			pdf.CellFormat(30, 5, r.Net, "B", 0, "R", false, 0, "")
			pdf.CellFormat(30, 5, r.VAT, "B", 0, "R", false, 0, "")
			pdf.CellFormat(30, 5, r.Gross, "B", 0, "R", false, 0, "")
			pdf.Ln(-1)
		}
		pdf.Ln(3)
	}

	text("B", 12, 6, "Amount charged: "+v.Charged)
	text("", 9, 4.5, "Net "+v.ChargedNet+", VAT "+v.ChargedVAT)
	if v.Payment != "" {
		text("", 9, 4.5, v.Payment)
	}
	pdf.Ln(3)

	text("B", 9, 4.5, "Signed meter values (OCMF): "+v.OCMFStatus)
	if v.OCMFReason != "" {
		text("", 8, 4, v.OCMFReason)
	}
	if v.EnergyCheck != "" {
		text("", 8, 4, "Energy: "+v.EnergyCheck)
	}
	if len(v.Records) > 0 {
		key := v.PublicKey
		if key == "" {
			key = "none on record"
		}
		text("", 8, 4, "Meter public key:")
		verbatim(pdf, tr(key))
		text("", 8, 4, "The records, exactly as the meter signed them, for transparency software:")
		for _, r := range v.Records {
			verbatim(pdf, tr(r))
			pdf.Ln(1)
		}
	}
	if v.Flags != "" {
		pdf.Ln(2)
		text("", 8, 4, "Notes on this session: "+v.Flags)
	}
	pdf.Ln(4)
	gray(true)
	text("", 7, 3.5, "CDR "+v.CDRID+", session "+v.SessionID)

	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// verbatim writes s in a small monospaced font, broken into lines at a
// fixed number of characters rather than at spaces, as MultiCell would:
// a break there drops the space, and a signed record must keep every
// byte the meter signed. s is in the core fonts' one-byte encoding.
func verbatim(pdf *fpdf.Fpdf, s string) {
	pdf.SetFont("Courier", "", 6)
	perLine := max(int(pdfWidth/pdf.GetStringWidth("M")), 1)
	for len(s) > 0 {
		n := min(perLine, len(s))
		pdf.CellFormat(pdfWidth, 3, s[:n], "", 1, "L", false, 0, "")
		s = s[n:]
	}
}
