-- name: CreateStation :exec
INSERT INTO stations (tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: Station :one
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, (password_hash IS NOT NULL)::boolean AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = $1 AND id = $2;

-- name: StationByChargePointID :one
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, (password_hash IS NOT NULL)::boolean AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = $1 AND charge_point_id = $2;

-- name: ListStations :many
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, (password_hash IS NOT NULL)::boolean AS has_password, created_at, updated_at
FROM stations WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateStation :one
UPDATE stations SET site_id = $1, charge_point_id = $2, vendor = $3, model = $4, cost_display = $5, meter_public_key = $6, updated_at = $7
WHERE tenant_id = $8 AND id = $9
RETURNING *;

-- name: SetStationPassword :execrows
UPDATE stations SET password_hash = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4;

-- name: StationPasswordHash :one
SELECT password_hash FROM stations WHERE tenant_id = $1 AND id = $2;

-- name: StationSite :one
SELECT site_id FROM stations WHERE tenant_id = $1 AND id = $2;

-- StationsByChargePointID is, with APIKeyByHash, a lookup across tenants:
-- an OCPP connection names only its charge point id.
-- name: StationsByChargePointID :many
SELECT tenant_id, id, site_id, charge_point_id, vendor, model, cost_display, meter_public_key, (password_hash IS NOT NULL)::boolean AS has_password, created_at, updated_at
FROM stations WHERE charge_point_id = @charge_point_id ORDER BY tenant_id, id LIMIT 16;
