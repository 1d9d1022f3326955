package sqlite

import (
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// TestTransactionIDsRunOut checks that transaction IDs stop at the
// largest an OCPP 1.6 charger holds (2^31 - 1): the start after it is
// refused, and refusing it does not move the counter on.
func TestTransactionIDsRunOut(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := evbill.Tenant{Name: "t"}
	site := evbill.Site{Name: "s"}
	st := evbill.Station{ChargePointID: "CP1"}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	site.TenantID = tn.ID
	if err := s.CreateSite(ctx, &site); err != nil {
		t.Fatal(err)
	}
	st.TenantID, st.SiteID = tn.ID, site.ID
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
	if _, err := s.writer.ExecContext(ctx, "UPDATE transaction_counters SET next_transaction_id = ? WHERE tenant_id = ?", math.MaxInt32, tn.ID); err != nil {
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
	if err := s.writer.QueryRowContext(ctx, "SELECT next_transaction_id FROM transaction_counters WHERE tenant_id = ?", tn.ID).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next != math.MaxInt32+1 {
		t.Errorf("counter = %d after refused starts, want %d", next, int64(math.MaxInt32)+1)
	}
}

// TestOpenSessionsUsesPartialIndex checks that OpenSessions reads the
// partial index of open sessions rather than every session of the
// tenant: SQLite uses a partial index only when the query's condition
// matches the index's, which an edit of either could silently break.
func TestOpenSessionsUsesPartialIndex(t *testing.T) {
	p := plan(t, querySQL(t, "OpenSessions"), "ten_x", "sta_x")
	if !strings.Contains(p, "sessions_open_idx") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("OpenSessions plan = %q, want a read of sessions_open_idx in order", p)
	}
}

// TestStaleOpenSessionsUsesPartialIndex: the sweep's query reads the
// partial index of open sessions by last change, not the whole table.
func TestStaleOpenSessionsUsesPartialIndex(t *testing.T) {
	p := plan(t, querySQL(t, "StaleOpenSessions"), sql.Named("before", 1), sql.Named("flag", "ended_by_reboot"), sql.Named("lim", 10))
	if !strings.Contains(p, "sessions_open_updated_at") {
		t.Errorf("StaleOpenSessions plan = %q, want a read of sessions_open_updated_at", p)
	}
}

// plan returns SQLite's query plan for the query, its steps joined by "; ".
func plan(t *testing.T, query string, args ...any) string {
	t.Helper()
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}

// querySQL returns a query of queries/sessions.sql as sqlc was given it.
func querySQL(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("queries", "sessions.sql"))
	if err != nil {
		t.Fatal(err)
	}
	header := "-- name: " + name + " :many\n"
	src := string(b)
	i := strings.Index(src, header)
	if i < 0 {
		t.Fatalf("no %s query in queries/sessions.sql", name)
	}
	q, _, _ := strings.Cut(src[i+len(header):], ";")
	return q
}
