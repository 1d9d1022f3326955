-- Payments, as in SQLite's 00008_payments.sql: a payment's state is its
-- work queue (payments_due_idx), every transition is logged in
-- payment_changes in the transaction that makes it, with the ledger entry
-- when it moves money.

-- +goose Up
CREATE TABLE payments (
    tenant_id       text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    session_id      text COLLATE "C",
    purpose         text             NOT NULL,
    driver_id       text COLLATE "C",
    site_id         text COLLATE "C",
    gateway         text             NOT NULL,
    payment_method  text             NOT NULL,
    customer        text             NOT NULL,
    reference       text             NOT NULL,
    currency        text COLLATE "C" NOT NULL,
    hold_amount     bigint           NOT NULL,
    capture_amount  bigint           NOT NULL,
    capture_net     bigint           NOT NULL,
    captured        bigint           NOT NULL,
    refunded        bigint           NOT NULL,
    state           text             NOT NULL,
    failure_code    text             NOT NULL,
    attempts        integer          NOT NULL,
    next_attempt_at timestamptz      NOT NULL,
    hold_expires_at timestamptz,
    created_at      timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL,
    CONSTRAINT payments_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT payments_session_key UNIQUE (tenant_id, session_id),
    CONSTRAINT payments_purpose_check CHECK (purpose IN ('session', 'topup')),
    CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payments_amounts_check CHECK (hold_amount > 0
        AND capture_amount >= 0 AND capture_amount <= hold_amount
        AND capture_net >= 0 AND capture_net <= capture_amount
        AND captured >= 0 AND captured <= hold_amount
        AND refunded >= 0 AND refunded <= captured),
    CONSTRAINT payments_state_check CHECK (state IN ('hold_pending', 'held', 'capture_pending', 'captured',
        'partially_refunded', 'refunded', 'release_pending', 'released', 'failed')),
    CONSTRAINT payments_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id),
    CONSTRAINT payments_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id),
    CONSTRAINT payments_driver_fkey FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id),
    CONSTRAINT payments_site_fkey FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id)
);

CREATE INDEX payments_due_idx ON payments (next_attempt_at)
    WHERE state IN ('hold_pending', 'capture_pending', 'release_pending');

-- Held payments wait for their session's CDR: the worker looks for the
-- ones whose CDR is in (SettleablePayments).
CREATE INDEX payments_held_idx ON payments (tenant_id, session_id) WHERE state = 'held';

CREATE TABLE payment_changes (
    tenant_id  text COLLATE "C" NOT NULL,
    payment_id text COLLATE "C" NOT NULL,
    seq        integer          NOT NULL,
    from_state text             NOT NULL,
    to_state   text             NOT NULL,
    reason     text             NOT NULL,
    at         timestamptz      NOT NULL,
    CONSTRAINT payment_changes_pkey PRIMARY KEY (tenant_id, payment_id, seq),
    CONSTRAINT payment_changes_payment_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);

-- +goose StatementBegin
CREATE FUNCTION payment_changes_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payments: the log of changes is never changed' USING ERRCODE = 'check_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER payment_changes_immutable BEFORE UPDATE OR DELETE ON payment_changes
    FOR EACH ROW EXECUTE FUNCTION payment_changes_immutable();

-- How each driver pays; a driver without a row is billed some other way.
CREATE TABLE driver_payment_methods (
    tenant_id  text COLLATE "C" NOT NULL,
    driver_id  text COLLATE "C" NOT NULL,
    pay_by     text             NOT NULL,
    gateway    text             NOT NULL,
    card       text             NOT NULL,
    customer   text             NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT driver_payment_methods_pkey PRIMARY KEY (tenant_id, driver_id),
    CONSTRAINT driver_payment_methods_pay_by_check CHECK (pay_by IN ('card', 'wallet', 'account')),
    CONSTRAINT driver_payment_methods_driver_fkey FOREIGN KEY (tenant_id, driver_id) REFERENCES drivers (tenant_id, id)
);

-- Refunds of captured payments: credit notes on their CDRs. A pending
-- refund is work for the payment worker, like a pending payment.
CREATE TABLE refunds (
    tenant_id       text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    payment_id      text COLLATE "C" NOT NULL,
    cdr_id          text COLLATE "C" NOT NULL,
    amount          bigint           NOT NULL,
    reason          text             NOT NULL,
    state           text             NOT NULL,
    reference       text             NOT NULL,
    failure_code    text             NOT NULL,
    attempts        integer          NOT NULL,
    next_attempt_at timestamptz      NOT NULL,
    created_at      timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL,
    CONSTRAINT refunds_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT refunds_amount_check CHECK (amount > 0),
    CONSTRAINT refunds_state_check CHECK (state IN ('pending', 'succeeded', 'failed')),
    CONSTRAINT refunds_payment_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
    CONSTRAINT refunds_cdr_fkey FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
);

CREATE INDEX refunds_payment_idx ON refunds (tenant_id, payment_id);
CREATE INDEX refunds_due_idx ON refunds (next_attempt_at) WHERE state = 'pending';

-- Verified gateway notifications, each recorded once: a repeated delivery
-- finds its row and changes nothing.
CREATE TABLE gateway_events (
    gateway     text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    tenant_id   text COLLATE "C" NOT NULL,
    payment_id  text COLLATE "C" NOT NULL,
    type        text             NOT NULL,
    body        bytea            NOT NULL,
    received_at timestamptz      NOT NULL,
    CONSTRAINT gateway_events_pkey PRIMARY KEY (gateway, event_id),
    CONSTRAINT gateway_events_payment_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);

CREATE INDEX payments_reference_idx ON payments (gateway, reference) WHERE reference <> '';

-- +goose Down
DROP TABLE gateway_events;
DROP TABLE refunds;
DROP TABLE driver_payment_methods;
DROP TABLE payment_changes;
DROP TABLE payments;
DROP FUNCTION payment_changes_immutable();
