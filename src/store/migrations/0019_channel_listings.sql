-- Channel listings (docs/connections.md): how each channel connection knows one of
-- Syncline's SKUs. Discovered from the channel by SKU (channel.listings jobs) and from the
-- lines of the orders it sends; availability is pushed to the channel through them.
CREATE TABLE channel_listing (
  connection_id          text NOT NULL,
  sku                    text NOT NULL,
  product_id             text NOT NULL,
  variant_id             text,
  -- Shopify's inventory item; WooCommerce sets stock on the product or variation.
  inventory_item_id      text,
  -- The channel's location ids seen for this listing (Shopify), in no particular order.
  location_ids           text[] NOT NULL DEFAULT '{}',
  -- discovered: found by SKU at the channel; order: taken from an order line (no inventory item yet).
  source                 text NOT NULL CHECK (source IN ('discovered', 'order')),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, sku)
);
CREATE INDEX channel_listing_sku ON channel_listing (sku);
