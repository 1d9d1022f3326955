// Package postgres is evbill's server store: an evbill.Store in a
// PostgreSQL database, for installations that run more than one evbill
// process or want the database managed apart from them.
//
// It uses a pgx connection pool directly (not database/sql) for its
// prepared-statement cache and binary protocol. The SQL lives in schema/
// (goose migrations, which sqlc also reads as the schema) and queries/;
// internal/db is generated from them by sqlc.
package postgres

//go:generate sqlc generate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

//go:embed schema/*.sql
var migrations embed.FS

// Store is an evbill.Store in a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	q     *db.Queries
	sqldb *sql.DB // the same pool through database/sql, which goose needs
	goose *goose.Provider
}

var _ evbill.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string), applies any pending migrations and
// returns the store. The caller must Close it.
//
// Several processes may Open the same database at once: migrations run
// under a PostgreSQL advisory lock, so only one applies them.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included: do not wrap it.
		return nil, errors.New("postgres: the connection string is not valid")
	}
	// pgx prepares each statement once per connection, and after five runs
	// PostgreSQL may switch a prepared statement to a generic plan that it
	// keeps until the table's statistics change. A new installation's
	// tables start empty, so that plan was a sequential scan, and without
	// ANALYZE (autovacuum off, or not yet run) it stayed one as the tables
	// grew: adding a meter reading cost 0.36–0.49 ms and falling, 2,200
	// messages a second and dropping. Planning each run with the actual
	// table sizes costs far less: 0.05 ms a reading, 6,000 messages a
	// second, steady (see the closing note of issue 5). Every statement
	// here is a short keyed lookup or write, for which a custom plan is
	// cheap. A connection string that sets plan_cache_mode keeps its own.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)

	sub, err := fs.Sub(migrations, "schema")
	if err != nil {
		sqldb.Close()
		pool.Close()
		return nil, err
	}
	// Processes that start together wait for the first to migrate: retry
	// the lock every second (goose's default is every 5) for 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		sqldb.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, sqldb, sub,
		goose.WithSessionLocker(locker),
		// Only this package's embedded migrations: none registered globally
		// by other packages for other databases.
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqldb.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	s := &Store{pool: pool, q: db.New(pool), sqldb: sqldb, goose: provider}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies every pending migration. Open already does; Migrate is
// for the `evbill migrate` command, and does nothing when the schema is
// current.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.goose.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// MigrationVersion returns the version of the latest migration applied to
// the database, 0 for none.
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	v, err := s.goose.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migration version: %w", err)
	}
	return v, nil
}

// Ping checks that the database answers and that every migration this
// build knows is applied, so a health check fails on a database that an
// older binary or a manual rollback left behind.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	pending, err := s.goose.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("postgres: ping: checking migrations: %w", err)
	}
	if pending {
		return errors.New("postgres: ping: database migrations are not fully applied; run `evbill migrate`")
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	err := s.sqldb.Close()
	s.pool.Close()
	return err
}

// PoolStats reports the pgx pool's connections, for the /metrics gauges.
func (s *Store) PoolStats() (open, inUse, idle int) {
	st := s.pool.Stat()
	return int(st.TotalConns()), int(st.AcquiredConns()), int(st.IdleConns())
}
