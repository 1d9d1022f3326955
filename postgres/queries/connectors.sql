-- name: CreateConnector :exec
INSERT INTO connectors (tenant_id, id, station_id, connector_number, standard, power_type, max_power_kw, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: Connector :one
SELECT * FROM connectors WHERE tenant_id = $1 AND id = $2;

-- name: ListConnectors :many
SELECT * FROM connectors
WHERE tenant_id = @tenant_id AND station_id = @station_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateConnector :one
UPDATE connectors SET station_id = $1, connector_number = $2, standard = $3, power_type = $4, max_power_kw = $5, updated_at = $6
WHERE tenant_id = $7 AND id = $8
RETURNING *;
