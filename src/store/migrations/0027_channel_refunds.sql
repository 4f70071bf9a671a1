-- The sales-channel refund paired with a return: the connection, the channel's refund id and
-- where the refund was made. 'channel': taken in the channel (Shopify refunds/create, a
-- WooCommerce refund): the money already moved there, so the return flow does not refund again.
-- 'syncline': a return made in Syncline and reflected in the channel by its outbound job.
-- One return per channel refund, so a repeated webhook, the reconciliation poll or the channel's
-- echo of Syncline's own refund makes no second return. Returns not (yet) in a channel: NULLs.
ALTER TABLE order_return
  ADD COLUMN channel text,
  ADD COLUMN channel_refund_id text,
  ADD COLUMN channel_refund_source text CHECK (channel_refund_source IN ('channel', 'syncline'));
ALTER TABLE order_return ADD CONSTRAINT order_return_channel_refund_complete
  CHECK ((channel IS NULL) = (channel_refund_id IS NULL) AND (channel IS NULL) = (channel_refund_source IS NULL));
CREATE UNIQUE INDEX order_return_channel_refund_idx ON order_return (channel, channel_refund_id) WHERE channel_refund_id IS NOT NULL;
