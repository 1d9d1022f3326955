-- name: InsertWebhookEndpoint :one
INSERT INTO webhook_endpoints (
    tenant_id, id, url, description, event_types, secret, previous_secret, previous_secret_expires_at,
    disabled, created_at, updated_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING *;

-- name: WebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE tenant_id = ? AND id = ?;

-- name: ListWebhookEndpoints :many
SELECT * FROM webhook_endpoints WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- Enabled endpoints only: a disabled one gets no new deliveries.
-- name: EnabledWebhookEndpoints :many
SELECT * FROM webhook_endpoints WHERE tenant_id = ? AND disabled = 0 ORDER BY id;

-- name: UpdateWebhookEndpoint :one
UPDATE webhook_endpoints SET url = @url, description = @description, event_types = @event_types,
    secret = @secret, previous_secret = @previous_secret, previous_secret_expires_at = @previous_secret_expires_at,
    disabled = @disabled, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id
RETURNING *;

-- name: DeleteWebhookEndpoint :execrows
DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?;

-- name: WebhookCursor :one
SELECT event_id FROM webhook_cursors WHERE consumer = ?;

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
) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, 0, '', ?, ?)
ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING;

-- The condition is written as in webhook_deliveries_due_idx, so that the
-- partial index serves the claim. The single writer connection makes the
-- statement the only claim at a time.
-- name: ClaimWebhookDeliveries :many
UPDATE webhook_deliveries SET next_attempt_at = @lease_until
WHERE rowid IN (
    SELECT due.rowid FROM webhook_deliveries AS due
    WHERE due.state = 'pending' AND due.next_attempt_at <= @now
    ORDER BY due.next_attempt_at LIMIT @lim
)
RETURNING *;

-- RecordWebhookAttempt moves a delivery only if it is still pending with
-- the attempts its worker claimed it with: of two workers holding it (a
-- lease that lapsed), one finds no row.
-- name: RecordWebhookAttempt :one
UPDATE webhook_deliveries SET state = @state, attempts = attempts + 1, failures = @failures,
    next_attempt_at = @next_attempt_at, last_status = @last_status, last_error = @last_error, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id AND state = 'pending' AND attempts = @attempts
RETURNING attempts;

-- name: InsertWebhookAttempt :exec
INSERT INTO webhook_attempts (tenant_id, delivery_id, n, attempted_at, status_code, error, duration_us, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: WebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND id = ?;

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE tenant_id = @tenant_id AND endpoint_id = @endpoint_id AND id > @after AND (CAST(@state AS TEXT) = '' OR state = @state)
ORDER BY id LIMIT @lim;

-- name: WebhookAttempts :many
SELECT * FROM webhook_attempts WHERE tenant_id = ? AND delivery_id = ? ORDER BY n;

-- name: ReplayWebhookDelivery :one
UPDATE webhook_deliveries SET state = 'pending', failures = 0, next_attempt_at = @now, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id AND state IN ('succeeded', 'dead')
RETURNING *;
