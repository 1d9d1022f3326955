-- +goose Up
-- Receipt emails: one row per CDR, made from its cdr.created outbox event,
-- whose state is also the mail worker's queue (receipt_emails_due_idx),
-- as payments are the payment worker's; and the worker's place in the
-- outbox. The primary key is the CDR's, so reading the outbox twice (two
-- instances, a crash before the commit) mails no CDR twice.
CREATE TABLE receipt_emails (
    tenant_id       TEXT    NOT NULL,
    cdr_id          TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, cdr_id),
    CONSTRAINT receipt_emails_sent_check CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, cdr_id) REFERENCES cdrs (tenant_id, id)
);

CREATE INDEX receipt_emails_due_idx ON receipt_emails (next_attempt_at) WHERE state = 'pending';

-- Where each mail worker is in the outbox: the ID of the last event it
-- read ('' for the start), so a restart resumes there.
CREATE TABLE receipt_email_cursors (
    consumer   TEXT    NOT NULL PRIMARY KEY,
    event_id   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE receipt_email_cursors;
DROP TABLE receipt_emails;
