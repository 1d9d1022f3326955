// Package sqlite is evbill's embedded store: an evbill.Store over one SQLite
// file, for a single-node installation that needs no database server.
//
// It uses modernc.org/sqlite, a pure-Go translation of SQLite, so the
// binary stays statically linked and cross-compiles without cgo. The SQL
// lives in schema/ (goose migrations, which sqlc also reads as the schema)
// and queries/; internal/db is generated from them by sqlc.
//
// SQLite allows one writer at a time. Rather than letting connections race
// for the write lock and spin on SQLITE_BUSY, the store keeps one writer
// connection, through which every write goes in turn, and a pool of
// read-only connections which WAL mode lets read alongside the writer.
package sqlite

//go:generate sqlc generate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

//go:embed schema/*.sql
var migrations embed.FS

// Store is an evbill.Store kept in one SQLite file. It is safe for
// concurrent use; writes are serialised through a single connection.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	w      *db.Queries // statements prepared on writer
	r      *db.Queries // statements prepared on reader
	goose  *goose.Provider
}

var _ evbill.Store = (*Store)(nil)

// busyTimeoutMS is how long a connection waits for a lock held by another
// connection (a reader during a WAL checkpoint, or another process) before
// it gives up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Open opens the SQLite database file at path (a plain path: no URI, no
// options, not :memory:), creating the file when it does not exist,
// applies any pending migrations and returns the store. The caller must
// Close it.
func Open(ctx context.Context, path string) (*Store, error) {
	// The writer and the readers are separate connections to one file: an
	// in-memory database would give each connection a database of its
	// own, and the driver reads options after a '?'.
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, fmt.Errorf("sqlite: %q is not a plain file path", path)
	}
	// WAL lets readers run while the writer writes; synchronous=FULL
	// fsyncs the WAL at every commit, so a charger that got its answer
	// (and dropped the message from its queue) can rely on it even across
	// a power cut. Group commit makes that one fsync per batch, which
	// costs nothing measurable at 64 writes a batch (see
	// BenchmarkApplySessionWrites); foreign_keys
	// is off by default in SQLite and is what enforces tenant isolation
	// between records. _txlock=immediate takes the write lock at BEGIN, so
	// a transaction never fails half-way for want of it.
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(FULL)")

	wq := url.Values{}
	wq.Add("_pragma", "journal_mode(WAL)")
	for _, v := range common["_pragma"] {
		wq.Add("_pragma", v)
	}
	wq.Set("_txlock", "immediate")
	writer, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The writer creates the file and switches it to WAL before any reader
	// opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	rq := url.Values{}
	for _, v := range common["_pragma"] {
		rq.Add("_pragma", v)
	}
	// query_only makes an accidental write through the read pool fail
	// loudly instead of competing with the writer for the lock.
	rq.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)

	sub, err := fs.Sub(migrations, "schema")
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	// Migrations run through the writer, like every other write.
	provider, err := goose.NewProvider(goose.DialectSQLite3, writer, sub,
		// Only this package's embedded migrations: none registered globally
		// by other packages for other databases.
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	s := &Store{writer: writer, reader: reader, goose: provider}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Statements are prepared once the tables exist; database/sql then
	// prepares each again on every connection that first runs it, and
	// keeps it.
	if s.w, err = db.Prepare(ctx, writer); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if s.r, err = db.Prepare(ctx, reader); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return s, nil
}

// Migrate applies every pending migration. Open already does; Migrate is
// for the `evbill migrate` command, and does nothing when the schema is
// current.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.goose.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// MigrationVersion returns the version of the latest migration applied to
// the database, 0 for none.
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	v, err := s.goose.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: migration version: %w", err)
	}
	return v, nil
}

// Ping checks that both connection pools answer and that every migration
// this build knows is applied, so a health check fails on a database that
// an older binary or a manual rollback left behind.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	pending, err := s.goose.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: ping: checking migrations: %w", err)
	}
	if pending {
		return errors.New("sqlite: ping: database migrations are not fully applied; run `evbill migrate`")
	}
	return nil
}

// Close closes the prepared statements and both connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, q := range []*db.Queries{s.r, s.w} {
		if q != nil {
			errs = append(errs, q.Close())
		}
	}
	errs = append(errs, s.reader.Close(), s.writer.Close())
	return errors.Join(errs...)
}

// PoolStats reports the connections of the writer and the read pool
// together, for the /metrics gauges.
func (s *Store) PoolStats() (open, inUse, idle int) {
	for _, d := range []*sql.DB{s.writer, s.reader} {
		st := d.Stats()
		open += st.OpenConnections
		inUse += st.InUse
		idle += st.Idle
	}
	return open, inUse, idle
}
