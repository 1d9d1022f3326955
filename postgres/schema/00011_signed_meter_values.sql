-- +goose Up
-- Signed meter values (OCMF) and the key that verifies them.
--
-- meter_public_key is the hex of the DER SubjectPublicKeyInfo of the
-- station's calibration-law meter, '' when none is on record. The API
-- checks it on write; the column keeps it as text, the form an operator
-- copies from the meter's label or the transparency software.
ALTER TABLE stations ADD COLUMN meter_public_key text NOT NULL DEFAULT '';

-- A session's signed meter values, as received. raw is bytea holding the
-- record exactly as the charger sent it (the signature covers those
-- bytes), like CDR documents: text would depend on the database's
-- encoding. A charger that resends a MeterValues resends the same record,
-- so the record's SHA-256 is the key within a session (a record itself
-- can exceed what a B-tree entry holds). position orders the records as
-- received: writes of one session come from one charger connection, one
-- commit after the other, so the identity's order is the order of
-- receipt.
CREATE TABLE signed_meter_values (
    tenant_id  text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    position   bigint           GENERATED ALWAYS AS IDENTITY,
    time       timestamptz      NOT NULL,
    context    text             NOT NULL,
    raw        bytea            NOT NULL,
    raw_sha256 bytea            NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT signed_meter_values_pkey PRIMARY KEY (tenant_id, session_id, raw_sha256),
    CONSTRAINT signed_meter_values_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- +goose Down
DROP TABLE signed_meter_values;
ALTER TABLE stations DROP COLUMN meter_public_key;
