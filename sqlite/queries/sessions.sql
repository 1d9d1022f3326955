-- name: SessionByRetransmissionKey :one
SELECT * FROM sessions
WHERE tenant_id = ? AND station_id = ? AND connector_number = ? AND id_tag = ?
  AND meter_start_wh = ? AND started_at = ?;

-- NextTransactionID takes the tenant's next OCPP transaction ID and moves
-- the counter on; the first call for a tenant creates its counter.
-- name: NextTransactionID :one
INSERT INTO transaction_counters (tenant_id, next_transaction_id) VALUES (@tenant_id, 2)
ON CONFLICT (tenant_id) DO UPDATE SET next_transaction_id = next_transaction_id + 1
RETURNING CAST(next_transaction_id - 1 AS INTEGER) AS transaction_id;

-- seq, the key of the session's readings, is the next one free.
-- name: InsertSession :one
INSERT INTO sessions (
    tenant_id, id, station_id, connector_number, transaction_id, id_tag, token_id, driver_id,
    group_id, tariff_id, tariff_version, meter_start_wh, meter_stop_wh, started_at,
    parking_started_at, stopped_at, state, stop_reason, flags, created_at, updated_at, seq
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM sessions))
RETURNING *;

-- name: Session :one
SELECT * FROM sessions WHERE tenant_id = ? AND id = ?;

-- name: SessionByTransaction :one
SELECT * FROM sessions WHERE tenant_id = ? AND transaction_id = ? AND station_id = ?;

-- name: SessionState :one
SELECT state FROM sessions WHERE tenant_id = ? AND id = ?;

-- The condition is written as in sessions_open_idx, so that SQLite can
-- use that partial index.
-- name: OpenSessions :many
SELECT * FROM sessions
WHERE tenant_id = ? AND station_id = ? AND state <> 'ended'
ORDER BY id;

-- name: ListSessions :many
SELECT * FROM sessions WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- UpdateSession and EndSession leave an ended session alone (no row): an
-- ended session is sealed with its CDR.
-- name: UpdateSession :one
UPDATE sessions SET state = ?, parking_started_at = ?, flags = ?, updated_at = ?
WHERE tenant_id = ? AND id = ? AND state <> 'ended'
RETURNING *;

-- name: EndSession :one
UPDATE sessions SET state = 'ended', meter_stop_wh = ?, stopped_at = ?, parking_started_at = ?,
    stop_reason = ?, flags = ?, updated_at = ?
WHERE tenant_id = ? AND id = ? AND state <> 'ended'
RETURNING *;

-- InsertSample checks that the session is open in the same statement:
-- no row is inserted for an ended or missing session, nor for an instant
-- the session already has; only then does the store look at why.
-- name: InsertSample :execrows
INSERT INTO meter_samples (session_seq, time, energy_wh, power_w, current_a, soc, context)
SELECT seq, @time, @energy_wh, @power_w, @current_a, @soc, @context
FROM sessions WHERE tenant_id = @tenant_id AND id = @session_id AND state <> 'ended'
ON CONFLICT (session_seq, time) DO NOTHING;

-- name: Samples :many
SELECT m.time, m.energy_wh, m.power_w, m.current_a, m.soc, m.context
FROM sessions s JOIN meter_samples m ON m.session_seq = s.seq
WHERE s.tenant_id = ? AND s.id = ?
ORDER BY m.time;

-- name: InsertCDR :exec
INSERT INTO cdrs (
    tenant_id, id, session_id, currency, total_excl_vat, total_incl_vat, amount_minor,
    document, breakdown, created_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: CDR :one
SELECT * FROM cdrs WHERE tenant_id = ? AND id = ?;

-- name: CDRBySession :one
SELECT * FROM cdrs WHERE tenant_id = ? AND session_id = ?;

-- name: ListCDRs :many
SELECT * FROM cdrs WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: InsertEvent :exec
INSERT INTO events (id, tenant_id, type, payload, created_at) VALUES (?, ?, ?, ?, ?);

-- name: EventPosition :one
SELECT position FROM events WHERE id = ?;

-- name: PendingEvents :many
SELECT id, tenant_id, type, payload, created_at FROM events
WHERE position > @after ORDER BY position LIMIT @lim;

-- name: TokenExists :one
SELECT count(*) FROM tokens WHERE tenant_id = ? AND id = ?;

-- name: TariffVersionExists :one
SELECT count(*) FROM tariff_versions WHERE tenant_id = ? AND tariff_id = ? AND version = ?;


-- name: StaleOpenSessions :many
-- Every tenant's: the sweep runs for the whole installation.
SELECT * FROM sessions
WHERE state <> 'ended' AND updated_at < @before AND (',' || flags || ',') LIKE ('%,' || CAST(@flag AS TEXT) || ',%')
ORDER BY updated_at, tenant_id, id
LIMIT @lim;
