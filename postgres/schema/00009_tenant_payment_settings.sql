-- +goose Up
-- A tenant's own payment amounts, in minor units of the session's
-- currency; 0 (the default, and every existing tenant's) takes the
-- server's. The bounds repeat evbill.TenantPayments.Check, so a write that
-- goes around the store cannot keep an amount the store would refuse.
ALTER TABLE tenants
    ADD COLUMN card_hold      bigint NOT NULL DEFAULT 0,
    ADD COLUMN wallet_minimum bigint NOT NULL DEFAULT 0,
    ADD COLUMN account_limit  bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT tenants_card_hold_check CHECK (card_hold = 0 OR card_hold BETWEEN 100 AND 100000000),
    ADD CONSTRAINT tenants_wallet_minimum_check CHECK (wallet_minimum BETWEEN 0 AND 10000000),
    ADD CONSTRAINT tenants_account_limit_check CHECK (account_limit BETWEEN 0 AND 1000000000);

-- +goose Down
ALTER TABLE tenants
    DROP COLUMN account_limit,
    DROP COLUMN wallet_minimum,
    DROP COLUMN card_hold;
