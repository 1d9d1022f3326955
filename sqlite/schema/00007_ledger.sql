-- +goose Up
-- The double-entry ledger. Amounts are integer minor units, debits
-- positive, credits negative. The database enforces what the code also
-- checks, so no path can write an unbalanced or altered ledger:
--
-- - An entry's postings are written first and the entry row last; the
--   entry's insert trigger refuses it unless its postings sum to zero in
--   each currency, and a posting's trigger refuses lines for an entry
--   already written. The postings' reference to their entry is deferred,
--   so postings whose entry never comes fail the commit.
-- - Nothing is updated or deleted: triggers refuse it. A correction is a
--   new entry.
-- - Each account's balance follows its postings by trigger, in the same
--   transaction, so balance reads and the trial balance read accounts, not
--   postings.
CREATE TABLE ledger_accounts (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    id         TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    currency   TEXT    NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    type       TEXT    NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'expense')),
    balance    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ledger_accounts_code_key UNIQUE (tenant_id, code, currency)
);

CREATE TABLE ledger_entries (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id),
    id          TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ledger_entries_key_key UNIQUE (tenant_id, key)
);

CREATE TABLE ledger_postings (
    tenant_id  TEXT    NOT NULL,
    entry_id   TEXT    NOT NULL,
    line       INTEGER NOT NULL,
    account_id TEXT    NOT NULL,
    currency   TEXT    NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (tenant_id, entry_id, line),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES ledger_entries (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id)
) WITHOUT ROWID;

-- An account's entries, newest last, for its statement.
CREATE INDEX ledger_postings_account_idx ON ledger_postings (tenant_id, account_id, entry_id);

-- +goose StatementBegin
CREATE TRIGGER ledger_postings_sealed_entry
BEFORE INSERT ON ledger_postings
WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE tenant_id = NEW.tenant_id AND id = NEW.entry_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger: a posting cannot be added to an entry already written');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_postings_currency
BEFORE INSERT ON ledger_postings
WHEN NOT EXISTS (SELECT 1 FROM ledger_accounts WHERE tenant_id = NEW.tenant_id AND id = NEW.account_id AND currency = NEW.currency)
BEGIN
    SELECT RAISE(ABORT, 'ledger: a posting must be in its account''s currency');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_postings_balance
AFTER INSERT ON ledger_postings
BEGIN
    UPDATE ledger_accounts SET balance = balance + NEW.amount
    WHERE tenant_id = NEW.tenant_id AND id = NEW.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_entries_balanced
BEFORE INSERT ON ledger_entries
WHEN (SELECT count(*) FROM ledger_postings WHERE tenant_id = NEW.tenant_id AND entry_id = NEW.id) < 2
  OR EXISTS (SELECT 1 FROM ledger_postings WHERE tenant_id = NEW.tenant_id AND entry_id = NEW.id
             GROUP BY currency HAVING sum(amount) <> 0)
BEGIN
    SELECT RAISE(ABORT, 'ledger: an entry''s postings must sum to zero in each currency');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_entries_immutable_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger: entries are never changed; post a correcting entry');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_entries_immutable_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger: entries are never deleted; post a correcting entry');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_postings_immutable_update BEFORE UPDATE ON ledger_postings
BEGIN
    SELECT RAISE(ABORT, 'ledger: postings are never changed; post a correcting entry');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_postings_immutable_delete BEFORE DELETE ON ledger_postings
BEGIN
    SELECT RAISE(ABORT, 'ledger: postings are never deleted; post a correcting entry');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_accounts_immutable_delete BEFORE DELETE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger: accounts are never deleted');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE ledger_postings;
DROP TABLE ledger_entries;
DROP TABLE ledger_accounts;
