package postgres_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/storetest"
)

// TestTenantPaymentsMigration checks migration 9 in a schema of its own:
// the CHECKs refuse what TenantPayments.Check refuses even from a write
// that goes around the store, and Down removes the columns, keeping the
// tenants, which the migration run again gives the defaults (zeros).
func TestTenantPaymentsMigration(t *testing.T) {
	const version = 9
	url, _ := storetest.PostgresSchema(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := evbill.Tenant{Name: "kept", Payments: evbill.TenantPayments{CardHold: 2500}}
	if err := s.CreateTenant(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	update := func(column string, v int64) error {
		_, err := conn.Exec(ctx, "UPDATE tenants SET "+column+" = $1 WHERE id = $2", v, tn.ID)
		return err
	}
	for column, vs := range map[string][]int64{
		"card_hold":      {-1, 1, evbill.MinCardHold - 1, evbill.MaxCardHold + 1},
		"wallet_minimum": {-1, evbill.MaxWalletMinimum + 1},
		"account_limit":  {-1, evbill.MaxAccountLimit + 1},
	} {
		for _, v := range vs {
			var pe *pgconn.PgError
			if err := update(column, v); !errors.As(err, &pe) || pe.Code != "23514" || pe.ConstraintName != "tenants_"+column+"_check" {
				t.Errorf("%s = %d: %v, want tenants_%s_check to refuse it", column, v, err, column)
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

	// Later migrations, if any, go down and up again with this one.
	if err := postgres.MigrateDownTo(ctx, s, version-1); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := conn.QueryRow(ctx, "SELECT name FROM tenants WHERE id = $1", tn.ID).Scan(&name); err != nil || name != "kept" {
		t.Errorf("the tenant after Down: %q, %v", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT card_hold FROM tenants"); err == nil {
		t.Errorf("card_hold is still there after Down")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Up again after Down: %v", err)
	}
	got, err := s.Tenant(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payments != (evbill.TenantPayments{}) {
		t.Errorf("after Down and Up the tenant has %+v, want the defaults", got.Payments)
	}
}
