-- Console user management in the browser (docs/console.md, ADR 0032): an admin disables a person
-- instead of deleting them, so their audit trail keeps a name; a disabled user cannot sign in and
-- their sessions are gone. NULL: enabled.
ALTER TABLE console_user ADD COLUMN disabled_at timestamptz;

-- The console's inventory explorer shows the recent drift of one SKU across reconciliation
-- reports (newest report first). Without this, the only way in is the (snapshot_id, sku, ...)
-- primary key: every line of every report would be read. Cost: one index entry per snapshot line.
CREATE INDEX inventory_snapshot_line_sku_idx ON inventory_snapshot_line (sku, snapshot_id);
