package dashboard_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// benchSessions is the tenant's history in ended sessions with CDRs:
// EVBILL_BENCH_SESSIONS, 100,000 unless set. 2 % of them are today's,
// the rest spread over the past year; 20 more are running, with a
// reading a minute for an hour.
func benchSessions(b *testing.B) int {
	if v := os.Getenv("EVBILL_BENCH_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("EVBILL_BENCH_SESSIONS=%q: want a number of at least 100", v)
		}
		return n
	}
	return 100_000
}

const benchRunning = 20

// BenchmarkDashboardOverview measures the server's time for the overview
// (GET / with a login: the login's lookup, today's revenue and energy,
// the count and list of running sessions with their figures from the
// engine), over a tenant of 40 stations with benchSessions sessions.
func BenchmarkDashboardOverview(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "evbill.db")
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		benchOverview(b, st, func(tenantID string, today int) {
			// The CDRs but today's most recent go back up to a year.
			if _, err := raw.Exec(`UPDATE cdrs SET created_at = created_at - 86400000000 * (1 + abs(random()) % 365)
				WHERE tenant_id = ? AND id NOT IN (SELECT id FROM cdrs WHERE tenant_id = ? ORDER BY id DESC LIMIT ?)`, tenantID, tenantID, today); err != nil {
				b.Fatal(err)
			}
			if _, err := raw.Exec(`ANALYZE`); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("postgres", func(b *testing.B) {
		dsn, _ := storetest.PostgresSchema(b)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(context.Background())
		benchOverview(b, st, func(tenantID string, today int) {
			ctx := context.Background()
			if _, err := conn.Exec(ctx, `UPDATE cdrs SET created_at = created_at - interval '1 day' * (1 + floor(random() * 365))
				WHERE tenant_id = $1 AND id NOT IN (SELECT id FROM cdrs WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2)`, tenantID, today); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func benchOverview(b *testing.B, st dashboard.Stores, backdate func(tenantID string, today int)) {
	ctx := context.Background()
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	n := benchSessions(b)
	tn := evbill.Tenant{Name: "bench"}
	must(st.CreateTenant(ctx, &tn))
	site := evbill.Site{TenantID: tn.ID, Name: "Depot", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tv := evbill.TariffVersion{TenantID: tn.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tv))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: tn.ID, TariffID: tv.TariffID, SiteID: site.ID}))
	var stations []evbill.Station
	for i := range 40 {
		s := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: fmt.Sprintf("CP-%03d", i)}
		must(st.CreateStation(ctx, &s))
		for c := 1; c <= 2; c++ {
			must(st.CreateConnector(ctx, &evbill.Connector{TenantID: tn.ID, StationID: s.ID, ConnectorNumber: c, PowerType: "AC_3_PHASE", MaxPowerKW: "22"}))
		}
		stations = append(stations, s)
	}
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	session := func(i int) *evbill.Session {
		return &evbill.Session{TenantID: tn.ID, StationID: stations[i%len(stations)].ID, ConnectorNumber: 1 + i/len(stations)%2,
			IDTag: "TAG" + strconv.Itoa(i), TariffID: tv.TariffID, TariffVersion: tv.Version, MeterStartWh: "0",
			StartedAt: start.Add(-time.Duration(i) * time.Second)}
	}
	const batch = 1000
	b.Logf("loading %d ended sessions and %d running", n, benchRunning)
	loaded := time.Now()
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		starts := make([]evbill.SessionWrite, 0, to-from)
		for i := from; i < to; i++ {
			starts = append(starts, evbill.SessionWrite{Start: session(i)})
		}
		must(st.ApplySessionWrites(ctx, starts))
		ends := make([]evbill.SessionWrite, 0, len(starts))
		for _, w := range starts {
			must(w.Err)
			s := *w.Start
			stop := s.StartedAt.Add(time.Hour)
			s.StoppedAt, s.MeterStopWh, s.StopReason = &stop, "12345.5", "Local"
			ends = append(ends, evbill.SessionWrite{End: &evbill.EndWrite{Session: &s, CDR: &evbill.CDR{Currency: "EUR",
				TotalExclVAT: "5.0000", TotalInclVAT: "6.0500", AmountMinor: 605, Document: []byte(`{}`), Breakdown: []byte(`[]`)}}})
		}
		must(st.ApplySessionWrites(ctx, ends))
		for _, w := range ends {
			must(w.Err)
		}
	}
	today := n / 50
	backdate(tn.ID, today)
	for i := range benchRunning {
		s := session(n + i)
		s.StartedAt = time.Now().Add(-time.Hour).Truncate(time.Second)
		s.ConnectorNumber = 2
		s.StationID = stations[i].ID
		w := []evbill.SessionWrite{{Start: s}}
		must(st.ApplySessionWrites(ctx, w))
		must(w[0].Err)
		samples := make([]evbill.MeterSample, 60)
		for m := range samples {
			samples[m] = evbill.MeterSample{Time: s.StartedAt.Add(time.Duration(m+1) * time.Minute), EnergyWh: strconv.Itoa(183 * (m + 1)),
				PowerW: "11000", Context: "Sample.Periodic"}
		}
		must(st.AddSamples(ctx, tn.ID, s.ID, samples))
	}
	b.Logf("loaded in %v", time.Since(loaded).Round(time.Second))

	log := slog.New(slog.DiscardHandler)
	resolver := pricing.NewResolver(st)
	svc := charging.NewService(charging.Config{Store: st, Resolver: resolver, Logger: log})
	defer svc.Close()
	h, err := dashboard.New(dashboard.Config{Store: st, Charging: svc, Resolver: resolver, Logger: log})
	must(err)
	u := evbill.User{TenantID: tn.ID, Email: "bench@example.com", Role: evbill.RoleReadonly}
	must(st.CreateUser(ctx, &u, []byte("not a hash: this user never logs in with a password")))
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	must(st.CreateUserSession(ctx, &evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}, sum[:]))

	get := func(htmx bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: "evbill_session", Value: token})
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get(false)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`data-figure="active">%d</p>`, benchRunning)) ||
		!strings.Contains(body, fmt.Sprintf(`data-figure="billed">%d</span>`, today)) {
		b.Fatalf("the overview: %d\n%s", rec.Code, body)
	}
	for _, htmx := range []bool{false, true} {
		name := "page"
		if htmx {
			name = "figures"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := get(htmx); rec.Code != http.StatusOK {
					b.Fatalf("the overview: %d", rec.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/overview")
		})
	}
}

// BenchmarkVerifyPassword measures a login's password check: argon2id
// with the dashboard's parameters, the cost a guesser pays per guess.
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := dashboard.HashPassword(userPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !dashboard.VerifyPassword(h, userPassword) {
			b.Fatal("the password does not verify")
		}
	}
}
