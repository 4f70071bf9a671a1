-- The customer an order resolved to (docs/customers.md): written after the order was
-- accepted, off the intake path, by the customer-resolution subscriber. The order's own
-- customer fields stay as the channel sent them.
CREATE TABLE order_customer (
  order_id      text PRIMARY KEY REFERENCES sales_order (id),
  customer_id   text NOT NULL REFERENCES customer (id),
  record_id     text NOT NULL REFERENCES customer_source_record (id),
  resolved_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_customer_customer_idx ON order_customer (customer_id);
