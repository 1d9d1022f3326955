-- name: ReceiptEmailCursor :one
SELECT event_id FROM receipt_email_cursors WHERE consumer = $1;

-- The last committed event: one that commits later has a higher position
-- (LockOutbox), so a cursor here misses none.
-- name: LastOutboxEventID :one
SELECT id FROM events ORDER BY position DESC LIMIT 1;

-- A cursor made meanwhile by another worker wins: both then read it.
-- name: InsertReceiptEmailCursor :exec
INSERT INTO receipt_email_cursors (consumer, event_id, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (consumer) DO NOTHING;

-- name: MoveReceiptEmailCursor :execrows
UPDATE receipt_email_cursors SET event_id = @event_id, updated_at = @updated_at
WHERE consumer = @consumer AND event_id = @from_event_id;

-- name: InsertReceiptEmail :execrows
INSERT INTO receipt_emails (
    tenant_id, cdr_id, session_id, event_id, state, attempts, next_attempt_at, last_error, recipient, message_id,
    sent_at, created_at, updated_at
) VALUES ($1, $2, $3, $4, 'pending', 0, $5, '', '', '', NULL, $6, $7)
ON CONFLICT (tenant_id, cdr_id) DO NOTHING;

-- SKIP LOCKED lets workers on several instances claim at once without
-- waiting on each other's rows; the condition is written as in
-- receipt_emails_due_idx, so that the partial index serves it.
-- name: ClaimReceiptEmails :many
UPDATE receipt_emails e SET next_attempt_at = @lease_until
FROM (
    SELECT due.tenant_id, due.cdr_id FROM receipt_emails due
    WHERE due.state = 'pending' AND due.next_attempt_at <= @now
    ORDER BY due.next_attempt_at LIMIT @lim
    FOR UPDATE SKIP LOCKED
) claimed
WHERE e.tenant_id = claimed.tenant_id AND e.cdr_id = claimed.cdr_id
RETURNING e.*;

-- RecordReceiptEmail moves an email only if it is still as its worker
-- claimed it: pending, with the same attempts and the same lease. Of two
-- workers holding it (a lease that lapsed), the first to record wins and
-- the other finds no row.
-- name: RecordReceiptEmail :one
UPDATE receipt_emails SET state = @state, attempts = attempts + @added::integer, next_attempt_at = @next_attempt_at,
    last_error = @last_error, recipient = @recipient, message_id = @message_id, sent_at = @sent_at, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND cdr_id = @cdr_id AND state = 'pending' AND attempts = @attempts
    AND next_attempt_at = @lease
RETURNING *;

-- name: ReceiptEmail :one
SELECT * FROM receipt_emails WHERE tenant_id = $1 AND cdr_id = $2;
