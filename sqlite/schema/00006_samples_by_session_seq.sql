-- +goose Up
-- Readings are the commonest write, and each commit writes every page it
-- changed to the WAL once more. Clustered by (tenant_id, session_id, time),
-- every open session had a leaf page of its own, so a group commit of n
-- readings wrote n pages. Now the rows go at the end of one table, in the
-- order they arrive, and only a small index of (session_seq, time) keeps
-- each session's readings together: a commit changes a few table pages and
-- index pages shared by dozens of sessions (about 30 % less work per
-- commit in BenchmarkApplySessionWrites).
--
-- session_seq is a session's own small integer key. The rowid cannot be
-- it: VACUUM may renumber the rowids of a table without an INTEGER
-- PRIMARY KEY. An added column cannot be NOT NULL without a default, so
-- the default 0, which no session has, makes a missing key fail the
-- unique index at the second such session, and InsertSession always
-- gives one.
ALTER TABLE sessions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET seq = rowid;
CREATE UNIQUE INDEX sessions_seq_key ON sessions (seq);

CREATE TABLE meter_samples_by_seq (
    session_seq INTEGER NOT NULL REFERENCES sessions (seq),
    time        INTEGER NOT NULL,
    energy_wh   TEXT    NOT NULL,
    power_w     TEXT    NOT NULL,
    current_a   TEXT    NOT NULL,
    soc         TEXT    NOT NULL,
    context     TEXT    NOT NULL,
    PRIMARY KEY (session_seq, time)
);
INSERT INTO meter_samples_by_seq (session_seq, time, energy_wh, power_w, current_a, soc, context)
SELECT s.seq, m.time, m.energy_wh, m.power_w, m.current_a, m.soc, m.context
FROM meter_samples m JOIN sessions s ON s.tenant_id = m.tenant_id AND s.id = m.session_id
ORDER BY s.seq, m.time;
DROP TABLE meter_samples;
ALTER TABLE meter_samples_by_seq RENAME TO meter_samples;

-- +goose Down
CREATE TABLE meter_samples_by_session (
    tenant_id  TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    time       INTEGER NOT NULL,
    energy_wh  TEXT    NOT NULL,
    power_w    TEXT    NOT NULL,
    current_a  TEXT    NOT NULL,
    soc        TEXT    NOT NULL,
    context    TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, session_id, time),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
) WITHOUT ROWID;
INSERT INTO meter_samples_by_session
SELECT s.tenant_id, s.id, m.time, m.energy_wh, m.power_w, m.current_a, m.soc, m.context
FROM meter_samples m JOIN sessions s ON s.seq = m.session_seq;
DROP TABLE meter_samples;
ALTER TABLE meter_samples_by_session RENAME TO meter_samples;
DROP INDEX sessions_seq_key;
ALTER TABLE sessions DROP COLUMN seq;
