-- Sessions, their meter samples, CDRs and the outbox: the OCPP path.
--
-- As in 00001, every table but events is keyed by tenant_id first and
-- every reference is a composite foreign key, times are INTEGER Unix
-- microseconds, and decimals are TEXT exactly as the charger or the
-- pricing engine wrote them.

-- +goose Up

-- The next OCPP transaction ID of each tenant. A counter rather than
-- max(transaction_id) + 1: it is one row to update, and an ID stays used
-- even if its session were ever removed.
CREATE TABLE transaction_counters (
    tenant_id           TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    next_transaction_id INTEGER NOT NULL CHECK (next_transaction_id >= 1)
);

-- flags is the session's flags joined by commas ('' for none): flags are
-- short identifiers, and a comma list reads plainly in SQL.
--
-- The references the session makes at its start (token, driver, group,
-- tariff version) are NULL when absent, which a foreign key does not
-- check; tariff_version is 0 exactly when there is no tariff. The tariff
-- has two keys, onto the tariff and onto its version, so that an error
-- can say which of the two does not exist.
--
-- sessions_retransmission_key is what identifies a retransmitted
-- StartTransaction: the same station, connector, idTag, meter start and
-- start time.
CREATE TABLE sessions (
    tenant_id          TEXT    NOT NULL REFERENCES tenants (id),
    id                 TEXT    NOT NULL,
    station_id         TEXT    NOT NULL,
    connector_number   INTEGER NOT NULL,
    transaction_id     INTEGER NOT NULL CHECK (transaction_id BETWEEN 1 AND 2147483647),
    id_tag             TEXT    NOT NULL,
    token_id           TEXT,
    driver_id          TEXT,
    group_id           TEXT,
    tariff_id          TEXT,
    tariff_version     INTEGER NOT NULL,
    meter_start_wh     TEXT    NOT NULL,
    meter_stop_wh      TEXT    NOT NULL,
    started_at         INTEGER NOT NULL,
    parking_started_at INTEGER,
    stopped_at         INTEGER,
    state              TEXT    NOT NULL,
    stop_reason        TEXT    NOT NULL,
    flags              TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_transaction_id_key UNIQUE (tenant_id, transaction_id),
    CONSTRAINT sessions_state_check CHECK (state IN ('active', 'parking', 'ended')),
    CONSTRAINT sessions_stopped_check CHECK ((state = 'ended') = (stopped_at IS NOT NULL)),
    CONSTRAINT sessions_tariff_version_check CHECK (
        (tariff_id IS NULL AND tariff_version = 0) OR (tariff_id IS NOT NULL AND tariff_version >= 1)
    ),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id),
    FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id),
    FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id),
    FOREIGN KEY (tenant_id, tariff_id, tariff_version) REFERENCES tariff_versions (tenant_id, tariff_id, version)
);

CREATE UNIQUE INDEX sessions_retransmission_key
    ON sessions (tenant_id, station_id, connector_number, id_tag, meter_start_wh, started_at);

-- OpenSessions: the few sessions of a station that have not ended, without
-- reading the many that have.
CREATE INDEX sessions_open_idx ON sessions (tenant_id, station_id, id) WHERE state <> 'ended';

-- One reading per session and instant; a retransmitted reading is dropped
-- by INSERT ... ON CONFLICT DO NOTHING. WITHOUT ROWID: the primary key is
-- the only way samples are read (one session's, in time order), so the
-- table is that index alone, and an insert writes one b-tree, not two.
CREATE TABLE meter_samples (
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

-- A session has at most one CDR. document and breakdown are TEXT holding
-- the bytes exactly as given, like tariff documents.
CREATE TABLE cdrs (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id),
    id             TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    total_excl_vat TEXT    NOT NULL,
    total_incl_vat TEXT    NOT NULL,
    amount_minor   INTEGER NOT NULL,
    document       TEXT    NOT NULL,
    breakdown      TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT cdrs_session_key UNIQUE (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- The outbox. position orders delivery across all tenants: AUTOINCREMENT
-- never hands out a position again, even after delivered events are
-- deleted, and with one writer positions are assigned in commit order, so
-- a reader that has seen position n will never later find a smaller one.
-- Event IDs are unique across tenants, since a consumer may resume after
-- one (PendingEvents) without naming its tenant. payload is TEXT, not
-- BLOB, for the same exact bytes as documents: SQLite's JSON functions
-- would read a BLOB as its binary JSONB.
CREATE TABLE events (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT events_id_key UNIQUE (id)
);

-- +goose Down
DROP TABLE events;
DROP TABLE cdrs;
DROP TABLE meter_samples;
DROP TABLE sessions;
DROP TABLE transaction_counters;
