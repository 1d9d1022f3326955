-- +goose Up
-- Chargers connect by charge point id alone, before their tenant is known.
CREATE INDEX stations_charge_point_id ON stations (charge_point_id);

-- +goose Down
DROP INDEX stations_charge_point_id;
