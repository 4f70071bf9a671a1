-- A rate limit that holds where it is measured: at the target.
--
-- 0002 logged grant times, so no window of the grant clock held more than the limit. But a
-- request reaches the target some time after its grant, and that delay varies (scheduling,
-- connection set-up, a loaded host): two calls granted 1.01 s apart can arrive 0.95 s apart,
-- and the target counts one too many in its second.
--
-- The log now holds each call's reach: the latest moment it can arrive at the target. While
-- the call runs that is its grant time plus its hold (its timeout); when it returns, the
-- caller replaces it with the finish time (runtime_target_finish). A call is granted only
-- while fewer than the limit reaches fall within the last window. Any window at the target
-- that holds limit + 1 arrivals would contain the reach of every one of them, all later than
-- the grant of the last one, which therefore could not have been granted.
DROP FUNCTION runtime_target_acquire(text, integer, integer, integer, integer, integer, integer);

-- How long until one more call fits: at most p_limit reaches in any p_window_ms (0: it fits now).
-- The reach that has to leave the window first decides; one still in flight leaves no sooner
-- than a full window after now.
CREATE FUNCTION runtime_target_window_wait(p_reaches timestamptz[], p_clock timestamptz, p_limit integer, p_window_ms integer)
RETURNS double precision
LANGUAGE sql STABLE AS $$
  SELECT coalesce((
    SELECT extract(epoch FROM least(g, p_clock) + p_window_ms * interval '1 millisecond' - p_clock) * 1000
      FROM unnest(p_reaches) g
     WHERE p_limit > 0 AND g > p_clock - p_window_ms * interval '1 millisecond'
     ORDER BY g DESC OFFSET greatest(p_limit, 1) - 1 LIMIT 1), 0)
$$;

CREATE FUNCTION runtime_target_acquire(p_name text, p_limit integer, p_window_ms integer, p_burst integer,
                                       p_burst_window_ms integer, p_probe_ms integer, p_ratio_window_ms integer,
                                       p_hold_ms integer,
                                       OUT outcome text, OUT wait_ms integer, OUT consecutive_failures integer,
                                       OUT reach text)
LANGUAGE plpgsql AS $$
DECLARE
  t runtime_target;
  clock timestamptz := clock_timestamp();
  live timestamptz[];
  provisional timestamptz;
  w1 double precision;
  w2 double precision;
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
  -- Reaches that still matter to either window, oldest first.
  live := ARRAY(SELECT g FROM unnest(t.recent_grants) g
                 WHERE g > clock - greatest(p_window_ms, p_burst_window_ms) * interval '1 millisecond' ORDER BY g);
  w1 := runtime_target_window_wait(live, clock, p_limit, p_window_ms);
  w2 := runtime_target_window_wait(live, clock, p_burst, p_burst_window_ms);
  IF greatest(w1, w2) > 0 THEN
    outcome := 'rate-limited';
    wait_ms := ceil(greatest(w1, w2));
    RETURN;
  END IF;
  IF t.breaker_state <> 'closed' THEN
    -- The cool-down is over (or the previous probe vanished): this call is the one probe.
    outcome := 'probe';
    UPDATE runtime_target
       SET breaker_state = 'half_open', blocked_until = clock + p_probe_ms * interval '1 millisecond', updated_at = clock
     WHERE name = p_name;
  ELSE
    outcome := 'granted';
  END IF;
  IF p_limit > 0 OR p_burst > 0 THEN
    provisional := clock + p_hold_ms * interval '1 millisecond';
    live := live || provisional;
    -- Microseconds, in UTC, so that runtime_target_finish finds exactly this entry again.
    reach := to_char(provisional AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US');
  ELSE
    live := '{}';
  END IF;
  UPDATE runtime_target
     SET recent_grants = live,
         window_started_at = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN clock ELSE window_started_at END,
         window_calls = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN 1 ELSE window_calls + 1 END,
         window_failures = CASE WHEN window_started_at < clock - p_ratio_window_ms * interval '1 millisecond' THEN 0 ELSE window_failures END
   WHERE name = p_name;
  wait_ms := 0;
END
$$;

-- The call granted with p_reach has returned: its reach is now, not its provisional end.
CREATE FUNCTION runtime_target_finish(p_name text, p_reach text) RETURNS void
LANGUAGE sql AS $$
  UPDATE runtime_target
     SET recent_grants = array_replace(recent_grants, p_reach::timestamp AT TIME ZONE 'UTC', clock_timestamp())
   WHERE name = p_name;
$$;
