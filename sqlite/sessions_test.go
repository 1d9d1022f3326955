package sqlite

import (
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
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+openSessionsSQL(t), "ten_x", "sta_x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "sessions_open_idx") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("OpenSessions plan = %q, want a read of sessions_open_idx in order", p)
	}
}

// openSessionsSQL returns the OpenSessions query as sqlc was given it.
func openSessionsSQL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("queries", "sessions.sql"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "-- name: OpenSessions :many\n"
	src := string(b)
	i := strings.Index(src, name)
	if i < 0 {
		t.Fatal("no OpenSessions query in queries/sessions.sql")
	}
	q, _, _ := strings.Cut(src[i+len(name):], ";")
	return q
}
