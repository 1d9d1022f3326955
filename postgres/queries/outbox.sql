-- InsertOutboxEvent adds one event to the outbox. The transaction must
-- hold LockOutbox, taken before any other lock, so that positions follow
-- commit order.
-- name: InsertOutboxEvent :exec
INSERT INTO events (id, tenant_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5);

-- InsertSessionStartedEvent adds session.started for the session a start
-- write created in the same transaction: the session's ID was made for
-- that write, so a retransmitted start, which finds the session stored
-- the first time, matches no row and adds nothing. The payload is the
-- session as the API shows it, with the transaction ID the counter gave.
-- name: InsertSessionStartedEvent :exec
INSERT INTO events (id, tenant_id, type, payload, created_at)
SELECT @event_id::text, s.tenant_id, 'session.started',
       convert_to((@payload::jsonb || jsonb_build_object('transaction_id', s.transaction_id))::text, 'UTF8'),
       @now::timestamptz
FROM sessions s
WHERE s.tenant_id = @tenant_id::text AND s.id = @session_id::text;
