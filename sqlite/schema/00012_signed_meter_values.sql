-- +goose Up
-- Signed meter values (OCMF) and the key that verifies them.
--
-- meter_public_key is the hex of the DER SubjectPublicKeyInfo of the
-- station's calibration-law meter, '' when none is on record. The API
-- checks it on write; the column keeps it as text, the form an operator
-- copies from the meter's label or the transparency software.
ALTER TABLE stations ADD COLUMN meter_public_key TEXT NOT NULL DEFAULT '';

-- A session's signed meter values, as received. raw is TEXT holding the
-- record exactly as the charger sent it (the signature covers those
-- bytes), like CDR documents. A charger that resends a MeterValues resends
-- the same record, so the record's SHA-256 is unique per session: a key on
-- raw itself could exceed what an index entry holds in PostgreSQL, and
-- both engines keep the same key. position is the order of receipt within
-- the session, from 1: one writer assigns it, so MAX + 1 cannot collide.
CREATE TABLE signed_meter_values (
    tenant_id  TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    time       INTEGER NOT NULL,
    context    TEXT    NOT NULL,
    raw        TEXT    NOT NULL,
    raw_sha256 BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_id, position),
    CONSTRAINT signed_meter_values_raw_key UNIQUE (tenant_id, session_id, raw_sha256),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- +goose Down
DROP TABLE signed_meter_values;
ALTER TABLE stations DROP COLUMN meter_public_key;
