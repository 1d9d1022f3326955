-- name: InsertPayment :one
INSERT INTO payments (
    tenant_id, id, session_id, purpose, driver_id, site_id, gateway, payment_method, customer, reference,
    currency, hold_amount, capture_amount, capture_net, captured, refunded, state, failure_code,
    attempts, next_attempt_at, hold_expires_at, created_at, updated_at, id_tag
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
RETURNING *;

-- name: Payment :one
SELECT * FROM payments WHERE tenant_id = $1 AND id = $2;

-- name: PaymentBySession :one
SELECT * FROM payments WHERE tenant_id = $1 AND session_id = $2;

-- The condition is written as in payments_due_idx, so that PostgreSQL
-- can use that partial index.
-- name: DuePayments :many
SELECT * FROM payments
WHERE state IN ('hold_pending', 'capture_pending', 'release_pending') AND next_attempt_at <= $1
ORDER BY next_attempt_at LIMIT $2;

-- UpdatePayment changes a payment only if it is still in state @from_state:
-- of two workers moving it, one finds no row.
-- name: UpdatePayment :one
UPDATE payments SET reference = @reference, hold_amount = @hold_amount, capture_amount = @capture_amount,
    capture_net = @capture_net, captured = @captured, refunded = @refunded, state = @state,
    failure_code = @failure_code, attempts = @attempts, next_attempt_at = @next_attempt_at,
    hold_expires_at = @hold_expires_at, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id AND state = @from_state
RETURNING *;

-- name: RetryPayment :execrows
UPDATE payments SET attempts = $1, next_attempt_at = $2, updated_at = $3
WHERE tenant_id = $4 AND id = $5;

-- The payment's row, locked by the UPDATE or INSERT before it in the
-- transaction, keeps two changes of one payment from taking one seq.
-- name: InsertPaymentChange :exec
INSERT INTO payment_changes (tenant_id, payment_id, seq, from_state, to_state, reason, at)
VALUES (@tenant_id, @payment_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_changes WHERE tenant_id = @tenant_id AND payment_id = @payment_id),
    @from_state, @to_state, @reason, @at);

-- name: PaymentChanges :many
SELECT * FROM payment_changes WHERE tenant_id = $1 AND payment_id = $2 ORDER BY seq;

-- SettleablePayments finds the held payments whose session has ended,
-- with its CDR when it has one (a session held back from billing has
-- none). The condition is written as in payments_held_idx, so that the
-- index serves it.
-- name: SettleablePayments :many
SELECT sqlc.embed(p), COALESCE(c.id, '') AS cdr_id, COALESCE(c.currency, '') AS cdr_currency,
    COALESCE(c.total_excl_vat, '') AS total_excl_vat, COALESCE(c.total_incl_vat, '') AS total_incl_vat,
    CAST(COALESCE(c.amount_minor, 0) AS bigint) AS amount_minor
FROM payments p
JOIN sessions s ON s.tenant_id = p.tenant_id AND s.id = p.session_id AND s.state = 'ended'
LEFT JOIN cdrs c ON c.tenant_id = p.tenant_id AND c.session_id = p.session_id
WHERE p.state = 'held'
ORDER BY p.updated_at LIMIT $1;

-- name: SetPaymentMethod :one
INSERT INTO driver_payment_methods (tenant_id, driver_id, pay_by, gateway, card, customer, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant_id, driver_id) DO UPDATE SET pay_by = excluded.pay_by, gateway = excluded.gateway,
    card = excluded.card, customer = excluded.customer, updated_at = excluded.updated_at
RETURNING *;

-- name: PaymentMethod :one
SELECT * FROM driver_payment_methods WHERE tenant_id = $1 AND driver_id = $2;

-- name: InsertRefund :one
INSERT INTO refunds (tenant_id, id, payment_id, cdr_id, amount, reason, state, reference, failure_code,
    attempts, next_attempt_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, 'pending', '', '', 0, $7, $8, $9)
RETURNING *;

-- RefundedOrPending sums a payment's refunds that have not failed: what
-- is given back or on its way.
-- name: RefundedOrPending :one
SELECT CAST(COALESCE(sum(amount), 0) AS bigint) FROM refunds WHERE tenant_id = $1 AND payment_id = $2 AND state <> 'failed';

-- name: Refund :one
SELECT * FROM refunds WHERE tenant_id = $1 AND id = $2;

-- name: DueRefunds :many
SELECT * FROM refunds WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2;

-- name: CompleteRefund :one
UPDATE refunds SET state = $1, reference = $2, failure_code = $3, attempts = 0, updated_at = $4
WHERE tenant_id = $5 AND id = $6 AND state = 'pending'
RETURNING *;

-- name: RetryRefund :execrows
UPDATE refunds SET attempts = $1, next_attempt_at = $2, updated_at = $3
WHERE tenant_id = $4 AND id = $5 AND state = 'pending';

-- name: PaymentByCDR :one
SELECT p.* FROM payments p JOIN cdrs c ON c.tenant_id = p.tenant_id AND c.session_id = p.session_id
WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE OF p;

-- PaymentForUpdate locks a payment's row for the rest of the transaction:
-- two refunds completing at once add their amounts one after the other.
-- name: PaymentForUpdate :one
SELECT * FROM payments WHERE tenant_id = $1 AND id = $2 FOR UPDATE;

-- The condition is written as in payments_reference_idx.
-- name: PaymentByReference :one
SELECT * FROM payments WHERE gateway = $1 AND reference = $2 AND reference <> '';

-- name: InsertGatewayEvent :execrows
INSERT INTO gateway_events (gateway, event_id, tenant_id, payment_id, type, body, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (gateway, event_id) DO NOTHING;

-- name: ExpiringHolds :many
SELECT * FROM payments
WHERE state = 'held' AND hold_expires_at < $1 AND failure_code <> 'hold_expiring'
ORDER BY hold_expires_at LIMIT $2;

-- name: FlagPayment :one
UPDATE payments SET failure_code = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4
RETURNING *;
