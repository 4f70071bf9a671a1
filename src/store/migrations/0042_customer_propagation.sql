-- Customer propagation (docs/customers.md#propagation, ADR 0038): the outcome of each customer
-- event (merged, unmerged, consent changed, erasure requested) in each system connection that
-- holds a record of the customer. One row per (event, system, connection); the job that carries
-- the event there updates it. Only system ids are kept (detail), never personal data.
CREATE TABLE customer_propagation (
  event_id      text NOT NULL,
  event_type    text NOT NULL,
  customer_id   text NOT NULL,
  -- The data subject request an erasure belongs to (customer.erasure_requested), else null.
  request_id    text,
  system        text NOT NULL,
  connection    text NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'not_applicable')),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    jsonb,
  -- What was done, per record: the system ids and the system's answer (merged, unchanged, not-found ...).
  detail        jsonb NOT NULL DEFAULT '[]',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, system, connection)
);
CREATE INDEX customer_propagation_customer_idx ON customer_propagation (customer_id, created_at);
CREATE INDEX customer_propagation_request_idx ON customer_propagation (request_id) WHERE request_id IS NOT NULL;
