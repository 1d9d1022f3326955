-- +goose Up
-- A tenant may let unknown chargers register themselves (for demos and
-- first installs): auto_register_site_id names the site they join, NULL
-- (the default) refuses them. SQLite cannot add a table constraint to an
-- existing table, so the reference is checked by the store and by this
-- trigger pair.
ALTER TABLE tenants ADD COLUMN auto_register_site_id TEXT;

-- +goose StatementBegin
CREATE TRIGGER tenants_auto_register_site_check
BEFORE UPDATE OF auto_register_site_id ON tenants
WHEN NEW.auto_register_site_id IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM sites WHERE tenant_id = NEW.id AND id = NEW.auto_register_site_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: tenants.auto_register_site_id');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_auto_register_site_check;
ALTER TABLE tenants DROP COLUMN auto_register_site_id;
