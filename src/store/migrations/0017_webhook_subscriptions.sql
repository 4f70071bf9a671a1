-- Webhook subscriptions: a URL that receives the outbox events of some types, signed per
-- Standard Webhooks. Deliveries are jobs of the runtime (type webhook:deliver, ordering key
-- sub:<id>:<subject>, target webhook:<id>); this table holds what they need and the log
-- of their attempts (docs/adr/0012).
CREATE TABLE webhook_subscription (
  id                       text PRIMARY KEY,
  url                      text NOT NULL,
  -- Event types; a trailing * matches a prefix (order.*), * alone every type.
  types                    text[] NOT NULL,
  -- Only events whose data.channel equals this; NULL: every channel.
  channel                  text,
  description              text,
  -- active: delivering; paused: events queue up until resumed; disabled: events are dropped.
  status                   text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  status_reason            text,
  -- whsec_<base64>. Never logged, returned only when created or rotated.
  secret                   text NOT NULL,
  -- The secret before the last rotation; it signs too until previous_secret_until.
  previous_secret          text,
  previous_secret_until    timestamptz,
  rate_per_second          integer NOT NULL CHECK (rate_per_second >= 0),
  max_concurrency          integer NOT NULL CHECK (max_concurrency >= 1),
  -- Since when every delivery attempt failed; NULL after a success.
  failing_since            timestamptz,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);

-- One row per HTTP attempt (successful or not), newest read first.
CREATE TABLE webhook_delivery_attempt (
  id               bigserial PRIMARY KEY,
  subscription_id  text NOT NULL REFERENCES webhook_subscription (id) ON DELETE CASCADE,
  event_id         text NOT NULL,
  event_type       text NOT NULL,
  subject          text NOT NULL,
  attempt          integer NOT NULL,
  at               timestamptz NOT NULL DEFAULT now(),
  -- NULL when no answer came (refused, timed out, address not allowed).
  status_code      integer,
  latency_ms       integer NOT NULL,
  outcome          text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
  error            text
);
CREATE INDEX webhook_delivery_attempt_subscription_idx ON webhook_delivery_attempt (subscription_id, id DESC);
CREATE INDEX webhook_delivery_attempt_event_idx ON webhook_delivery_attempt (subscription_id, event_id, id);
