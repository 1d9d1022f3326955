-- Receipt emails, as in SQLite's 00014_receipt_emails.sql: one row per
-- CDR, made from its cdr.created outbox event, whose state is also the
-- mail worker's queue (receipt_emails_due_idx); and the worker's place in
-- the outbox. The primary key is the CDR's, so reading the outbox twice
-- mails no CDR twice.

-- +goose Up

CREATE TABLE receipt_emails (
    tenant_id       text COLLATE "C" NOT NULL,
    cdr_id          text COLLATE "C" NOT NULL,
    session_id      text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL,
    state           text             NOT NULL,
    attempts        integer          NOT NULL,
    next_attempt_at timestamptz      NOT NULL,
    last_error      text             NOT NULL,
    recipient       text             NOT NULL,
    message_id      text             NOT NULL,
    sent_at         timestamptz,
    created_at      timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL,
    CONSTRAINT receipt_emails_pkey PRIMARY KEY (tenant_id, cdr_id),
    CONSTRAINT receipt_emails_state_check CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    CONSTRAINT receipt_emails_attempts_check CHECK (attempts >= 0),
    CONSTRAINT receipt_emails_sent_check CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT receipt_emails_cdr_fkey FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
);

CREATE INDEX receipt_emails_due_idx ON receipt_emails (next_attempt_at) WHERE state = 'pending';

-- Where each mail worker is in the outbox: the ID of the last event it
-- read ('' for the start), so a restart resumes there.
CREATE TABLE receipt_email_cursors (
    consumer   text COLLATE "C" NOT NULL,
    event_id   text COLLATE "C" NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT receipt_email_cursors_pkey PRIMARY KEY (consumer)
);

-- +goose Down
DROP TABLE receipt_email_cursors;
DROP TABLE receipt_emails;
