import type { Queryable } from '../database.ts';

/**
 * Makes a target's waiting jobs due now and closes its breaker: for when the reason they
 * waited is gone (a paused webhook subscription resumed). Running jobs are left alone.
 */
export async function expediteTarget(db: Queryable, target: string): Promise<void> {
  await db.query(
    `UPDATE runtime_job SET run_at = now()
      WHERE target = $1 AND run_at > now() AND (locked_until IS NULL OR locked_until < now())`,
    [target],
  );
  await db.query(
    `UPDATE runtime_target SET breaker_state = 'closed', blocked_until = NULL, consecutive_failures = 0, updated_at = now()
      WHERE name = $1`,
    [target],
  );
}

/** Removes a target that will not be called again, with its slots (its queued jobs, if any, then run unlimited). */
export async function forgetTarget(db: Queryable, target: string): Promise<void> {
  await db.query('DELETE FROM runtime_target WHERE name = $1', [target]);
}
