-- Order lifecycle flows: step records (what each durable flow has done, so a resumed
-- flow skips finished steps and a compensation knows what to undo), the order's
-- flow state (holds, backorders, payment, invoice), per-line quantities, fulfilments
-- per location, shipments, cancellations, returns and the customer timeline.

-- One row per finished step of one flow run. The key is the flow's business key
-- (the order id for order-placed and cancel, the shipment key, the return id).
CREATE TABLE flow_step (
  flow         text NOT NULL,
  flow_key     text NOT NULL,
  step         text NOT NULL,
  -- done: the forward action took effect; compensated: it was undone.
  status       text NOT NULL CHECK (status IN ('done', 'compensated')),
  -- The ids the step produced; its compensation receives exactly these.
  result       jsonb NOT NULL DEFAULT '{}',
  attempt      integer NOT NULL,
  done_at      timestamptz NOT NULL DEFAULT now(),
  compensated_at timestamptz,
  PRIMARY KEY (flow, flow_key, step)
);

-- The state of an order's lifecycle that is not its status.
CREATE TABLE order_flow (
  order_id           text PRIMARY KEY REFERENCES sales_order (id),
  started_at         timestamptz NOT NULL DEFAULT now(),
  -- Why the order is on hold or waiting for stock (null when it is not).
  hold_reason        jsonb,
  -- Set when an operator released a hold: the screening and validation holds are overridden.
  hold_released_at   timestamptz,
  hold_released_by   text,
  -- SKUs a backordered order waits for; an inventory.adjusted event on one of them retries it.
  backorder_skus     text[],
  payment_id         text,
  erp_sale           jsonb,
  invoices           jsonb,
  completed_at       timestamptz
);
CREATE INDEX order_flow_backorder_idx ON order_flow USING gin (backorder_skus) WHERE backorder_skus IS NOT NULL;

-- Quantities per order line as the lifecycle moves them (the accepted document is immutable).
CREATE TABLE order_line_state (
  order_id     text NOT NULL REFERENCES sales_order (id),
  line_number  integer NOT NULL,
  sku          text NOT NULL,
  quantity     integer NOT NULL,
  unit_price   numeric NOT NULL,
  shipped      integer NOT NULL DEFAULT 0,
  cancelled    integer NOT NULL DEFAULT 0,
  returned     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (order_id, line_number),
  CHECK (shipped + cancelled <= quantity AND returned <= shipped)
);

-- One fulfilment request per (order, location): where the lines ship from.
CREATE TABLE order_fulfilment (
  order_id        text NOT NULL REFERENCES sales_order (id),
  location_code   text NOT NULL,
  location_id     text NOT NULL,
  location_kind   text NOT NULL,
  reservation_id  text NOT NULL,
  -- [{ lineNumber, sku, quantity }]
  lines           jsonb NOT NULL,
  external_id     text,
  status          text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'requested', 'partially_shipped', 'shipped', 'cancelled')),
  PRIMARY KEY (order_id, location_code)
);

CREATE TABLE order_shipment (
  id                text PRIMARY KEY,
  order_id          text NOT NULL REFERENCES sales_order (id),
  -- system:shipmentId, the idempotency key of a shipment confirmation.
  source_key        text NOT NULL UNIQUE,
  location_code     text NOT NULL,
  carrier           text,
  tracking_numbers  text[] NOT NULL,
  lines             jsonb NOT NULL,
  shipped_at        timestamptz NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_shipment_order_idx ON order_shipment (order_id);

CREATE TABLE order_cancellation (
  id            text PRIMARY KEY,
  order_id      text NOT NULL REFERENCES sales_order (id),
  requested_by  text NOT NULL,
  reason        text,
  status        text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'completed', 'partial', 'refused')),
  report        jsonb,
  correlation_id text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX order_cancellation_order_idx ON order_cancellation (order_id);

CREATE TABLE order_return (
  id              text PRIMARY KEY,
  order_id        text NOT NULL REFERENCES sales_order (id),
  -- [{ lineNumber, sku, quantity, condition, unitPrice }]
  lines           jsonb NOT NULL,
  location_code   text NOT NULL,
  reason          text,
  refund_amount   numeric NOT NULL,
  status          text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'completed')),
  refund_id       text,
  credit_note     jsonb,
  correlation_id  text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz
);
CREATE INDEX order_return_order_idx ON order_return (order_id);

-- What happened to a customer across orders (returns, refunds), by email.
CREATE TABLE customer_timeline (
  id              bigserial PRIMARY KEY,
  customer_email  text NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  action          text NOT NULL,
  order_id        text,
  detail          jsonb
);
CREATE INDEX customer_timeline_email_idx ON customer_timeline (customer_email, id);
