//go:build unix

package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// benchWhatIfSessions is the number of CDRs BenchmarkWhatIf loads:
// EVBILL_BENCH_WHATIF_SESSIONS, a million by default.
func benchWhatIfSessions(b *testing.B) int {
	if v := os.Getenv("EVBILL_BENCH_WHATIF_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("EVBILL_BENCH_WHATIF_SESSIONS=%q", v)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkWhatIf loads a million CDRs (sessions, CDRs with a short
// document, and their what-if records) in one transaction of plain
// INSERTs over a connection of its own, which the OCPP path would take
// hours to make, then measures a what-if over all of them through the
// store (see storetest.WhatIfBench). With EVBILL_BENCH_WHATIF_DIR the
// database is kept in that directory and used again by the next run.
func BenchmarkWhatIf(b *testing.B) {
	ctx := context.Background()
	n := benchWhatIfSessions(b)
	dir := os.Getenv("EVBILL_BENCH_WHATIF_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "evbill-whatif-"+strconv.Itoa(n)+".db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w, loaded := storetest.NewWhatIfBench(b, s, n)
	if loaded {
		b.Logf("%d CDRs loaded by an earlier run in %s", n, path)
		w.BenchmarkWhatIf(b, s, n, processCPU)
		return
	}
	began := time.Now()
	load, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer load.Close()
	load.SetMaxOpenConns(1)
	tx, err := load.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	insSession, err := tx.PrepareContext(ctx, `INSERT INTO sessions (tenant_id, id, station_id, connector_number, transaction_id, id_tag,
		tariff_id, tariff_version, meter_start_wh, meter_stop_wh, started_at, stopped_at, state, stop_reason, flags, created_at, updated_at, seq)
		VALUES (?1, ?2, ?3, 1, ?4, 'TAG' || ?4, ?5, 1, '0', '1', ?6, ?7, 'ended', 'Local', '', ?7, ?7, ?4)`)
	if err != nil {
		b.Fatal(err)
	}
	insCDR, err := tx.PrepareContext(ctx, `INSERT INTO cdrs (tenant_id, id, session_id, currency, total_excl_vat, total_incl_vat,
		amount_minor, document, breakdown, created_at) VALUES (?1, ?2, ?3, 'EUR', '0', '0', ?4, '{}', '{}', ?5)`)
	if err != nil {
		b.Fatal(err)
	}
	insPeriods, err := tx.PrepareContext(ctx, `INSERT INTO cdr_periods (tenant_id, started_at, session_id, cdr_id, site_id, station_id,
		tariff_id, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`)
	if err != nil {
		b.Fatal(err)
	}
	ten, site, trf := w.Tenant.ID, w.Site.ID, w.Tariff.TariffID
	w.WhatIfBenchCDRs(b, n, func(c *storetest.WhatIfBenchCDR) error {
		start, stop := c.StartedAt.UnixMicro(), c.StoppedAt.UnixMicro()
		if _, err := insSession.ExecContext(ctx, ten, c.SessionID, c.StationID, c.TransactionID, trf, start, stop); err != nil {
			return err
		}
		if _, err := insCDR.ExecContext(ctx, ten, c.CDRID, c.SessionID, c.Amount, stop); err != nil {
			return err
		}
		_, err := insPeriods.ExecContext(ctx, ten, start, c.SessionID, c.CDRID, site, c.StationID, trf, c.Record)
		return err
	})
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := load.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d CDRs in %v", n, time.Since(began).Round(time.Millisecond))
	w.BenchmarkWhatIf(b, s, n, processCPU)
}

// processCPU returns the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
