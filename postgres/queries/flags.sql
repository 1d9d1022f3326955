-- Annotations made after the fact, such as a chargeback on a billed
-- session: they never change what was billed.

-- FlagSession adds @flag to a session's comma-joined flags in one
-- statement: of two flags given at once, the second waits for the first's
-- row lock and then reads the row it wrote, so both land; a flag given
-- again is not added twice. No row then, as for a session that does not
-- exist, which the store tells apart. An open session's updated_at is the
-- reboot sweep's evidence of the charger's life, which an annotation is
-- not, so only an ended session's moves.
-- name: FlagSession :execrows
UPDATE sessions
SET flags = CASE WHEN flags = '' THEN @flag::text ELSE flags || ',' || @flag::text END,
    updated_at = CASE WHEN state = 'ended' THEN @updated_at::timestamptz ELSE updated_at END
WHERE tenant_id = @tenant_id AND id = @id
  AND NOT (@flag::text = ANY (string_to_array(flags, ',')));
