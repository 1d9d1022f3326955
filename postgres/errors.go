package postgres

import (
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evbill/evbill"
)

// unique is a uniqueness rule that a write may break, identified by the
// name of its constraint in the schema.
type unique struct {
	constraint string
	field      string // the field to name to the user
	value      string
	msg        string // when set, the whole message instead of field and value
}

// ref is a reference to another record that a write makes, identified by
// the name of its foreign key constraint in the schema.
type ref struct {
	constraint string
	field      string
	value      string
}

// SQLSTATE codes of the integrity constraint violations the store maps.
const (
	notNullViolation    = "23502"
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
	checkViolation      = "23514"
)

// writeErr turns the error of a write into the *evbill.Error the Store
// contract promises: a broken unique rule is ECONFLICT naming the field, a
// broken reference EINVALID naming the field, a broken CHECK EINVALID.
// Anything else is wrapped as it is, which evbill.ErrorCode reads as
// EINTERNAL.
func writeErr(op string, err error, uniques []unique, refs []ref) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	switch pe.Code {
	case uniqueViolation:
		for _, u := range uniques {
			if u.constraint != pe.ConstraintName {
				continue
			}
			if u.msg != "" {
				return evbill.Errorf(evbill.ECONFLICT, "%s", u.msg)
			}
			return evbill.Errorf(evbill.ECONFLICT, "%s %q is already used", u.field, u.value)
		}
		return evbill.Errorf(evbill.ECONFLICT, "%s: the record conflicts with an existing one", op)
	case foreignKeyViolation:
		for _, r := range refs {
			if r.constraint == pe.ConstraintName {
				return evbill.Errorf(evbill.EINVALID, "%s %q does not exist", r.field, r.value)
			}
		}
		return evbill.Errorf(evbill.EINVALID, "%s: a referenced record does not exist", op)
	case checkViolation, notNullViolation:
		return evbill.Errorf(evbill.EINVALID, "%s: %s", op, checkMessage(pe.ConstraintName))
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// checkMessage turns the name of a CHECK constraint into words.
func checkMessage(constraint string) string {
	switch constraint {
	case "tariff_assignments_one_target":
		return "exactly one of site_id, station_id and connector_id must be set"
	case "tariff_assignments_valid_range":
		return "valid_from must be before valid_to"
	case "api_keys_role_check":
		return "role is not one of admin, operator, finance, readonly"
	case "tariff_versions_version_check":
		return "version must be at least 1"
	}
	return "the record breaks a rule of the schema"
}

// readErr turns pgx.ErrNoRows into ENOTFOUND naming the record, so callers
// can tell "not there (or not yours)" from an outage.
func readErr(err error, kind, id string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(kind, id)
	}
	return fmt.Errorf("postgres: read %s %q: %w", kind, id, err)
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
