-- Workers keep a local view of their targets' breakers (docs/adr/0034): a call to a target with
-- no rate limit and no concurrency cap, whose breaker is closed with no failure since its last
-- success, needs no grant from PostgreSQL. Two things keep the view true across processes:
--
-- 1. Every failure recorded against a target is announced on the channel `syncline_target`
--    (payload: the target's name), at the commit that records it; a worker that hears it asks
--    PostgreSQL again for that target's next calls, and so learns of a breaker opened elsewhere.
-- 2. The calls made without a grant are still counted in the failure-ratio window, a batch at a
--    time (runtime_target_count), which also tells each worker its targets' state again.
CREATE OR REPLACE FUNCTION runtime_target_record(p_name text, p_success boolean, p_probe boolean, p_threshold integer, p_ratio double precision,
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
  PERFORM pg_notify('syncline_target', p_name);
  RETURN CASE WHEN opens THEN 'open' ELSE t.breaker_state END;
END
$$;

-- Adds calls made without a grant to each target's failure-ratio window (as runtime_target_acquire
-- counts a granted call) and returns whether each target is still healthy: breaker closed, no
-- failure since its last success.
CREATE FUNCTION runtime_target_count(p_names text[], p_calls integer[], p_ratio_window_ms integer[])
RETURNS TABLE (name text, healthy boolean)
LANGUAGE sql AS $$
  WITH c AS (SELECT * FROM unnest(p_names, p_calls, p_ratio_window_ms) AS c(name, calls, window_ms))
  UPDATE runtime_target t
     SET window_started_at = CASE WHEN t.window_started_at < clock_timestamp() - c.window_ms * interval '1 millisecond' THEN clock_timestamp() ELSE t.window_started_at END,
         window_calls = CASE WHEN t.window_started_at < clock_timestamp() - c.window_ms * interval '1 millisecond' THEN c.calls ELSE t.window_calls + c.calls END,
         window_failures = CASE WHEN t.window_started_at < clock_timestamp() - c.window_ms * interval '1 millisecond' THEN 0 ELSE t.window_failures END
    FROM c
   WHERE t.name = c.name
  RETURNING t.name, t.breaker_state = 'closed' AND t.consecutive_failures = 0
$$;
