package sqlite

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/evbill/evbill/sqlite/internal/db"
)

// TestSamplesMigration checks that migration 6, which moves readings to a
// table keyed by the session's seq, keeps every reading of a database made
// before it, gives sessions made after it the next seq, and that its Down
// puts the readings back where they were.
func TestSamplesMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "evbill.db")
	// A database at migration 5, with readings of two tenants' sessions.
	// Foreign keys are off: the rows they would need (stations, tenants)
	// do not matter to this migration.
	raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(0)")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	defer raw.Close()
	sub, err := fs.Sub(migrations, "schema")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	type reading struct {
		Tenant, Session string
		Time            int64
		Energy          string
	}
	before := []reading{
		{"ten_a", "ses_1", 10, "1"}, {"ten_a", "ses_1", 20, "2"},
		{"ten_b", "ses_1", 15, "7"}, // another tenant's session with the same id
		{"ten_a", "ses_2", 5, "9"},
	}
	for i, s := range []struct{ tenant, id string }{{"ten_a", "ses_1"}, {"ten_b", "ses_1"}, {"ten_a", "ses_2"}} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO sessions (tenant_id, id, station_id, connector_number,
			transaction_id, id_tag, tariff_version, meter_start_wh, meter_stop_wh, started_at, state, stop_reason,
			flags, created_at, updated_at) VALUES (?, ?, 'sta', 1, ?, 'TAG', 0, '0', '0', ?, 'active', '', '', 1, 1)`,
			s.tenant, s.id, i+1, i+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range before {
		if _, err := raw.ExecContext(ctx, `INSERT INTO meter_samples VALUES (?, ?, ?, ?, '', '', '', 'Sample.Periodic')`,
			r.Tenant, r.Session, r.Time, r.Energy); err != nil {
			t.Fatal(err)
		}
	}
	read := func(query string) []reading {
		t.Helper()
		rows, err := raw.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []reading
		for rows.Next() {
			var r reading
			if err := rows.Scan(&r.Tenant, &r.Session, &r.Time, &r.Energy); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const byTenantSessionTime = ` ORDER BY 1, 2, 3`
	want := read(`SELECT tenant_id, session_id, time, energy_wh FROM meter_samples` + byTenantSessionTime)

	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	got := read(`SELECT s.tenant_id, s.id, m.time, m.energy_wh FROM meter_samples m
		JOIN sessions s ON s.seq = m.session_seq` + byTenantSessionTime)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readings after Up:\n got %v\nwant %v", got, want)
	}
	var seqs, distinct, maxSeq int
	if err := raw.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT seq), max(seq) FROM sessions WHERE seq > 0`).Scan(&seqs, &distinct, &maxSeq); err != nil {
		t.Fatal(err)
	}
	if seqs != 3 || distinct != 3 {
		t.Errorf("after Up, %d sessions have a seq, %d distinct; want 3, 3", seqs, distinct)
	}

	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if got := read(`SELECT tenant_id, session_id, time, energy_wh FROM meter_samples` + byTenantSessionTime); !reflect.DeepEqual(got, want) {
		t.Errorf("readings after Down:\n got %v\nwant %v", got, want)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	// The store migrates the database again and reads the old readings;
	// a new session takes the seq after the last.
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	samples, err := s.Samples(ctx, "ten_a", "ses_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 2 || samples[0].EnergyWh != "1" || samples[1].EnergyWh != "2" || samples[0].SessionID != "ses_1" {
		t.Errorf("Samples(ten_a, ses_1) = %+v", samples)
	}
	if _, err := s.writer.ExecContext(ctx, `PRAGMA foreign_keys = 0`); err != nil {
		t.Fatal(err)
	}
	r, err := s.w.InsertSession(ctx, db.InsertSessionParams{TenantID: "ten_c", ID: "ses_9", StationID: "sta",
		ConnectorNumber: 1, TransactionID: 1, IDTag: "TAG", MeterStartWh: "0", MeterStopWh: "0", StartedAt: 1,
		State: "active", CreatedAt: 1, UpdatedAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != int64(maxSeq)+1 {
		t.Errorf("new session's seq = %d, want %d", r.Seq, maxSeq+1)
	}
}
