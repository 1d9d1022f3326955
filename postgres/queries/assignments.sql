-- name: CreateAssignment :exec
INSERT INTO tariff_assignments (tenant_id, id, tariff_id, site_id, station_id, connector_id, driver_group_id, valid_from, valid_to, priority, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: Assignment :one
SELECT * FROM tariff_assignments WHERE tenant_id = $1 AND id = $2;

-- name: ListAssignments :many
SELECT * FROM tariff_assignments WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: DeleteAssignment :execrows
DELETE FROM tariff_assignments WHERE tenant_id = $1 AND id = $2;

-- AssignmentsForStation is a UNION ALL of the three targets so that each
-- arm uses its own index; an assignment has exactly one target, so no row
-- can appear twice. It is one statement, so one snapshot and one round
-- trip. There is no ORDER BY: SQLite, without statistics, would rather
-- walk the tenant's whole primary key in id order than use the target
-- indexes and sort; the few rows are sorted in Go instead.
-- name: AssignmentsForStation :many
SELECT a.* FROM tariff_assignments a
WHERE a.tenant_id = @tenant_id AND a.station_id = @station_id
UNION ALL
SELECT a.* FROM tariff_assignments a
WHERE a.tenant_id = @tenant_id
  AND a.connector_id IN (SELECT c.id FROM connectors c WHERE c.tenant_id = @tenant_id AND c.station_id = @station_id)
UNION ALL
SELECT a.* FROM tariff_assignments a
WHERE a.tenant_id = @tenant_id
  AND a.site_id = (SELECT s.site_id FROM stations s WHERE s.tenant_id = @tenant_id AND s.id = @station_id);
