package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

// unique is a uniqueness rule that a write may break. SQLite names a broken
// rule only by its columns ("UNIQUE constraint failed: stations.tenant_id,
// stations.charge_point_id"), so that is what identifies it here.
type unique struct {
	columns string // as SQLite's message lists them
	field   string // the field to name to the user
	value   string
	msg     string // when set, the whole message instead of field and value
}

// ref is a reference to another record that a write makes. SQLite reports
// a broken foreign key without saying which one, so after a failure each
// ref is looked up to name the missing one.
type ref struct {
	field  string
	value  string
	exists func(ctx context.Context, q *db.Queries) (int64, error)
}

func refTenant(id string) ref {
	return ref{"tenant_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.TenantExists(ctx, id)
	}}
}

func refSite(tenantID, id string) ref {
	return ref{"site_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.SiteExists(ctx, db.SiteExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refStation(tenantID, id string) ref {
	return ref{"station_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.StationExists(ctx, db.StationExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refConnector(tenantID, id string) ref {
	return ref{"connector_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.ConnectorExists(ctx, db.ConnectorExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refTariff(tenantID, id string) ref {
	return ref{"tariff_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.TariffExists(ctx, db.TariffExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refGroup(field, tenantID, id string) ref {
	return ref{field, id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.DriverGroupExists(ctx, db.DriverGroupExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refDriver(tenantID, id string) ref {
	return ref{"driver_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.DriverExists(ctx, db.DriverExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refSession(tenantID, id string) ref {
	return ref{"session_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		_, err := q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: id})
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 1, err
	}}
}

// sqliteCode returns the extended result code of a SQLite error, 0 for any
// other error.
func sqliteCode(err error) int {
	var e *sqlitedriver.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// writeErr turns the error of a write into the *evbill.Error the Store
// contract promises: a broken unique rule is ECONFLICT naming the field, a
// broken reference EINVALID naming the field, a broken CHECK EINVALID.
// Anything else is wrapped as it is, which evbill.ErrorCode reads as
// EINTERNAL. q must be on the connection or transaction that failed, since
// the writer has only one connection.
func writeErr(ctx context.Context, q *db.Queries, op string, err error, uniques []unique, refs []ref) error {
	if err == nil {
		return nil
	}
	switch code := sqliteCode(err); code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		msg := err.Error()
		for _, u := range uniques {
			if !strings.Contains(msg, "failed: "+u.columns) {
				continue
			}
			if u.msg != "" {
				return evbill.Errorf(evbill.ECONFLICT, "%s", u.msg)
			}
			return evbill.Errorf(evbill.ECONFLICT, "%s %q is already used", u.field, u.value)
		}
		return evbill.Errorf(evbill.ECONFLICT, "%s: the record conflicts with an existing one", op)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		for _, r := range refs {
			if r.value == "" {
				continue
			}
			n, qerr := r.exists(ctx, q)
			if qerr != nil {
				return fmt.Errorf("sqlite: %s: %w (while finding the broken reference: %v)", op, err, qerr)
			}
			if n == 0 {
				return evbill.Errorf(evbill.EINVALID, "%s %q does not exist", r.field, r.value)
			}
		}
		return evbill.Errorf(evbill.EINVALID, "%s: a referenced record does not exist", op)
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return evbill.Errorf(evbill.EINVALID, "%s: %s", op, checkMessage(err.Error()))
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// checkMessage turns SQLite's "CHECK constraint failed: name" into words.
func checkMessage(msg string) string {
	switch {
	case strings.Contains(msg, "tariff_assignments_one_target"):
		return "exactly one of site_id, station_id and connector_id must be set"
	case strings.Contains(msg, "tariff_assignments_valid_range"):
		return "valid_from must be before valid_to"
	case strings.Contains(msg, "role IN"):
		return "role is not one of admin, operator, finance, readonly"
	case strings.Contains(msg, "version >= 1"):
		return "version must be at least 1"
	}
	return "the record breaks a rule of the schema"
}

// readErr turns sql.ErrNoRows into ENOTFOUND naming the record, so callers
// can tell "not there (or not yours)" from an outage.
func readErr(err error, kind, id string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(kind, id)
	}
	return fmt.Errorf("sqlite: read %s %q: %w", kind, id, err)
}

func notFound(kind, id string) error {
	return evbill.Errorf(evbill.ENOTFOUND, "%s %q not found", kind, id)
}

// required rejects an empty reference before it reaches the database,
// where it would only show up as a reference to a record "" that does not
// exist.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return evbill.Errorf(evbill.EINVALID, "%s is required", pairs[i])
		}
	}
	return nil
}

// fitsInt32 rejects a number that PostgreSQL's integer cannot hold, in
// both stores, so that they accept the same values.
func fitsInt32(field string, v int) error {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return evbill.Errorf(evbill.EINVALID, "%s %d is out of range", field, v)
	}
	return nil
}
