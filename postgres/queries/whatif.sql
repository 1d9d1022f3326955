-- InsertCDRPeriods stores the what-if record of a CDR inserted earlier in
-- the same transaction (the End write's statement, in the same pipeline),
-- with its session's start, site, station and tariff read from the
-- records (the site through the station); nothing when the tenant has no
-- such CDR, as when the session had already ended.
-- name: InsertCDRPeriods :exec
INSERT INTO cdr_periods (tenant_id, started_at, session_id, cdr_id, site_id, station_id, tariff_id, record)
SELECT c.tenant_id, s.started_at, s.id, c.id, st.site_id, s.station_id, s.tariff_id, @record::bytea
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
WHERE c.tenant_id = @tenant_id::text AND c.id = @cdr_id::text;

-- WhatIfCDRs reads a stretch of a what-if's CDRs: those of the tenant
-- that started in [from_at, until), narrowed by the scope fields that are
-- not empty. The store streams its rows (a million for a big what-if)
-- rather than collecting them, and reads only the two columns a what-if
-- needs.
-- name: WhatIfCDRs :many
SELECT site_id, record
FROM cdr_periods
WHERE tenant_id = @tenant_id::text
  AND started_at >= @from_at::timestamptz AND started_at < @until::timestamptz
  AND (@site_id::text = '' OR site_id = @site_id::text)
  AND (@station_id::text = '' OR station_id = @station_id::text)
  AND (@tariff_id::text = '' OR tariff_id = @tariff_id::text);

-- CountWhatIfCDRs counts the CDRs a what-if would read.
-- name: CountWhatIfCDRs :one
SELECT count(*) FROM cdr_periods
WHERE tenant_id = @tenant_id::text AND started_at >= @from_at::timestamptz AND started_at < @until::timestamptz
  AND (@site_id::text = '' OR site_id = @site_id::text)
  AND (@station_id::text = '' OR station_id = @station_id::text)
  AND (@tariff_id::text = '' OR tariff_id = @tariff_id::text);

-- WhatIfSpan returns the first and last session start of the tenant's
-- CDRs in [from_at, until), so that a what-if splits the stretch that
-- has sessions among its readers; found is false when there are none.
-- Each of min and max is one descent of the primary key.
-- name: WhatIfSpan :one
SELECT coalesce(min(started_at), @from_at::timestamptz)::timestamptz AS first_at,
    coalesce(max(started_at), @from_at::timestamptz)::timestamptz AS last_at,
    (min(started_at) IS NOT NULL)::boolean AS found
FROM cdr_periods
WHERE tenant_id = @tenant_id::text AND started_at >= @from_at::timestamptz AND started_at < @until::timestamptz;
