-- AddSamplesMarked is AddSamples and AddSignedValues of a write that
-- carries events or a mark, with them, in one statement: the events go
-- into the outbox in array order and the mark replaces the session's only
-- when a reading or a signed value went in, which only the inserts'
-- RETURNING tells, so the condition cannot be a statement of its own
-- without a round trip. It returns the session's state as AddSamples
-- does, and taken: an event ID that the outbox has already, or that the
-- write gives twice. Then nothing is stored, since inserting that event
-- would fail the statement, and with it the transaction of a write sent
-- without a savepoint; but only when something would have been stored
-- (fresh), for a write that stores nothing stores no event either. The
-- transaction holds LockOutbox when there are events, so no other one
-- adds an event between the check and the insert.
-- name: AddSamplesMarked :one
WITH session AS (
    SELECT state FROM sessions WHERE tenant_id = @tenant_id::text AND id = @session_id::text
), fresh AS (
    SELECT FROM unnest(@times::timestamptz[]) AS r(time)
    WHERE NOT EXISTS (
        SELECT FROM meter_samples m
        WHERE m.tenant_id = @tenant_id::text AND m.session_id = @session_id::text AND m.time = r.time
    )
    UNION ALL
    SELECT FROM unnest(@raw_sha256s::bytea[]) AS v(sum)
    WHERE NOT EXISTS (
        SELECT FROM signed_meter_values s
        WHERE s.tenant_id = @tenant_id::text AND s.session_id = @session_id::text AND s.raw_sha256 = v.sum
    )
    LIMIT 1
), taken AS (
    SELECT e.id FROM events e WHERE e.id = ANY(@event_ids::text[])
    UNION ALL
    SELECT d.id FROM unnest(@event_ids::text[]) AS d(id) GROUP BY d.id HAVING count(*) > 1
    LIMIT 1
), open AS (
    SELECT FROM session
    WHERE state <> 'ended' AND NOT (EXISTS (SELECT FROM fresh) AND EXISTS (SELECT FROM taken))
), sample AS (
    INSERT INTO meter_samples (tenant_id, session_id, time, energy_wh, power_w, current_a, soc, context)
    SELECT @tenant_id::text, @session_id::text, unnest(@times::timestamptz[]), unnest(@energy_wh::text[]),
           unnest(@power_w::text[]), unnest(@current_a::text[]), unnest(@soc::text[]), unnest(@context::text[])
    WHERE EXISTS (SELECT FROM open)
    ON CONFLICT (tenant_id, session_id, time) DO NOTHING
    RETURNING 1
), signed AS (
    INSERT INTO signed_meter_values (tenant_id, session_id, time, context, raw, raw_sha256, created_at)
    SELECT @tenant_id::text, @session_id::text, unnest(@signed_times::timestamptz[]), unnest(@signed_contexts::text[]),
           unnest(@raws::bytea[]), unnest(@raw_sha256s::bytea[]), @now::timestamptz
    WHERE EXISTS (SELECT FROM open)
    ON CONFLICT (tenant_id, session_id, raw_sha256) DO NOTHING
    RETURNING 1
), stored AS (
    SELECT WHERE EXISTS (SELECT FROM sample) OR EXISTS (SELECT FROM signed)
), event AS (
    INSERT INTO events (id, tenant_id, type, payload, created_at)
    SELECT unnest(@event_ids::text[]), @tenant_id::text, unnest(@event_types::text[]),
           unnest(@event_payloads::bytea[]), unnest(@event_times::timestamptz[])
    WHERE EXISTS (SELECT FROM stored)
), mark AS (
    INSERT INTO session_marks AS k (tenant_id, session_id, updated_as_of, energy_wh, charge, hold_warned)
    SELECT @tenant_id::text, @session_id::text, sqlc.narg(updated_as_of)::timestamptz, @mark_energy_wh::text,
           @charge::bigint, @hold_warned::boolean
    WHERE @with_mark::boolean AND EXISTS (SELECT FROM stored)
    ON CONFLICT (tenant_id, session_id) DO UPDATE SET updated_as_of = excluded.updated_as_of,
        energy_wh = excluded.energy_wh, charge = excluded.charge, hold_warned = excluded.hold_warned
)
SELECT coalesce((SELECT state FROM session), '')::text AS state,
    coalesce((SELECT id FROM taken WHERE EXISTS (SELECT FROM fresh)), '')::text AS taken;

-- SessionMark reads the session and its mark in one query: a row with
-- NULL mark columns is a session without a mark, no row no session.
-- name: SessionMark :one
SELECT m.updated_as_of, m.energy_wh, m.charge, m.hold_warned
FROM sessions s LEFT JOIN session_marks m ON m.tenant_id = s.tenant_id AND m.session_id = s.id
WHERE s.tenant_id = @tenant_id AND s.id = @session_id;
