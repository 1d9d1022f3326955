package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

var _ evbill.DashboardStore = (*Store)(nil)

// CreateUser stores a dashboard user with the hash of its password; the
// email is unique across tenants.
func (s *Store) CreateUser(ctx context.Context, u *evbill.User, passwordHash []byte) error {
	email, err := checkUser(u, passwordHash)
	if err != nil {
		return err
	}
	t := now()
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt = evbill.NewID(evbill.PrefixUser), email, t, t
	err = s.q.CreateUser(ctx, db.CreateUserParams{TenantID: u.TenantID, ID: u.ID, Email: u.Email, Role: string(u.Role),
		PasswordHash: passwordHash, CreatedAt: t, UpdatedAt: t})
	return writeErr("create user", err,
		[]unique{{constraint: "users_email_key", field: "email", value: u.Email}},
		[]ref{{"users_tenant_fkey", "tenant_id", u.TenantID}})
}

// checkUser refuses a user no store keeps, before the database sees it,
// and returns the normalized email.
func checkUser(u *evbill.User, passwordHash []byte) (string, error) {
	if err := required("tenant_id", u.TenantID); err != nil {
		return "", err
	}
	if !u.Role.Valid() {
		return "", evbill.Errorf(evbill.EINVALID, "role %q is not one of admin, operator, finance, readonly", u.Role)
	}
	if len(passwordHash) == 0 {
		return "", evbill.Errorf(evbill.EINVALID, "password hash is required")
	}
	return evbill.NormalizeEmail(u.Email)
}

func user(tenantID, id, email, role string, created, updated time.Time) evbill.User {
	return evbill.User{ID: id, TenantID: tenantID, Email: email, Role: evbill.Role(role),
		CreatedAt: created.UTC(), UpdatedAt: updated.UTC()}
}

// User returns one of the tenant's users.
func (s *Store) User(ctx context.Context, tenantID, id string) (evbill.User, error) {
	r, err := s.q.User(ctx, db.UserParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.User{}, readErr(err, "user", id)
	}
	return user(r.TenantID, r.ID, r.Email, r.Role, r.CreatedAt, r.UpdatedAt), nil
}

// UserByEmail returns the user with the address, in any tenant, and its
// password hash.
func (s *Store) UserByEmail(ctx context.Context, email string) (evbill.User, []byte, error) {
	e, err := evbill.NormalizeEmail(email)
	if err != nil {
		// No stored user has an address NormalizeEmail refuses.
		return evbill.User{}, nil, notFound("user", email)
	}
	r, err := s.q.UserByEmail(ctx, e)
	if err != nil {
		return evbill.User{}, nil, readErr(err, "user", e)
	}
	return user(r.TenantID, r.ID, r.Email, r.Role, r.CreatedAt, r.UpdatedAt), r.PasswordHash, nil
}

// ListUsers returns a page of the tenant's users.
func (s *Store) ListUsers(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.User, error) {
	rows, err := s.q.ListUsers(ctx, db.ListUsersParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	out := make([]evbill.User, len(rows))
	for i, r := range rows {
		out[i] = user(r.TenantID, r.ID, r.Email, r.Role, r.CreatedAt, r.UpdatedAt)
	}
	return out, nil
}

// SetUserPassword replaces a user's password hash and ends the user's
// login sessions, in one transaction.
func (s *Store) SetUserPassword(ctx context.Context, tenantID, id string, passwordHash []byte) error {
	if len(passwordHash) == 0 {
		return evbill.Errorf(evbill.EINVALID, "password hash is required")
	}
	return s.tx(ctx, func(q *db.Queries) error {
		n, err := q.SetUserPassword(ctx, db.SetUserPasswordParams{PasswordHash: passwordHash, UpdatedAt: now(),
			TenantID: tenantID, ID: id})
		if err != nil {
			return fmt.Errorf("postgres: set user password: %w", err)
		}
		if n == 0 {
			return notFound("user", id)
		}
		if err := q.DeleteSessionsOfUser(ctx, db.DeleteSessionsOfUserParams{TenantID: tenantID, UserID: id}); err != nil {
			return fmt.Errorf("postgres: end the user's sessions: %w", err)
		}
		return nil
	})
}

// CreateUserSession stores a login session under the hash of its token.
func (s *Store) CreateUserSession(ctx context.Context, us *evbill.UserSession, tokenHash []byte) error {
	if err := required("tenant_id", us.TenantID, "user_id", us.UserID); err != nil {
		return err
	}
	if len(tokenHash) == 0 {
		return evbill.Errorf(evbill.EINVALID, "token hash is required")
	}
	t := now()
	exp := normalize(us.ExpiresAt)
	if !exp.After(t) {
		return evbill.Errorf(evbill.EINVALID, "a login session must expire after it is made")
	}
	us.ID, us.CreatedAt, us.ExpiresAt = evbill.NewID(evbill.PrefixUserSession), t, exp
	err := s.q.CreateUserSession(ctx, db.CreateUserSessionParams{TenantID: us.TenantID, ID: us.ID, UserID: us.UserID,
		TokenHash: tokenHash, CreatedAt: t, ExpiresAt: exp})
	// The hash stands for a secret: the message does not echo it.
	return writeErr("create login session", err,
		[]unique{{constraint: "user_sessions_token_hash_key", msg: "a login session with this token hash already exists"}},
		[]ref{{"user_sessions_user_fkey", "user_id", us.UserID}})
}

// UserSessionByHash returns the unexpired session of the token's hash and
// its user.
func (s *Store) UserSessionByHash(ctx context.Context, tokenHash []byte, at time.Time) (evbill.UserSession, evbill.User, error) {
	r, err := s.q.UserSessionByHash(ctx, db.UserSessionByHashParams{TokenHash: tokenHash, Now: normalize(at)})
	if errors.Is(err, pgx.ErrNoRows) {
		return evbill.UserSession{}, evbill.User{}, evbill.Errorf(evbill.ENOTFOUND, "login session not found")
	}
	if err != nil {
		return evbill.UserSession{}, evbill.User{}, fmt.Errorf("postgres: login session by hash: %w", err)
	}
	us := evbill.UserSession{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	return us, user(r.TenantID, r.UserID, r.Email, r.Role, r.UserCreatedAt, r.UserUpdatedAt), nil
}

// DeleteUserSession ends the session of the token's hash, if any.
func (s *Store) DeleteUserSession(ctx context.Context, tokenHash []byte) error {
	if err := s.q.DeleteUserSession(ctx, tokenHash); err != nil {
		return fmt.Errorf("postgres: delete login session: %w", err)
	}
	return nil
}

// DeleteExpiredUserSessions removes every tenant's expired sessions.
func (s *Store) DeleteExpiredUserSessions(ctx context.Context, at time.Time) (int, error) {
	n, err := s.q.DeleteExpiredUserSessions(ctx, normalize(at))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired login sessions: %w", err)
	}
	return int(n), nil
}

// SiteTimeZones returns the distinct time zones of the tenant's sites.
func (s *Store) SiteTimeZones(ctx context.Context, tenantID string) ([]string, error) {
	zones, err := s.q.SiteTimeZones(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: site time zones: %w", err)
	}
	return zones, nil
}

// BilledBetween totals the tenant's CDRs made in [from, to) at sites in
// timeZone, per currency.
func (s *Store) BilledBetween(ctx context.Context, tenantID, timeZone string, from, to time.Time) ([]evbill.BilledTotal, error) {
	rows, err := s.q.BilledBetween(ctx, db.BilledBetweenParams{TenantID: tenantID, FromAt: normalize(from), ToAt: normalize(to), TimeZone: timeZone})
	if err != nil {
		return nil, fmt.Errorf("postgres: billed between: %w", err)
	}
	out := make([]evbill.BilledTotal, len(rows))
	for i, r := range rows {
		out[i] = evbill.BilledTotal{Currency: r.Currency, AmountMinor: r.AmountMinor, CDRs: int(r.Cdrs), EnergyMilliWh: r.EnergyMwh}
	}
	return out, nil
}

// OpenSessionCount counts the tenant's sessions that have not ended.
func (s *Store) OpenSessionCount(ctx context.Context, tenantID string) (int, error) {
	n, err := s.q.OpenSessionCount(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("postgres: open session count: %w", err)
	}
	return int(n), nil
}

// OpenSessionList returns up to limit of the tenant's open sessions, the
// most recent first.
func (s *Store) OpenSessionList(ctx context.Context, tenantID string, limit int) ([]evbill.SessionListItem, error) {
	rows, err := s.q.OpenSessionList(ctx, db.OpenSessionListParams{TenantID: tenantID, Lim: int32(evbill.Page{Limit: limit}.Size())})
	if err != nil {
		return nil, fmt.Errorf("postgres: open session list: %w", err)
	}
	out := make([]evbill.SessionListItem, len(rows))
	for i, r := range rows {
		out[i] = evbill.SessionListItem{Session: session(r.Session), ChargePointID: r.ChargePointID}
	}
	return out, nil
}

// sessionsBefore stands for "no cursor" in RecentSessions: it sorts after
// every ID (IDs are letters, digits and '_', all below '~' in the "C"
// collation the ID columns use).
const sessionsBefore = "~"

// RecentSessions returns a page of the tenant's sessions, newest first,
// each with its station's charge point ID and its CDR's amount.
func (s *Store) RecentSessions(ctx context.Context, tenantID, before string, limit int) ([]evbill.SessionListItem, error) {
	if before == "" {
		before = sessionsBefore
	}
	rows, err := s.q.RecentSessions(ctx, db.RecentSessionsParams{TenantID: tenantID, Before: before, Lim: int32(evbill.Page{Limit: limit}.Size())})
	if err != nil {
		return nil, fmt.Errorf("postgres: recent sessions: %w", err)
	}
	out := make([]evbill.SessionListItem, len(rows))
	for i, r := range rows {
		out[i] = evbill.SessionListItem{Session: session(r.Session), ChargePointID: r.ChargePointID,
			CDRID: r.CdrID, Currency: r.CdrCurrency, AmountMinor: r.CdrAmountMinor}
	}
	return out, nil
}
