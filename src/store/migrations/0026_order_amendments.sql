-- Changes a channel reports to an order it already sent (Shopify orders/updated, WooCommerce
-- order.updated), one row per change that differed from the order (docs/adr/0023). Applied at once,
-- held for an operator's review (the proposal is kept until it is applied or rejected), or, after
-- release, only reported. `proposed` is the channel's whole new version (a canonical submission).
-- A version is stored `pending` by the intake and taken in by the order's next flow job (ADR 0023).
CREATE TABLE order_amendment (
  id                  text PRIMARY KEY,
  order_id            text NOT NULL REFERENCES sales_order (id),
  channel             text NOT NULL,
  status              text NOT NULL CHECK (status IN ('pending', 'unchanged', 'applied', 'held', 'reported', 'rejected', 'superseded')),
  -- The order's status when the change came in.
  order_status        text NOT NULL,
  -- { fields: [...], lines: [{ sku, channelLineId, from, to }], paid: bool }
  changes             jsonb NOT NULL,
  proposed            jsonb NOT NULL,
  -- Why a change was held (a code of src/domain/errors.ts), null otherwise.
  code                text,
  channel_updated_at  timestamptz,
  correlation_id      text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  decided_at          timestamptz,
  decided_by          text,
  note                text
);
CREATE INDEX order_amendment_order_idx ON order_amendment (order_id, created_at);
-- At most one proposal waits for review per order: a newer one supersedes it.
CREATE UNIQUE INDEX order_amendment_held_idx ON order_amendment (order_id) WHERE status = 'held';
