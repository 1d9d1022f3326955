//go:build unix

package postgres_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/storetest"
)

// BenchmarkWhatIf loads a million CDRs (EVBILL_BENCH_WHATIF_SESSIONS to
// change it: sessions, CDRs with a short document, and their what-if
// records) with COPY into a schema of its own, which the OCPP path would
// take hours to make, then measures a what-if over all of them through
// the store (see storetest.WhatIfBench). The CPU it reports is the
// client's: the server's backends run in processes of their own.
func BenchmarkWhatIf(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v := os.Getenv("EVBILL_BENCH_WHATIF_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("EVBILL_BENCH_WHATIF_SESSIONS=%q", v)
		}
	}
	dsn, _ := storetest.PostgresSchema(b)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w, _ := storetest.NewWhatIfBench(b, s, n) // a fresh schema: never loaded
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	began := time.Now()
	const chunk = 50_000
	var sessions, cdrs, records [][]any
	copyAll := func() {
		for _, t := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"sessions", []string{"tenant_id", "id", "station_id", "connector_number", "transaction_id", "id_tag", "tariff_id", "tariff_version",
				"meter_start_wh", "meter_stop_wh", "started_at", "stopped_at", "state", "stop_reason", "flags", "created_at", "updated_at"}, sessions},
			{"cdrs", []string{"tenant_id", "id", "session_id", "currency", "total_excl_vat", "total_incl_vat", "amount_minor", "document",
				"breakdown", "created_at"}, cdrs},
			{"cdr_periods", []string{"tenant_id", "started_at", "session_id", "cdr_id", "site_id", "station_id", "tariff_id", "record"}, records},
		} {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				b.Fatalf("COPY %s: %v", t.table, err)
			}
		}
		sessions, cdrs, records = sessions[:0], cdrs[:0], records[:0]
	}
	ten, site, trf := w.Tenant.ID, w.Site.ID, w.Tariff.TariffID
	doc := []byte("{}")
	w.WhatIfBenchCDRs(b, n, func(c *storetest.WhatIfBenchCDR) error {
		tag := "TAG" + strconv.FormatInt(c.TransactionID, 10)
		sessions = append(sessions, []any{ten, c.SessionID, c.StationID, int32(1), c.TransactionID, tag, trf, int32(1),
			"0", "1", c.StartedAt, c.StoppedAt, "ended", "Local", "", c.StoppedAt, c.StoppedAt})
		cdrs = append(cdrs, []any{ten, c.CDRID, c.SessionID, "EUR", "0", "0", c.Amount, doc, doc, c.StoppedAt})
		records = append(records, []any{ten, c.StartedAt, c.SessionID, c.CDRID, site, c.StationID, trf, append([]byte(nil), c.Record...)})
		if len(sessions) == chunk {
			copyAll()
		}
		return nil
	})
	copyAll()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE cdr_periods"); err != nil {
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
