-- +goose Up
-- A tenant may let unknown chargers register themselves (for demos and
-- first installs): auto_register_site_id names the site they join, NULL
-- (the default) refuses them.
ALTER TABLE tenants ADD COLUMN auto_register_site_id text COLLATE "C";
ALTER TABLE tenants ADD CONSTRAINT tenants_auto_register_site_fkey
    FOREIGN KEY (id, auto_register_site_id) REFERENCES sites (tenant_id, id);

-- +goose Down
ALTER TABLE tenants DROP CONSTRAINT tenants_auto_register_site_fkey;
ALTER TABLE tenants DROP COLUMN auto_register_site_id;
