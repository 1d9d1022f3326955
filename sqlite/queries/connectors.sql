-- name: CreateConnector :exec
INSERT INTO connectors (tenant_id, id, station_id, connector_number, standard, power_type, max_power_kw, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: Connector :one
SELECT * FROM connectors WHERE tenant_id = ? AND id = ?;

-- name: ListConnectors :many
SELECT * FROM connectors
WHERE tenant_id = @tenant_id AND station_id = @station_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateConnector :one
UPDATE connectors SET station_id = ?, connector_number = ?, standard = ?, power_type = ?, max_power_kw = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?
RETURNING *;

-- name: ConnectorExists :one
SELECT count(*) FROM connectors WHERE tenant_id = ? AND id = ?;
