-- The first schema of evbill's SQLite store.
--
-- Every table but tenants carries tenant_id, and every reference between
-- records is a composite foreign key (tenant_id, x_id) onto the referenced
-- table's (tenant_id, id) primary key: a record can never point at another
-- tenant's record, whatever the Go code above does.
--
-- Times are INTEGER Unix microseconds (UTC): exact, compact, compared as
-- numbers, and identical to PostgreSQL's timestamptz precision.
-- Tables keep their rowid rather than being WITHOUT ROWID: without
-- statistics, SQLite's planner prefers a scan of a WITHOUT ROWID table's
-- primary key prefix (all of a tenant's rows) over a secondary index.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT tenants_name_key UNIQUE (name)
);

CREATE TABLE api_keys (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'finance', 'readonly')),
    prefix      TEXT    NOT NULL,
    secret_hash BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash)
);

CREATE TABLE sites (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    city        TEXT    NOT NULL,
    postal_code TEXT    NOT NULL,
    country     TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    site_host   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE stations (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    site_id         TEXT    NOT NULL,
    charge_point_id TEXT    NOT NULL,
    vendor          TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    password_hash   BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT stations_charge_point_id_key UNIQUE (tenant_id, charge_point_id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id)
);

CREATE INDEX stations_site_idx ON stations (tenant_id, site_id);

CREATE TABLE connectors (
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
    id               TEXT    NOT NULL,
    station_id       TEXT    NOT NULL,
    connector_number INTEGER NOT NULL,
    standard         TEXT    NOT NULL,
    power_type       TEXT    NOT NULL,
    max_power_kw     TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT connectors_number_key UNIQUE (tenant_id, station_id, connector_number),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id)
);

-- ListConnectors reads one station's connectors in id order.
CREATE INDEX connectors_station_idx ON connectors (tenant_id, station_id, id);

-- tariffs exists so that versions and assignments have one row per tariff
-- to reference: (tenant_id, tariff_id) alone is not unique among versions.
CREATE TABLE tariffs (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- document is TEXT holding the bytes exactly as received: a JSON type
-- would be free to reorder keys or rewrite numbers.
CREATE TABLE tariff_versions (
    tenant_id  TEXT    NOT NULL,
    tariff_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    currency   TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, tariff_id, version),
    FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id)
);

CREATE TABLE driver_groups (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE drivers (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    group_id   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX drivers_group_idx ON drivers (tenant_id, group_id) WHERE group_id IS NOT NULL;

CREATE TABLE tokens (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    uid        TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    driver_id  TEXT,
    group_id   TEXT,
    status     TEXT    NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tokens_uid_key UNIQUE (tenant_id, uid),
    FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX tokens_driver_idx ON tokens (tenant_id, driver_id) WHERE driver_id IS NOT NULL;
CREATE INDEX tokens_group_idx ON tokens (tenant_id, group_id) WHERE group_id IS NOT NULL;

-- An assignment targets exactly one of a site, a station or a connector;
-- the per-target indexes serve AssignmentsForStation.
CREATE TABLE tariff_assignments (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    tariff_id       TEXT    NOT NULL,
    site_id         TEXT,
    station_id      TEXT,
    connector_id    TEXT,
    driver_group_id TEXT,
    valid_from      INTEGER,
    valid_to        INTEGER,
    priority        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tariff_assignments_one_target CHECK (
        (site_id IS NOT NULL) + (station_id IS NOT NULL) + (connector_id IS NOT NULL) = 1
    ),
    CONSTRAINT tariff_assignments_valid_range CHECK (
        valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to
    ),
    FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    FOREIGN KEY (tenant_id, connector_id) REFERENCES connectors (tenant_id, id),
    FOREIGN KEY (tenant_id, driver_group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX tariff_assignments_tariff_idx ON tariff_assignments (tenant_id, tariff_id);
CREATE INDEX tariff_assignments_site_idx ON tariff_assignments (tenant_id, site_id) WHERE site_id IS NOT NULL;
CREATE INDEX tariff_assignments_station_idx ON tariff_assignments (tenant_id, station_id) WHERE station_id IS NOT NULL;
CREATE INDEX tariff_assignments_connector_idx ON tariff_assignments (tenant_id, connector_id) WHERE connector_id IS NOT NULL;
CREATE INDEX tariff_assignments_group_idx ON tariff_assignments (tenant_id, driver_group_id) WHERE driver_group_id IS NOT NULL;

CREATE TABLE idempotent_responses (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- +goose Down
DROP TABLE idempotent_responses;
DROP TABLE tariff_assignments;
DROP TABLE tokens;
DROP TABLE drivers;
DROP TABLE driver_groups;
DROP TABLE tariff_versions;
DROP TABLE tariffs;
DROP TABLE connectors;
DROP TABLE stations;
DROP TABLE sites;
DROP TABLE api_keys;
DROP TABLE tenants;
