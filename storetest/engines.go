package storetest

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/sqlite"
)

// PostgresEnv names the environment variable holding the PostgreSQL
// database tests may use. Without it PostgreSQL tests skip; CI sets it.
const PostgresEnv = "EVBILL_TEST_POSTGRES_URL"

// Engine opens a fresh, migrated store of one engine for a test and closes
// it when the test ends.
type Engine struct {
	Name string
	Open func(t testing.TB) FullStore
}

// Engines returns SQLite, and PostgreSQL when PostgresEnv is set. Tests
// above the store (the OCPP path, the API end to end) run once per engine,
// each in a database of its own: SQLite in a temporary file, PostgreSQL in
// a schema of its own, dropped at the end. Those tests may look across
// tenants (a charger is found by its charge point id alone), so they must
// not share a database with other tests.
func Engines(t testing.TB) []Engine {
	engines := []Engine{{Name: "sqlite", Open: func(t testing.TB) FullStore {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "evbill.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}}}
	if os.Getenv(PostgresEnv) == "" {
		t.Logf("%s is not set; skipping the PostgreSQL run", PostgresEnv)
		return engines
	}
	return append(engines, Engine{Name: "postgres", Open: func(t testing.TB) FullStore {
		dsn, _ := PostgresSchema(t)
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}})
}

// PostgresSchema creates a schema of its own in the database PostgresEnv
// names, drops it when the test ends, and returns the URL with that
// schema as its search_path, and the schema's name. The test skips when
// PostgresEnv is unset.
func PostgresSchema(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("%s is not set; skipping a PostgreSQL test", PostgresEnv)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Lower case: search_path folds unquoted names to lower case.
	id := pgx.Identifier{"evbill_test_" + strings.ToLower(evbill.NewID("s")[2:])}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+id.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", id[0], err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+id.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", id[0], err)
		}
	})
	return WithSetting(t, base, "search_path", id[0]), id[0]
}

// WithSetting returns the connection string with a server setting added
// (pgx passes parameters it does not know to the server), in either form
// a connection string takes: a postgres:// URL or key=value pairs.
func WithSetting(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
