-- The console's Exceptions page (docs/console.md): bulk replay by filter with a preview, and the
-- indexes its groups and pages read. None of them is on sales_order (order intake pays for every
-- index there): the exception orders are found through order_flow, dead letters through their own
-- small table.

-- A bulk replay's preview: the exact dead letters the operator was shown a count of. The replay
-- applies to these ids only (those still open), never to letters that arrived after the preview.
-- Single use, for the user who asked, for a few minutes.
CREATE TABLE console_replay_preview (
  id               text PRIMARY KEY,
  user_id          text NOT NULL REFERENCES console_user (id) ON DELETE CASCADE,
  filter           jsonb NOT NULL,
  dead_letter_ids  text[] NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  used_at          timestamptz
);
CREATE INDEX console_replay_preview_created_idx ON console_replay_preview (created_at);

-- Serves: open dead letters of one reason (error code) and system, newest first (the Exceptions
-- page's list and the bulk replay preview), and the count per reason and system. Partial: a
-- replayed or discarded letter leaves the index.
CREATE INDEX runtime_dead_letter_open_code_idx ON runtime_dead_letter (error_code, target, id) WHERE status = 'open';

-- Serves: orders in the exception state (ADR 0007 and 0011), grouped and listed by reason and
-- system. Partial on order_flow (one row per order, not the orders table): only orders holding an
-- exception have an entry, so intake and every other flow update pay nothing but the predicate.
CREATE INDEX order_flow_exception_idx ON order_flow ((hold_reason->>'code'), (hold_reason->>'system'), order_id)
  WHERE hold_reason->>'kind' = 'exception' AND completed_at IS NULL;
