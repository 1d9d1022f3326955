-- +goose Up
-- A tenant's own payment amounts, in minor units of the session's
-- currency; 0 (the default, and every existing tenant's) takes the
-- server's. SQLite cannot add a table constraint to an existing table,
-- but ADD COLUMN takes a column CHECK and tests it against the rows
-- already there. The bounds repeat evbill.TenantPayments.Check, so a
-- write that goes around the store cannot keep an amount the store would
-- refuse. (Widening them later needs no rebuild of tenants: SQLite lets a
-- CHECK be loosened by editing the schema text, writable_schema.)
ALTER TABLE tenants ADD COLUMN card_hold INTEGER NOT NULL DEFAULT 0
    CONSTRAINT tenants_card_hold_check CHECK (card_hold = 0 OR card_hold BETWEEN 100 AND 100000000);
ALTER TABLE tenants ADD COLUMN wallet_minimum INTEGER NOT NULL DEFAULT 0
    CONSTRAINT tenants_wallet_minimum_check CHECK (wallet_minimum BETWEEN 0 AND 10000000);
ALTER TABLE tenants ADD COLUMN account_limit INTEGER NOT NULL DEFAULT 0
    CONSTRAINT tenants_account_limit_check CHECK (account_limit BETWEEN 0 AND 1000000000);

-- +goose Down
ALTER TABLE tenants DROP COLUMN account_limit;
ALTER TABLE tenants DROP COLUMN wallet_minimum;
ALTER TABLE tenants DROP COLUMN card_hold;
