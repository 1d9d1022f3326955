-- name: InsertWebhookEndpoint :one
INSERT INTO webhook_endpoints (
    tenant_id, id, url, description, event_types, secret, previous_secret, previous_secret_expires_at,
    disabled, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING *;

-- name: WebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2;

-- name: ListWebhookEndpoints :many
SELECT * FROM webhook_endpoints WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- Enabled endpoints only: a disabled one gets no new deliveries.
-- name: EnabledWebhookEndpoints :many
SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND NOT disabled ORDER BY id;

-- name: UpdateWebhookEndpoint :one
UPDATE webhook_endpoints SET url = @url, description = @description, event_types = @event_types,
    secret = @secret, previous_secret = @previous_secret, previous_secret_expires_at = @previous_secret_expires_at,
    disabled = @disabled, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id
RETURNING *;

-- name: DeleteWebhookEndpoint :execrows
DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2;

-- name: WebhookCursor :one
SELECT event_id FROM webhook_cursors WHERE consumer = $1;

-- The first move of a consumer's cursor: a row made meanwhile by another
-- dispatcher is taken over only if it is still at the start.
-- name: StartWebhookCursor :execrows
INSERT INTO webhook_cursors (consumer, event_id, updated_at) VALUES (@consumer, @event_id, @updated_at)
ON CONFLICT (consumer) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at
WHERE webhook_cursors.event_id = '';

-- name: MoveWebhookCursor :execrows
UPDATE webhook_cursors SET event_id = @event_id, updated_at = @updated_at
WHERE consumer = @consumer AND event_id = @from_event_id;

-- name: InsertWebhookDelivery :execrows
INSERT INTO webhook_deliveries (
    tenant_id, id, endpoint_id, event_id, event_type, payload, event_created_at, state, attempts, failures,
    next_attempt_at, last_status, last_error, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, 0, $8, 0, '', $9, $10)
ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING;

-- SKIP LOCKED lets workers on several instances claim at once without
-- waiting on each other's rows; the condition is written as in
-- webhook_deliveries_due_idx, so that the partial index serves it.
-- name: ClaimWebhookDeliveries :many
UPDATE webhook_deliveries d SET next_attempt_at = @lease_until
FROM (
    SELECT due.tenant_id, due.id FROM webhook_deliveries due
    WHERE due.state = 'pending' AND due.next_attempt_at <= @now
    ORDER BY due.next_attempt_at LIMIT @lim
    FOR UPDATE SKIP LOCKED
) claimed
WHERE d.tenant_id = claimed.tenant_id AND d.id = claimed.id
RETURNING d.*;

-- RecordWebhookAttempts records a round's attempts in one statement (the
-- arrays are its results, index by index): each delivery moves only if
-- it is still pending with the attempts its worker claimed it with, so of
-- two workers holding it (a lease that lapsed) one finds no row, and only
-- the deliveries that moved get their attempt logged. The IDs returned
-- are those recorded.
-- name: RecordWebhookAttempts :many
WITH input AS (
    -- Set-returning functions side by side in a select list zip their
    -- rows, as unnest with several arrays would.
    SELECT unnest(@tenant_ids::text[]) AS tenant_id, unnest(@ids::text[]) AS id,
        unnest(@claimed_attempts::integer[]) AS claimed_attempts, unnest(@states::text[]) AS state,
        unnest(@failures::integer[]) AS failures, unnest(@next_attempt_ats::timestamptz[]) AS next_attempt_at,
        unnest(@statuses::integer[]) AS status, unnest(@errors::text[]) AS error,
        unnest(@attempted_ats::timestamptz[]) AS attempted_at, unnest(@durations_us::bigint[]) AS duration_us,
        unnest(@responses::text[]) AS response
), moved AS (
    UPDATE webhook_deliveries w SET state = input.state, attempts = w.attempts + 1, failures = input.failures,
        next_attempt_at = input.next_attempt_at, last_status = input.status, last_error = input.error, updated_at = @updated_at
    FROM input
    WHERE w.tenant_id = input.tenant_id AND w.id = input.id AND w.state = 'pending' AND w.attempts = input.claimed_attempts
    RETURNING w.tenant_id, w.id, w.attempts, input.attempted_at, input.status, input.error, input.duration_us, input.response
), logged AS (
    INSERT INTO webhook_attempts (tenant_id, delivery_id, n, attempted_at, status_code, error, duration_us, response)
    SELECT moved.tenant_id, moved.id, moved.attempts, moved.attempted_at, moved.status, moved.error, moved.duration_us, moved.response
    FROM moved
)
SELECT moved.tenant_id, moved.id, moved.attempts FROM moved;

-- name: WebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2;

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE tenant_id = @tenant_id AND endpoint_id = @endpoint_id AND id > @after AND (@state::text = '' OR state = @state)
ORDER BY id LIMIT @lim;

-- name: WebhookAttempts :many
SELECT * FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY n;

-- name: ReplayWebhookDelivery :one
UPDATE webhook_deliveries SET state = 'pending', failures = 0, next_attempt_at = @now, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id AND state IN ('succeeded', 'dead')
RETURNING *;
