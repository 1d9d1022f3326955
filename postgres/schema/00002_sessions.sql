-- Sessions, their meter samples, CDRs and the outbox: the OCPP path.
--
-- As in 00001, every table but events is keyed by tenant_id first, every
-- reference is a composite foreign key, constraints are named (the store
-- maps a violated constraint's name to the field it names), IDs are text
-- COLLATE "C", and decimals are text exactly as the charger or the pricing
-- engine wrote them.

-- +goose Up

-- The next OCPP transaction ID of each tenant. A counter rather than
-- max(transaction_id) + 1: it is one row to lock and update, so two
-- concurrent starts of one tenant queue on it instead of both taking the
-- same ID, and an ID stays used even if its session were ever removed.
CREATE TABLE transaction_counters (
    tenant_id           text COLLATE "C" NOT NULL,
    next_transaction_id bigint           NOT NULL,
    CONSTRAINT transaction_counters_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT transaction_counters_next_check CHECK (next_transaction_id >= 1),
    CONSTRAINT transaction_counters_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- flags is the session's flags joined by commas ('' for none), as in
-- SQLite.
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
    tenant_id          text COLLATE "C" NOT NULL,
    id                 text COLLATE "C" NOT NULL,
    station_id         text COLLATE "C" NOT NULL,
    connector_number   integer          NOT NULL,
    transaction_id     bigint           NOT NULL,
    id_tag             text             NOT NULL,
    token_id           text COLLATE "C",
    driver_id          text COLLATE "C",
    group_id           text COLLATE "C",
    tariff_id          text COLLATE "C",
    tariff_version     integer          NOT NULL,
    meter_start_wh     text             NOT NULL,
    meter_stop_wh      text             NOT NULL,
    started_at         timestamptz      NOT NULL,
    parking_started_at timestamptz,
    stopped_at         timestamptz,
    state              text             NOT NULL,
    stop_reason        text             NOT NULL,
    flags              text             NOT NULL,
    created_at         timestamptz      NOT NULL,
    updated_at         timestamptz      NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_transaction_id_key UNIQUE (tenant_id, transaction_id),
    CONSTRAINT sessions_retransmission_key
        UNIQUE (tenant_id, station_id, connector_number, id_tag, meter_start_wh, started_at),
    CONSTRAINT sessions_transaction_id_check CHECK (transaction_id BETWEEN 1 AND 2147483647),
    CONSTRAINT sessions_state_check CHECK (state IN ('active', 'parking', 'ended')),
    CONSTRAINT sessions_stopped_check CHECK ((state = 'ended') = (stopped_at IS NOT NULL)),
    CONSTRAINT sessions_tariff_version_check CHECK (
        (tariff_id IS NULL AND tariff_version = 0) OR (tariff_id IS NOT NULL AND tariff_version >= 1)
    ),
    CONSTRAINT sessions_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT sessions_station_fkey FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    CONSTRAINT sessions_token_fkey FOREIGN KEY (tenant_id, token_id) REFERENCES tokens (tenant_id, id),
    CONSTRAINT sessions_driver_fkey FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    CONSTRAINT sessions_group_fkey FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id),
    CONSTRAINT sessions_tariff_fkey FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id),
    CONSTRAINT sessions_tariff_version_fkey FOREIGN KEY (tenant_id, tariff_id, tariff_version)
        REFERENCES tariff_versions (tenant_id, tariff_id, version)
);

-- OpenSessions: the few sessions of a station that have not ended, without
-- reading the many that have.
CREATE INDEX sessions_open_idx ON sessions (tenant_id, station_id, id) WHERE state <> 'ended';

-- One reading per session and instant; a retransmitted reading is dropped
-- by INSERT ... ON CONFLICT DO NOTHING.
CREATE TABLE meter_samples (
    tenant_id  text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    time       timestamptz      NOT NULL,
    energy_wh  text             NOT NULL,
    power_w    text             NOT NULL,
    current_a  text             NOT NULL,
    soc        text             NOT NULL,
    context    text             NOT NULL,
    CONSTRAINT meter_samples_pkey PRIMARY KEY (tenant_id, session_id, time),
    CONSTRAINT meter_samples_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- A session has at most one CDR. document and breakdown are bytea holding
-- the bytes exactly as given, like tariff documents (jsonb would rewrite
-- them).
CREATE TABLE cdrs (
    tenant_id      text COLLATE "C" NOT NULL,
    id             text COLLATE "C" NOT NULL,
    session_id     text COLLATE "C" NOT NULL,
    currency       text             NOT NULL,
    total_excl_vat text             NOT NULL,
    total_incl_vat text             NOT NULL,
    amount_minor   bigint           NOT NULL,
    document       bytea            NOT NULL,
    breakdown      bytea            NOT NULL,
    created_at     timestamptz      NOT NULL,
    CONSTRAINT cdrs_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT cdrs_session_key UNIQUE (tenant_id, session_id),
    CONSTRAINT cdrs_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT cdrs_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);

-- The outbox. position orders delivery across all tenants. A sequence
-- hands out values in insert order, not commit order, so a transaction
-- that writes events first takes a transaction-scoped advisory lock (the
-- LockOutbox query): transactions that write events then commit one at a
-- time, in position order, and a reader that has seen position n will
-- never later find a smaller one. Every writer of events must take that
-- lock, and the sequence must keep its cache of 1. Event IDs are unique
-- across tenants, since a consumer may resume after one (PendingEvents)
-- without naming its tenant.
CREATE TABLE events (
    position   bigserial        NOT NULL,
    id         text COLLATE "C" NOT NULL,
    tenant_id  text COLLATE "C" NOT NULL,
    type       text             NOT NULL,
    payload    bytea            NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- +goose Down
DROP TABLE events;
DROP TABLE cdrs;
DROP TABLE meter_samples;
DROP TABLE sessions;
DROP TABLE transaction_counters;
