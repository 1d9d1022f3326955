-- InsertOutboxEvent adds one event to the outbox. The transaction must
-- hold LockOutbox, taken before any other lock, so that positions follow
-- commit order.
-- name: InsertOutboxEvent :exec
INSERT INTO events (id, tenant_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5);
