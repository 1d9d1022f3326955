package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for TestLedgerStore

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/storetest"
)

// dsn returns the database the tests may use, or skips the test. The
// suite makes its own uniquely named tenants and never truncates, so the
// database can be shared by runs and by other suites.
func dsn(t testing.TB) string {
	t.Helper()
	url := os.Getenv("EVBILL_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("EVBILL_TEST_POSTGRES_URL is not set; skipping PostgreSQL conformance tests")
	}
	return url
}

func open(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStore runs the conformance suite against the database named by EVBILL_TEST_POSTGRES_URL.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) evbill.Store { return open(t) })
}

// TestSessionStore runs the session conformance suite against the
// database named by EVBILL_TEST_POSTGRES_URL.
func TestSessionStore(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunSignedValues(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunSessionMarks(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunWhatIf(t, func(t *testing.T) storetest.WhatIfFullStore { return open(t) })
}

// TestUserStore runs the conformance suite of the dashboard's users, login
// sessions and reads against the database named by
// EVBILL_TEST_POSTGRES_URL.
func TestUserStore(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) storetest.UserFullStore { return open(t) })
}

// TestRollupStore runs the conformance suite of rollups, each test in a
// schema of its own: its payments are any payment worker's to take.
func TestRollupStore(t *testing.T) {
	storetest.RunRollups(t, func(t *testing.T) storetest.RollupFullStore { return storetest.OpenPostgresSchema(t).(*postgres.Store) })
}

// TestSessionFlags runs the conformance suite of session flags against
// the database named by EVBILL_TEST_POSTGRES_URL.
func TestSessionFlags(t *testing.T) {
	storetest.RunFlags(t, func(t *testing.T) storetest.FullStore { return open(t) })
}

// TestMigrations checks that Open leaves the schema current, that Migrate
// is then a no-op, and that Ping fails once a migration is missing from
// the database. It runs in a schema of its own, so that forgetting a
// migration there does not disturb other tests sharing the database.
func TestMigrations(t *testing.T) {
	url, schema := storetest.PostgresSchema(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.MigrationVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v < 1 {
		t.Errorf("MigrationVersion = %d after Open", v)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Errorf("Migrate of a current database: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables < 12 {
		t.Fatalf("%d tables in %s: the store did not migrate its own schema", tables, schema)
	}

	if _, err := conn.Exec(ctx, "DELETE FROM "+pgx.Identifier{schema}.Sanitize()+".goose_db_version WHERE version_id = $1", v); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping succeeded with migration %d not applied", v)
	}
}

// BenchmarkStationRead measures Store.Station; see storetest.
func BenchmarkStationRead(b *testing.B) {
	storetest.BenchmarkStationRead(b, open(b))
}

// BenchmarkAssignmentsForStation measures Store.AssignmentsForStation;
// see storetest.
func BenchmarkAssignmentsForStation(b *testing.B) {
	storetest.BenchmarkAssignmentsForStation(b, open(b))
}

// BenchmarkApplySessionWrites measures group commit on the OCPP path
// (see storetest) by batch size; each commit waits for the server's WAL
// flush (synchronous_commit as the server is configured).
func BenchmarkApplySessionWrites(b *testing.B) {
	for _, n := range []int{1, 16, 64, 256, 1024} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			storetest.BenchmarkApplySessionWrites(b, open(b), n)
		})
	}
}

// TestTransactionIDsRunOut checks that transaction IDs stop at the
// largest an OCPP 1.6 charger holds (2^31 - 1): the start after it is
// refused, and refusing it does not move the counter on.
func TestTransactionIDsRunOut(t *testing.T) {
	url := dsn(t)
	ctx := t.Context()
	s := open(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tn := evbill.Tenant{Name: evbill.NewID("tenant")}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	site := evbill.Site{TenantID: tn.ID, Name: "s"}
	if err := s.CreateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP1"}
	if err := s.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	start := func(i int) (evbill.Session, error) {
		ss := evbill.Session{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 1, MeterStartWh: "0",
			StartedAt: time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)}
		_, err := s.StartSession(ctx, &ss)
		return ss, err
	}
	if _, err := start(0); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE transaction_counters SET next_transaction_id = $1 WHERE tenant_id = $2", math.MaxInt32, tn.ID); err != nil {
		t.Fatal(err)
	}
	last, err := start(1)
	if err != nil {
		t.Fatal(err)
	}
	if last.TransactionID != math.MaxInt32 {
		t.Errorf("TransactionID = %d, want %d", last.TransactionID, math.MaxInt32)
	}
	for i := range 2 {
		_, err := start(2 + i)
		if evbill.ErrorCode(err) != evbill.ECONFLICT || !strings.Contains(err.Error(), "every OCPP transaction ID") {
			t.Errorf("start after the last transaction ID: %v, want ECONFLICT", err)
		}
	}
	var next int64
	if err := conn.QueryRow(ctx, "SELECT next_transaction_id FROM transaction_counters WHERE tenant_id = $1", tn.ID).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next != math.MaxInt32+1 {
		t.Errorf("counter = %d after refused starts, want %d", next, int64(math.MaxInt32)+1)
	}
}

// TestPlanCacheMode: the store plans each statement with the tables'
// actual sizes (see Open), unless the connection string says otherwise.
func TestPlanCacheMode(t *testing.T) {
	url := dsn(t)
	for _, tc := range []struct{ dsn, want string }{
		{url, "force_custom_plan"},
		{storetest.WithSetting(t, url, "plan_cache_mode", "auto"), "auto"},
	} {
		s, err := postgres.Open(t.Context(), tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		got, err := postgres.PlanCacheMode(t.Context(), s)
		s.Close()
		if err != nil || got != tc.want {
			t.Errorf("plan_cache_mode = %q, %v; want %q", got, err, tc.want)
		}
	}
}

// TestLedgerStore runs the ledger conformance suite against the database
// named by EVBILL_TEST_POSTGRES_URL, with a plain connection to it for the
// database's own rules.
func TestLedgerStore(t *testing.T) {
	storetest.RunLedger(t, func(t *testing.T) storetest.LedgerFullStore { return open(t) },
		func(t *testing.T, _ storetest.LedgerFullStore) *sql.DB {
			raw, err := sql.Open("pgx", dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			return raw
		})
}

// BenchmarkTrialBalance measures the trial balance over a ledger of
// EVBILL_BENCH_POSTINGS postings (200,000 unless set; the figure is
// for 10,000,000), loaded by bulk SQL through the schema's triggers.
func BenchmarkTrialBalance(b *testing.B) {
	s := open(b)
	raw, err := sql.Open("pgx", dsn(b))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	storetest.BenchmarkTrialBalance(b, s, storetest.BenchPostings(b), func(tenantID string, entries int) {
		var clearing string
		if err := raw.QueryRow(`SELECT id FROM ledger_accounts WHERE tenant_id = $1 AND code = 'gateway_clearing:sandbox'`, tenantID).Scan(&clearing); err != nil {
			b.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO ledger_accounts (tenant_id, id, code, currency, type, balance, created_at)
			SELECT $1, 'acc_bench_' || lpad(i::text, 5, '0'), 'driver_wallet:bench_' || i, 'EUR', 'liability', 0, now()
			FROM generate_series(1, 10000) i`, tenantID); err != nil {
			b.Fatal(err)
		}
		const chunk = 250_000
		for from := 0; from < entries; from += chunk {
			to := min(from+chunk, entries)
			tx, err := raw.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
				SELECT $1, 'ent_bench_' || lpad(i::text, 10, '0'), 0, $4, 'EUR', 100 FROM generate_series($2::bigint, $3::bigint - 1) i`,
				`INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
				SELECT $1, 'ent_bench_' || lpad(i::text, 10, '0'), 1, 'acc_bench_' || lpad((1 + i % 10000)::text, 5, '0'), 'EUR', -100
				FROM generate_series($2::bigint, $3::bigint - 1) i`,
				`INSERT INTO ledger_entries (tenant_id, id, key, kind, reference, description, created_at)
				SELECT $1, 'ent_bench_' || lpad(i::text, 10, '0'), 'bench:' || i, 'wallet.topped_up', '', '', now()
				FROM generate_series($2::bigint, $3::bigint - 1) i`,
			} {
				args := []any{tenantID, from, to}
				if strings.Contains(q, "$4") {
					args = append(args, clearing)
				}
				if _, err := tx.Exec(q, args...); err != nil {
					b.Fatalf("%v\n%s", err, q)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPaymentStore runs the payment conformance suite against the
// database named by EVBILL_TEST_POSTGRES_URL.
func TestPaymentStore(t *testing.T) {
	storetest.RunPayments(t, func(t *testing.T) storetest.PaymentFullStore { return open(t) })
}

// TestReceiptEmailStore runs the receipt email conformance suite, each
// test in a PostgreSQL schema of its own: claims take every tenant's
// emails.
func TestReceiptEmailStore(t *testing.T) {
	storetest.RunReceiptEmails(t, func(t *testing.T) storetest.ReceiptEmailFullStore {
		return storetest.OpenPostgresSchema(t).(*postgres.Store)
	})
}

// TestWebhookStore runs the webhook conformance suite, each test in a
// PostgreSQL schema of its own: claims take every tenant's deliveries.
func TestWebhookStore(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookFullStore { return storetest.OpenPostgresSchema(t) })
}
