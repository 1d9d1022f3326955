package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// open returns a store over a fresh file, so each test starts empty.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "evbill.db"))
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

// TestStore runs the conformance suite against a fresh SQLite file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) evbill.Store { return open(t) })
}

// TestSessionStore runs the session conformance suite against a fresh
// SQLite file per test.
func TestSessionStore(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunSignedValues(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunSessionMarks(t, func(t *testing.T) storetest.FullStore { return open(t) })
	storetest.RunWhatIf(t, func(t *testing.T) storetest.WhatIfFullStore { return open(t) })
}

// TestUserStore runs the conformance suite of the dashboard's users, login
// sessions and reads against a fresh SQLite file per test.
func TestUserStore(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) storetest.UserFullStore { return open(t) })
}

// TestRollupStore runs the conformance suite of rollups against a fresh
// SQLite file per test.
func TestRollupStore(t *testing.T) {
	storetest.RunRollups(t, func(t *testing.T) storetest.RollupFullStore { return open(t) })
}

// TestSessionFlags runs the conformance suite of session flags against
// a fresh SQLite file per test.
func TestSessionFlags(t *testing.T) {
	storetest.RunFlags(t, func(t *testing.T) storetest.FullStore { return open(t) })
}

// TestMigrations checks that Open leaves the schema current, that Migrate
// and reopening are no-ops, and that Ping fails once a migration is
// missing from the database.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "evbill.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
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
	tn := evbill.Tenant{Name: "kept"}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v2, err := s.MigrationVersion(ctx); err != nil || v2 != v {
		t.Errorf("MigrationVersion after reopening = %d, %v; want %d", v2, err, v)
	}
	if _, err := s.TenantByName(ctx, "kept"); err != nil {
		t.Errorf("TenantByName after reopening: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	// Forget the latest migration behind the store's back, as a rollback
	// by an older binary would.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = ?", v); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping succeeded with migration %d not applied", v)
	}
	if err := s.Migrate(ctx); err == nil {
		// Re-running the migration fails (its tables exist), which is the
		// point: goose does not skip it, so Ping was right.
		t.Logf("Migrate re-applied migration %d", v)
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
// (see storetest) by batch size, under the store's synchronous=FULL: the
// WAL is fsynced at every commit.
func BenchmarkApplySessionWrites(b *testing.B) {
	for _, n := range []int{1, 16, 64, 256, 1024} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			storetest.BenchmarkApplySessionWrites(b, open(b), n)
		})
	}
}

// TestOpenRejectsNonFiles checks that Open refuses names that would not
// give the writer and the readers one shared file.
func TestOpenRejectsNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory", filepath.Join(t.TempDir(), "x.db?_pragma=foreign_keys(0)")} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestLedgerStore runs the ledger conformance suite against a fresh SQLite
// file per test, with a plain connection to the same file for the
// database's own rules.
func TestLedgerStore(t *testing.T) {
	var mu sync.Mutex
	paths := map[storetest.LedgerFullStore]string{}
	storetest.RunLedger(t, func(t *testing.T) storetest.LedgerFullStore {
		path := filepath.Join(t.TempDir(), "evbill.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		mu.Lock()
		paths[s] = path
		mu.Unlock()
		return s
	}, func(t *testing.T, s storetest.LedgerFullStore) *sql.DB {
		mu.Lock()
		path := paths[s]
		mu.Unlock()
		raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
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
	path := filepath.Join(b.TempDir(), "evbill.db")
	s, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	storetest.BenchmarkTrialBalance(b, s, storetest.BenchPostings(b), func(tenantID string, entries int) {
		exec := func(q string, args ...any) {
			if _, err := raw.Exec(q, args...); err != nil {
				b.Fatalf("%v\n%s", err, q)
			}
		}
		var clearing string
		if err := raw.QueryRow(`SELECT id FROM ledger_accounts WHERE tenant_id = ? AND code = 'gateway_clearing:sandbox'`, tenantID).Scan(&clearing); err != nil {
			b.Fatal(err)
		}
		exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
			INSERT INTO ledger_accounts (tenant_id, id, code, currency, type, balance, created_at)
			SELECT ?1, printf('acc_bench_%05d', i), 'driver_wallet:bench_' || i, 'EUR', 'liability', 0, 0 FROM n`, tenantID)
		const chunk = 250_000
		for from := 0; from < entries; from += chunk {
			to := min(from+chunk, entries)
			tx, err := raw.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range []string{
				`WITH RECURSIVE n(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1)
				INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
				SELECT ?1, printf('ent_bench_%010d', i), 0, ?4, 'EUR', 100 FROM n`,
				`WITH RECURSIVE n(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1)
				INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
				SELECT ?1, printf('ent_bench_%010d', i), 1, printf('acc_bench_%05d', 1 + i % 10000), 'EUR', -100 FROM n`,
				`WITH RECURSIVE n(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1)
				INSERT INTO ledger_entries (tenant_id, id, key, kind, reference, description, created_at)
				SELECT ?1, printf('ent_bench_%010d', i), 'bench:' || i, 'wallet.topped_up', '', '', 0 FROM n`,
			} {
				if _, err := tx.Exec(q, tenantID, from, to, clearing); err != nil {
					b.Fatalf("%v\n%s", err, q)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPaymentStore runs the payment conformance suite against a fresh
// SQLite file per test.
func TestPaymentStore(t *testing.T) {
	storetest.RunPayments(t, func(t *testing.T) storetest.PaymentFullStore { return open(t) })
}

// TestReceiptEmailStore runs the receipt email conformance suite against
// a fresh SQLite file per test.
func TestReceiptEmailStore(t *testing.T) {
	storetest.RunReceiptEmails(t, func(t *testing.T) storetest.ReceiptEmailFullStore { return open(t) })
}

// TestWebhookStore runs the webhook conformance suite against a fresh
// SQLite file per test.
func TestWebhookStore(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookFullStore { return open(t) })
}
