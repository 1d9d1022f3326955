package sim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/sim"
	"github.com/evbill/evbill/sqlite"
)

// central is a real central system in-process: SQLite store, charging
// service and OCPP server, with a tenant whose stations are the fleet's.
type central struct {
	store  *sqlite.Store
	tenant evbill.Tenant
	url    string
}

func newCentral(t *testing.T, seed uint64, chargers int, dcShare float64, tokens []string) *central {
	t.Helper()
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
	c := &central{store: st, tenant: evbill.Tenant{Name: "sim"}}
	must(st.CreateTenant(ctx, &c.tenant))
	site := evbill.Site{TenantID: c.tenant.ID, Name: "Simulator", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	hash, err := auth.HashPassword(sim.DefaultPassword)
	must(err)
	for i := range chargers {
		spec := sim.StationFor(seed, i, sim.DefaultPrefix, dcShare)
		station := evbill.Station{TenantID: c.tenant.ID, SiteID: site.ID, ChargePointID: spec.ChargePointID, Vendor: "evbill-sim", Model: spec.Model}
		must(st.CreateStation(ctx, &station))
		must(st.SetStationPassword(ctx, c.tenant.ID, station.ID, hash))
		must(st.CreateConnector(ctx, &evbill.Connector{TenantID: c.tenant.ID, StationID: station.ID, ConnectorNumber: 1,
			Standard: spec.Standard(), PowerType: spec.PowerType(), MaxPowerKW: spec.MaxPowerKW()}))
	}
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tf := evbill.TariffVersion{TenantID: c.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tf))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: c.tenant.ID, TariffID: tf.TariffID, SiteID: site.ID}))
	for _, tok := range tokens {
		must(st.CreateToken(ctx, &evbill.Token{TenantID: c.tenant.ID, UID: tok, Type: "RFID", Status: evbill.TokenAccepted}))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	svc := charging.NewService(charging.Config{Store: st, Logger: log})
	srv := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc, Logger: log}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
		svc.Close()
	})
	c.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"
	return c
}

// sessions returns the tenant's sessions by transaction id.
func (c *central) sessions(t *testing.T) map[int64]evbill.Session {
	t.Helper()
	out := map[int64]evbill.Session{}
	p := evbill.Page{Limit: evbill.MaxPageLimit}
	for {
		list, err := c.store.ListSessions(context.Background(), c.tenant.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			out[s.TransactionID] = s
		}
		if len(list) < p.Limit {
			return out
		}
		p.After = list[len(list)-1].ID
	}
}

// recorder collects the simulator's session records.
type recorder struct {
	mu   sync.Mutex
	recs []sim.SessionRecord
}

func (r *recorder) add(s sim.SessionRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, s)
	r.mu.Unlock()
}

// checkEnded asserts that every session the simulator ended is ended on
// the server, billed with a CDR and not flagged, and that every abandoned
// one is either ended by the server or still open and marked as rebooted.
func checkEnded(t *testing.T, c *central, recs []sim.SessionRecord) (ended int) {
	t.Helper()
	server := c.sessions(t)
	for _, r := range recs {
		s, ok := server[int64(r.TransactionID)]
		if !ok {
			t.Errorf("%s transaction %d: not on the server", r.ChargePointID, r.TransactionID)
			continue
		}
		if r.Abandoned {
			// The server ends a forgotten session when the connector's
			// next transaction starts; until then it stays open.
			if s.State != evbill.SessionEnded && laterStart(server, s) {
				t.Errorf("%s transaction %d: abandoned by a reboot and a later one started, but it is still open: %+v", r.ChargePointID, r.TransactionID, s)
			}
			continue
		}
		ended++
		if s.State != evbill.SessionEnded {
			t.Errorf("%s transaction %d: state %s, want ended", r.ChargePointID, r.TransactionID, s.State)
			continue
		}
		if s.MeterStopWh != "" && s.MeterStopWh != itoa(r.MeterStopWh) {
			t.Errorf("%s transaction %d: meter stop %s, want %d", r.ChargePointID, r.TransactionID, s.MeterStopWh, r.MeterStopWh)
		}
		if len(s.Flags) > 0 {
			t.Errorf("%s transaction %d: flagged %v", r.ChargePointID, r.TransactionID, s.Flags)
		}
		if _, err := c.store.CDRBySession(context.Background(), c.tenant.ID, s.ID); err != nil {
			t.Errorf("%s transaction %d: no CDR: %v", r.ChargePointID, r.TransactionID, err)
		}
	}
	for _, s := range server {
		if slices.Contains(s.Flags, evbill.FlagImplausibleEnergy) || slices.Contains(s.Flags, evbill.FlagMeterBackwards) ||
			slices.Contains(s.Flags, evbill.FlagOrphanStop) {
			t.Errorf("session %d flagged %v", s.TransactionID, s.Flags)
		}
	}
	return ended
}

// laterStart reports whether a transaction started on s's connector after s.
func laterStart(server map[int64]evbill.Session, s evbill.Session) bool {
	for _, o := range server {
		if o.StationID == s.StationID && o.ConnectorNumber == s.ConnectorNumber && o.StartedAt.After(s.StartedAt) {
			return true
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBenchmarkMode runs a small fleet in benchmark mode against a real
// central system: every session it ends is stored, ended and billed.
func TestBenchmarkMode(t *testing.T) {
	const n = 5
	c := newCentral(t, 1, n, 0.4, sim.DefaultTokens())
	var rec recorder
	sum, err := sim.Run(context.Background(), sim.Config{
		URL: c.url, Chargers: n, Seed: 1, DCShare: 0.4, SamplesPerSession: 3,
		Duration: 3 * time.Second, OnSession: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.SessionsEnded == 0 || sum.CallErrors != 0 || sum.Timeouts != 0 || sum.ConnectFailures != 0 || sum.DuplicateMismatch != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	if got := checkEnded(t, c, rec.recs); int64(got) != sum.SessionsEnded {
		t.Errorf("%d sessions checked, the summary says %d ended", got, sum.SessionsEnded)
	}
	// Start, three samples, Stop: five transaction messages per session.
	if sum.TxMessages < 5*sum.SessionsEnded {
		t.Errorf("%d transaction messages for %d sessions", sum.TxMessages, sum.SessionsEnded)
	}
	t.Logf("%d sessions ended, %.0f tx messages/s, p50 %.1f ms", sum.SessionsEnded, sum.TxPerSecond, sum.Latency.P50Ms)
}

// TestChaos runs a fleet with accelerated timings and chaos: offline
// stretches, retransmissions and reboots lose no session.
func TestChaos(t *testing.T) {
	const n = 6
	c := newCentral(t, 7, n, 0.5, sim.DefaultTokens())
	var rec recorder
	sum, err := sim.Run(context.Background(), sim.Config{
		URL: c.url, Chargers: n, Seed: 7, DCShare: 0.5, Chaos: true,
		MeterInterval: 300 * time.Millisecond, MeterIntervalFixed: true,
		SessionGap: 300 * time.Millisecond, SessionLength: 2 * time.Second, Parking: 500 * time.Millisecond,
		OfflineMin: 200 * time.Millisecond, OfflineMax: 800 * time.Millisecond,
		Duration: 8 * time.Second, OnSession: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sum)
	if sum.SessionsEnded == 0 || sum.CallErrors != 0 || sum.DuplicateMismatch != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	if sum.OfflineStretches+sum.Reboots+sum.Duplicates == 0 {
		t.Errorf("no chaos happened: %+v", sum)
	}
	checkEnded(t, c, rec.recs)
}
