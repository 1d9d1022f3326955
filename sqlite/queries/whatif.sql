-- InsertCDRPeriods stores the what-if record of a CDR just inserted in
-- the same transaction, with its session's start, site, station and
-- tariff read from the records (the site through the station); nothing
-- when the tenant has no such CDR.
-- name: InsertCDRPeriods :exec
INSERT INTO cdr_periods (tenant_id, started_at, session_id, cdr_id, site_id, station_id, tariff_id, record)
SELECT c.tenant_id, s.started_at, s.id, c.id, st.site_id, s.station_id, s.tariff_id, @record
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
WHERE c.tenant_id = @tenant_id AND c.id = @cdr_id;

-- WhatIfCDRs reads a stretch of a what-if's CDRs: those of the tenant
-- that started in [from_at, until), narrowed by the scope fields that are
-- not empty. The store streams its rows (a million for a big what-if)
-- rather than collecting them, and reads only the two columns a what-if
-- needs.
-- name: WhatIfCDRs :many
SELECT site_id, record
FROM cdr_periods
WHERE tenant_id = @tenant_id
  AND started_at >= @from_at AND started_at < @until
  AND (CAST(@site_id AS TEXT) = '' OR site_id = CAST(@site_id AS TEXT))
  AND (CAST(@station_id AS TEXT) = '' OR station_id = CAST(@station_id AS TEXT))
  AND (CAST(@tariff_id AS TEXT) = '' OR tariff_id = CAST(@tariff_id AS TEXT));

-- CountWhatIfCDRs counts the CDRs a what-if would read.
-- name: CountWhatIfCDRs :one
SELECT count(*) FROM cdr_periods
WHERE tenant_id = @tenant_id AND started_at >= @from_at AND started_at < @until
  AND (CAST(@site_id AS TEXT) = '' OR site_id = CAST(@site_id AS TEXT))
  AND (CAST(@station_id AS TEXT) = '' OR station_id = CAST(@station_id AS TEXT))
  AND (CAST(@tariff_id AS TEXT) = '' OR tariff_id = CAST(@tariff_id AS TEXT));
