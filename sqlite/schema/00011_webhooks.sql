-- +goose Up
-- Webhooks: tenants' endpoints, one delivery per endpoint and outbox
-- event, and the log of attempts. A delivery's state is also the delivery
-- worker's queue (webhook_deliveries_due_idx), as payments are the payment
-- worker's: nothing is kept only in a process's memory.

-- event_types is the endpoint's filter joined by commas ('' for every
-- type; a type cannot hold a comma). The secrets are kept as given: they
-- are HMAC keys evbill must sign with, so a hash would be useless.
CREATE TABLE webhook_endpoints (
    tenant_id                  TEXT    NOT NULL REFERENCES tenants (id),
    id                         TEXT    NOT NULL,
    url                        TEXT    NOT NULL,
    description                TEXT    NOT NULL,
    event_types                TEXT    NOT NULL,
    secret                     TEXT    NOT NULL,
    previous_secret            TEXT    NOT NULL,
    previous_secret_expires_at INTEGER,
    disabled                   INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The event is copied (type, payload, time): a delivery is retried and
-- replayed from its own row, whatever becomes of the outbox. The unique
-- key makes the fan-out idempotent: an event reaches an endpoint once,
-- however often a dispatcher reads it.
CREATE TABLE webhook_deliveries (
    tenant_id        TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    endpoint_id      TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    event_created_at INTEGER NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'succeeded', 'dead')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    failures         INTEGER NOT NULL CHECK (failures >= 0),
    next_attempt_at  INTEGER NOT NULL,
    last_status      INTEGER NOT NULL,
    last_error       TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_deliveries_event_key UNIQUE (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (tenant_id, endpoint_id, id);

CREATE TABLE webhook_attempts (
    tenant_id    TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    n            INTEGER NOT NULL CHECK (n >= 1),
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER NOT NULL,
    error        TEXT    NOT NULL,
    duration_us  INTEGER NOT NULL,
    response     TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id, n),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Where each dispatcher is in the outbox: the ID of the last event it
-- fanned out, so a restart resumes there.
CREATE TABLE webhook_cursors (
    consumer   TEXT    NOT NULL PRIMARY KEY,
    event_id   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE webhook_cursors;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
