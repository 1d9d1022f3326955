-- Rollups (evbill.RollupRow), as in SQLite's 00016_rollups.sql: the sums
-- reports read instead of sessions, added to in the transaction that ends
-- a session (its CDR) and in the one that records a refund's success.
--
-- level is an evbill.RollupLevel: 1 connector hour, 2 site hour, 3 site
-- day, 4 site week, 5 site month, 6 station day, 7 station week, 8
-- station month, 9 site hours of the week by month, 10 site total day,
-- 11 site total week, 12 site total month, 13 fleet payment method day,
-- 14 fleet payment method week, 15 fleet payment method month (site_id
-- '' at 13 to 15: all the tenant's sites). bucket is a UTC hour
-- (hours since the epoch) at levels 1 and 2, and the site's local
-- calendar at the others: a day (days since 1970-01-01), a week (the day
-- of its Monday), a month (year × 12 + month − 1), or at level 9 the
-- month × 168 + the local hour of the week (Monday 00:00 is 0). Fields a level does not keep are '' or 0; currency is ''
-- for a session ended without a CDR. energy_mwh is in milliwatt-hours,
-- charging_us and idle_us in microseconds, money in minor units.
--
-- The key leads with the tenant, the level and the site, then the bucket,
-- so that a report over its sites (= ANY of an array) reads one index
-- range per site; there is no other index to keep up on the OCPP path.
-- Adding to a row changes no key column, so with room left on its page
-- (fillfactor 90) the update is HOT and touches no index. No foreign
-- keys: rollups are derived, RebuildRollups makes them again, and they
-- must never keep a record from changing.

-- +goose Up

CREATE TABLE rollups (
    tenant_id         text COLLATE "C" NOT NULL,
    level             smallint         NOT NULL,
    site_id           text COLLATE "C" NOT NULL,
    bucket            bigint           NOT NULL,
    station_id        text COLLATE "C" NOT NULL,
    connector_number  integer          NOT NULL,
    currency          text COLLATE "C" NOT NULL,
    tariff_id         text COLLATE "C" NOT NULL,
    payment_method    text COLLATE "C" NOT NULL,
    sessions          bigint           NOT NULL,
    energy_mwh        bigint           NOT NULL,
    charging_us       bigint           NOT NULL,
    idle_us           bigint           NOT NULL,
    revenue_excl_vat  bigint           NOT NULL,
    revenue_incl_vat  bigint           NOT NULL,
    refunds           bigint           NOT NULL,
    refunded_excl_vat bigint           NOT NULL,
    refunded_incl_vat bigint           NOT NULL,
    CONSTRAINT rollups_pkey PRIMARY KEY (tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method)
) WITH (fillfactor = 90);

-- How a session was paid, as rollups name it (evbill.RollupPay…), as in
-- SQLite: the wallet and account gateways are payment.Wallet and
-- payment.Account; a card payment without a driver is a guest's.
CREATE VIEW rollup_payment_methods AS
SELECT tenant_id, session_id,
    CASE WHEN gateway IN ('wallet', 'account') THEN gateway
         WHEN driver_id IS NULL THEN 'adhoc'
         ELSE 'card' END::text AS payment_method
FROM payments
WHERE purpose = 'session' AND session_id IS NOT NULL;

-- +goose Down
DROP VIEW rollup_payment_methods;
DROP TABLE rollups;
