-- +goose Up
-- Ad-hoc payments: a guest's card, taken by the pay page before the
-- charger starts. id_tag is the guest token's uid; the session the charger
-- starts with it claims the payment (session_id is NULL until then), so a
-- tenant has at most one payment per idTag. NULL for every other payment.
ALTER TABLE payments ADD COLUMN id_tag TEXT;

CREATE UNIQUE INDEX payments_id_tag_key ON payments (tenant_id, id_tag) WHERE id_tag IS NOT NULL;

-- The pay page finds an ad-hoc payment by its ID alone: the unguessable ID
-- is the guest's only credential, and the URL names no tenant.
CREATE INDEX payments_adhoc_id_idx ON payments (id) WHERE id_tag IS NOT NULL;

-- The worker's sweep of held ad-hoc payments that no session claimed:
-- few rows, so the index stays small.
CREATE INDEX payments_unclaimed_idx ON payments (created_at)
    WHERE state = 'held' AND id_tag IS NOT NULL AND session_id IS NULL;

-- +goose Down
DROP INDEX payments_unclaimed_idx;
DROP INDEX payments_adhoc_id_idx;
DROP INDEX payments_id_tag_key;
ALTER TABLE payments DROP COLUMN id_tag;
