-- The console's sparklines (docs/console.md): each KPI counted or measured per time bucket over
-- the last hour or day. Each series reads one short index range by time instead of scanning its
-- table. Cost: intake writes one more index entry per order (created_at); the others are small
-- (partial indexes, or tables written once per shipment, return or dead letter).
CREATE INDEX sales_order_created_at_idx ON sales_order (created_at);
CREATE INDEX order_flow_completed_at_idx ON order_flow (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX order_timeline_kpi_at_idx ON order_timeline (action, at)
  WHERE outcome = 'succeeded' AND action IN ('erp.post', 'inventory.allocate');
CREATE INDEX order_shipment_recorded_at_idx ON order_shipment (recorded_at);
CREATE INDEX order_return_completed_at_idx ON order_return (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX runtime_dead_letter_failed_at_idx ON runtime_dead_letter (failed_at);
