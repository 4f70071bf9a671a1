import type { Queryable } from '../database.ts';

/** Creates or updates a target's row and its concurrency slots (0 slots: no cap). */
export async function upsertTarget(db: Queryable, name: string, policy: unknown, slots: number): Promise<void> {
  await db.query(
    `WITH t AS (
       INSERT INTO runtime_target (name, policy) VALUES ($1, $2::jsonb)
       ON CONFLICT (name) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()
       RETURNING name
     )
     INSERT INTO runtime_target_slot (target, slot)
     SELECT t.name, g FROM t, generate_series(1, $3::integer) AS g
     ON CONFLICT DO NOTHING`,
    [name, JSON.stringify(policy), slots],
  );
  await db.query('DELETE FROM runtime_target_slot WHERE target = $1 AND slot > $2', [name, slots]);
}

export interface AcquireResult {
  outcome: 'granted' | 'probe' | 'rate-limited' | 'breaker-open' | 'unknown';
  wait_ms: number;
  consecutive_failures: number;
  /** Set on a grant of a rate-limited target: hand it back to finishTargetCall when the call returns. */
  reach: string | null;
}

/** One atomic decision for a call: breaker, then rate limit (see runtime_target_acquire in 0010_target_reach.sql). */
export async function acquireTarget(
  db: Queryable,
  name: string,
  p: { limit: number; windowMs: number; burst: number; burstWindowMs: number; probeMs: number; ratioWindowMs: number; holdMs: number },
): Promise<AcquireResult> {
  const result = await db.query<AcquireResult>(
    'SELECT outcome, wait_ms, consecutive_failures, reach FROM runtime_target_acquire($1, $2, $3, $4, $5, $6, $7, $8)',
    [name, p.limit, p.windowMs, p.burst, p.burstWindowMs, p.probeMs, p.ratioWindowMs, p.holdMs],
    { prepare: true },
  );
  return result.rows[0]!;
}

/** A granted call has returned: its entry in the rate log becomes its finish time. */
export async function finishTargetCall(db: Queryable, name: string, reach: string): Promise<void> {
  await db.query('SELECT runtime_target_finish($1, $2)', [name, reach], { prepare: true });
}

/** The channel on which every recorded failure of a target is announced (payload: its name; migration 0037). */
export const TARGET_CHANNEL = 'syncline_target';

/** Adds calls made without a grant to each target's failure-ratio window; says whether each is still healthy. */
export async function countTargetCalls(db: Queryable, counts: readonly { name: string; calls: number; ratioWindowMs: number }[]): Promise<{ name: string; healthy: boolean }[]> {
  const result = await db.query<{ name: string; healthy: boolean }>(
    'SELECT name, healthy FROM runtime_target_count($1::text[], $2::integer[], $3::integer[])',
    [counts.map((c) => c.name), counts.map((c) => c.calls), counts.map((c) => c.ratioWindowMs)],
    { prepare: true },
  );
  return result.rows;
}

/** Records a call's outcome; returns the breaker state after it. */
export async function recordTargetOutcome(
  db: Queryable,
  name: string,
  p: { success: boolean; probe: boolean; threshold: number; ratio: number; minCalls: number; cooldownMs: number; failure: unknown },
): Promise<string | null> {
  const result = await db.query<{ state: string | null }>(
    'SELECT runtime_target_record($1, $2, $3, $4, $5, $6, $7, $8::jsonb) AS state',
    [name, p.success, p.probe, p.threshold, p.ratio, p.minCalls, p.cooldownMs, JSON.stringify(p.failure ?? null)],
  );
  return result.rows[0]?.state ?? null;
}

/** Takes a free (or expired) concurrency slot of a target; undefined when all are held. */
export async function takeSlot(db: Queryable, target: string, holder: string, leaseMs: number): Promise<number | undefined> {
  const result = await db.query<{ slot: number }>(
    `UPDATE runtime_target_slot s SET holder = $2, held_until = now() + $3 * interval '1 millisecond'
      WHERE (s.target, s.slot) = (SELECT f.target, f.slot FROM runtime_target_slot f
                                   WHERE f.target = $1 AND (f.holder IS NULL OR f.held_until < now())
                                   ORDER BY f.slot LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING s.slot`,
    [target, holder, leaseMs],
    { prepare: true },
  );
  return result.rows[0]?.slot;
}

export async function releaseSlot(db: Queryable, target: string, slot: number, holder: string): Promise<void> {
  await db.query('UPDATE runtime_target_slot SET holder = NULL, held_until = NULL WHERE target = $1 AND slot = $2 AND holder = $3', [target, slot, holder], {
    prepare: true,
  });
}

export interface TargetStatusRow {
  name: string;
  policy: Record<string, unknown>;
  breaker_state: string;
  blocked_until: Date | string | null;
  consecutive_failures: number;
  window_calls: number;
  window_failures: number;
  opened_at: Date | string | null;
  last_failure: unknown;
  calls_last_second: number;
  slots: number;
  slots_held: number;
  jobs_running: number;
  jobs_waiting: number;
}

/** Every target with its breaker, rate-limit usage (grants in the last second) and in-flight work. */
export async function listTargetStatus(db: Queryable): Promise<TargetStatusRow[]> {
  const result = await db.query<TargetStatusRow>(
    `SELECT t.name, t.policy, t.breaker_state, t.blocked_until, t.consecutive_failures, t.window_calls, t.window_failures,
            t.opened_at, t.last_failure,
            (SELECT count(*)::integer FROM unnest(t.recent_grants) g WHERE g > clock_timestamp() - interval '1 second') AS calls_last_second,
            (SELECT count(*)::integer FROM runtime_target_slot s WHERE s.target = t.name) AS slots,
            (SELECT count(*)::integer FROM runtime_target_slot s WHERE s.target = t.name AND s.holder IS NOT NULL AND s.held_until > now()) AS slots_held,
            (SELECT count(*)::integer FROM runtime_job j WHERE j.target = t.name AND j.locked_until > now()) AS jobs_running,
            (SELECT count(*)::integer FROM runtime_job j WHERE j.target = t.name AND (j.locked_until IS NULL OR j.locked_until <= now())) AS jobs_waiting
       FROM runtime_target t ORDER BY t.name`,
  );
  return result.rows;
}
