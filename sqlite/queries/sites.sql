-- name: CreateSite :exec
INSERT INTO sites (tenant_id, id, name, address, city, postal_code, country, time_zone, site_host, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: Site :one
SELECT * FROM sites WHERE tenant_id = ? AND id = ?;

-- name: ListSites :many
SELECT * FROM sites WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateSite :one
UPDATE sites SET name = ?, address = ?, city = ?, postal_code = ?, country = ?, time_zone = ?, site_host = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?
RETURNING *;

-- name: SiteExists :one
SELECT count(*) FROM sites WHERE tenant_id = ? AND id = ?;
