package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
	"github.com/evbill/evbill/whatif"
)

var _ evbill.WhatIfStore = (*Store)(nil)

// insertCDRPeriods stores the what-if record of the CDR endSession has
// just inserted, in its transaction (see cdr_periods in the schema).
func insertCDRPeriods(ctx context.Context, q *db.Queries, c *evbill.CDR, startedAt time.Time) error {
	rec := whatif.Record(c.Document, c.SessionID, startedAt, c.Currency, c.AmountMinor)
	if err := q.InsertCDRPeriods(ctx, db.InsertCDRPeriodsParams{Record: rec, TenantID: c.TenantID, CdrID: c.ID}); err != nil {
		return writeErr(ctx, q, "store CDR periods", err, nil, nil)
	}
	return nil
}

// ceilMicros returns t in microseconds, rounded up: a session start (kept
// to the microsecond) is at or after t exactly when it is at or after
// ceilMicros(t), and before t when before ceilMicros(t).
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

// whatIfRange checks the filter's range and returns it in microseconds.
func whatIfRange(f evbill.WhatIfFilter) (from, until int64, err error) {
	if !f.To.After(f.From) {
		return 0, 0, evbill.Errorf(evbill.EINVALID, "the range's end must be after its start")
	}
	return ceilMicros(f.From), ceilMicros(f.To), nil
}

// CountWhatIfCDRs counts the tenant's CDRs the filter selects.
func (s *Store) CountWhatIfCDRs(ctx context.Context, f evbill.WhatIfFilter) (int64, error) {
	from, until, err := whatIfRange(f)
	if err != nil {
		return 0, err
	}
	n, err := s.r.CountWhatIfCDRs(ctx, db.CountWhatIfCDRsParams{TenantID: f.TenantID, FromAt: from, Until: until,
		SiteID: f.SiteID, StationID: f.StationID, TariffID: f.TariffID})
	if err != nil {
		return 0, fmt.Errorf("sqlite: count what-if CDRs: %w", err)
	}
	return n, nil
}

// WhatIfCDRs streams the tenant's CDRs the filter selects with one query
// on one read connection and prices them on every core (whatif.Fanout):
// modernc's SQLite is Go code whose connections in one process contend
// for its global locks, so two connections reading a stretch each are
// barely faster than one reading both, while pricing spreads over the
// cores. The rows are streamed rather than collected (sqlc's :many would
// hold them all at once); the statement is the generated method's,
// recorded (see recorder). The read transaction lasts as long as the
// what-if, which WAL lets the writer work through.
func (s *Store) WhatIfCDRs(ctx context.Context, f evbill.WhatIfFilter, fn func([]evbill.WhatIfCDR) error) error {
	from, until, err := whatIfRange(f)
	if err != nil {
		return err
	}
	st := record(func(q *db.Queries) error {
		_, err := q.WhatIfCDRs(ctx, db.WhatIfCDRsParams{TenantID: f.TenantID, FromAt: from, Until: until,
			SiteID: f.SiteID, StationID: f.StationID, TariffID: f.TariffID})
		return err
	})
	return whatif.Fanout(ctx, runtime.GOMAXPROCS(0), fn, func(ctx context.Context, emit func(site, rec []byte) error) error {
		rows, err := s.reader.QueryContext(ctx, st.query, st.args...)
		if err != nil {
			return fmt.Errorf("sqlite: what-if CDRs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var site, rec sql.RawBytes
			if err := rows.Scan(&site, &rec); err != nil {
				return fmt.Errorf("sqlite: what-if CDRs: %w", err)
			}
			if err := emit(site, rec); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: what-if CDRs: %w", err)
		}
		return nil
	})
}

// statement is a query with its arguments.
type statement struct {
	query string
	args  []any
}

// recorder is a db.DBTX that runs nothing: it keeps the query a
// generated method would send, so that the store can stream its rows
// rather than have the method collect them. Only QueryContext is meant
// to be called.
type recorder struct{ statement }

var errRecorded = errors.New("sqlite: statement recorded, not run")

// ExecContext records the statement.
func (r *recorder) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	r.query, r.args = query, args
	return nil, errRecorded
}

// PrepareContext refuses: recorded statements are not prepared.
func (r *recorder) PrepareContext(context.Context, string) (*sql.Stmt, error) {
	return nil, errRecorded
}

// QueryContext records the statement.
func (r *recorder) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	r.query, r.args = query, args
	return nil, errRecorded
}

// QueryRowContext records the statement; a method that scans the row it
// returns must not be recorded.
func (r *recorder) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	r.query, r.args = query, args
	return nil
}

// record returns the statement call makes through a generated method.
func record(call func(q *db.Queries) error) statement {
	var r recorder
	_ = call(db.New(&r)) // errRecorded
	return r.statement
}
