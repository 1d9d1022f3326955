package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/examples"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/tariff"
)

// whatIfData makes a data directory whose tenant "acme" has n sessions
// priced by the engine under the example tariff at one Amsterdam site,
// and returns the directory, what the CDRs charged in total and the
// tariff's ID.
func whatIfData(t *testing.T, n int) (dir string, charged int64, tariffID string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tn := evbill.Tenant{Name: "acme"}
	must(s.CreateTenant(ctx, &tn))
	site := evbill.Site{TenantID: tn.ID, Name: "Centraal", Address: "Stationsplein 1", City: "Amsterdam", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(s.CreateSite(ctx, &site))
	station := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP-1"}
	must(s.CreateStation(ctx, &station))
	v := evbill.TariffVersion{TenantID: tn.ID, Currency: "EUR", Document: examples.Tariff}
	must(s.CreateTariff(ctx, &v))
	tf, err := tariff.Parse(examples.Tariff)
	must(err)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	must(err)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Hour)
		m := storetest.Metered(rng, start, ams)
		ss := evbill.Session{TenantID: tn.ID, StationID: station.ID, ConnectorNumber: 1, IDTag: "TAG", TariffID: v.TariffID,
			TariffVersion: v.Version, MeterStartWh: m.MeterStartWh.String(), StartedAt: start}
		if _, err := s.StartSession(ctx, &ss); err != nil {
			t.Fatal(err)
		}
		c, _, err := storetest.PricedCDR(tf, examples.Tariff, site, station, &ss, m)
		must(err)
		stop := m.End
		ss.MeterStopWh, ss.StoppedAt = m.MeterStopWh.String(), &stop
		must(s.EndSession(ctx, &ss, c, nil))
		charged += c.AmountMinor
	}
	return dir, charged, v.TariffID
}

func TestWhatIfCommand(t *testing.T) {
	dir, charged, tariffID := whatIfData(t, 20)
	cheaper := writeFile(t, "cheaper.json", string(storetest.CheaperTariff))
	base := []string{"whatif", "--data", dir, "--tenant", "acme", "--from", "2026-03-01", "--to", "2026-04-01T00:00:00Z"}

	// The tariff that priced them: nothing changes.
	out, stderr, err := runCLI(t, "", append(base, "--tariff", exampleTariff, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var o struct {
		Sessions int64 `json:"sessions"`
		Actual   struct {
			MinorUnits int64 `json:"minor_units"`
		}
		Candidate struct {
			MinorUnits int64 `json:"minor_units"`
		}
		Change struct {
			MinorUnits int64 `json:"minor_units"`
		}
		PerSess struct{ Unchanged, Lower int64 } `json:"change_per_session"`
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if o.Sessions != 20 || o.Actual.MinorUnits != charged || o.Candidate.MinorUnits != charged || o.PerSess.Unchanged != 20 {
		t.Errorf("the tariff in force: %+v; the CDRs charged %d\n%s", o, charged, out)
	}
	if !strings.Contains(stderr, "\r[==============================] 20/20 CDRs\n") {
		t.Errorf("no finished progress bar on stderr: %q", stderr)
	}

	// The same, as the stored tariff, version 1.
	out, _, err = runCLI(t, "", append(base, "--tariff-id", tariffID, "--version", "1", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || o.Candidate.MinorUnits != charged || !strings.Contains(out, `"tariff_id": "`+tariffID+`"`) {
		t.Errorf("the stored tariff: %+v, %v\n%s", o, err, out)
	}

	// A cheaper tariff, as a table.
	out, _, err = runCLI(t, "", append(base, "--tariff", cheaper)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"What if: AMS-TOU-CHEAP (EUR)", "tenant-wide", "total", "20 lower, 0 unchanged, 0 higher", "Assumption: Same demand"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table does not say %q:\n%s", want, out)
		}
	}

	// A narrower range, from standard input.
	out, _, err = runCLI(t, string(examples.Tariff), "whatif", "--data", dir, "--tenant", "acme", "--from", "2026-03-02", "--to", "2026-03-03", "--tariff", "-", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || o.Sessions != 3 {
		t.Errorf("one day (starts every 7 h from midnight on the 1st: 04:00, 11:00 and 18:00 UTC on the 2nd): %d sessions, %v", o.Sessions, err)
	}
}

func TestWhatIfCommandRefusesBadInput(t *testing.T) {
	dir, _, _ := whatIfData(t, 1)
	bad := writeFile(t, "bad.json", `{"country_code":"NL","party_id":"EVB","id":"X","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.3,"step_size":-1}]}],"last_updated":"2025-01-01T00:00:00Z"}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tenant", "acme", "--from", "2026-03-01", "--to", "2026-04-01"}, "--tariff FILE or --tariff-id"},
		{[]string{"--tariff", exampleTariff, "--from", "2026-03-01", "--to", "2026-04-01"}, "--tenant is required"},
		{[]string{"--tenant", "acme", "--tariff", exampleTariff, "--from", "2026-04-01", "--to", "2026-03-01"}, "--to must be after --from"},
		{[]string{"--tenant", "acme", "--tariff", exampleTariff, "--from", "March", "--to", "2026-03-01"}, "--from \"March\""},
		{[]string{"--tenant", "acme", "--tariff", bad, "--from", "2026-03-01", "--to", "2026-04-01"}, "elements[0].price_components[0].step_size"},
		{[]string{"--tenant", "nobody", "--tariff", exampleTariff, "--from", "2026-03-01", "--to", "2026-04-01"}, "--tenant \"nobody\""},
		{[]string{"--tenant", "acme", "--tariff-id", "trf_nope", "--from", "2026-03-01", "--to", "2026-04-01"}, "--tariff-id \"trf_nope\""},
	} {
		_, _, err := runCLI(t, "", append([]string{"whatif", "--data", dir}, tc.args...)...)
		if err == nil || exitStatus(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want an invalid-input error saying %q", tc.args, err, exitStatus(err), tc.want)
		}
	}
}
