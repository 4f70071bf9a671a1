-- The product catalogue (docs/products.md, docs/adr/0026): one row per SKU, filled from the ERP
-- connection that owns the item master. list_price is numeric (exact, read back as text).
CREATE TABLE product (
  sku                 text PRIMARY KEY,
  name                text NOT NULL,
  unit_of_measure     text NOT NULL,
  barcodes            text[] NOT NULL DEFAULT '{}',
  tax_category        text,
  list_price          numeric NOT NULL CHECK (list_price >= 0),
  active              boolean NOT NULL,
  -- The id each connection knows the product by: {"erp": "12"}.
  connection_ids      jsonb NOT NULL DEFAULT '{}',
  -- The connection whose sync wrote the row, and the ERP's own modification time of the record read.
  source_connection   text NOT NULL,
  source_modified_at  timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_source_external ON product (source_connection, (connection_ids ->> source_connection));

-- Sync state per ERP connection: the modification cursor the next incremental run starts from
-- (NULL: no run completed, the next one is a full load) and when the last run completed.
CREATE TABLE product_sync (
  connection_id       text PRIMARY KEY,
  cursor              timestamptz,
  completed_at        timestamptz,
  full_load_at        timestamptz,
  last_run            jsonb,
  last_error          jsonb
);
