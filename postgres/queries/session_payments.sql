-- InsertSessionPayment stores the payment of a session started in the
-- same transaction, found by the start's retransmission key (a
-- retransmitted start finds the session stored the first time), unless
-- that session has a payment already; its creation is logged in the same
-- statement. No row: the session was paid for already.
-- name: InsertSessionPayment :many
WITH s AS (
    SELECT id FROM sessions
    WHERE tenant_id = @tenant_id::text AND station_id = @station_id::text
      AND connector_number = @connector_number::integer AND id_tag = @id_tag::text
      AND meter_start_wh = @meter_start_wh::text AND started_at = @started_at::timestamptz
), p AS (
    INSERT INTO payments (
        tenant_id, id, session_id, purpose, driver_id, site_id, gateway, payment_method, customer, reference,
        currency, hold_amount, capture_amount, capture_net, captured, refunded, state, failure_code,
        attempts, next_attempt_at, hold_expires_at, created_at, updated_at
    )
    SELECT @tenant_id::text, @id::text, s.id, 'session', sqlc.narg(driver_id)::text, @site_id::text,
        @gateway::text, @payment_method::text, @customer::text, '', @currency::text, @hold_amount::bigint,
        0, 0, 0, 0, 'hold_pending', '', 0, @now::timestamptz, NULL, @now::timestamptz, @now::timestamptz
    FROM s
    ON CONFLICT (tenant_id, session_id) DO NOTHING
    RETURNING *
), logged AS (
    INSERT INTO payment_changes (tenant_id, payment_id, seq, from_state, to_state, reason, at)
    SELECT tenant_id, id, 1, '', state, 'created', created_at FROM p
)
SELECT * FROM p;
