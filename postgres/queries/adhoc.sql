-- Ad-hoc payments: a guest's card taken by the pay page, waiting by its
-- id_tag for the session the charger starts. Each condition below is what
-- keeps a claim and a release of one payment from both succeeding: both
-- require a held payment that no session has claimed, in one statement.

-- name: ClaimAdHocPayment :one
UPDATE payments SET session_id = @session_id, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id_tag = @id_tag AND state = 'held' AND session_id IS NULL
RETURNING *;

-- name: ReleaseAdHocPayment :one
UPDATE payments SET state = 'release_pending', failure_code = @failure_code, attempts = 0,
    next_attempt_at = @updated_at, updated_at = @updated_at
WHERE tenant_id = @tenant_id AND id = @id AND id_tag IS NOT NULL AND state = 'held' AND session_id IS NULL
RETURNING *;

-- UnclaimedAdHocPayments finds the held ad-hoc payments that no session
-- can claim any more: too old, or their token is gone, blocked or
-- expired. The condition on p is written as in payments_unclaimed_idx.
-- name: UnclaimedAdHocPayments :many
SELECT p.* FROM payments p
LEFT JOIN tokens t ON t.tenant_id = p.tenant_id AND t.uid = p.id_tag
WHERE p.state = 'held' AND p.id_tag IS NOT NULL AND p.session_id IS NULL
    AND (p.created_at < @created_before OR t.id IS NULL OR t.status <> 'ACCEPTED' OR t.expires_at <= @now)
ORDER BY p.created_at LIMIT @lim;

-- The condition is written as in payments_adhoc_id_idx.
-- name: AdHocPayment :one
SELECT * FROM payments WHERE id = $1 AND id_tag IS NOT NULL;

-- name: AdHocPaymentByIDTag :one
SELECT * FROM payments WHERE tenant_id = $1 AND id_tag = $2;
