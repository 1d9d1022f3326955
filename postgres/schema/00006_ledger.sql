-- The double-entry ledger, with the same rules as SQLite's (see its
-- 00007_ledger.sql): amounts are integer minor units, debits positive,
-- credits negative; the database refuses an entry whose postings do not
-- sum to zero per currency (postings first, the entry row last, checked by
-- the entry's insert trigger; the postings' deferred reference catches
-- postings whose entry never comes), a posting for an entry already
-- written, a posting in another currency than its account, and any change
-- or deletion; each account's balance follows its postings by trigger.
-- The triggers raise messages starting "ledger: ", which the store words
-- as EINVALID.

-- +goose Up
CREATE TABLE ledger_accounts (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    code       text COLLATE "C" NOT NULL,
    currency   text COLLATE "C" NOT NULL,
    type       text             NOT NULL,
    balance    bigint           NOT NULL DEFAULT 0,
    created_at timestamptz      NOT NULL,
    CONSTRAINT ledger_accounts_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT ledger_accounts_code_key UNIQUE (tenant_id, code, currency),
    CONSTRAINT ledger_accounts_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT ledger_accounts_type_check CHECK (type IN ('asset', 'liability', 'revenue', 'expense')),
    CONSTRAINT ledger_accounts_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE ledger_entries (
    tenant_id   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    kind        text             NOT NULL,
    reference   text COLLATE "C" NOT NULL,
    description text             NOT NULL,
    created_at  timestamptz      NOT NULL,
    CONSTRAINT ledger_entries_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT ledger_entries_key_key UNIQUE (tenant_id, key),
    CONSTRAINT ledger_entries_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE ledger_postings (
    tenant_id  text COLLATE "C" NOT NULL,
    entry_id   text COLLATE "C" NOT NULL,
    line       integer          NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    currency   text COLLATE "C" NOT NULL,
    amount     bigint           NOT NULL,
    CONSTRAINT ledger_postings_pkey PRIMARY KEY (tenant_id, entry_id, line),
    CONSTRAINT ledger_postings_amount_check CHECK (amount <> 0),
    CONSTRAINT ledger_postings_entry_fkey FOREIGN KEY (tenant_id, entry_id)
        REFERENCES ledger_entries (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT ledger_postings_account_fkey FOREIGN KEY (tenant_id, account_id)
        REFERENCES ledger_accounts (tenant_id, id)
);

-- An account's entries, for its statement.
CREATE INDEX ledger_postings_account_idx ON ledger_postings (tenant_id, account_id, entry_id);

-- +goose StatementBegin
CREATE FUNCTION ledger_posting_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE tenant_id = NEW.tenant_id AND id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger: a posting cannot be added to an entry already written' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_postings_sealed BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_sealed();

-- Balances follow once per statement, each account by the sum of its new
-- postings: an account updated row by row within one transaction leaves a
-- chain of row versions that every further update walks, so a statement
-- of many postings to one account (a bulk load, a settlement) would cost
-- the square of their number.
-- +goose StatementBegin
CREATE FUNCTION ledger_postings_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_accounts a SET balance = a.balance + d.total
    FROM (SELECT tenant_id, account_id, currency, sum(amount) AS total
          FROM inserted GROUP BY tenant_id, account_id, currency) d
    WHERE a.tenant_id = d.tenant_id AND a.id = d.account_id AND a.currency = d.currency;
    IF EXISTS (SELECT 1 FROM inserted i WHERE NOT EXISTS (
        SELECT 1 FROM ledger_accounts a WHERE a.tenant_id = i.tenant_id AND a.id = i.account_id AND a.currency = i.currency)) THEN
        RAISE EXCEPTION 'ledger: a posting must be in its account''s currency' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_postings_balance AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_balance();

-- +goose StatementBegin
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ledger_postings WHERE tenant_id = NEW.tenant_id AND entry_id = NEW.id) < 2
       OR EXISTS (SELECT 1 FROM ledger_postings WHERE tenant_id = NEW.tenant_id AND entry_id = NEW.id
                  GROUP BY currency HAVING sum(amount) <> 0) THEN
        RAISE EXCEPTION 'ledger: an entry''s postings must sum to zero in each currency' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();

-- +goose StatementBegin
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % is never changed or deleted; post a correcting entry', TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- +goose Down
DROP TABLE ledger_postings;
DROP TABLE ledger_entries;
DROP TABLE ledger_accounts;
DROP FUNCTION ledger_immutable();
DROP FUNCTION ledger_entry_balanced();
DROP FUNCTION ledger_postings_balance();
DROP FUNCTION ledger_posting_sealed();
