package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/mail"
	"github.com/evbill/evbill/receipt"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"EVBILL_SMTP_HOST": "smtp.example.com", "EVBILL_SMTP_FROM": "Receipts <r@example.com>"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want mail.Config
	}{
		{"defaults", base, mail.Config{Host: "smtp.example.com", Port: 587, TLS: "starttls", From: "Receipts <r@example.com>"}},
		{"implicit TLS", with("EVBILL_SMTP_TLS", "TLS"), mail.Config{Host: "smtp.example.com", Port: 465, TLS: "tls", From: "Receipts <r@example.com>"}},
		{"port and auth", with("EVBILL_SMTP_PORT", "2525", "EVBILL_SMTP_TLS", "none", "EVBILL_SMTP_USERNAME", "u", "EVBILL_SMTP_PASSWORD", "p"),
			mail.Config{Host: "smtp.example.com", Port: 2525, TLS: "none", Username: "u", Password: "p", From: "Receipts <r@example.com>"}},
		{"IPv6", with("EVBILL_SMTP_HOST", "::1"), mail.Config{Host: "::1", Port: 587, TLS: "starttls", From: "Receipts <r@example.com>"}},
	} {
		got, err := mail.ConfigFromEnv(env(tc.env))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with("EVBILL_SMTP_HOST", ""), "EVBILL_SMTP_HOST is required"},
		{with("EVBILL_SMTP_HOST", "smtp.example.com:587"), "EVBILL_SMTP_PORT"},
		{with("EVBILL_SMTP_PORT", "0"), "EVBILL_SMTP_PORT"},
		{with("EVBILL_SMTP_PORT", "70000"), "EVBILL_SMTP_PORT"},
		{with("EVBILL_SMTP_TLS", "ssl"), "starttls, tls or none"},
		{with("EVBILL_SMTP_USERNAME", "u"), "go together"},
		{with("EVBILL_SMTP_PASSWORD", "p"), "go together"},
		{with("EVBILL_SMTP_FROM", ""), "EVBILL_SMTP_FROM is required"},
		{with("EVBILL_SMTP_FROM", "receipts"), "EVBILL_SMTP_FROM must be an email address"},
	} {
		_, err := mail.ConfigFromEnv(env(tc.env))
		if evbill.ErrorCode(err) != evbill.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want EINVALID containing %q", tc.env, err, tc.want)
		}
	}
	cfg, _ := mail.ConfigFromEnv(env(with("EVBILL_SMTP_USERNAME", "u", "EVBILL_SMTP_PASSWORD", "hunter2")))
	if s := cfg.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "user u") {
		t.Errorf("String %q must name the user, not the password", s)
	}
}

func TestMessageID(t *testing.T) {
	for from, want := range map[string]string{
		"Receipts <r@charge.example>": "receipt.cdr_1@charge.example",
		"r@Mail.Example.org":          "receipt.cdr_1@Mail.Example.org",
		"not an address":              "receipt.cdr_1@evbill.invalid",
	} {
		if got := mail.MessageID("cdr_1", from); got != want {
			t.Errorf("MessageID(%q) = %q, want %q", from, got, want)
		}
	}
}

// TestRenderWithoutVAT renders a receipt of a tariff without VAT, with a
// minimum price, no payment and no signed values, at a site whose name
// needs escaping in HTML and lies outside the PDF fonts' encoding.
func TestRenderWithoutVAT(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip(err)
	}
	start := time.Date(2027, 1, 5, 23, 50, 0, 0, tokyo)
	r := receipt.Receipt{CDRID: "cdr_X", SessionID: "ses_X", Operator: receipt.Operator{Name: "Ōsaka <Charge>"},
		Site: receipt.Location{Name: "駅前 & Co"}, Station: receipt.ChargePoint{ChargePointID: "CP-9"},
		Connector: receipt.Plug{Number: 2}, Start: start, End: start.Add(25 * time.Minute), TimeZone: "Asia/Tokyo",
		DurationSeconds: 25 * 60, EnergyKWh: "3.1", Currency: "JPY",
		Lines: []receipt.Line{{Period: 1, Start: start, Kind: "energy", Quantity: "3.1", QuantityUnit: "kWh", UnitPrice: "50.00",
			PriceUnit: "kWh", ExclVAT: "155.0000", InclVAT: "155.0000"}},
		Subtotal:   receipt.Amounts{ExclVAT: "155.0000", InclVAT: "155.0000"},
		Adjustment: &receipt.Adjustment{MinApplied: true, Amount: receipt.Amounts{ExclVAT: "45.0000", InclVAT: "45.0000"}},
		Total:      receipt.Amounts{ExclVAT: "200.0000", InclVAT: "200.0000"},
		Charge:     receipt.Charge{Amount: "200", AmountMinor: 200, Net: "200", VAT: "0"},
		Signed:     receipt.Signed{Status: receipt.StatusNone, Reason: "the charger sent no signed meter values"}}
	text, html, pdf, err := mail.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Tue 5 Jan 2027, 23:50 JST", "Minimum price applied: 45.0000 / 45.0000 JPY", "Amount charged: 200 JPY",
		"Total:      200.0000 excl. VAT / 200.0000 incl. VAT JPY", "Signed meter values (OCMF): none", "駅前 & Co"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "VAT by rate") || strings.Contains(text, "Paid by") {
		t.Errorf("text shows VAT rows or a payment it does not have:\n%s", text)
	}
	if !strings.Contains(html, "Ōsaka &lt;Charge&gt;") || strings.Contains(html, "<Charge>") || !strings.Contains(html, "駅前 &amp; Co") {
		t.Errorf("HTML does not escape the operator and site")
	}
	page := pdfText(t, pdf)
	for _, want := range []string{"(200.0000)", "(Amount charged: 200 JPY)", "(Minimum price applied)", "(.saka <Charge>)"} {
		if !strings.Contains(page, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if s := mail.Subject(r); s != "Your charging receipt: 駅前 & Co, 5 Jan 2027" {
		t.Errorf("Subject %q", s)
	}
}
