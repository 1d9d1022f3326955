-- +goose Up
-- Rollups (evbill.RollupRow): the sums reports read instead of sessions,
-- added to in the transaction that ends a session (its CDR) and in the
-- one that records a refund's success. See the attribution rule in the
-- root package's rollups.go.
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
-- charging_us and idle_us in microseconds, money in minor units of the
-- currency.
--
-- The key leads with the tenant, the level and the site, then the
-- bucket: a report names its sites (every one of the tenant's, or one),
-- and each site's buckets in a range are then one run of the B-tree,
-- with no other index to keep up. WITHOUT ROWID stores the rows in that
-- order. There are no foreign keys: rollups are derived from sessions,
-- CDRs and refunds, RebuildRollups makes them again, and they must never
-- keep a record from changing.
CREATE TABLE rollups (
    tenant_id        TEXT    NOT NULL,
    level            INTEGER NOT NULL,
    site_id          TEXT    NOT NULL,
    bucket           INTEGER NOT NULL,
    station_id       TEXT    NOT NULL,
    connector_number INTEGER NOT NULL,
    currency         TEXT    NOT NULL,
    tariff_id        TEXT    NOT NULL,
    payment_method   TEXT    NOT NULL,
    sessions         INTEGER NOT NULL,
    energy_mwh       INTEGER NOT NULL,
    charging_us      INTEGER NOT NULL,
    idle_us          INTEGER NOT NULL,
    revenue_excl_vat INTEGER NOT NULL,
    revenue_incl_vat INTEGER NOT NULL,
    refunds          INTEGER NOT NULL,
    refunded_excl_vat INTEGER NOT NULL,
    refunded_incl_vat INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, level, site_id, bucket, station_id, connector_number, currency, tariff_id, payment_method)
) WITHOUT ROWID;

-- How a session was paid, as rollups name it (evbill.RollupPay…): the
-- wallet and account gateways are payment.Wallet and payment.Account; a
-- card payment without a driver is a guest's, from the pay page. A
-- session without a payment row is "none" where it is read.
CREATE VIEW rollup_payment_methods AS
SELECT tenant_id, session_id,
    CASE WHEN gateway IN ('wallet', 'account') THEN gateway
         WHEN driver_id IS NULL THEN 'adhoc'
         ELSE 'card' END AS payment_method
FROM payments
WHERE purpose = 'session' AND session_id IS NOT NULL;

-- +goose Down
DROP VIEW rollup_payment_methods;
DROP TABLE rollups;
