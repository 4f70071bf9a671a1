import type { Queryable } from '../database.ts';

export interface ClaimedJobRow {
  id: string;
  type: string;
  lane: number;
  payload: unknown;
  ordering_key: string | null;
  target: string | null;
  job_key: string | null;
  correlation_id: string;
  attempts: number;
  max_attempts: number | null;
  traceparent: string | null;
  tracestate: string | null;
}

/**
 * Claims and completions commit asynchronously (no WAL flush wait): losing one in a
 * PostgreSQL crash only makes a job run again, which at-least-once delivery and
 * idempotent handlers already cover; enqueues stay synchronous. See docs/adr/0002.
 * (Set in the outer statement: a function's SET clauses would undo it on return.)
 */
export const ASYNC_COMMIT = `SELECT set_config('synchronous_commit', 'off', true) AS v`;

// runtime_claim_jobs (migrations 0005 and 0021) holds the claim itself, with a fixed plan kept between calls.
const CLAIM_SQL = `
  WITH async_commit AS (${ASYNC_COMMIT})
  SELECT j.id, j.type, j.lane, j.payload, j.ordering_key, j.target, j.job_key, j.correlation_id, j.attempts, j.max_attempts,
         j.traceparent, j.tracestate
    FROM async_commit, runtime_claim_jobs($5, $6, $1, $2, $3, $4) j
   WHERE async_commit.v = 'off'`;

/**
 * Claims up to `total` due jobs for a worker, at most limits[lane] of each lane, lowest
 * lane first, then due time, then enqueue order. Skipped: jobs another worker holds (row
 * lock or unexpired lease), jobs behind an earlier job with the same ordering key, and
 * jobs whose target is blocked by an open circuit breaker. Counts the attempt.
 */
export async function claimJobs(
  db: Queryable,
  worker: string,
  options: { limits: readonly [number, number, number]; total: number; leaseMs: number },
): Promise<ClaimedJobRow[]> {
  const [critical, normal, bulk] = options.limits.map((n) => Math.max(0, Math.min(n, options.total)));
  const result = await db.query<ClaimedJobRow>(CLAIM_SQL, [critical, normal, bulk, options.total, worker, options.leaseMs], { prepare: true });
  // UPDATE ... RETURNING does not keep the picking order.
  return result.rows.sort((a, b) => a.lane - b.lane || compareJobIds(a.id, b.id));
}

/** Orders job ids (bigint as decimal strings, no leading zeros) without parsing them. */
export function compareJobIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
