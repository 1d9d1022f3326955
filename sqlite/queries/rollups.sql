-- RollupPlace reads where an ended session's figures land: its station's
-- site and the site's time zone (which decides its local days), and how
-- the session was paid.
-- name: RollupPlace :one
SELECT st.site_id, si.time_zone,
    CAST(coalesce((SELECT pm.payment_method FROM rollup_payment_methods pm
        WHERE pm.tenant_id = st.tenant_id AND pm.session_id = CAST(@session_id AS TEXT)), 'none') AS TEXT) AS payment_method
FROM stations st
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
WHERE st.tenant_id = @tenant_id AND st.id = @station_id;

-- RollupRefundPlace reads where a refund of a CDR lands: the CDR's
-- session's station, connector and tariff, its site and time zone, its
-- payment method, and the CDR's currency.
-- name: RollupRefundPlace :one
SELECT s.station_id, s.connector_number, CAST(coalesce(s.tariff_id, '') AS TEXT) AS tariff_id,
    st.site_id, si.time_zone,
    CAST(coalesce(pm.payment_method, 'none') AS TEXT) AS payment_method, c.currency
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
LEFT JOIN rollup_payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.session_id = s.id
WHERE c.tenant_id = @tenant_id AND c.id = @cdr_id;

-- AddRollup adds one row to the rollups. A session's end adds about a
-- dozen, each with this prepared statement: on SQLite a statement is a
-- call, not a round trip, and twelve of these measured a third of the
-- time of one statement taking the rows as JSON (json_each and
-- json_extract decode each row's text again for each column).
-- name: AddRollup :exec
INSERT INTO rollups (
    tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method,
    sessions, energy_mwh, charging_us, idle_us, revenue_excl_vat, revenue_incl_vat,
    refunds, refunded_excl_vat, refunded_incl_vat
) VALUES (
    @tenant_id, @level, @site_id, @bucket, @station_id, @connector_number, @currency, @tariff_id, @payment_method,
    @sessions, @energy_mwh, @charging_us, @idle_us, @revenue_excl_vat, @revenue_incl_vat,
    @refunds, @refunded_excl_vat, @refunded_incl_vat
)
ON CONFLICT (tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method)
DO UPDATE SET
    sessions = sessions + excluded.sessions,
    energy_mwh = energy_mwh + excluded.energy_mwh,
    charging_us = charging_us + excluded.charging_us,
    idle_us = idle_us + excluded.idle_us,
    revenue_excl_vat = revenue_excl_vat + excluded.revenue_excl_vat,
    revenue_incl_vat = revenue_incl_vat + excluded.revenue_incl_vat,
    refunds = refunds + excluded.refunds,
    refunded_excl_vat = refunded_excl_vat + excluded.refunded_excl_vat,
    refunded_incl_vat = refunded_incl_vat + excluded.refunded_incl_vat;

-- RollupSums sums one level's rows of the given sites (a JSON array of
-- site IDs: each is a run of the primary key from the bucket on) over a
-- range of buckets, keeping the fields whose flag is 1 and the currency.
-- name: RollupSums :many
SELECT
    CAST(CASE WHEN CAST(@by_bucket AS INTEGER) = 1 THEN bucket ELSE 0 END AS INTEGER) AS bucket,
    CAST(CASE WHEN CAST(@by_site AS INTEGER) = 1 THEN site_id ELSE '' END AS TEXT) AS site_id,
    CAST(CASE WHEN CAST(@by_station AS INTEGER) = 1 THEN station_id ELSE '' END AS TEXT) AS station_id,
    CAST(CASE WHEN CAST(@by_connector AS INTEGER) = 1 THEN connector_number ELSE 0 END AS INTEGER) AS connector_number,
    currency,
    CAST(CASE WHEN CAST(@by_tariff AS INTEGER) = 1 THEN tariff_id ELSE '' END AS TEXT) AS tariff_id,
    CAST(CASE WHEN CAST(@by_payment_method AS INTEGER) = 1 THEN payment_method ELSE '' END AS TEXT) AS payment_method,
    CAST(sum(sessions) AS INTEGER) AS sessions,
    CAST(sum(energy_mwh) AS INTEGER) AS energy_mwh,
    CAST(sum(charging_us) AS INTEGER) AS charging_us,
    CAST(sum(idle_us) AS INTEGER) AS idle_us,
    CAST(sum(revenue_excl_vat) AS INTEGER) AS revenue_excl_vat,
    CAST(sum(revenue_incl_vat) AS INTEGER) AS revenue_incl_vat,
    CAST(sum(refunds) AS INTEGER) AS refunds,
    CAST(sum(refunded_excl_vat) AS INTEGER) AS refunded_excl_vat,
    CAST(sum(refunded_incl_vat) AS INTEGER) AS refunded_incl_vat
FROM rollups
WHERE tenant_id = @tenant_id AND level = @level
    AND site_id IN (SELECT value FROM json_each(@site_ids))
    AND bucket >= @from_bucket AND bucket < @to_bucket
    AND (CAST(@station_id AS TEXT) = '' OR station_id = CAST(@station_id AS TEXT))
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 2, 1, 3, 4, 5, 6, 7;

-- RollupBusyHours counts, per site and number of busy connectors, the
-- hours in a range that had that many: a connector is busy in an hour it
-- was occupied (charging or idle) at least min_occupied microseconds of.
-- It reads the connector hours, summed per connector first (a connector's
-- hour has a row per currency, tariff and payment method).
-- name: RollupBusyHours :many
WITH params AS (SELECT CAST(@min_occupied AS INTEGER) AS min_occupied),
connector_hours AS (
    SELECT site_id, bucket, station_id, connector_number, sum(charging_us + idle_us) AS occupied
    FROM rollups
    WHERE tenant_id = @tenant_id AND level = 1
        AND site_id IN (SELECT value FROM json_each(@site_ids))
        AND bucket >= @from_bucket AND bucket < @to_bucket
    GROUP BY site_id, bucket, station_id, connector_number
), site_hours AS (
    SELECT site_id, bucket, count(*) AS busy
    FROM connector_hours
    WHERE occupied >= (SELECT min_occupied FROM params)
    GROUP BY site_id, bucket
)
SELECT site_id, CAST(busy AS INTEGER) AS busy, CAST(count(*) AS INTEGER) AS hours
FROM site_hours
GROUP BY site_id, busy
ORDER BY site_id, busy;

-- name: RollupConnectors :many
SELECT st.site_id, c.station_id, CAST(count(*) AS INTEGER) AS connectors
FROM connectors c
JOIN stations st ON st.tenant_id = c.tenant_id AND st.id = c.station_id
WHERE c.tenant_id = @tenant_id
GROUP BY st.site_id, c.station_id
ORDER BY st.site_id, c.station_id;

-- RollupEndedSessions reads a page of the tenant's ended sessions with
-- what their figures need: the CDR's money (NULL without a CDR), the
-- site and its time zone, the payment method. RebuildRollups reads them
-- all.
-- name: RollupEndedSessions :many
SELECT s.id, s.station_id, s.connector_number, CAST(coalesce(s.tariff_id, '') AS TEXT) AS tariff_id,
    s.meter_start_wh, s.meter_stop_wh, s.started_at, s.parking_started_at, s.stopped_at, s.flags,
    st.site_id, si.time_zone, CAST(coalesce(pm.payment_method, 'none') AS TEXT) AS payment_method,
    c.id AS cdr_id, c.currency, c.total_excl_vat, c.amount_minor
FROM sessions s
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
LEFT JOIN cdrs c ON c.tenant_id = s.tenant_id AND c.session_id = s.id
LEFT JOIN rollup_payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.session_id = s.id
WHERE s.tenant_id = @tenant_id AND s.state = 'ended' AND s.id > @after
ORDER BY s.id
LIMIT @lim;

-- RollupSucceededRefunds reads a page of the tenant's succeeded refunds
-- with where they land (as RollupRefundPlace), when they succeeded (the
-- refund's last update, which recorded the success) and the net their
-- ledger entry (key refund:<id>) posted to a refunds account.
-- name: RollupSucceededRefunds :many
SELECT r.id, r.amount, r.updated_at, s.station_id, s.connector_number,
    CAST(coalesce(s.tariff_id, '') AS TEXT) AS tariff_id, st.site_id, si.time_zone,
    CAST(coalesce(pm.payment_method, 'none') AS TEXT) AS payment_method, c.currency,
    CAST(coalesce((
        SELECT sum(p.amount) FROM ledger_entries e
        JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id
        JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
        WHERE e.tenant_id = r.tenant_id AND e.key = 'refund:' || r.id AND substr(a.code, 1, 8) = 'refunds:'
    ), 0) AS INTEGER) AS net
FROM refunds r
JOIN cdrs c ON c.tenant_id = r.tenant_id AND c.id = r.cdr_id
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
LEFT JOIN rollup_payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.session_id = s.id
WHERE r.tenant_id = @tenant_id AND r.state = 'succeeded' AND r.id > @after
ORDER BY r.id
LIMIT @lim;

-- name: DeleteRollups :exec
DELETE FROM rollups WHERE tenant_id = @tenant_id;

-- name: CountRollups :one
SELECT count(*) FROM rollups WHERE tenant_id = @tenant_id;

-- name: TenantRollups :many
SELECT * FROM rollups WHERE tenant_id = @tenant_id
ORDER BY level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method;

-- RollupTenants lists every tenant, for a rebuild of them all.
-- name: RollupTenants :many
SELECT id FROM tenants ORDER BY id;
