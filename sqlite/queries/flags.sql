-- Annotations made after the fact, such as a chargeback on a billed
-- session: they never change what was billed.

-- FlagSession adds @flag to a session's comma-joined flags in one
-- statement, so two flags given at once both land (there is one writer)
-- and a flag given again is not added twice: no row then, as for a session
-- that does not exist, which the store tells apart. An open session's
-- updated_at is the reboot sweep's evidence of the charger's life, which
-- an annotation is not, so only an ended session's moves.
-- name: FlagSession :execrows
UPDATE sessions
SET flags = CASE WHEN flags = '' THEN CAST(@flag AS TEXT) ELSE flags || ',' || CAST(@flag AS TEXT) END,
    updated_at = CASE WHEN state = 'ended' THEN CAST(@updated_at AS INTEGER) ELSE updated_at END
WHERE tenant_id = @tenant_id AND id = @id
  AND instr(',' || flags || ',', ',' || CAST(@flag AS TEXT) || ',') = 0;
