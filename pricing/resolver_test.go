package pricing_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/tariff"
)

type fixture struct {
	store   evbill.Store
	tenant  evbill.Tenant
	site    evbill.Site
	station evbill.Station
	conn    evbill.Connector
	tariff  evbill.TariffVersion
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.tenant = evbill.Tenant{Name: "acme"}
	must(s.CreateTenant(ctx, &f.tenant))
	f.site = evbill.Site{TenantID: f.tenant.ID, Name: "Centraal", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(s.CreateSite(ctx, &f.site))
	f.station = evbill.Station{TenantID: f.tenant.ID, SiteID: f.site.ID, ChargePointID: "CP-1"}
	must(s.CreateStation(ctx, &f.station))
	f.conn = evbill.Connector{TenantID: f.tenant.ID, StationID: f.station.ID, ConnectorNumber: 1, Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}
	must(s.CreateConnector(ctx, &f.conn))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	f.tariff = evbill.TariffVersion{TenantID: f.tenant.ID, Currency: "EUR", Document: doc}
	must(s.CreateTariff(ctx, &f.tariff))
	a := evbill.TariffAssignment{TenantID: f.tenant.ID, TariffID: f.tariff.TariffID, SiteID: f.site.ID}
	must(s.CreateAssignment(ctx, &a))
	return f
}

// TestResolverSeesChanges: after Invalidate, a new assignment or a new
// tariff version is what resolves.
func TestResolverSeesChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := pricing.NewResolver(f.store)
	target := pricing.Target{TenantID: f.tenant.ID, StationID: f.station.ID, ConnectorID: f.conn.ID}
	got, err := r.Resolve(ctx, target, time.Now())
	if err != nil || got.Version.TariffID != f.tariff.TariffID || got.Location.String() != "Europe/Amsterdam" {
		t.Fatalf("resolve: %+v, %v", got.Version, err)
	}
	// A connector-level tariff, then invalidation.
	other := evbill.TariffVersion{TenantID: f.tenant.ID, Currency: "EUR", Document: []byte(`{"country_code":"NL","party_id":"EVB","id":"FAST","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.59,"step_size":1}]}]}`)}
	if err := f.store.CreateTariff(ctx, &other); err != nil {
		t.Fatal(err)
	}
	a := evbill.TariffAssignment{TenantID: f.tenant.ID, TariffID: other.TariffID, ConnectorID: f.conn.ID}
	if err := f.store.CreateAssignment(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Resolve(ctx, target, time.Now()); got.Version.TariffID != f.tariff.TariffID {
		t.Fatalf("the cache should still answer before Invalidate")
	}
	r.Invalidate(f.tenant.ID)
	if got, err := r.Resolve(ctx, target, time.Now()); err != nil || got.Version.TariffID != other.TariffID {
		t.Fatalf("after Invalidate: %+v, %v; want %s", got.Version, err, other.TariffID)
	}
	// A new version of it.
	v2 := evbill.TariffVersion{TenantID: f.tenant.ID, TariffID: other.TariffID, Currency: "EUR", Document: []byte(`{"country_code":"NL","party_id":"EVB","id":"FAST","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.65,"step_size":1}]}]}`)}
	if err := f.store.AddTariffVersion(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	r.Invalidate(f.tenant.ID)
	if got, _ := r.Resolve(ctx, target, time.Now().Add(time.Second)); got.Version.Version != 2 {
		t.Fatalf("after a new version: version %d, want 2", got.Version.Version)
	}
	// A version stored through another instance (no Invalidate here) is
	// seen once the cached entry has expired.
	v3 := evbill.TariffVersion{TenantID: f.tenant.ID, TariffID: other.TariffID, Currency: "EUR", Document: []byte(`{"country_code":"NL","party_id":"EVB","id":"FAST","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.61,"step_size":1}]}]}`)}
	if err := f.store.AddTariffVersion(ctx, &v3); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if got, _ := r.Resolve(ctx, target, later); got.Version.Version != 2 {
		t.Fatalf("the cache should still answer version 2, got %d", got.Version.Version)
	}
	pricing.SetClock(r, func() time.Time { return time.Now().Add(time.Minute) })
	if got, _ := r.Resolve(ctx, target, later); got.Version.Version != 3 {
		t.Fatalf("after the cache TTL: version %d, want 3", got.Version.Version)
	}
	// Another tenant cannot resolve this station.
	other2 := evbill.Tenant{Name: "other"}
	if err := f.store.CreateTenant(ctx, &other2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, pricing.Target{TenantID: other2.ID, StationID: f.station.ID}, time.Now()); evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("another tenant resolved the station: %v", err)
	}
}

func TestQuoteMatchesTheEngine(t *testing.T) {
	f := newFixture(t)
	r := pricing.NewResolver(f.store)
	// A Friday 18:15 in Amsterdam after the tariff was stored: a quote for
	// a time before any version existed has no tariff.
	start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
	q, err := r.Quote(context.Background(), pricing.QuoteRequest{
		Target: pricing.Target{TenantID: f.tenant.ID, StationID: f.station.ID},
		Start:  start, EnergyKWh: decimal.MustParse("16.05"), Charging: 90 * time.Minute, Parking: 45 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same plan priced directly: 8.025 kWh before 19:00 local and 8.025 after.
	tf, err := tariff.Parse(f.tariff.Document)
	if err != nil {
		t.Fatal(err)
	}
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	s := &tariff.Session{Start: start, End: start.Add(135 * time.Minute), Location: ams, Periods: []tariff.Period{
		{Start: start, Energy: decimal.MustParse("8.025"), Time: decimal.MustNew(2700, 0), Has: tariff.HasEnergy | tariff.HasTime},
		{Start: start.Add(45 * time.Minute), Energy: decimal.MustParse("8.025"), Time: decimal.MustNew(2700, 0), Has: tariff.HasEnergy | tariff.HasTime},
		{Start: start.Add(90 * time.Minute), ParkingTime: decimal.MustNew(900, 0), Has: tariff.HasEnergy | tariff.HasParkingTime},
		{Start: start.Add(105 * time.Minute), ParkingTime: decimal.MustNew(1800, 0), Has: tariff.HasEnergy | tariff.HasParkingTime},
	}}
	want, err := tf.Price(s)
	if err != nil {
		t.Fatal(err)
	}
	if q.Result.Charge != want.Charge {
		t.Errorf("quote charges %s, the engine %s", q.Result.Charge, want.Charge)
	}
}

// BenchmarkResolve measures a cached tariff lookup for a station.
func BenchmarkResolve(b *testing.B) {
	f := newFixture(b)
	r := pricing.NewResolver(f.store)
	ctx := context.Background()
	target := pricing.Target{TenantID: f.tenant.ID, StationID: f.station.ID, ConnectorID: f.conn.ID}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Resolve(ctx, target, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// TestSharedVersionsStayInTheirTenant: the parsed tariff versions shared
// between stations are keyed by tenant and tariff, so two operators whose
// OCPI tariffs share an id each get their own prices, in Resolve and in
// Version, whichever is asked first.
func TestSharedVersionsStayInTheirTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	other := evbill.Tenant{Name: "other"}
	must(f.store.CreateTenant(ctx, &other))
	site := evbill.Site{TenantID: other.ID, Name: "Depot", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(f.store.CreateSite(ctx, &site))
	station := evbill.Station{TenantID: other.ID, SiteID: site.ID, ChargePointID: "CP-1"}
	must(f.store.CreateStation(ctx, &station))
	doc := []byte(`{"country_code":"NL","party_id":"OTH","id":"AMS-TOU-1","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.99,"step_size":1}]}],"last_updated":"2025-01-01T00:00:00Z"}`)
	tv := evbill.TariffVersion{TenantID: other.ID, Currency: "EUR", Document: doc}
	must(f.store.CreateTariff(ctx, &tv))
	must(f.store.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: other.ID, TariffID: tv.TariffID, SiteID: site.ID}))
	r := pricing.NewResolver(f.store)
	at := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		tenant, station string
		party           string
	}{{f.tenant.ID, f.station.ID, "EVB"}, {other.ID, station.ID, "OTH"}, {f.tenant.ID, f.station.ID, "EVB"}} {
		res, err := r.Resolve(ctx, pricing.Target{TenantID: tc.tenant, StationID: tc.station}, at)
		if err != nil {
			t.Fatal(err)
		}
		_, parsed, err := r.Version(ctx, tc.tenant, res.Version.TariffID, res.Version.Version)
		if err != nil {
			t.Fatal(err)
		}
		if res.Tariff.PartyID != tc.party || parsed.PartyID != tc.party {
			t.Errorf("tenant %s got the tariff of party %s / %s, want %s", tc.tenant, res.Tariff.PartyID, parsed.PartyID, tc.party)
		}
	}
}
