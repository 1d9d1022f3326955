package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the program in-process exactly as main does.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	err = run(context.Background(), append([]string{"evbill"}, args...), getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

const (
	exampleTariff = "../../examples/tariff.json"
	exampleCDR    = "../../examples/cdr.json"
)

type price struct {
	ExclVAT json.Number `json:"excl_vat"`
	InclVAT json.Number `json:"incl_vat"`
}

type pricedCDR struct {
	ID              string `json:"id"`
	TotalCost       price  `json:"total_cost"`
	TotalEnergyCost *price `json:"total_energy_cost"`
	TotalParking    *price `json:"total_parking_cost"`
	TotalResv       *price `json:"total_reservation_cost"`
	ChargingPeriods []struct {
		TariffID string `json:"tariff_id"`
	} `json:"charging_periods"`
	CdrToken map[string]any `json:"cdr_token"`
}

func decodePriced(t *testing.T, s string) pricedCDR {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var c pricedCDR
	if err := d.Decode(&c); err != nil {
		t.Fatalf("output is not a CDR: %v\n%s", err, s)
	}
	return c
}

func TestPriceExampleCDR(t *testing.T) {
	out, _, err := runCLI(t, "", "price", "--tariff", exampleTariff, "--cdr", exampleCDR, "--timezone", "Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	c := decodePriced(t, out)
	if c.TotalCost.ExclVAT != "8.7335" || c.TotalCost.InclVAT != "10.5675" {
		t.Errorf("total_cost = %+v, want 8.7335 / 10.5675", c.TotalCost)
	}
	if c.TotalEnergyCost == nil || c.TotalEnergyCost.ExclVAT != "6.2085" {
		t.Errorf("total_energy_cost = %+v, want 6.2085", c.TotalEnergyCost)
	}
	if c.TotalParking == nil || c.TotalParking.ExclVAT != "1.50" {
		t.Errorf("total_parking_cost = %+v, want 1.50", c.TotalParking)
	}
	if c.TotalResv != nil {
		t.Errorf("total_reservation_cost present without reservation: %+v", c.TotalResv)
	}
	for i, p := range c.ChargingPeriods {
		if p.TariffID != "AMS-TOU-1" {
			t.Errorf("charging_periods[%d].tariff_id = %q", i, p.TariffID)
		}
	}
	if c.ID != "CDR-2025-000042" || c.CdrToken["contract_id"] != "NL-EVB-C12345678-X" {
		t.Errorf("the CDR's own fields were not kept: %+v", c)
	}
}

func TestPriceTimezoneChangesThePrice(t *testing.T) {
	// In UTC the session runs 17:15–19:30: more of it at the peak rate and
	// all of its parking inside the idle-fee window.
	out, _, err := runCLI(t, "", "price", "--tariff", exampleTariff, "--cdr", exampleCDR)
	if err != nil {
		t.Fatal(err)
	}
	if c := decodePriced(t, out); c.TotalCost.ExclVAT == "8.7335" {
		t.Errorf("UTC and Europe/Amsterdam gave the same price %s", c.TotalCost.ExclVAT)
	}
}

func TestPriceExplain(t *testing.T) {
	out, _, err := runCLI(t, "", "price", "--tariff", exampleTariff, "--cdr", exampleCDR, "--timezone", "Europe/Amsterdam", "--explain")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Amount to charge: EUR 10.57 (incl. VAT)", "PARKING_TIME", "no price component applies: free", "8.7335"} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}
}

func TestPriceFromStandardInput(t *testing.T) {
	cdr, err := os.ReadFile(exampleCDR)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, string(cdr), "price", "--tariff", exampleTariff, "--cdr", "-", "--timezone", "Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	if c := decodePriced(t, out); c.TotalCost.InclVAT != "10.5675" {
		t.Errorf("total_cost incl = %s", c.TotalCost.InclVAT)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPriceRejectsInvalidInput(t *testing.T) {
	cdr, _ := os.ReadFile(exampleCDR)
	badTariff := writeFile(t, "bad.json", `{"country_code":"NL","party_id":"EVB","id":"x","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.2,"step_size":0}]}]}`)
	usd := writeFile(t, "usd.json", strings.Replace(mustRead(t, exampleTariff), `"EUR"`, `"USD"`, 1))
	expired := writeFile(t, "old.json", strings.Replace(mustRead(t, exampleTariff), `"elements"`, `"end_date_time":"2020-01-01T00:00:00Z","elements"`, 1))
	badCDR := writeFile(t, "cdr.json", strings.Replace(string(cdr), `"total_energy": 16.05`, `"total_energy": "lots"`, 1))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"prise"}, `unknown command "prise"`},
		{"no tariff", []string{"price", "--cdr", exampleCDR}, "--tariff is required"},
		{"no cdr", []string{"price", "--tariff", exampleTariff}, "--cdr or --batch is required"},
		{"both modes", []string{"price", "--tariff", exampleTariff, "--cdr", exampleCDR, "--batch"}, "either --cdr or --batch"},
		{"unknown flag", []string{"price", "--tarif", exampleTariff}, "flag provided but not defined: -tarif"},
		{"missing file", []string{"price", "--tariff", "nope.json", "--cdr", exampleCDR}, "nope.json"},
		{"bad zone", []string{"price", "--tariff", exampleTariff, "--cdr", exampleCDR, "--timezone", "Mars/Olympus"}, `"Mars/Olympus" is not an IANA time zone`},
		{"invalid tariff", []string{"price", "--tariff", badTariff, "--cdr", exampleCDR}, "elements[0].price_components[0].step_size: must be > 0"},
		{"invalid CDR", []string{"price", "--tariff", exampleTariff, "--cdr", badCDR}, "total_energy"},
		{"currency mismatch", []string{"price", "--tariff", usd, "--cdr", exampleCDR}, "the CDR is in EUR but tariff AMS-TOU-1 is in USD"},
		{"no tariff in force", []string{"price", "--tariff", expired, "--cdr", exampleCDR}, "no tariff is valid at the session's start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, "", tc.args...)
			if err == nil {
				t.Fatalf("accepted; output:\n%s", out)
			}
			if got := exitStatus(err); got != 2 {
				t.Errorf("exit status %d, want 2 (%v)", got, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compactJSON(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPriceBatch(t *testing.T) {
	good := compactJSON(t, mustRead(t, exampleCDR))
	in := good + "\n" + `{"id":"broken"` + "\n\n" + strings.Replace(good, `"EUR"`, `"USD"`, 1) + "\n" + good + "\n"
	out, stderr, err := runCLI(t, in, "price", "--tariff", exampleTariff, "--batch", "--timezone", "Europe/Amsterdam", "--workers", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d output lines, want 4 (blank input lines are skipped):\n%s", len(lines), out)
	}
	if c := decodePriced(t, lines[0]); c.TotalCost.InclVAT != "10.5675" {
		t.Errorf("line 1 priced %s", c.TotalCost.InclVAT)
	}
	var e struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Line != 2 || e.Error == "" {
		t.Errorf("line 2 should be an error for input line 2: %s", lines[1])
	}
	if err := json.Unmarshal([]byte(lines[2]), &e); err != nil || e.Line != 4 || !strings.Contains(e.Error, "USD") {
		t.Errorf("line 3 should be a currency error for input line 4: %s", lines[2])
	}
	if c := decodePriced(t, lines[3]); c.TotalCost.InclVAT != "10.5675" {
		t.Errorf("line 4 priced %s", c.TotalCost.InclVAT)
	}
	if !strings.Contains(stderr, "2 of 4") {
		t.Errorf("stderr should count the failures: %q", stderr)
	}
}

// TestBinary builds the real binary and runs the README's first command and
// a failing one, checking output and exit statuses.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "evbill")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "price", "--tariff", "examples/tariff.json", "--cdr", "examples/cdr.json", "--timezone", "Europe/Amsterdam", "--explain")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("README command failed: %v", err)
	}
	if !strings.Contains(string(out), "Amount to charge: EUR 10.57") {
		t.Errorf("unexpected output:\n%s", out)
	}
	cmd = exec.Command(bin, "price", "--tariff", "examples/cdr.json", "--cdr", "examples/cdr.json")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("a CDR given as tariff: %v, want exit status 2", err)
	}
	if !strings.Contains(stderr.String(), "elements: is required") {
		t.Errorf("stderr %q should say what is wrong", stderr.String())
	}
}
