-- Webhooks, as in SQLite's 00011_webhooks.sql: tenants' endpoints, one
-- delivery per endpoint and outbox event (its state is the delivery
-- worker's queue, webhook_deliveries_due_idx), the log of attempts, and
-- each dispatcher's place in the outbox.

-- +goose Up

-- event_types is the endpoint's filter joined by commas ('' for every
-- type). The secrets are kept as given: they are HMAC keys evbill must
-- sign with, so a hash would be useless.
CREATE TABLE webhook_endpoints (
    tenant_id                  text COLLATE "C" NOT NULL,
    id                         text COLLATE "C" NOT NULL,
    url                        text             NOT NULL,
    description                text             NOT NULL,
    event_types                text             NOT NULL,
    secret                     text             NOT NULL,
    previous_secret            text             NOT NULL,
    previous_secret_expires_at timestamptz,
    disabled                   boolean          NOT NULL,
    created_at                 timestamptz      NOT NULL,
    updated_at                 timestamptz      NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_endpoints_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- The event is copied (type, exact payload bytes, time): a delivery is
-- retried and replayed from its own row, whatever becomes of the outbox.
-- The unique key makes the fan-out idempotent.
CREATE TABLE webhook_deliveries (
    tenant_id        text COLLATE "C" NOT NULL,
    id               text COLLATE "C" NOT NULL,
    endpoint_id      text COLLATE "C" NOT NULL,
    event_id         text COLLATE "C" NOT NULL,
    event_type       text             NOT NULL,
    payload          bytea            NOT NULL,
    event_created_at timestamptz      NOT NULL,
    state            text             NOT NULL,
    attempts         integer          NOT NULL,
    failures         integer          NOT NULL,
    next_attempt_at  timestamptz      NOT NULL,
    last_status      integer          NOT NULL,
    last_error       text             NOT NULL,
    created_at       timestamptz      NOT NULL,
    updated_at       timestamptz      NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_deliveries_event_key UNIQUE (tenant_id, endpoint_id, event_id),
    CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'succeeded', 'dead')),
    CONSTRAINT webhook_deliveries_counts_check CHECK (attempts >= 0 AND failures >= 0),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (tenant_id, endpoint_id, id);

CREATE TABLE webhook_attempts (
    tenant_id    text COLLATE "C" NOT NULL,
    delivery_id  text COLLATE "C" NOT NULL,
    n            integer          NOT NULL,
    attempted_at timestamptz      NOT NULL,
    status_code  integer          NOT NULL,
    error        text             NOT NULL,
    duration_us  bigint           NOT NULL,
    response     text             NOT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (tenant_id, delivery_id, n),
    CONSTRAINT webhook_attempts_n_check CHECK (n >= 1),
    CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (tenant_id, delivery_id)
        REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);

-- Where each dispatcher is in the outbox: the ID of the last event it
-- fanned out, so a restart resumes there.
CREATE TABLE webhook_cursors (
    consumer   text COLLATE "C" NOT NULL,
    event_id   text COLLATE "C" NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT webhook_cursors_pkey PRIMARY KEY (consumer)
);

-- +goose Down
DROP TABLE webhook_cursors;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
