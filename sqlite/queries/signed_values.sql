-- InsertSignedValue stores one signed meter value of an open session, at
-- the next position of the session, in one statement: nothing is stored
-- for an ended or missing session, nor for a record the session already
-- has (a retransmission); only then does the store look at why.
-- name: InsertSignedValue :execrows
INSERT INTO signed_meter_values (tenant_id, session_id, position, time, context, raw, raw_sha256, created_at)
SELECT s.tenant_id, s.id,
    (SELECT COALESCE(MAX(v.position), 0) + 1 FROM signed_meter_values v WHERE v.tenant_id = s.tenant_id AND v.session_id = s.id),
    @time, @context, @raw, @raw_sha256, @created_at
FROM sessions s WHERE s.tenant_id = @tenant_id AND s.id = @session_id AND s.state <> 'ended'
ON CONFLICT (tenant_id, session_id, raw_sha256) DO NOTHING;

-- name: SignedValues :many
SELECT position, time, context, raw, created_at FROM signed_meter_values
WHERE tenant_id = ? AND session_id = ?
ORDER BY position;
