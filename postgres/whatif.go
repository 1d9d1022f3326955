package postgres

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
	"github.com/evbill/evbill/whatif"
)

var _ evbill.WhatIfStore = (*Store)(nil)

// cdrPeriods adds to an End write with a CDR the statement that stores
// the CDR's what-if record (see cdr_periods in the schema), queued after
// the write's statement in the same savepoint and pipeline: it costs no
// round trip of its own.
func (o *op) cdrPeriods(c *evbill.CDR, startedAt time.Time) {
	rec := whatif.Record(c.Document, c.SessionID, startedAt, c.Currency, c.AmountMinor)
	arg := db.InsertCDRPeriodsParams{Record: rec, TenantID: c.TenantID, CdrID: c.ID}
	o.more = append(o.more, capture(func(q *db.Queries) error {
		return q.InsertCDRPeriods(context.Background(), arg)
	}))
	read := o.read
	o.read = func(ctx context.Context, q *db.Queries) error {
		if err := read(ctx, q); err != nil {
			return err
		}
		return q.InsertCDRPeriods(ctx, arg)
	}
}

// whatIfBatch is how many CDRs go to fn at once: enough that the cost of
// a call vanishes, few enough that a batch's records stay in the cache.
const whatIfBatch = 1024

// ceilMicros returns t rounded up to the microsecond, the precision of
// timestamptz: a session start is at or after t exactly when it is at or
// after ceilMicros(t), and before t when before ceilMicros(t).
func ceilMicros(t time.Time) time.Time {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c.UTC()
}

// whatIfRange checks the filter's range and returns it to the
// microsecond.
func whatIfRange(f evbill.WhatIfFilter) (from, until time.Time, err error) {
	if !f.To.After(f.From) {
		return time.Time{}, time.Time{}, evbill.Errorf(evbill.EINVALID, "the range's end must be after its start")
	}
	return ceilMicros(f.From), ceilMicros(f.To), nil
}

// CountWhatIfCDRs counts the tenant's CDRs the filter selects.
func (s *Store) CountWhatIfCDRs(ctx context.Context, f evbill.WhatIfFilter) (int64, error) {
	from, until, err := whatIfRange(f)
	if err != nil {
		return 0, err
	}
	n, err := s.q.CountWhatIfCDRs(ctx, db.CountWhatIfCDRsParams{TenantID: f.TenantID, FromAt: from, Until: until,
		SiteID: f.SiteID, StationID: f.StationID, TariffID: f.TariffID})
	if err != nil {
		return 0, fmt.Errorf("postgres: count what-if CDRs: %w", err)
	}
	return n, nil
}

// WhatIfCDRs reads the tenant's CDRs the filter selects over as many
// pool connections at once as there are cores, each streaming the rows of
// one stretch of the range after another, so that the server reads one
// stretch while fn prices another. The rows are streamed rather than
// collected (sqlc's :many would hold a stretch's rows at once); the
// statement is the generated method's, captured.
func (s *Store) WhatIfCDRs(ctx context.Context, f evbill.WhatIfFilter, fn func([]evbill.WhatIfCDR) error) error {
	from, until, err := whatIfRange(f)
	if err != nil {
		return err
	}
	span, err := s.q.WhatIfSpan(ctx, db.WhatIfSpanParams{TenantID: f.TenantID, FromAt: from, Until: until})
	if err != nil {
		return fmt.Errorf("postgres: what-if span: %w", err)
	}
	if !span.Found {
		return nil
	}
	return whatif.ReadStretches(ctx, span.FirstAt.UTC(), span.LastAt.UTC(), runtime.GOMAXPROCS(0),
		func(ctx context.Context, lo, hi time.Time) error {
			// lo and hi fall on microseconds only at the range's ends;
			// truncating both the same way keeps the stretches adjacent.
			st := capture(func(q *db.Queries) error {
				_, err := q.WhatIfCDRs(ctx, db.WhatIfCDRsParams{TenantID: f.TenantID, FromAt: lo.Truncate(time.Microsecond),
					Until: hi.Truncate(time.Microsecond), SiteID: f.SiteID, StationID: f.StationID, TariffID: f.TariffID})
				return err
			})
			rows, err := s.pool.Query(ctx, st.sql, st.args...)
			if err != nil {
				return fmt.Errorf("postgres: what-if CDRs: %w", err)
			}
			defer rows.Close()
			var (
				batch []evbill.WhatIfCDR
				buf   []byte
				ends  []int
				site  string
			)
			flush := func() error {
				start := 0
				for i, end := range ends {
					batch[i].Record = buf[start:end:end]
					start = end
				}
				err := fn(batch)
				batch, buf, ends = batch[:0], buf[:0], ends[:0]
				return err
			}
			for rows.Next() {
				// The raw values are valid only until the next row: the
				// record is copied into a buffer reused from batch to
				// batch, and a site ID becomes a string once per run of
				// rows of one site.
				v := rows.RawValues()
				if len(v) != 2 {
					return fmt.Errorf("postgres: what-if CDRs: %d columns", len(v))
				}
				if string(v[0]) != site {
					site = string(v[0])
				}
				buf = append(buf, v[1]...)
				ends = append(ends, len(buf))
				batch = append(batch, evbill.WhatIfCDR{SiteID: site})
				if len(batch) == whatIfBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("postgres: what-if CDRs: %w", err)
			}
			if len(batch) > 0 {
				return flush()
			}
			return nil
		})
}
