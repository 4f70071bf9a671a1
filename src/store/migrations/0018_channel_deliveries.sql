-- Connections (docs/adr/0015): what Syncline remembers about each configured connection,
-- and every webhook delivery a channel sent, stored once before the answer (the durable
-- write the 200 waits for) and then mapped and applied by a job (channel.intake).

-- One row per connection id, created when the connection is first seen; the connection's
-- settings live in syncline.yaml, this holds only its state.
CREATE TABLE channel_connection (
  id                     text PRIMARY KEY,
  connector              text NOT NULL,
  -- The store removed the app or deleted the webhook: outbound calls stop (NULL: installed).
  uninstalled_at         timestamptz,
  -- (The last inbound time is the newest delivery's received_at: no row every webhook would update.)
  last_outbound_at       timestamptz,
  -- The last outbound failure, code and message only (never a secret, never a body).
  last_outbound_error    jsonb,
  -- Where the reconciliation poll stopped (opaque to Syncline) and when it last ran.
  reconcile_cursor       text,
  reconciled_at          timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE channel_delivery (
  id                     bigserial PRIMARY KEY,
  connection_id          text NOT NULL,
  -- The channel's delivery id (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID): the idempotency key.
  delivery_id            text NOT NULL,
  topic                  text NOT NULL,
  triggered_at           timestamptz,
  payload                jsonb NOT NULL,
  received_at            timestamptz NOT NULL DEFAULT now(),
  -- received: stored, its job queued; applied: the command was carried out; unsupported: recorded,
  -- not acted on; failed: the mapping or the command failed for good (a dead letter holds the payload).
  status                 text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'unsupported', 'failed')),
  -- What applying it did: the command kind, the order id, the outcome, or the error code.
  result                 jsonb,
  processed_at           timestamptz,
  UNIQUE (connection_id, delivery_id)
);
CREATE INDEX channel_delivery_received ON channel_delivery (connection_id, received_at DESC);
