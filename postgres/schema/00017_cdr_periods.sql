-- What a what-if re-prices (package whatif), as in SQLite's
-- 00018_cdr_periods.sql: one row per CDR, written by the store in the
-- transaction (the pipeline) that inserts the CDR. record is whatif's
-- record of it (the session's ID and start, what the CDR charged, the
-- charging periods it was priced on); the other columns are what a
-- what-if selects by. A what-if over a million sessions reads this table
-- alone, and only site_id and record of it: the OCPI documents are twenty
-- times larger and state durations in rounded hours.
--
-- The primary key leads with the tenant and the session's start, so a
-- time range is one stretch of the index. site_id is the station's site
-- when the session ended; tariff_id is NULL for a session priced under no
-- tariff. CDRs stored before this migration get a legacy record, made
-- here from the CDR's columns: "L<amount> <start µs> <session ID>
-- <currency>", a newline, and the OCPI document, which whatif parses the
-- slow way; converting it needs the pricing engine, which SQL does not
-- have.

-- +goose Up

CREATE TABLE cdr_periods (
    tenant_id    text COLLATE "C" NOT NULL,
    started_at   timestamptz      NOT NULL,
    session_id   text COLLATE "C" NOT NULL,
    cdr_id       text COLLATE "C" NOT NULL,
    site_id      text COLLATE "C" NOT NULL,
    station_id   text COLLATE "C" NOT NULL,
    tariff_id    text COLLATE "C",
    record       bytea            NOT NULL,
    CONSTRAINT cdr_periods_pkey PRIMARY KEY (tenant_id, started_at, session_id),
    CONSTRAINT cdr_periods_cdr_fkey FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
);

INSERT INTO cdr_periods (tenant_id, started_at, session_id, cdr_id, site_id, station_id, tariff_id, record)
SELECT c.tenant_id, s.started_at, s.id, c.id, st.site_id, s.station_id, s.tariff_id,
    convert_to('L' || c.amount_minor || ' ' || (extract(epoch FROM s.started_at) * 1000000)::bigint || ' ' || s.id
        || ' ' || c.currency || E'\n', 'UTF8') || c.document
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id;

-- +goose Down
DROP TABLE cdr_periods;
