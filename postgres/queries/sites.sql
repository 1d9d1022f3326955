-- name: CreateSite :exec
INSERT INTO sites (tenant_id, id, name, address, city, postal_code, country, time_zone, site_host, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: Site :one
SELECT * FROM sites WHERE tenant_id = $1 AND id = $2;

-- name: ListSites :many
SELECT * FROM sites WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateSite :one
UPDATE sites SET name = $1, address = $2, city = $3, postal_code = $4, country = $5, time_zone = $6, site_host = $7, updated_at = $8
WHERE tenant_id = $9 AND id = $10
RETURNING *;
