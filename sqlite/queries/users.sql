-- The operators' dashboard: users, their login sessions, and the
-- overview's reads (evbill.UserStore, evbill.DashboardStore).

-- name: CreateUser :exec
INSERT INTO users (tenant_id, id, email, role, password_hash, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: User :one
SELECT tenant_id, id, email, role, created_at, updated_at FROM users WHERE tenant_id = ? AND id = ?;

-- UserByEmail looks across tenants: a login names only its address.
-- name: UserByEmail :one
SELECT tenant_id, id, email, role, password_hash, created_at, updated_at FROM users WHERE email = ?;

-- name: ListUsers :many
SELECT tenant_id, id, email, role, created_at, updated_at FROM users
WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: SetUserPassword :execrows
UPDATE users SET password_hash = @password_hash, updated_at = @updated_at WHERE tenant_id = @tenant_id AND id = @id;

-- name: DeleteSessionsOfUser :exec
DELETE FROM user_sessions WHERE tenant_id = @tenant_id AND user_id = @user_id;

-- name: CreateUserSession :exec
INSERT INTO user_sessions (tenant_id, id, user_id, token_hash, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?);

-- UserSessionByHash reads the session with its user, so that a request
-- costs one query and sees the user's role as it is now.
-- name: UserSessionByHash :one
SELECT s.tenant_id, s.id, s.user_id, s.created_at, s.expires_at,
       u.email, u.role, u.created_at AS user_created_at, u.updated_at AS user_updated_at
FROM user_sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
WHERE s.token_hash = @token_hash AND s.expires_at > @now;

-- name: DeleteUserSession :exec
DELETE FROM user_sessions WHERE token_hash = ?;

-- name: DeleteExpiredUserSessions :execrows
DELETE FROM user_sessions WHERE expires_at <= @now;

-- name: UserExists :one
SELECT count(*) FROM users WHERE tenant_id = ? AND id = ?;

-- name: SiteTimeZones :many
SELECT DISTINCT time_zone FROM sites WHERE tenant_id = ? ORDER BY time_zone;

-- BilledBetween walks cdrs_tenant_created_idx over the range and joins
-- each CDR to its session, station and site by primary key. Energy is
-- each session's meter stop less start in thousandths of a Wh: the
-- readings are decimal text, which SQLite can only subtract as REAL, so
-- the difference is rounded to 1 mWh, exact for readings of up to three
-- decimals (what chargers send) below 2^53 mWh.
-- name: BilledBetween :many
SELECT c.currency,
       CAST(sum(c.amount_minor) AS INTEGER) AS amount_minor,
       count(*) AS cdrs,
       CAST(sum(round((CAST(s.meter_stop_wh AS REAL) - CAST(s.meter_start_wh AS REAL)) * 1000)) AS INTEGER) AS energy_mwh
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
WHERE c.tenant_id = @tenant_id AND c.created_at >= @from_at AND c.created_at < @to_at AND si.time_zone = @time_zone
GROUP BY c.currency
ORDER BY c.currency;

-- OpenSessionCount and OpenSessionList read sessions_open_idx, which
-- holds only sessions that have not ended.
-- name: OpenSessionCount :one
SELECT count(*) FROM sessions WHERE tenant_id = ? AND state <> 'ended';

-- name: OpenSessionList :many
SELECT sqlc.embed(s), st.charge_point_id
FROM sessions s JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
WHERE s.tenant_id = @tenant_id AND s.state <> 'ended'
ORDER BY s.id DESC LIMIT @lim;

-- RecentSessions reads the primary key backwards from before, and each
-- session's CDR by cdrs_session_key.
-- name: RecentSessions :many
SELECT sqlc.embed(s), st.charge_point_id,
       coalesce(c.id, '') AS cdr_id, coalesce(c.currency, '') AS cdr_currency, coalesce(c.amount_minor, 0) AS cdr_amount_minor
FROM sessions s
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
LEFT JOIN cdrs c ON c.tenant_id = s.tenant_id AND c.session_id = s.id
WHERE s.tenant_id = @tenant_id AND s.id < @before
ORDER BY s.id DESC LIMIT @lim;
