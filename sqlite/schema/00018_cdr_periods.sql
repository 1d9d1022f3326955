-- +goose Up
-- What a what-if re-prices (package whatif): one row per CDR, written by
-- the store in the transaction that inserts the CDR. record is whatif's
-- record of it (the session's ID and start, what the CDR charged, the
-- charging periods it was priced on); the other columns are what a
-- what-if selects by. A what-if over a million sessions reads this table
-- alone, and only site_id and record of it: the OCPI documents are twenty
-- times larger and state durations in rounded hours, and with modernc's
-- SQLite each column read costs about as much as decoding the record.
--
-- The key leads with the tenant and the session's start, and the table
-- is WITHOUT ROWID, so a time range is one contiguous stretch of the
-- B-tree, read in order. site_id is the station's site when the session
-- ended. tariff_id is NULL for a session priced under no tariff.
--
-- CDRs stored before this migration get a legacy record, made here from
-- the CDR's columns: "L<amount> <start µs> <session ID> <currency>", a
-- newline, and the OCPI document, which whatif parses the slow way;
-- converting it needs the pricing engine, which SQL does not have.
CREATE TABLE cdr_periods (
    tenant_id    TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    session_id   TEXT    NOT NULL,
    cdr_id       TEXT    NOT NULL,
    site_id      TEXT    NOT NULL,
    station_id   TEXT    NOT NULL,
    tariff_id    TEXT,
    record       BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, started_at, session_id),
    FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
) WITHOUT ROWID;

INSERT INTO cdr_periods (tenant_id, started_at, session_id, cdr_id, site_id, station_id, tariff_id, record)
SELECT c.tenant_id, s.started_at, s.id, c.id, st.site_id, s.station_id, s.tariff_id,
    CAST('L' || c.amount_minor || ' ' || s.started_at || ' ' || s.id || ' ' || c.currency || char(10) || c.document AS BLOB)
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id;

-- +goose Down
DROP TABLE cdr_periods;
