-- +goose Up
-- Whether the station shows the driver's price and costs on its own
-- display: the OCPP 1.6 "California Pricing" DataTransfer messages
-- (org.openchargealliance.costmsg). Off by default, as a charger that does
-- not know the vendor ID gains nothing from them.
ALTER TABLE stations ADD COLUMN cost_display boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE stations DROP COLUMN cost_display;
