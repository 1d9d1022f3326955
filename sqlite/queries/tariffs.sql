-- name: CreateTariff :exec
INSERT INTO tariffs (tenant_id, id, created_at) VALUES (?, ?, ?);

-- name: TariffExists :one
SELECT count(*) FROM tariffs WHERE tenant_id = ? AND id = ?;

-- name: InsertTariffVersion :exec
INSERT INTO tariff_versions (tenant_id, tariff_id, version, currency, document, created_at)
VALUES (?, ?, ?, ?, ?, ?);

-- name: LatestTariffVersionNumber :one
SELECT CAST(coalesce(max(version), 0) AS INTEGER) FROM tariff_versions WHERE tenant_id = ? AND tariff_id = ?;

-- name: TariffVersion :one
SELECT * FROM tariff_versions WHERE tenant_id = ? AND tariff_id = ? AND version = ?;

-- name: LatestTariffVersion :one
SELECT * FROM tariff_versions WHERE tenant_id = ? AND tariff_id = ? ORDER BY version DESC LIMIT 1;

-- name: ListTariffs :many
SELECT v.* FROM tariff_versions v
WHERE v.tenant_id = @tenant_id AND v.tariff_id > @after
  AND v.version = (
    SELECT max(w.version) FROM tariff_versions w
    WHERE w.tenant_id = v.tenant_id AND w.tariff_id = v.tariff_id
  )
ORDER BY v.tariff_id LIMIT @lim;

-- name: ListTariffVersions :many
SELECT * FROM tariff_versions WHERE tenant_id = ? AND tariff_id = ? ORDER BY version;
