package sim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sim"
	"github.com/evbill/evbill/sqlite"
)

// TestProvisionThroughAPI provisions a fleet through the real operator API
// (twice: the second run finds everything and corrects a connector's
// power), then runs it against the same server: the stations connect with
// the password that was set, and their sessions are billed.
func TestProvisionThroughAPI(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tenant := evbill.Tenant{Name: "sim"}
	must(st.CreateTenant(ctx, &tenant))
	secret, prefix, hash := auth.NewAPIKey()
	must(st.CreateAPIKey(ctx, &evbill.APIKey{TenantID: tenant.ID, Name: "test", Role: evbill.RoleAdmin, Prefix: prefix}, hash))
	// The site and its tariff exist already: provisioning must find the
	// site by its name rather than make a second one.
	site := evbill.Site{TenantID: tenant.ID, Name: "Simulator", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tf := evbill.TariffVersion{TenantID: tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tf))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: tenant.ID, TariffID: tf.TariffID, SiteID: site.ID}))

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	resolver := pricing.NewResolver(st)
	svc := charging.NewService(charging.Config{Store: st, Resolver: resolver, Logger: log})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc, Logger: log}
	h, err := api.New(api.Config{Store: st, Charging: svc, Chargers: central, Resolver: resolver, Logger: log})
	must(err)
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	mux.Handle("/", h)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"
	apiURL, err := sim.APIURLFor(wsURL)
	must(err)
	if apiURL != hs.URL {
		t.Fatalf("API URL %s, want %s", apiURL, hs.URL)
	}

	const n = 4
	cfg := sim.Config{URL: wsURL, Chargers: n, Seed: 3, DCShare: 0.5, Password: "a-test-password-0042",
		Tokens: []string{"T-1", "T-2"}, SamplesPerSession: 2, Duration: 2 * time.Second}
	prov := sim.Provision{APIURL: apiURL, APIKey: secret}
	must(prov.Run(ctx, cfg))
	// The second provisioning flags the existing stations for the
	// charger display.
	prov.CostDisplay = true
	// Someone changed a connector's power: the next provisioning puts the
	// simulated one back.
	stations, err := st.ListStations(ctx, tenant.ID, evbill.Page{Limit: 100})
	must(err)
	if len(stations) != n {
		t.Fatalf("%d stations, want %d", len(stations), n)
	}
	conns, err := st.ListConnectors(ctx, tenant.ID, stations[0].ID, evbill.Page{Limit: 10})
	must(err)
	conns[0].MaxPowerKW = "1"
	must(st.UpdateConnector(ctx, &conns[0]))
	must(prov.Run(ctx, cfg))

	sites, err := st.ListSites(ctx, tenant.ID, evbill.Page{Limit: 10})
	must(err)
	if len(sites) != 1 {
		t.Errorf("%d sites, want the existing one only", len(sites))
	}
	stations, err = st.ListStations(ctx, tenant.ID, evbill.Page{Limit: 100})
	must(err)
	if len(stations) != n {
		t.Fatalf("%d stations after a second provisioning, want %d", len(stations), n)
	}
	for _, s := range stations {
		var spec sim.Station
		for i := range n {
			if x := sim.StationFor(cfg.Seed, i, sim.DefaultPrefix, cfg.DCShare); x.ChargePointID == s.ChargePointID {
				spec = x
			}
		}
		conns, err := st.ListConnectors(ctx, tenant.ID, s.ID, evbill.Page{Limit: 10})
		must(err)
		if len(conns) != 1 || conns[0].MaxPowerKW != spec.MaxPowerKW() || conns[0].PowerType != spec.PowerType() {
			t.Errorf("station %s: connectors %+v, want one of %s kW %s", s.ChargePointID, conns, spec.MaxPowerKW(), spec.PowerType())
		}
		if !s.CostDisplay {
			t.Errorf("station %s is not flagged for the charger display", s.ChargePointID)
		}
	}
	for _, uid := range cfg.Tokens {
		if _, err := st.TokenByUID(ctx, tenant.ID, uid); err != nil {
			t.Errorf("token %s: %v", uid, err)
		}
	}

	sum, err := sim.Run(ctx, cfg)
	must(err)
	if sum.ConnectFailures != 0 || sum.MaxConnected != n || sum.SessionsEnded == 0 || sum.CallErrors != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	if sum.CostMessages == 0 {
		t.Errorf("the flagged stations' displays took no cost messages: %+v", sum)
	}
	sessions, err := st.ListSessions(ctx, tenant.ID, evbill.Page{Limit: 1})
	must(err)
	if len(sessions) == 0 {
		t.Fatal("no sessions stored")
	}
	if _, err := st.CDRBySession(ctx, tenant.ID, sessions[0].ID); err != nil && sessions[0].State == evbill.SessionEnded {
		t.Errorf("no CDR: %v", err)
	}
}

// TestProvisionReportsProblems: a wrong key is reported with the API's
// problem title, not swallowed.
func TestProvisionReportsProblems(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := api.New(api.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	err = sim.Provision{APIURL: hs.URL, APIKey: "evb_nope"}.Run(ctx, sim.Config{URL: "ws://x/ocpp", Chargers: 1})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401 problem", err)
	}
}
