-- AddSignedValues stores signed meter values of an open session, one
-- array element per record (set-returning functions in one select list
-- run in step, in array order, and the identity is handed out in the order
-- the rows come, which is the order of receipt); nothing for an ended or
-- missing session (AddSamples, sent just before in the same write, reports
-- which), nor for a record the session already has (a retransmission).
-- name: AddSignedValues :exec
INSERT INTO signed_meter_values (tenant_id, session_id, time, context, raw, raw_sha256, created_at)
SELECT @tenant_id::text, @session_id::text, unnest(@times::timestamptz[]), unnest(@contexts::text[]),
       unnest(@raws::bytea[]), unnest(@raw_sha256s::bytea[]), @now::timestamptz
WHERE EXISTS (
    SELECT FROM sessions
    WHERE tenant_id = @tenant_id::text AND id = @session_id::text AND state <> 'ended'
)
ON CONFLICT (tenant_id, session_id, raw_sha256) DO NOTHING;

-- name: SignedValues :many
SELECT time, context, raw, created_at FROM signed_meter_values
WHERE tenant_id = $1 AND session_id = $2
ORDER BY position;
