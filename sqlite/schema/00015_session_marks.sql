-- +goose Up
-- What the outbox last told of a running session (evbill.SessionMark):
-- the reading its last session.updated was as of, the energy and charge
-- then, and whether hold.nearly_exhausted went out. It is written with
-- the readings that made the store send those events, so the throttle
-- and the one warning outlive the process that decided them.
--
-- One row per session, keyed by the session's seq like its readings
-- (00006). With a single integer key, session_seq is an INTEGER PRIMARY
-- KEY, the rowid itself: the row is then stored in the table's one B-tree
-- under that key, which is what WITHOUT ROWID would give, and SQLite's
-- documentation finds the rowid table the faster of the two for such a
-- key. VACUUM keeps a rowid that is a declared column. updated_as_of is
-- NULL until a session.updated was sent.
-- hold_warned is 0 or 1, as the store writes it: SQLite has no boolean.
CREATE TABLE session_marks (
    session_seq   INTEGER NOT NULL PRIMARY KEY REFERENCES sessions (seq),
    updated_as_of INTEGER,
    energy_wh     TEXT    NOT NULL,
    charge        INTEGER NOT NULL CONSTRAINT session_marks_charge_check CHECK (charge >= 0),
    hold_warned   INTEGER NOT NULL CONSTRAINT session_marks_hold_warned_check CHECK (hold_warned IN (0, 1))
);

-- +goose Down
DROP TABLE session_marks;
