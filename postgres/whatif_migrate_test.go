package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/storetest"
)

// TestWhatIfLegacyRecords runs migration 17's backfill, in a schema of its
// own, over CDRs stored through EndSession and checks that a what-if over
// the legacy records it makes gives what the records EndSession wrote
// give.
func TestWhatIfLegacyRecords(t *testing.T) {
	ctx := context.Background()
	dsn, _ := storetest.PostgresSchema(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	migration, err := os.ReadFile("schema/00017_cdr_periods.sql")
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunWhatIfLegacy(t, s, migration, func(query string) error {
		_, err := conn.Exec(ctx, query)
		return err
	})
}
