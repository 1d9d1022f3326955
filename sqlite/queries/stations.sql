-- name: CreateStation :exec
INSERT INTO stations (tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: Station :one
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, password_hash IS NOT NULL AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = ? AND id = ?;

-- name: StationByChargePointID :one
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, password_hash IS NOT NULL AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = ? AND charge_point_id = ?;

-- name: ListStations :many
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, password_hash IS NOT NULL AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateStation :one
UPDATE stations SET site_id = ?, charge_point_id = ?, vendor = ?, model = ?, cost_display = ?, meter_public_key = ?, updated_at = ?
WHERE tenant_id = ? AND id = ?
RETURNING *;

-- name: SetStationPassword :execrows
UPDATE stations SET password_hash = ?, updated_at = ? WHERE tenant_id = ? AND id = ?;

-- name: StationPasswordHash :one
SELECT password_hash FROM stations WHERE tenant_id = ? AND id = ?;

-- name: StationSite :one
SELECT site_id FROM stations WHERE tenant_id = ? AND id = ?;

-- name: StationExists :one
SELECT count(*) FROM stations WHERE tenant_id = ? AND id = ?;

-- StationsByChargePointID is, with APIKeyByHash, a lookup across tenants:
-- an OCPP connection names only its charge point id.
-- name: StationsByChargePointID :many
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, password_hash IS NOT NULL AS has_password, created_at, updated_at
FROM stations WHERE charge_point_id = @charge_point_id ORDER BY tenant_id, id LIMIT 16;
