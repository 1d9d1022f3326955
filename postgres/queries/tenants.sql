-- name: CreateTenant :exec
INSERT INTO tenants (id, name, created_at, card_hold, wallet_minimum, account_limit) VALUES ($1, $2, $3, $4, $5, $6);

-- name: TenantByName :one
SELECT id, name, created_at, auto_register_site_id, card_hold, wallet_minimum, account_limit FROM tenants WHERE name = $1;

-- name: Tenant :one
SELECT id, name, created_at, auto_register_site_id, card_hold, wallet_minimum, account_limit FROM tenants WHERE id = @id;

-- name: SetAutoRegisterSite :execrows
UPDATE tenants SET auto_register_site_id = @site_id WHERE id = @id;

-- AutoRegisterTenants looks across tenants: a charger nobody knows does
-- not say whose it is.
-- name: AutoRegisterTenants :many
SELECT id, name, created_at, auto_register_site_id, card_hold, wallet_minimum, account_limit FROM tenants
WHERE auto_register_site_id IS NOT NULL ORDER BY id;

-- name: CountTenants :one
SELECT count(*) FROM tenants;

-- name: CreateAPIKey :exec
INSERT INTO api_keys (tenant_id, id, name, role, prefix, secret_hash, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: ListAPIKeys :many
SELECT tenant_id, id, name, role, prefix, created_at FROM api_keys
WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- APIKeyByHash is the one lookup not scoped by tenant: it is how a request
-- finds its tenant.
-- name: APIKeyByHash :one
SELECT tenant_id, id, name, role, prefix, created_at FROM api_keys WHERE secret_hash = $1;

-- name: SaveIdempotentResponse :exec
INSERT INTO idempotent_responses (tenant_id, key, request_hash, status, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: IdempotentResponse :one
SELECT key, request_hash, status, body, created_at FROM idempotent_responses
WHERE tenant_id = $1 AND key = $2;

-- A reservation (status 0) becomes the stored answer once the request has
-- run; a row that is already complete is left alone.
-- name: CompleteIdempotentResponse :execrows
UPDATE idempotent_responses SET status = @status, body = @body
WHERE tenant_id = @tenant_id AND key = @key AND status = 0;

-- name: ReleaseIdempotencyKey :exec
DELETE FROM idempotent_responses
WHERE tenant_id = @tenant_id AND key = @key AND status = 0 AND created_at < @reserved_before;
