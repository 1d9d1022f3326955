-- +goose Up
-- The sweep that ends sessions a rebooted charger never stopped looks for
-- open sessions, across tenants, by when they last changed. Ended sessions,
-- nearly all of them, stay out of the index.
CREATE INDEX sessions_open_updated_at ON sessions (updated_at) WHERE state <> 'ended';

-- +goose Down
DROP INDEX sessions_open_updated_at;
