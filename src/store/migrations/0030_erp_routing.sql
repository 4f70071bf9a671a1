-- Routing between ERPs (docs/adr/0029): the ERP connection chosen for an order, once, when it is
-- handed to the back office. Every later ERP call of the order reads it: a rule changed later
-- never re-routes the order. NULL: not routed yet (or routed before routing existed: the default ERP).
ALTER TABLE order_flow ADD COLUMN erp_connection text;
-- The ERP the order is also posted to in shadow mode (NULL: none).
ALTER TABLE order_flow ADD COLUMN erp_shadow text;

-- Shadow postings: what the system of record and the shadow ERP computed for one order.
CREATE TABLE erp_shadow_report (
  order_id          text PRIMARY KEY REFERENCES sales_order (id),
  primary_erp       text NOT NULL,
  shadow_erp        text NOT NULL,
  -- matched: same amounts; different: see differences; failed: the shadow posting failed (error).
  outcome           text NOT NULL CHECK (outcome IN ('matched', 'different', 'failed')),
  differences       jsonb NOT NULL DEFAULT '[]',
  primary_sale      jsonb,
  shadow_sale       jsonb,
  error             jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erp_shadow_report_updated_idx ON erp_shadow_report (updated_at DESC, order_id DESC);
