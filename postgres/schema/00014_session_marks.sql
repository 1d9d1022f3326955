-- What the outbox last told of a running session, as in SQLite's
-- 00015_session_marks.sql: one row per session, written with the
-- readings that made the store send its session.updated or
-- hold.nearly_exhausted, so that the throttle and the one warning outlive
-- the process that decided them. Keyed like the session's readings.
-- updated_as_of is NULL until a session.updated was sent.

-- +goose Up

CREATE TABLE session_marks (
    tenant_id     text COLLATE "C" NOT NULL,
    session_id    text COLLATE "C" NOT NULL,
    updated_as_of timestamptz,
    energy_wh     text             NOT NULL,
    charge        bigint           NOT NULL,
    hold_warned   boolean          NOT NULL,
    CONSTRAINT session_marks_pkey PRIMARY KEY (tenant_id, session_id),
    CONSTRAINT session_marks_charge_check CHECK (charge >= 0),
    CONSTRAINT session_marks_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- +goose Down
DROP TABLE session_marks;
