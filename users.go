package evbill

import (
	"context"
	"strings"
	"time"
)

// ID prefixes of the dashboard's users and their login sessions.
const (
	PrefixUser        = "usr"
	PrefixUserSession = "uss"
)

// MaxEmailLen is the longest email address a user may have: the 254
// characters SMTP's path limit leaves for an address.
const MaxEmailLen = 254

// User is a person who logs in to the operators' dashboard with an email
// address and a password. A user belongs to one tenant and has one of the
// roles API keys have, checked the same way (auth.Allowed), so a readonly
// user reads what a readonly key reads. The password is stored only as a
// hash, never returned with the user.
type User struct {
	ID       string
	TenantID string
	// Email is the login name, unique across the installation (a login
	// form does not ask for a tenant), stored as NormalizeEmail makes it.
	Email     string
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserSession is a user's login: the browser holds a random token in a
// cookie, the store only the token's SHA-256, so a copy of the database
// does not let anyone in. A session is kept in the database, not in a
// signed cookie, so any instance serves it, a logout ends it everywhere,
// and it can be revoked; ExpiresAt bounds it whatever the cookie says.
type UserSession struct {
	ID        string
	TenantID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NormalizeEmail returns the address as users are found by it: trimmed
// and lower-cased, since people do not type their address the same way
// twice. EINVALID when it is not a plausible address (one @ with text on
// both sides, no spaces or control characters, at most MaxEmailLen
// bytes); deliverability is not checked, since nothing is mailed to it.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	local, domain, ok := strings.Cut(e, "@")
	switch {
	case e == "":
		return "", Errorf(EINVALID, "email is required")
	case len(e) > MaxEmailLen:
		return "", Errorf(EINVALID, "email is longer than %d bytes", MaxEmailLen)
	case !ok || local == "" || domain == "" || strings.Contains(domain, "@"):
		return "", Errorf(EINVALID, "email %q is not an address", s)
	}
	for _, c := range e {
		if c <= ' ' || c == 0x7f {
			return "", Errorf(EINVALID, "email %q is not an address", s)
		}
	}
	return e, nil
}

// UserStore keeps the dashboard's users and their login sessions. Like
// API keys, a user and a session are found across tenants (by email, by
// the hash of a cookie's token): that is how a login finds its tenant.
type UserStore interface {
	// CreateUser stores a user with the hash of its password (the
	// caller's hashing; the store does not read it). ECONFLICT when the
	// email is taken, in any tenant; EINVALID for an email NormalizeEmail
	// refuses, an unknown role, an empty hash or a tenant that does not
	// exist. It sets ID, Email (normalized), CreatedAt and UpdatedAt.
	CreateUser(ctx context.Context, u *User, passwordHash []byte) error
	// User returns one of the tenant's users.
	User(ctx context.Context, tenantID, id string) (User, error)
	// UserByEmail returns the user with the address (normalized first)
	// and its password hash, in whichever tenant it is; ENOTFOUND when
	// there is none.
	UserByEmail(ctx context.Context, email string) (User, []byte, error)
	// ListUsers returns a page of the tenant's users ordered by ID.
	ListUsers(ctx context.Context, tenantID string, p Page) ([]User, error)
	// SetUserPassword replaces the password hash of one of the tenant's
	// users and ends every login session of the user: whoever knew the
	// old password is logged out. ENOTFOUND when there is no such user.
	SetUserPassword(ctx context.Context, tenantID, id string, passwordHash []byte) error

	// CreateUserSession stores a login session of the tenant's user under
	// the SHA-256 of its token; it sets ID and CreatedAt. EINVALID when
	// the user does not exist or ExpiresAt is not after CreatedAt.
	CreateUserSession(ctx context.Context, s *UserSession, tokenHash []byte) error
	// UserSessionByHash returns the session whose token hashes to
	// tokenHash and its user, read together so a role changed meanwhile
	// counts at once; ENOTFOUND when there is none or it expired at or
	// before now.
	UserSessionByHash(ctx context.Context, tokenHash []byte, now time.Time) (UserSession, User, error)
	// DeleteUserSession ends the session whose token hashes to tokenHash
	// (a logout); none is not an error.
	DeleteUserSession(ctx context.Context, tokenHash []byte) error
	// DeleteExpiredUserSessions removes the sessions, of every tenant,
	// that expired at or before now, and returns how many.
	DeleteExpiredUserSessions(ctx context.Context, now time.Time) (int, error)
}

// BilledTotal is what a tenant's CDRs made in one currency within a time
// range: the overview's revenue and energy.
type BilledTotal struct {
	Currency string
	// AmountMinor is the sum of the CDRs' amounts to charge, in minor
	// units of Currency.
	AmountMinor int64
	// CDRs counts them.
	CDRs int
	// EnergyMilliWh is the energy of their sessions (meter stop less
	// start), in thousandths of a Wh, each session's rounded to one.
	EnergyMilliWh int64
}

// SessionListItem is a session as the dashboard lists it: the session, its
// station's charge point ID, and its CDR's amount when it has one, read in
// one query.
type SessionListItem struct {
	Session       Session
	ChargePointID string
	// CDRID is the session's CDR; "" while it runs, and for a session
	// that ended without one (flagged, or without a tariff).
	CDRID       string
	Currency    string // the CDR's
	AmountMinor int64  // the CDR's amount to charge
}

// DashboardStore is what the operators' dashboard reads besides Store and
// SessionStore: figures of the whole tenant that must stay fast as its
// history grows, each answered by one indexed query.
type DashboardStore interface {
	UserStore
	// SiteTimeZones returns the distinct time zones of the tenant's
	// sites, ordered: "today" is each site's own day.
	SiteTimeZones(ctx context.Context, tenantID string) ([]string, error)
	// BilledBetween totals, per currency, the tenant's CDRs made in
	// [from, to) of sessions at sites in timeZone (the IANA name as the
	// sites store it), ordered by currency.
	BilledBetween(ctx context.Context, tenantID, timeZone string, from, to time.Time) ([]BilledTotal, error)
	// OpenSessionCount counts the tenant's sessions that have not ended.
	OpenSessionCount(ctx context.Context, tenantID string) (int, error)
	// OpenSessionList returns up to limit of the tenant's sessions that
	// have not ended, the most recent first.
	OpenSessionList(ctx context.Context, tenantID string, limit int) ([]SessionListItem, error)
	// RecentSessions returns a page of the tenant's sessions, newest
	// first: those whose ID sorts before before ("" for the newest), at
	// most Page{Limit: limit}.Size() of them. IDs sort by creation, so
	// the page is read backwards along the primary key.
	RecentSessions(ctx context.Context, tenantID, before string, limit int) ([]SessionListItem, error)
}
