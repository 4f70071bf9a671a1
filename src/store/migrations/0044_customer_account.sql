-- The customer account view (docs/customers.md#account-view) lists a customer's orders and
-- returns by the records the orders resolved to, so that orders follow their record through
-- merges and unmerges: the join goes from a customer's records to order_customer by record.
CREATE INDEX order_customer_record_idx ON order_customer (record_id);
