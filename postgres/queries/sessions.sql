-- LockTransactionCounters locks the counters of the tenants a batch
-- starts sessions for, creating those that do not exist yet (a missing
-- tenant is skipped: its start fails on its own), in one order for every
-- batch, so that two concurrent batches starting sessions for the same
-- tenants queue instead of deadlocking. The update changes nothing; it is
-- what locks an existing counter in the same statement.
-- name: LockTransactionCounters :exec
INSERT INTO transaction_counters AS c (tenant_id, next_transaction_id)
SELECT t.id, 1 FROM tenants t WHERE t.id = ANY(@tenant_ids::text[]) ORDER BY t.id
ON CONFLICT (tenant_id) DO UPDATE SET next_transaction_id = c.next_transaction_id;

-- StartSession stores a new session with the tenant's next transaction
-- ID, or returns the session with the same retransmission key (created
-- false), in one statement, so that a batch can send many without waiting
-- for each. The counter moves on only when a session is inserted; an ID
-- beyond 2^31 - 1 breaks sessions_transaction_id_check, which undoes the
-- counter's move with the rest of the write.
-- name: StartSession :one
WITH existing AS (
    SELECT * FROM sessions
    WHERE tenant_id = @tenant_id::text AND station_id = @station_id::text
      AND connector_number = @connector_number::integer AND id_tag = @id_tag::text
      AND meter_start_wh = @meter_start_wh::text AND started_at = @started_at::timestamptz
), counter AS (
    INSERT INTO transaction_counters AS c (tenant_id, next_transaction_id)
    SELECT @tenant_id::text, 2 WHERE NOT EXISTS (SELECT FROM existing)
    ON CONFLICT (tenant_id) DO UPDATE SET next_transaction_id = c.next_transaction_id + 1
    RETURNING c.next_transaction_id - 1 AS transaction_id
), inserted AS (
    INSERT INTO sessions (
        tenant_id, id, station_id, connector_number, transaction_id, id_tag, token_id, driver_id,
        group_id, tariff_id, tariff_version, meter_start_wh, meter_stop_wh, started_at,
        parking_started_at, stopped_at, state, stop_reason, flags, created_at, updated_at
    )
    SELECT @tenant_id::text, @id::text, @station_id::text, @connector_number::integer, counter.transaction_id,
        @id_tag::text, sqlc.narg(token_id)::text, sqlc.narg(driver_id)::text, sqlc.narg(group_id)::text,
        sqlc.narg(tariff_id)::text, @tariff_version::integer, @meter_start_wh::text, @meter_stop_wh::text,
        @started_at::timestamptz, sqlc.narg(parking_started_at)::timestamptz, sqlc.narg(stopped_at)::timestamptz,
        @state::text, @stop_reason::text, @flags::text, @now::timestamptz, @now::timestamptz
    FROM counter
    RETURNING *
)
SELECT true AS created, inserted.* FROM inserted
UNION ALL
SELECT false AS created, existing.* FROM existing;

-- name: Session :one
SELECT * FROM sessions WHERE tenant_id = $1 AND id = $2;

-- name: SessionByTransaction :one
SELECT * FROM sessions WHERE tenant_id = $1 AND transaction_id = $2 AND station_id = $3;

-- name: SessionState :one
SELECT state FROM sessions WHERE tenant_id = $1 AND id = $2;

-- The condition is written as in sessions_open_idx, so that the planner
-- can use that partial index.
-- name: OpenSessions :many
SELECT * FROM sessions
WHERE tenant_id = $1 AND station_id = $2 AND state <> 'ended'
ORDER BY id;

-- name: ListSessions :many
SELECT * FROM sessions WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- UpdateSession leaves an ended session alone (no row): an ended session
-- is sealed with its CDR.
-- name: UpdateSession :one
UPDATE sessions SET state = $1, parking_started_at = $2, flags = $3, updated_at = $4
WHERE tenant_id = $5 AND id = $6 AND state <> 'ended'
RETURNING *;

-- EndSession ends the session and, in the same statement, stores its CDR
-- (when with_cdr) and its events, in array order; an ended or missing
-- session is left alone and gives no row, and then nothing is stored.
-- name: EndSession :one
WITH ended AS (
    UPDATE sessions SET state = 'ended', meter_stop_wh = @meter_stop_wh::text,
        stopped_at = @stopped_at::timestamptz, parking_started_at = sqlc.narg(parking_started_at)::timestamptz,
        stop_reason = @stop_reason::text, flags = @flags::text, updated_at = @now::timestamptz
    WHERE tenant_id = @tenant_id::text AND id = @id::text AND state <> 'ended'
    RETURNING *
), cdr AS (
    INSERT INTO cdrs (
        tenant_id, id, session_id, currency, total_excl_vat, total_incl_vat, amount_minor,
        document, breakdown, created_at
    )
    SELECT ended.tenant_id, @cdr_id::text, ended.id, @currency::text, @total_excl_vat::text,
        @total_incl_vat::text, @amount_minor::bigint, @document::bytea, @breakdown::bytea, @now::timestamptz
    FROM ended WHERE @with_cdr::boolean
), event AS (
    INSERT INTO events (id, tenant_id, type, payload, created_at)
    SELECT unnest(@event_ids::text[]), ended.tenant_id, unnest(@event_types::text[]),
        unnest(@event_payloads::bytea[]), @now::timestamptz
    FROM ended
)
SELECT * FROM ended;

-- AddSamples stores a session's readings, one array element per reading
-- (set-returning functions in one select list run in step), and returns
-- the session's state, empty when the tenant has no such session; then,
-- as when it has ended, nothing is stored. A reading at a time
-- already stored is dropped. FOR SHARE keeps the session from ending in a
-- concurrent transaction until the readings are committed.
-- name: AddSamples :one
WITH session AS (
    SELECT state FROM sessions WHERE tenant_id = @tenant_id::text AND id = @session_id::text
), inserted AS (
    INSERT INTO meter_samples (tenant_id, session_id, time, energy_wh, power_w, current_a, soc, context)
    SELECT @tenant_id::text, @session_id::text, unnest(@times::timestamptz[]), unnest(@energy_wh::text[]),
           unnest(@power_w::text[]), unnest(@current_a::text[]), unnest(@soc::text[]), unnest(@context::text[])
    WHERE EXISTS (SELECT FROM session WHERE state <> 'ended')
    ON CONFLICT (tenant_id, session_id, time) DO NOTHING
)
SELECT coalesce((SELECT state FROM session), '')::text AS state;

-- name: Samples :many
SELECT * FROM meter_samples WHERE tenant_id = $1 AND session_id = $2 ORDER BY time;

-- name: CDR :one
SELECT * FROM cdrs WHERE tenant_id = $1 AND id = $2;

-- name: CDRBySession :one
SELECT * FROM cdrs WHERE tenant_id = $1 AND session_id = $2;

-- name: ListCDRs :many
SELECT * FROM cdrs WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- LockOutbox takes the lock that makes outbox positions follow commit
-- order (see the events table); it is released at commit or rollback.
-- The key is the first eight bytes of "evbill.outbox" as a bigint.
-- name: LockOutbox :exec
SELECT pg_advisory_xact_lock(7311139250012696175);

-- name: EventPosition :one
SELECT position FROM events WHERE id = $1;

-- name: PendingEvents :many
SELECT id, tenant_id, type, payload, created_at FROM events
WHERE position > @after ORDER BY position LIMIT @lim;


-- name: StaleOpenSessions :many
-- Every tenant's: the sweep runs for the whole installation.
SELECT * FROM sessions
WHERE state <> 'ended' AND updated_at < @before AND @flag::text = ANY (string_to_array(flags, ','))
ORDER BY updated_at, tenant_id, id
LIMIT @lim;
