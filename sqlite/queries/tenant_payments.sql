-- SetTenantPayments writes the three settings together, as they are
-- checked together: 0 is a value (the server's default), not "unchanged".
-- name: SetTenantPayments :execrows
UPDATE tenants SET card_hold = @card_hold, wallet_minimum = @wallet_minimum, account_limit = @account_limit
WHERE id = @id;
