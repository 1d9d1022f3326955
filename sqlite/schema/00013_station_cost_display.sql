-- +goose Up
-- Whether the station shows the driver's price and costs on its own
-- display: the OCPP 1.6 "California Pricing" DataTransfer messages
-- (org.openchargealliance.costmsg). Off by default, as a charger that does
-- not know the vendor ID gains nothing from them. SQLite has no boolean;
-- the CHECK keeps the column to 0 and 1, as the store writes it.
ALTER TABLE stations ADD COLUMN cost_display INTEGER NOT NULL DEFAULT 0
    CONSTRAINT stations_cost_display_check CHECK (cost_display IN (0, 1));

-- +goose Down
ALTER TABLE stations DROP COLUMN cost_display;
