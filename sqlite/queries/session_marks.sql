-- UpsertSessionMark replaces the session's mark. It runs only after the
-- write's readings went in, so the session exists and is open.
-- name: UpsertSessionMark :exec
INSERT INTO session_marks (session_seq, updated_as_of, energy_wh, charge, hold_warned)
SELECT seq, @updated_as_of, @energy_wh, @charge, @hold_warned
FROM sessions WHERE tenant_id = @tenant_id AND id = @session_id
ON CONFLICT (session_seq) DO UPDATE SET updated_as_of = excluded.updated_as_of,
    energy_wh = excluded.energy_wh, charge = excluded.charge, hold_warned = excluded.hold_warned;

-- SessionMark reads the session and its mark in one query: a row with
-- NULL mark columns is a session without a mark, no row no session.
-- name: SessionMark :one
SELECT m.updated_as_of, m.energy_wh, m.charge, m.hold_warned
FROM sessions s LEFT JOIN session_marks m ON m.session_seq = s.seq
WHERE s.tenant_id = @tenant_id AND s.id = @session_id;
