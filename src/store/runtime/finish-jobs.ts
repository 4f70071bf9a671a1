import type { Queryable } from '../database.ts';
import { ASYNC_COMMIT } from './claim-jobs.ts';

/** Deletes finished jobs (many at once: completions are group-committed; asynchronous commit, see ASYNC_COMMIT). */
export async function completeJobs(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `WITH async_commit AS (${ASYNC_COMMIT})
     DELETE FROM runtime_job USING async_commit WHERE id = ANY($1::bigint[]) AND async_commit.v = 'off'`,
    [ids],
    { prepare: true },
  );
}

/**
 * Puts a failed job back in the queue for runAt and releases its lease. `uncount`
 * gives the attempt back (throttled, breaker open). Only the lease holder may do it.
 */
export async function rescheduleJob(
  db: Queryable,
  job: { id: string; worker: string; runAt: Date; uncount: boolean; error: unknown },
): Promise<boolean> {
  const result = await db.query(
    `UPDATE runtime_job
        SET run_at = $3, locked_by = NULL, locked_until = NULL, last_error = $4::jsonb,
            attempts = attempts - CASE WHEN $5::boolean THEN 1 ELSE 0 END
      WHERE id = $1 AND locked_by = $2`,
    [job.id, job.worker, job.runAt.toISOString(), JSON.stringify(job.error), job.uncount],
  );
  return result.rowCount > 0;
}

/** Extends the leases of the jobs a worker is still running. */
export async function renewLeases(db: Queryable, worker: string, ids: readonly string[], leaseMs: number): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.query(
    `UPDATE runtime_job SET locked_until = now() + $3 * interval '1 millisecond'
      WHERE id = ANY($1::bigint[]) AND locked_by = $2`,
    [ids, worker, leaseMs],
  );
  return result.rowCount;
}

/** Releases jobs a stopping worker claimed but will not run, without counting the attempt. */
export async function releaseJobs(db: Queryable, worker: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE runtime_job SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1
      WHERE id = ANY($1::bigint[]) AND locked_by = $2`,
    [ids, worker],
  );
}
