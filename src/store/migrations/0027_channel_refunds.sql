-- A return taken in a sales channel (Shopify refunds/create, a WooCommerce refund) names the
-- connection and the channel's refund id: the money already moved there, so the return flow
-- does not refund again, and the same refund (a repeated webhook, the reconciliation poll)
-- makes one return. Returns made in Syncline leave both NULL.
ALTER TABLE order_return ADD COLUMN channel text, ADD COLUMN channel_refund_id text;
ALTER TABLE order_return ADD CONSTRAINT order_return_channel_refund_pair CHECK ((channel IS NULL) = (channel_refund_id IS NULL));
CREATE UNIQUE INDEX order_return_channel_refund_idx ON order_return (channel, channel_refund_id) WHERE channel_refund_id IS NOT NULL;
