-- Customer records coming in (docs/customers.md, docs/adr/0041).
--
-- A stewardship row may review a past automatic merge that a record's new version no longer
-- supports: customer_a = customer_b (the customer holding both sides), record_a and record_b the
-- two records, review_merge_id the merge in question. A steward keeps it or undoes it.
ALTER TABLE customer_stewardship ADD COLUMN review_merge_id text REFERENCES customer_merge (id);

-- Where each connection's pull of customer records (ERP parties, loyalty members) reads from
-- next: the system's own modification time, inclusive; null until a run completes.
CREATE TABLE customer_record_sync (
  connection    text PRIMARY KEY,
  system        text NOT NULL CHECK (system IN ('channel', 'loyalty', 'crm', 'erp')),
  cursor        timestamptz,
  last_run      jsonb,
  last_error    jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
