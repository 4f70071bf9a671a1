-- A return whose flow failed for good (its job became a dead letter) shows why on the return
-- itself: the failing system, step, error and dead letter. Cleared when the flow is replayed.
ALTER TABLE order_return ADD COLUMN exception jsonb;
