-- +goose Up
-- Payments: the hold, capture, release and refunds of a session paid by
-- card. A payment's state is also its work queue: the worker takes the
-- ones in a pending state whose next attempt is due
-- (payments_due_idx), so nothing is kept only in a process's memory.
-- Every transition is logged in payment_changes, in the transaction that
-- makes it, with the ledger entry when it moves money.
CREATE TABLE payments (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    session_id      TEXT,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('session', 'topup')),
    driver_id       TEXT,
    site_id         TEXT,
    gateway         TEXT    NOT NULL,
    payment_method  TEXT    NOT NULL,
    customer        TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    currency        TEXT    NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    hold_amount     INTEGER NOT NULL CHECK (hold_amount > 0),
    capture_amount  INTEGER NOT NULL CHECK (capture_amount >= 0 AND capture_amount <= hold_amount),
    capture_net     INTEGER NOT NULL CHECK (capture_net >= 0 AND capture_net <= capture_amount),
    captured        INTEGER NOT NULL CHECK (captured >= 0 AND captured <= hold_amount),
    refunded        INTEGER NOT NULL CHECK (refunded >= 0 AND refunded <= captured),
    state           TEXT    NOT NULL CHECK (state IN ('hold_pending', 'held', 'capture_pending', 'captured',
                        'partially_refunded', 'refunded', 'release_pending', 'released', 'failed')),
    failure_code    TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    hold_expires_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT payments_session_key UNIQUE (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id),
    FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id)
);

CREATE INDEX payments_due_idx ON payments (next_attempt_at)
    WHERE state IN ('hold_pending', 'capture_pending', 'release_pending');

-- Held payments wait for their session's CDR: the worker looks for the
-- ones whose CDR is in (SettleablePayments).
CREATE INDEX payments_held_idx ON payments (tenant_id, session_id) WHERE state = 'held';

CREATE TABLE payment_changes (
    tenant_id  TEXT    NOT NULL,
    payment_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, payment_id, seq),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER payment_changes_immutable_update BEFORE UPDATE ON payment_changes
BEGIN
    SELECT RAISE(ABORT, 'payments: the log of changes is never changed');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER payment_changes_immutable_delete BEFORE DELETE ON payment_changes
BEGIN
    SELECT RAISE(ABORT, 'payments: the log of changes is never changed');
END;
-- +goose StatementEnd

-- How each driver pays; a driver without a row is billed some other way.
CREATE TABLE driver_payment_methods (
    tenant_id  TEXT    NOT NULL,
    driver_id  TEXT    NOT NULL,
    pay_by     TEXT    NOT NULL CHECK (pay_by IN ('card', 'wallet', 'account')),
    gateway    TEXT    NOT NULL,
    card       TEXT    NOT NULL,
    customer   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, driver_id),
    FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id)
);

-- Refunds of captured payments: credit notes on their CDRs. A pending
-- refund is work for the payment worker, like a pending payment.
CREATE TABLE refunds (
    tenant_id       TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    payment_id      TEXT    NOT NULL,
    cdr_id          TEXT    NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    reference       TEXT    NOT NULL,
    failure_code    TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
    FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
);

CREATE INDEX refunds_payment_idx ON refunds (tenant_id, payment_id);
CREATE INDEX refunds_due_idx ON refunds (next_attempt_at) WHERE state = 'pending';

-- Verified gateway notifications, each recorded once: a repeated delivery
-- finds its row and changes nothing.
CREATE TABLE gateway_events (
    gateway     TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    tenant_id   TEXT    NOT NULL,
    payment_id  TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (gateway, event_id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);

CREATE INDEX payments_reference_idx ON payments (gateway, reference) WHERE reference <> '';

-- +goose Down
DROP TABLE gateway_events;
DROP TABLE refunds;
DROP TABLE driver_payment_methods;
DROP TABLE payment_changes;
DROP TABLE payments;
