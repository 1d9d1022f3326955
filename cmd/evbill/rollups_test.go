package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// rollupStore is what the rebuild test needs of a store.
type rollupStore interface {
	evbill.Store
	evbill.SessionStore
	evbill.RollupStore
	Close() error
}

// TestRollupsRebuild: "evbill rollups rebuild" puts back the rollups of
// the tenant's sessions after they were spoilt, for one tenant by name or
// ID, or for all, on SQLite and, when EVBILL_TEST_POSTGRES_URL is set,
// on PostgreSQL.
func TestRollupsRebuild(t *testing.T) {
	type engine struct {
		name string
		open func(t *testing.T) (store rollupStore, getenv func(string) string, data string)
	}
	engines := []engine{{"sqlite", func(t *testing.T) (rollupStore, func(string) string, string) {
		dir := t.TempDir()
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, "evbill.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s, func(string) string { return "" }, dir
	}}}
	engines = append(engines, engine{"postgres", func(t *testing.T) (rollupStore, func(string) string, string) {
		dsn, _ := storetest.PostgresSchema(t) // skips without PostgreSQL
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return s, func(k string) string {
			if k == "EVBILL_DATABASE_URL" {
				return dsn
			}
			return ""
		}, t.TempDir()
	}})
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			s, getenv, data := e.open(t)
			tn := evbill.Tenant{Name: "rebuilt"}
			if err := s.CreateTenant(ctx, &tn); err != nil {
				t.Fatal(err)
			}
			site := evbill.Site{TenantID: tn.ID, Name: "S", Country: "NL", TimeZone: "Europe/Amsterdam"}
			if err := s.CreateSite(ctx, &site); err != nil {
				t.Fatal(err)
			}
			st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP1"}
			if err := s.CreateStation(ctx, &st); err != nil {
				t.Fatal(err)
			}
			ss := evbill.Session{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "T", MeterStartWh: "0",
				StartedAt: time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)}
			if _, err := s.StartSession(ctx, &ss); err != nil {
				t.Fatal(err)
			}
			stop := ss.StartedAt.Add(2 * time.Hour)
			ss.StoppedAt, ss.MeterStopWh = &stop, "12345.678"
			if err := s.EndSession(ctx, &ss, &evbill.CDR{Currency: "EUR", TotalExclVAT: "3.3333", TotalInclVAT: "4.0333", AmountMinor: 403}, nil); err != nil {
				t.Fatal(err)
			}
			want, err := s.Rollups(ctx, tn.ID)
			if err != nil || len(want) == 0 {
				t.Fatalf("rollups %v (%v)", want, err)
			}
			spoilt := want[0]
			spoilt.Sessions, spoilt.RevenueExclVAT = 41, 9999
			if err := s.AddRollups(ctx, []evbill.RollupRow{spoilt}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// reopen opens the database as the command left it.
			reopen := func() rollupStore {
				t.Helper()
				var x rollupStore
				var err error
				if e.name == "sqlite" {
					x, err = sqlite.Open(ctx, filepath.Join(data, "evbill.db"))
				} else {
					x, err = postgres.Open(ctx, getenv("EVBILL_DATABASE_URL"))
				}
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
			for _, args := range [][]string{{"--tenant", "rebuilt"}, {"--tenant", tn.ID}, {}} {
				var out, errb bytes.Buffer
				argv := append([]string{"evbill", "rollups", "rebuild", "--data", data}, args...)
				if err := run(ctx, argv, getenv, strings.NewReader(""), &out, &errb); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, errb.String())
				}
				if !strings.Contains(out.String(), "tenant "+tn.ID+": 1 sessions, 0 refunds") {
					t.Errorf("%v: output %q", args, out.String())
				}
				x := reopen()
				got, err := x.Rollups(ctx, tn.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%v: rebuilt %+v, want %+v", args, got, want)
				}
				if err := x.AddRollups(ctx, []evbill.RollupRow{spoilt}); err != nil { // spoilt again for the next run
					t.Fatal(err)
				}
				x.Close()
			}
			var out, errb bytes.Buffer
			err = run(ctx, []string{"evbill", "rollups", "rebuild", "--data", data, "--tenant", "nobody"}, getenv, strings.NewReader(""), &out, &errb)
			if exitStatus(err) != 2 {
				t.Errorf("an unknown tenant: %v (exit %d)", err, exitStatus(err))
			}
		})
	}
}

// TestRollupsUsage: anything but "rollups rebuild" is a usage error.
func TestRollupsUsage(t *testing.T) {
	for _, args := range [][]string{{"rollups"}, {"rollups", "drop"}, {"rollups", "rebuild", "--bogus"}, {"rollups", "rebuild", "extra"}} {
		_, _, err := runCLI(t, "", append(args, "--data", t.TempDir())...)
		if exitStatus(err) != 2 {
			t.Errorf("%v: %v (exit %d)", args, err, exitStatus(err))
		}
	}
}
