-- name: CreateDriverGroup :exec
INSERT INTO driver_groups (tenant_id, id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?);

-- name: DriverGroup :one
SELECT * FROM driver_groups WHERE tenant_id = ? AND id = ?;

-- name: ListDriverGroups :many
SELECT * FROM driver_groups WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateDriverGroup :one
UPDATE driver_groups SET name = ?, updated_at = ? WHERE tenant_id = ? AND id = ? RETURNING *;

-- name: DriverGroupExists :one
SELECT count(*) FROM driver_groups WHERE tenant_id = ? AND id = ?;

-- name: CreateDriver :exec
INSERT INTO drivers (tenant_id, id, name, email, group_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: Driver :one
SELECT * FROM drivers WHERE tenant_id = ? AND id = ?;

-- name: ListDrivers :many
SELECT * FROM drivers WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateDriver :one
UPDATE drivers SET name = ?, email = ?, group_id = ?, updated_at = ? WHERE tenant_id = ? AND id = ? RETURNING *;

-- name: DriverExists :one
SELECT count(*) FROM drivers WHERE tenant_id = ? AND id = ?;

-- name: CreateToken :exec
INSERT INTO tokens (tenant_id, id, uid, type, driver_id, group_id, status, expires_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: Token :one
SELECT * FROM tokens WHERE tenant_id = ? AND id = ?;

-- name: TokenByUID :one
SELECT * FROM tokens WHERE tenant_id = ? AND uid = ?;

-- name: ListTokens :many
SELECT * FROM tokens WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateToken :one
UPDATE tokens SET uid = ?, type = ?, driver_id = ?, group_id = ?, status = ?, expires_at = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?
RETURNING *;
