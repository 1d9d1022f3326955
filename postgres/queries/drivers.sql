-- name: CreateDriverGroup :exec
INSERT INTO driver_groups (tenant_id, id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5);

-- name: DriverGroup :one
SELECT * FROM driver_groups WHERE tenant_id = $1 AND id = $2;

-- name: ListDriverGroups :many
SELECT * FROM driver_groups WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateDriverGroup :one
UPDATE driver_groups SET name = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 RETURNING *;

-- name: CreateDriver :exec
INSERT INTO drivers (tenant_id, id, name, email, group_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: Driver :one
SELECT * FROM drivers WHERE tenant_id = $1 AND id = $2;

-- name: ListDrivers :many
SELECT * FROM drivers WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateDriver :one
UPDATE drivers SET name = $1, email = $2, group_id = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6 RETURNING *;

-- name: CreateToken :exec
INSERT INTO tokens (tenant_id, id, uid, type, driver_id, group_id, status, expires_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: Token :one
SELECT * FROM tokens WHERE tenant_id = $1 AND id = $2;

-- name: TokenByUID :one
SELECT * FROM tokens WHERE tenant_id = $1 AND uid = $2;

-- name: ListTokens :many
SELECT * FROM tokens WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateToken :one
UPDATE tokens SET uid = $1, type = $2, driver_id = $3, group_id = $4, status = $5, expires_at = $6, updated_at = $7
WHERE tenant_id = $8 AND id = $9
RETURNING *;
