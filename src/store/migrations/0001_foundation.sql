-- Foundation: API clients, orders, timeline, idempotency keys and the transactional outbox.

CREATE TABLE api_client (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  secret_hash  text NOT NULL,
  scopes       text[] NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  disabled_at  timestamptz
);

-- Secrets generated once and shared by every process on this database (JWT signing key).
CREATE TABLE system_secret (
  name        text PRIMARY KEY,
  value       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sales_order (
  id                text PRIMARY KEY,
  channel           text NOT NULL,
  channel_order_id  text NOT NULL,
  status            text NOT NULL,
  currency          text NOT NULL,
  grand_total       numeric NOT NULL,
  placed_at         timestamptz NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  correlation_id    text NOT NULL,
  customer_email    text NOT NULL,
  -- The canonical order as accepted (customer, addresses, payments, totals).
  document          jsonb NOT NULL,
  CONSTRAINT sales_order_channel_order_uq UNIQUE (channel, channel_order_id)
);
CREATE INDEX sales_order_customer_email_idx ON sales_order (customer_email);

CREATE TABLE order_line (
  order_id     text NOT NULL REFERENCES sales_order (id),
  line_number  integer NOT NULL,
  sku          text NOT NULL,
  quantity     integer NOT NULL CHECK (quantity > 0),
  unit_price   numeric NOT NULL,
  line_total   numeric NOT NULL,
  PRIMARY KEY (order_id, line_number)
);
CREATE INDEX order_line_sku_idx ON order_line (sku);

CREATE TABLE order_timeline (
  id              bigserial PRIMARY KEY,
  order_id        text NOT NULL REFERENCES sales_order (id),
  at              timestamptz NOT NULL,
  system          text NOT NULL,
  action          text NOT NULL,
  outcome         text NOT NULL,
  attempt         integer NOT NULL DEFAULT 1,
  duration_ms     integer,
  correlation_id  text NOT NULL,
  detail          jsonb
);
CREATE INDEX order_timeline_order_idx ON order_timeline (order_id, id);

-- Idempotency keys are scoped to the API client that sent them.
CREATE TABLE idempotency_key (
  client_id        text NOT NULL,
  key              text NOT NULL,
  request_hash     text NOT NULL,
  resource_id      text NOT NULL,
  response_status  integer NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);

-- The transactional outbox. tx_id is the writing transaction's id: readers only
-- return rows below the oldest transaction still running, so a row that commits
-- late can never be skipped by a cursor that already moved past it.
CREATE TABLE outbox_event (
  position        bigserial NOT NULL,
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  id              text NOT NULL UNIQUE,
  type            text NOT NULL,
  source          text NOT NULL,
  subject         text NOT NULL,
  time            timestamptz NOT NULL,
  correlation_id  text NOT NULL,
  traceparent     text,
  data            jsonb NOT NULL,
  PRIMARY KEY (tx_id, position)
);
CREATE INDEX outbox_event_subject_idx ON outbox_event (subject, tx_id, position);
