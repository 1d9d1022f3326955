-- RollupStationPlaces reads the site, and the site's time zone, of each
-- (tenant, station) pair: where a session's figures land, which a batch
-- needs before its pipeline is sent (see rollupPlaces).
-- name: RollupStationPlaces :many
SELECT st.tenant_id, st.id, st.site_id, si.time_zone
FROM stations st
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
WHERE (st.tenant_id, st.id) IN (
    SELECT unnest(@tenant_ids::text[]), unnest(@station_ids::text[])
);

-- AddSessionRollups adds an ended session's rows to the rollups, in the
-- savepoint of its end, as one more statement of the batch's pipeline.
-- The rows are computed in Go from the ended session as the write gives
-- it; the statement fills in how the session was paid, and adds nothing
-- unless the end itself was stored: its session.ended event is in the
-- outbox (event IDs are unique, made for this write). The session's start
-- as stored must be what the rows were computed from: when it is not,
-- sessions is NULL and the NOT NULL column refuses the write, rather than
-- let the rollups count a session otherwise than a rebuild would.
-- name: AddSessionRollups :exec
WITH r AS (
    SELECT unnest(@levels::smallint[]) AS level, unnest(@site_ids::text[]) AS site_id,
        unnest(@buckets::bigint[]) AS bucket, unnest(@station_ids::text[]) AS station_id,
        unnest(@connector_numbers::integer[]) AS connector_number, unnest(@currencies::text[]) AS currency,
        unnest(@tariff_ids::text[]) AS tariff_id, unnest(@paid::boolean[]) AS paid,
        unnest(@sessions::bigint[]) AS sessions, unnest(@energy_mwh::bigint[]) AS energy_mwh,
        unnest(@charging_us::bigint[]) AS charging_us, unnest(@idle_us::bigint[]) AS idle_us,
        unnest(@revenue_excl_vat::bigint[]) AS revenue_excl_vat, unnest(@revenue_incl_vat::bigint[]) AS revenue_incl_vat,
        unnest(@refunds::bigint[]) AS refunds, unnest(@refunded_excl_vat::bigint[]) AS refunded_excl_vat,
        unnest(@refunded_incl_vat::bigint[]) AS refunded_incl_vat
)
INSERT INTO rollups (
    tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method,
    sessions, energy_mwh, charging_us, idle_us, revenue_excl_vat, revenue_incl_vat,
    refunds, refunded_excl_vat, refunded_incl_vat
)
SELECT s.tenant_id, r.level, r.site_id, r.bucket, r.station_id, r.connector_number, r.currency, r.tariff_id,
    CASE WHEN r.paid THEN coalesce(pm.payment_method, 'none') ELSE '' END,
    CASE WHEN s.station_id = @station_id::text AND s.connector_number = @connector_number::integer
        AND s.started_at = @started_at::timestamptz AND s.meter_start_wh = @meter_start_wh::text
        AND coalesce(s.tariff_id, '') = @tariff_id::text THEN r.sessions END,
    r.energy_mwh, r.charging_us, r.idle_us, r.revenue_excl_vat, r.revenue_incl_vat,
    r.refunds, r.refunded_excl_vat, r.refunded_incl_vat
FROM sessions s
LEFT JOIN rollup_payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.session_id = s.id
CROSS JOIN r
WHERE s.tenant_id = @tenant_id::text AND s.id = @session_id::text
    AND EXISTS (SELECT FROM events e WHERE e.id = @ended_event_id::text)
ON CONFLICT (tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method)
DO UPDATE SET
    sessions = rollups.sessions + excluded.sessions,
    energy_mwh = rollups.energy_mwh + excluded.energy_mwh,
    charging_us = rollups.charging_us + excluded.charging_us,
    idle_us = rollups.idle_us + excluded.idle_us,
    revenue_excl_vat = rollups.revenue_excl_vat + excluded.revenue_excl_vat,
    revenue_incl_vat = rollups.revenue_incl_vat + excluded.revenue_incl_vat,
    refunds = rollups.refunds + excluded.refunds,
    refunded_excl_vat = rollups.refunded_excl_vat + excluded.refunded_excl_vat,
    refunded_incl_vat = rollups.refunded_incl_vat + excluded.refunded_incl_vat;

-- AddRollups adds rows, one array element per row, to the rollups: a
-- refund's, and bulk loads. The rows of one statement must have distinct
-- keys (ON CONFLICT cannot change a row twice); the store sums them
-- first.
-- name: AddRollups :exec
INSERT INTO rollups (
    tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method,
    sessions, energy_mwh, charging_us, idle_us, revenue_excl_vat, revenue_incl_vat,
    refunds, refunded_excl_vat, refunded_incl_vat
)
SELECT unnest(@tenant_ids::text[]), unnest(@levels::smallint[]), unnest(@site_ids::text[]),
    unnest(@buckets::bigint[]), unnest(@station_ids::text[]), unnest(@connector_numbers::integer[]),
    unnest(@currencies::text[]), unnest(@tariff_ids::text[]), unnest(@payment_methods::text[]),
    unnest(@sessions::bigint[]), unnest(@energy_mwh::bigint[]), unnest(@charging_us::bigint[]),
    unnest(@idle_us::bigint[]), unnest(@revenue_excl_vat::bigint[]), unnest(@revenue_incl_vat::bigint[]),
    unnest(@refunds::bigint[]), unnest(@refunded_excl_vat::bigint[]), unnest(@refunded_incl_vat::bigint[])
ON CONFLICT (tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method)
DO UPDATE SET
    sessions = rollups.sessions + excluded.sessions,
    energy_mwh = rollups.energy_mwh + excluded.energy_mwh,
    charging_us = rollups.charging_us + excluded.charging_us,
    idle_us = rollups.idle_us + excluded.idle_us,
    revenue_excl_vat = rollups.revenue_excl_vat + excluded.revenue_excl_vat,
    revenue_incl_vat = rollups.revenue_incl_vat + excluded.revenue_incl_vat,
    refunds = rollups.refunds + excluded.refunds,
    refunded_excl_vat = rollups.refunded_excl_vat + excluded.refunded_excl_vat,
    refunded_incl_vat = rollups.refunded_incl_vat + excluded.refunded_incl_vat;

-- RollupRefundPlace reads where a refund of a CDR lands: the CDR's
-- session's station, connector and tariff, its site and time zone, its
-- payment method, and the CDR's currency.
-- name: RollupRefundPlace :one
SELECT s.station_id, s.connector_number, coalesce(s.tariff_id, '')::text AS tariff_id,
    st.site_id, si.time_zone, coalesce(pm.payment_method, 'none')::text AS payment_method, c.currency
FROM cdrs c
JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
JOIN stations st ON st.tenant_id = s.tenant_id AND st.id = s.station_id
JOIN sites si ON si.tenant_id = st.tenant_id AND si.id = st.site_id
LEFT JOIN rollup_payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.session_id = s.id
WHERE c.tenant_id = @tenant_id AND c.id = @cdr_id;

-- RollupSums sums one level's rows of the given sites over a range of
-- buckets, keeping the fields whose flag is set and the currency.
-- name: RollupSums :many
SELECT
    (CASE WHEN @by_bucket::boolean THEN bucket ELSE 0 END)::bigint AS bucket,
    (CASE WHEN @by_site::boolean THEN site_id ELSE '' END)::text AS site_id,
    (CASE WHEN @by_station::boolean THEN station_id ELSE '' END)::text AS station_id,
    (CASE WHEN @by_connector::boolean THEN connector_number ELSE 0 END)::integer AS connector_number,
    currency,
    (CASE WHEN @by_tariff::boolean THEN tariff_id ELSE '' END)::text AS tariff_id,
    (CASE WHEN @by_payment_method::boolean THEN payment_method ELSE '' END)::text AS payment_method,
    sum(sessions)::bigint AS sessions,
    sum(energy_mwh)::bigint AS energy_mwh,
    sum(charging_us)::bigint AS charging_us,
    sum(idle_us)::bigint AS idle_us,
    sum(revenue_excl_vat)::bigint AS revenue_excl_vat,
    sum(revenue_incl_vat)::bigint AS revenue_incl_vat,
    sum(refunds)::bigint AS refunds,
    sum(refunded_excl_vat)::bigint AS refunded_excl_vat,
    sum(refunded_incl_vat)::bigint AS refunded_incl_vat
FROM rollups
WHERE tenant_id = @tenant_id::text AND level = @level::smallint
    AND site_id = ANY(@site_ids::text[])
    AND bucket >= @from_bucket::bigint AND bucket < @to_bucket::bigint
    AND (@station_id::text = '' OR station_id = @station_id::text)
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 2, 1, 3, 4, 5, 6, 7;

-- RollupBusyHours counts, per site and number of busy connectors, the
-- hours in a range that had that many: a connector is busy in an hour it
-- was occupied (charging or idle) at least min_occupied microseconds of.
-- name: RollupBusyHours :many
WITH connector_hours AS (
    SELECT site_id, bucket, station_id, connector_number, sum(charging_us + idle_us) AS occupied
    FROM rollups
    WHERE tenant_id = @tenant_id::text AND level = 1
        AND site_id = ANY(@site_ids::text[])
        AND bucket >= @from_bucket::bigint AND bucket < @to_bucket::bigint
    GROUP BY site_id, bucket, station_id, connector_number
), site_hours AS (
    SELECT site_id, bucket, count(*) AS busy
    FROM connector_hours
    WHERE occupied >= @min_occupied::bigint
    GROUP BY site_id, bucket
)
SELECT site_id, busy::integer AS busy, count(*)::bigint AS hours
FROM site_hours
GROUP BY site_id, busy
ORDER BY site_id, busy;

-- name: RollupConnectors :many
SELECT st.site_id, c.station_id, count(*)::integer AS connectors
FROM connectors c
JOIN stations st ON st.tenant_id = c.tenant_id AND st.id = c.station_id
WHERE c.tenant_id = @tenant_id
GROUP BY st.site_id, c.station_id
ORDER BY st.site_id, c.station_id;

-- LockRollups keeps every other transaction from adding to the rollups
-- until this one ends (readers go on): a rebuild replaces what it reads
-- with nothing added in between. A session's end waits at its rollup
-- statement; ends already past it committed before the lock was granted.
-- name: LockRollups :exec
LOCK TABLE rollups IN EXCLUSIVE MODE;

-- RollupEndedSessions reads a page of the tenant's ended sessions with
-- what their figures need, as SQLite's.
-- name: RollupEndedSessions :many
SELECT s.id, s.station_id, s.connector_number, coalesce(s.tariff_id, '')::text AS tariff_id,
    s.meter_start_wh, s.meter_stop_wh, s.started_at, s.parking_started_at, s.stopped_at, s.flags,
    st.site_id, si.time_zone, coalesce(pm.payment_method, 'none')::text AS payment_method,
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
-- with where they land, when they succeeded and the net their ledger
-- entry posted to a refunds account, as SQLite's.
-- name: RollupSucceededRefunds :many
SELECT r.id, r.amount, r.updated_at, s.station_id, s.connector_number,
    coalesce(s.tariff_id, '')::text AS tariff_id, st.site_id, si.time_zone,
    coalesce(pm.payment_method, 'none')::text AS payment_method, c.currency,
    coalesce((
        SELECT sum(p.amount) FROM ledger_entries e
        JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id
        JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
        WHERE e.tenant_id = r.tenant_id AND e.key = 'refund:' || r.id AND starts_with(a.code, 'refunds:')
    ), 0)::bigint AS net
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
