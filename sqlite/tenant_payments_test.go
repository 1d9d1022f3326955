package sqlite

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/evbill/evbill"
)

// TestTenantPaymentsMigration checks migration 10 on a database that has
// tenants: they get the server's defaults (zeros), the column CHECKs that
// SQLite allows in ADD COLUMN refuse what TenantPayments.Check refuses
// even from a write that goes around the store, and Down removes the
// columns and keeps the tenants.
func TestTenantPaymentsMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "evbill.db")
	raw, err := sql.Open("sqlite", path)
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
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ('ten_old', 'old', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var hold, minimum, limit int64
	if err := raw.QueryRowContext(ctx, `SELECT card_hold, wallet_minimum, account_limit FROM tenants WHERE id = 'ten_old'`).
		Scan(&hold, &minimum, &limit); err != nil {
		t.Fatal(err)
	}
	if hold != 0 || minimum != 0 || limit != 0 {
		t.Errorf("a tenant from before the migration has %d, %d, %d; want the defaults, 0", hold, minimum, limit)
	}

	update := func(column string, v int64) error {
		_, err := raw.ExecContext(ctx, `UPDATE tenants SET `+column+` = ? WHERE id = 'ten_old'`, v)
		return err
	}
	for column, vs := range map[string][]int64{
		"card_hold":      {-1, 1, evbill.MinCardHold - 1, evbill.MaxCardHold + 1},
		"wallet_minimum": {-1, evbill.MaxWalletMinimum + 1},
		"account_limit":  {-1, evbill.MaxAccountLimit + 1},
	} {
		for _, v := range vs {
			err := update(column, v)
			if err == nil || !strings.Contains(err.Error(), "tenants_"+column+"_check") {
				t.Errorf("%s = %d: %v, want the column's CHECK to refuse it", column, v, err)
			}
		}
	}
	for column, vs := range map[string][]int64{
		"card_hold":      {0, evbill.MinCardHold, evbill.MaxCardHold},
		"wallet_minimum": {0, 1, evbill.MaxWalletMinimum},
		"account_limit":  {0, 1, evbill.MaxAccountLimit},
	} {
		for _, v := range vs {
			if err := update(column, v); err != nil {
				t.Errorf("%s = %d: %v", column, v, err)
			}
		}
	}

	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := raw.QueryRowContext(ctx, `SELECT name FROM tenants WHERE id = 'ten_old'`).Scan(&name); err != nil || name != "old" {
		t.Errorf("the tenant after Down: %q, %v", name, err)
	}
	if _, err := raw.ExecContext(ctx, `SELECT card_hold FROM tenants`); err == nil {
		t.Errorf("card_hold is still there after Down")
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatalf("Up again after Down: %v", err)
	}
}
