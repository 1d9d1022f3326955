package sqlite

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestAdHocMigration checks that migration 9 adds payments.id_tag to a
// database with payments in it, NULL for them, unique per tenant where
// set, and that its Down takes it away again and keeps the payments.
func TestAdHocMigration(t *testing.T) {
	ctx := t.Context()
	// Foreign keys are off: the rows they would need do not matter here.
	raw, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "evbill.db")+"?_pragma=foreign_keys(0)")
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
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	insert := func(id, idTag string) error {
		if idTag == "" {
			_, err := raw.ExecContext(ctx, `INSERT INTO payments (tenant_id, id, purpose, gateway, payment_method, customer, reference,
				currency, hold_amount, capture_amount, capture_net, captured, refunded, state, failure_code, attempts,
				next_attempt_at, created_at, updated_at) VALUES ('ten_a', ?, 'session', 'sandbox', '', '', '', 'EUR', 100, 0, 0, 0, 0,
				'held', '', 0, 1, 1, 1)`, id)
			return err
		}
		_, err := raw.ExecContext(ctx, `INSERT INTO payments (tenant_id, id, purpose, gateway, payment_method, customer, reference,
			currency, hold_amount, capture_amount, capture_net, captured, refunded, state, failure_code, attempts,
			next_attempt_at, created_at, updated_at, id_tag) VALUES ('ten_a', ?, 'session', 'sandbox', '', '', '', 'EUR', 100, 0, 0, 0, 0,
			'held', '', 0, 1, 1, 1, ?)`, id, idTag)
		return err
	}
	if err := insert("pay_old", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	var tag sql.NullString
	if err := raw.QueryRowContext(ctx, `SELECT id_tag FROM payments WHERE id = 'pay_old'`).Scan(&tag); err != nil || tag.Valid {
		t.Fatalf("the payment made before migration 9: id_tag %v, %v; want NULL", tag, err)
	}
	if err := insert("pay_1", "ADHOC1"); err != nil {
		t.Fatal(err)
	}
	if err := insert("pay_2", "ADHOC1"); err == nil {
		t.Error("a second payment of one id_tag was stored")
	}
	if err := insert("pay_3", ""); err != nil {
		t.Errorf("a second payment without id_tag: %v", err)
	}
	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `SELECT id_tag FROM payments`); err == nil {
		t.Error("payments.id_tag survived the Down")
	}
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM payments`).Scan(&n); err != nil || n != 3 {
		t.Errorf("payments after the Down: %d, %v; want 3", n, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
