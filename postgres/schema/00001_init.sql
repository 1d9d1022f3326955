-- The first schema of evbill's PostgreSQL store.
--
-- Every table but tenants carries tenant_id, and every reference between
-- records is a composite foreign key (tenant_id, x_id) onto the referenced
-- table's (tenant_id, id) primary key: a record can never point at another
-- tenant's record, whatever the Go code above does.
--
-- Constraints are named: the store maps a violated constraint's name to
-- the field it names in the error it returns.
--
-- IDs are text COLLATE "C": they compare byte by byte, as in SQLite, so
-- cursor pagination (id > $after ORDER BY id) gives the same order under
-- any database locale, and faster.
--
-- Times are timestamptz (microseconds, UTC inside).

-- +goose Up
CREATE TABLE tenants (
    id         text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_name_key UNIQUE (name)
);

CREATE TABLE api_keys (
    tenant_id   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    name        text             NOT NULL,
    role        text             NOT NULL,
    prefix      text             NOT NULL,
    secret_hash bytea            NOT NULL,
    created_at  timestamptz      NOT NULL,
    CONSTRAINT api_keys_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'operator', 'finance', 'readonly')),
    CONSTRAINT api_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE sites (
    tenant_id   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    name        text             NOT NULL,
    address     text             NOT NULL,
    city        text             NOT NULL,
    postal_code text             NOT NULL,
    country     text             NOT NULL,
    time_zone   text             NOT NULL,
    site_host   text             NOT NULL,
    created_at  timestamptz      NOT NULL,
    updated_at  timestamptz      NOT NULL,
    CONSTRAINT sites_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT sites_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE stations (
    tenant_id       text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    site_id         text COLLATE "C" NOT NULL,
    charge_point_id text             NOT NULL,
    vendor          text             NOT NULL,
    model           text             NOT NULL,
    password_hash   bytea,
    created_at      timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL,
    CONSTRAINT stations_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT stations_charge_point_id_key UNIQUE (tenant_id, charge_point_id),
    CONSTRAINT stations_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT stations_site_fkey FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id)
);

CREATE INDEX stations_site_idx ON stations (tenant_id, site_id);

CREATE TABLE connectors (
    tenant_id        text COLLATE "C" NOT NULL,
    id               text COLLATE "C" NOT NULL,
    station_id       text COLLATE "C" NOT NULL,
    connector_number integer          NOT NULL,
    standard         text             NOT NULL,
    power_type       text             NOT NULL,
    max_power_kw     text             NOT NULL,
    created_at       timestamptz      NOT NULL,
    updated_at       timestamptz      NOT NULL,
    CONSTRAINT connectors_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT connectors_number_key UNIQUE (tenant_id, station_id, connector_number),
    CONSTRAINT connectors_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT connectors_station_fkey FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id)
);

-- ListConnectors reads one station's connectors in id order.
CREATE INDEX connectors_station_idx ON connectors (tenant_id, station_id, id);

-- tariffs exists so that versions and assignments have one row per tariff
-- to reference: (tenant_id, tariff_id) alone is not unique among versions.
CREATE TABLE tariffs (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT tariffs_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT tariffs_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- document is bytea holding the bytes exactly as received: jsonb would
-- reorder keys, drop duplicates and rewrite numbers, and json or text
-- would still refuse some byte sequences.
CREATE TABLE tariff_versions (
    tenant_id  text COLLATE "C" NOT NULL,
    tariff_id  text COLLATE "C" NOT NULL,
    version    integer          NOT NULL,
    currency   text             NOT NULL,
    document   bytea            NOT NULL,
    created_at timestamptz      NOT NULL,
    CONSTRAINT tariff_versions_pkey PRIMARY KEY (tenant_id, tariff_id, version),
    CONSTRAINT tariff_versions_version_check CHECK (version >= 1),
    CONSTRAINT tariff_versions_tariff_fkey FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id)
);

CREATE TABLE driver_groups (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    created_at timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT driver_groups_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT driver_groups_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE drivers (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    email      text             NOT NULL,
    group_id   text COLLATE "C",
    created_at timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT drivers_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT drivers_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT drivers_group_fkey FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX drivers_group_idx ON drivers (tenant_id, group_id) WHERE group_id IS NOT NULL;

CREATE TABLE tokens (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    uid        text             NOT NULL,
    type       text             NOT NULL,
    driver_id  text COLLATE "C",
    group_id   text COLLATE "C",
    status     text             NOT NULL,
    expires_at timestamptz,
    created_at timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT tokens_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT tokens_uid_key UNIQUE (tenant_id, uid),
    CONSTRAINT tokens_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT tokens_driver_fkey FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    CONSTRAINT tokens_group_fkey FOREIGN KEY (tenant_id, group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX tokens_driver_idx ON tokens (tenant_id, driver_id) WHERE driver_id IS NOT NULL;
CREATE INDEX tokens_group_idx ON tokens (tenant_id, group_id) WHERE group_id IS NOT NULL;

-- An assignment targets exactly one of a site, a station or a connector;
-- the per-target indexes serve AssignmentsForStation.
CREATE TABLE tariff_assignments (
    tenant_id       text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    tariff_id       text COLLATE "C" NOT NULL,
    site_id         text COLLATE "C",
    station_id      text COLLATE "C",
    connector_id    text COLLATE "C",
    driver_group_id text COLLATE "C",
    valid_from      timestamptz,
    valid_to        timestamptz,
    priority        integer          NOT NULL,
    created_at      timestamptz      NOT NULL,
    CONSTRAINT tariff_assignments_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT tariff_assignments_one_target CHECK (num_nonnulls(site_id, station_id, connector_id) = 1),
    CONSTRAINT tariff_assignments_valid_range CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to),
    CONSTRAINT tariff_assignments_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT tariff_assignments_tariff_fkey FOREIGN KEY (tenant_id, tariff_id) REFERENCES tariffs (tenant_id, id),
    CONSTRAINT tariff_assignments_site_fkey FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    CONSTRAINT tariff_assignments_station_fkey FOREIGN KEY (tenant_id, station_id) REFERENCES stations (tenant_id, id),
    CONSTRAINT tariff_assignments_connector_fkey FOREIGN KEY (tenant_id, connector_id) REFERENCES connectors (tenant_id, id),
    CONSTRAINT tariff_assignments_group_fkey FOREIGN KEY (tenant_id, driver_group_id) REFERENCES driver_groups (tenant_id, id)
);

CREATE INDEX tariff_assignments_tariff_idx ON tariff_assignments (tenant_id, tariff_id);
CREATE INDEX tariff_assignments_site_idx ON tariff_assignments (tenant_id, site_id) WHERE site_id IS NOT NULL;
CREATE INDEX tariff_assignments_station_idx ON tariff_assignments (tenant_id, station_id) WHERE station_id IS NOT NULL;
CREATE INDEX tariff_assignments_connector_idx ON tariff_assignments (tenant_id, connector_id) WHERE connector_id IS NOT NULL;
CREATE INDEX tariff_assignments_group_idx ON tariff_assignments (tenant_id, driver_group_id) WHERE driver_group_id IS NOT NULL;

CREATE TABLE idempotent_responses (
    tenant_id    text COLLATE "C" NOT NULL,
    key          text             NOT NULL,
    request_hash bytea            NOT NULL,
    status       integer          NOT NULL,
    body         bytea            NOT NULL,
    created_at   timestamptz      NOT NULL,
    CONSTRAINT idempotent_responses_pkey PRIMARY KEY (tenant_id, key),
    CONSTRAINT idempotent_responses_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
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
