-- name: InsertPayment :one
INSERT INTO payments (
    tenant_id, id, session_id, purpose, driver_id, site_id, gateway, payment_method, customer, reference,
    currency, hold_amount, capture_amount, capture_net, captured, refunded, state, failure_code,
    attempts, next_attempt_at, hold_expires_at, created_at, updated_at, id_tag
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING *;

-- name: Payment :one
SELECT * FROM payments WHERE tenant_id = ? AND id = ?;

-- name: PaymentBySession :one
SELECT * FROM payments WHERE tenant_id = ? AND session_id = ?;

-- The condition is written as in payments_due_idx, so that SQLite can use
-- that partial index.
-- name: DuePayments :many
SELECT * FROM payments
WHERE state IN ('hold_pending', 'capture_pending', 'release_pending') AND next_attempt_at <= ?
ORDER BY next_attempt_at LIMIT ?;

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
UPDATE payments SET attempts = ?, next_attempt_at = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?;

-- name: InsertPaymentChange :exec
INSERT INTO payment_changes (tenant_id, payment_id, seq, from_state, to_state, reason, at)
VALUES (@tenant_id, @payment_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_changes WHERE tenant_id = @tenant_id AND payment_id = @payment_id),
    @from_state, @to_state, @reason, @at);

-- name: PaymentChanges :many
SELECT * FROM payment_changes WHERE tenant_id = ? AND payment_id = ? ORDER BY seq;

-- SettleablePayments finds the held payments whose session has ended,
-- with its CDR when it has one (a session held back from billing has
-- none). The condition is written as in payments_held_idx, so that the
-- index serves it.
-- name: SettleablePayments :many
SELECT sqlc.embed(p), COALESCE(c.id, '') AS cdr_id, COALESCE(c.currency, '') AS cdr_currency,
    COALESCE(c.total_excl_vat, '') AS total_excl_vat, COALESCE(c.total_incl_vat, '') AS total_incl_vat,
    CAST(COALESCE(c.amount_minor, 0) AS INTEGER) AS amount_minor
FROM payments p
JOIN sessions s ON s.tenant_id = p.tenant_id AND s.id = p.session_id AND s.state = 'ended'
LEFT JOIN cdrs c ON c.tenant_id = p.tenant_id AND c.session_id = p.session_id
WHERE p.state = 'held'
ORDER BY p.updated_at LIMIT ?;

-- name: SetPaymentMethod :one
INSERT INTO driver_payment_methods (tenant_id, driver_id, pay_by, gateway, card, customer, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, driver_id) DO UPDATE SET pay_by = excluded.pay_by, gateway = excluded.gateway,
    card = excluded.card, customer = excluded.customer, updated_at = excluded.updated_at
RETURNING *;

-- name: PaymentMethod :one
SELECT * FROM driver_payment_methods WHERE tenant_id = ? AND driver_id = ?;

-- name: InsertRefund :one
INSERT INTO refunds (tenant_id, id, payment_id, cdr_id, amount, reason, state, reference, failure_code,
    attempts, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 'pending', '', '', 0, ?, ?, ?)
RETURNING *;

-- RefundedOrPending sums a payment's refunds that have not failed: what
-- is given back or on its way.
-- name: RefundedOrPending :one
SELECT CAST(COALESCE(sum(amount), 0) AS INTEGER) FROM refunds WHERE tenant_id = ? AND payment_id = ? AND state <> 'failed';

-- name: Refund :one
SELECT * FROM refunds WHERE tenant_id = ? AND id = ?;

-- name: DueRefunds :many
SELECT * FROM refunds WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?;

-- name: CompleteRefund :one
UPDATE refunds SET state = ?, reference = ?, failure_code = ?, attempts = 0, updated_at = ?
WHERE tenant_id = ? AND id = ? AND state = 'pending'
RETURNING *;

-- name: RetryRefund :execrows
UPDATE refunds SET attempts = ?, next_attempt_at = ?, updated_at = ?
WHERE tenant_id = ? AND id = ? AND state = 'pending';

-- name: PaymentByCDR :one
SELECT p.* FROM payments p JOIN cdrs c ON c.tenant_id = p.tenant_id AND c.session_id = p.session_id
WHERE c.tenant_id = ? AND c.id = ?;

-- The condition is written as in payments_reference_idx.
-- name: PaymentByReference :one
SELECT * FROM payments WHERE gateway = ? AND reference = ? AND reference <> '';

-- name: InsertGatewayEvent :execrows
INSERT INTO gateway_events (gateway, event_id, tenant_id, payment_id, type, body, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (gateway, event_id) DO NOTHING;

-- name: ExpiringHolds :many
SELECT * FROM payments
WHERE state = 'held' AND hold_expires_at < ? AND failure_code <> 'hold_expiring'
ORDER BY hold_expires_at LIMIT ?;

-- name: FlagPayment :one
UPDATE payments SET failure_code = ?, updated_at = ? WHERE tenant_id = ? AND id = ?
RETURNING *;
