-- name: CreateTariff :exec
INSERT INTO tariffs (tenant_id, id, created_at) VALUES ($1, $2, $3);

-- name: InsertTariffVersion :exec
INSERT INTO tariff_versions (tenant_id, tariff_id, version, currency, document, created_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: LatestTariffVersionNumber :one
SELECT coalesce(max(version), 0)::integer FROM tariff_versions WHERE tenant_id = $1 AND tariff_id = $2;

-- name: TariffVersion :one
SELECT * FROM tariff_versions WHERE tenant_id = $1 AND tariff_id = $2 AND version = $3;

-- name: LatestTariffVersion :one
SELECT * FROM tariff_versions WHERE tenant_id = $1 AND tariff_id = $2 ORDER BY version DESC LIMIT 1;

-- name: ListTariffs :many
SELECT v.* FROM tariff_versions v
WHERE v.tenant_id = @tenant_id AND v.tariff_id > @after
  AND v.version = (
    SELECT max(w.version) FROM tariff_versions w
    WHERE w.tenant_id = v.tenant_id AND w.tariff_id = v.tariff_id
  )
ORDER BY v.tariff_id LIMIT @lim;

-- name: ListTariffVersions :many
SELECT * FROM tariff_versions WHERE tenant_id = $1 AND tariff_id = $2 ORDER BY version;
