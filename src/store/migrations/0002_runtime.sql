-- Durable runtime: the work queue, targets (rate limits, concurrency slots, circuit
-- breakers), dead letters with an audit trail, and the outbox relay's cursor.

-- A job waiting, running (locked_until in the future) or waiting for a retry.
-- Finished jobs are deleted; failed ones move to runtime_dead_letter.
CREATE TABLE runtime_job (
  id              bigserial PRIMARY KEY,
  type            text NOT NULL,
  -- 0 critical, 1 normal, 2 bulk: lower lanes are always claimed first.
  lane            smallint NOT NULL CHECK (lane BETWEEN 0 AND 2),
  payload         jsonb NOT NULL,
  -- Jobs sharing an ordering key run one at a time, in id order.
  ordering_key    text,
  target          text,
  -- Business identity of the work; a second enqueue with the same key is a no-op while the first is queued.
  job_key         text UNIQUE,
  correlation_id  text NOT NULL,
  run_at          timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  -- An explicit limit for this job; NULL follows the job type's current policy.
  max_attempts    integer CHECK (max_attempts IS NULL OR max_attempts >= 1),
  locked_by       text,
  locked_until    timestamptz,
  last_error      jsonb,
  -- The dead letter this job replays, if it is a replay.
  replay_of       text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- The claim scan: lane first, then due time, then enqueue order.
CREATE INDEX runtime_job_claim_idx ON runtime_job (lane, run_at, id);
-- "Is there an earlier job with my ordering key?"
CREATE INDEX runtime_job_ordering_idx ON runtime_job (ordering_key, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX runtime_job_locked_by_idx ON runtime_job (locked_by) WHERE locked_by IS NOT NULL;

-- One row per external system. Shared by every worker process, so limits hold across processes.
CREATE TABLE runtime_target (
  name                  text PRIMARY KEY,
  policy                jsonb NOT NULL DEFAULT '{}',
  -- Sliding log of the most recent grants (at most the per-second limit of them), oldest first.
  recent_grants         timestamptz[] NOT NULL DEFAULT '{}',
  -- closed | open | half_open
  breaker_state         text NOT NULL DEFAULT 'closed' CHECK (breaker_state IN ('closed', 'open', 'half_open')),
  -- While in the future, the claim query leaves this target's jobs in the queue.
  blocked_until         timestamptz,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  window_started_at     timestamptz NOT NULL DEFAULT now(),
  window_calls          integer NOT NULL DEFAULT 0,
  window_failures       integer NOT NULL DEFAULT 0,
  opened_at             timestamptz,
  last_failure          jsonb,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Concurrency slots of a target; a held slot has a lease so that a crashed holder's slot comes back.
CREATE TABLE runtime_target_slot (
  target      text NOT NULL REFERENCES runtime_target (name) ON DELETE CASCADE,
  slot        integer NOT NULL,
  holder      text,
  held_until  timestamptz,
  PRIMARY KEY (target, slot)
);

CREATE TABLE runtime_dead_letter (
  id               text PRIMARY KEY,
  job_id           bigint NOT NULL,
  type             text NOT NULL,
  lane             smallint NOT NULL,
  payload          jsonb NOT NULL,
  ordering_key     text,
  target           text,
  job_key          text,
  correlation_id   text NOT NULL,
  attempts         integer NOT NULL,
  max_attempts     integer NOT NULL,
  error_class      text NOT NULL,
  error_code       text NOT NULL,
  reason           text NOT NULL,
  remediation      text NOT NULL,
  -- Last request/response excerpt, secrets redacted.
  excerpt          jsonb,
  enqueued_at      timestamptz NOT NULL,
  failed_at        timestamptz NOT NULL DEFAULT now(),
  -- open | replayed | discarded
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
  resolved_at      timestamptz,
  resolved_by      text,
  resolution_note  text,
  replay_job_id    bigint
);
CREATE INDEX runtime_dead_letter_status_idx ON runtime_dead_letter (status, failed_at);
CREATE INDEX runtime_dead_letter_type_idx ON runtime_dead_letter (type, failed_at);
CREATE INDEX runtime_dead_letter_target_idx ON runtime_dead_letter (target, failed_at);

-- Who did what to which dead letter, and when.
CREATE TABLE runtime_ops_audit (
  id              bigserial PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text NOT NULL,
  action          text NOT NULL,
  dead_letter_id  text,
  detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX runtime_ops_audit_dead_letter_idx ON runtime_ops_audit (dead_letter_id, id);

-- Where the outbox relay got to. Locking the row elects the one relay that runs.
CREATE TABLE runtime_relay_cursor (
  name        text PRIMARY KEY,
  tx_id       xid8 NOT NULL DEFAULT '0',
  position    bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Asks to call a target now. One statement, so the decision and the grant are atomic
-- across every worker process (the row lock serialises callers of one target).
-- outcome: granted | probe (the single call allowed through a half-open breaker) |
--          rate-limited | breaker-open | unknown (no such target); wait_ms says how long to wait.
-- The rate limit is a sliding log of the last p_limit grants: a grant is allowed only when
-- the p_limit-th most recent one is at least p_window_ms old, so no window of that length
-- ever holds more than p_limit calls. p_burst/p_burst_window_ms bound back-to-back calls the same way.
CREATE FUNCTION runtime_target_acquire(p_name text, p_limit integer, p_window_ms integer, p_burst integer,
                                       p_burst_window_ms integer, p_probe_ms integer, p_ratio_window_ms integer,
                                       OUT outcome text, OUT wait_ms integer, OUT consecutive_failures integer)
LANGUAGE plpgsql AS $$
DECLARE
  t runtime_target;
  n integer;
  keep integer;
  clock timestamptz := clock_timestamp();
  w1 double precision := 0;
  w2 double precision := 0;
BEGIN
  SELECT * INTO t FROM runtime_target WHERE name = p_name FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'unknown'; wait_ms := 0; consecutive_failures := 0;
    RETURN;
  END IF;
  consecutive_failures := t.consecutive_failures;
  IF t.breaker_state <> 'closed' AND t.blocked_until > clock THEN
    outcome := 'breaker-open';
    wait_ms := ceil(extract(epoch FROM t.blocked_until - clock) * 1000);
    RETURN;
  END IF;
  n := cardinality(t.recent_grants);
  IF p_limit > 0 AND n >= p_limit THEN
    w1 := extract(epoch FROM t.recent_grants[n - p_limit + 1] + p_window_ms * interval '1 millisecond' - clock) * 1000;
  END IF;
  IF p_burst > 0 AND n >= p_burst THEN
    w2 := extract(epoch FROM t.recent_grants[n - p_burst + 1] + p_burst_window_ms * interval '1 millisecond' - clock) * 1000;
  END IF;
  IF greatest(w1, w2) > 0 THEN
    outcome := 'rate-limited';
    wait_ms := ceil(greatest(w1, w2));
    RETURN;
  END IF;
  keep := greatest(p_limit, p_burst, 0);
  IF t.breaker_state <> 'closed' THEN
    -- The cool-down is over (or the previous probe vanished): this call is the one probe.
    outcome := 'probe';
    UPDATE runtime_target
       SET breaker_state = 'half_open', blocked_until = clock + p_probe_ms * interval '1 millisecond', updated_at = clock
     WHERE name = p_name;
  ELSE
    outcome := 'granted';
  END IF;
  UPDATE runtime_target
     SET recent_grants = CASE WHEN keep = 0 THEN '{}' ELSE (recent_grants || clock)[greatest(1, n + 2 - keep):] END,
         window_started_at = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN clock ELSE window_started_at END,
         window_calls = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN 1 ELSE window_calls + 1 END,
         window_failures = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN 0 ELSE window_failures END
   WHERE name = p_name;
  wait_ms := 0;
END
$$;

-- Records how a call went and moves the breaker: a success closes it; a failing probe
-- reopens it; p_threshold consecutive failures, or a failure ratio of at least p_ratio over
-- at least p_min_calls calls in the current window, open it for p_cooldown_ms.
CREATE FUNCTION runtime_target_record(p_name text, p_success boolean, p_probe boolean, p_threshold integer, p_ratio double precision,
                                      p_min_calls integer, p_cooldown_ms integer, p_failure jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  t runtime_target;
  clock timestamptz := clock_timestamp();
  opens boolean;
BEGIN
  SELECT * INTO t FROM runtime_target WHERE name = p_name FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF p_success THEN
    IF p_probe OR t.breaker_state = 'half_open' THEN
      UPDATE runtime_target SET breaker_state = 'closed', blocked_until = NULL, consecutive_failures = 0,
                                window_started_at = clock, window_calls = 0, window_failures = 0, updated_at = clock
       WHERE name = p_name;
      RETURN 'closed';
    END IF;
    UPDATE runtime_target SET consecutive_failures = 0 WHERE name = p_name AND consecutive_failures > 0;
    RETURN t.breaker_state;
  END IF;
  opens := p_probe
        OR (t.breaker_state = 'closed' AND (t.consecutive_failures + 1 >= p_threshold
            OR (t.window_calls >= p_min_calls AND (t.window_failures + 1)::double precision / greatest(t.window_calls, 1) >= p_ratio)));
  UPDATE runtime_target
     SET consecutive_failures = t.consecutive_failures + 1,
         window_failures = t.window_failures + 1,
         last_failure = p_failure,
         breaker_state = CASE WHEN opens THEN 'open' ELSE breaker_state END,
         blocked_until = CASE WHEN opens THEN clock + p_cooldown_ms * interval '1 millisecond' ELSE blocked_until END,
         opened_at = CASE WHEN opens THEN clock ELSE opened_at END,
         updated_at = clock
   WHERE name = p_name;
  RETURN CASE WHEN opens THEN 'open' ELSE t.breaker_state END;
END
$$;
