-- The claim as a function with a fixed plan. A queue table's statistics are wrong most of
-- the time (empty at ANALYZE, 100,000 rows a minute later), and with a low row estimate the
-- planner sorts every due job of a lane instead of reading the claim index in order: 4 ms
-- per claim at 20,000 queued jobs instead of 0.3 ms. The SET clauses make the index-ordered
-- scan the only reasonable plan whatever the statistics say.
CREATE FUNCTION runtime_claim_jobs(p_worker text, p_lease_ms integer, p_critical integer, p_normal integer, p_bulk integer, p_total integer)
RETURNS SETOF runtime_job
LANGUAGE sql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
-- The disabled sort still has to run once (merging the three lanes); its penalty cost would
-- otherwise trigger JIT compilation, which costs a second per claim.
SET jit = off
AS $$
  WITH c0 AS (
    SELECT j.id, j.lane, j.run_at FROM runtime_job j
     WHERE j.lane = 0 AND j.run_at <= now()
       AND (j.locked_until IS NULL OR j.locked_until < now())
       AND (j.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_job p WHERE p.ordering_key = j.ordering_key AND p.id < j.id))
       AND (j.target IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_target t WHERE t.name = j.target AND t.blocked_until > now()))
     ORDER BY j.lane, j.run_at, j.id
     LIMIT p_critical
     FOR UPDATE OF j SKIP LOCKED
  ), c1 AS (
    SELECT j.id, j.lane, j.run_at FROM runtime_job j
     WHERE j.lane = 1 AND j.run_at <= now()
       AND (j.locked_until IS NULL OR j.locked_until < now())
       AND (j.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_job p WHERE p.ordering_key = j.ordering_key AND p.id < j.id))
       AND (j.target IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_target t WHERE t.name = j.target AND t.blocked_until > now()))
     ORDER BY j.lane, j.run_at, j.id
     LIMIT p_normal
     FOR UPDATE OF j SKIP LOCKED
  ), c2 AS (
    SELECT j.id, j.lane, j.run_at FROM runtime_job j
     WHERE j.lane = 2 AND j.run_at <= now()
       AND (j.locked_until IS NULL OR j.locked_until < now())
       AND (j.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_job p WHERE p.ordering_key = j.ordering_key AND p.id < j.id))
       AND (j.target IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_target t WHERE t.name = j.target AND t.blocked_until > now()))
     ORDER BY j.lane, j.run_at, j.id
     LIMIT p_bulk
     FOR UPDATE OF j SKIP LOCKED
  ), picked AS (
    SELECT x.id FROM (SELECT * FROM c0 UNION ALL SELECT * FROM c1 UNION ALL SELECT * FROM c2) x
     ORDER BY x.lane, x.run_at, x.id
     LIMIT p_total
  )
  UPDATE runtime_job j
     SET locked_by = p_worker, locked_until = now() + p_lease_ms * interval '1 millisecond', attempts = j.attempts + 1
    FROM picked
   WHERE j.id = picked.id
  RETURNING j.*
$$;
