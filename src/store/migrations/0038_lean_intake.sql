-- Intake writes each order's document once (docs/adr/0035):
-- - an `order.created` event no longer copies the order: its data is NULL and readers take the
--   order's accepted document from sales_order (the event's subject). An amendment that rewrites
--   the document first copies the accepted one into the event, so the event never changes;
-- - the console's status search keeps its index, but without the orders in status `received`,
--   the status every order is born with: intake writes no entry into it. A search for received
--   orders walks the primary key from the newest order, where received orders are.
ALTER TABLE outbox_event ALTER COLUMN data DROP NOT NULL;

DROP INDEX sales_order_status_id_idx;
CREATE INDEX sales_order_status_id_idx ON sales_order (status, id) WHERE status <> 'received';
