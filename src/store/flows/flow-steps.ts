import type { Queryable } from '../database.ts';

/**
 * Step records of durable flows: a step is recorded as done in the same transaction
 * as its local effects, so a flow resumed after a crash skips it; its result holds
 * the ids its compensation needs.
 */

export interface StepRecord {
  step: string;
  /** started: the forward action began and its outcome was never recorded (only steps that can recover). */
  status: 'started' | 'done' | 'compensated';
  result: Record<string, unknown>;
  attempt: number;
  /** When the step was recorded (started or done). */
  doneAt: Date;
  /** What its compensation reported (compensated steps; null for those compensated before this was kept). */
  compensation: Record<string, unknown> | null;
}

/** Every recorded step of one flow run, in the order they were done. */
export async function readSteps(db: Queryable, flow: string, key: string): Promise<StepRecord[]> {
  const result = await db.query<StepRecord>(
    'SELECT step, status, result, attempt, done_at AS "doneAt", compensation FROM flow_step WHERE flow = $1 AND flow_key = $2 ORDER BY done_at, step',
    [flow, key],
  );
  return result.rows;
}

/** Records that a step's forward action is about to run (a step already recorded is left as it is). */
export async function markStarted(db: Queryable, flow: string, key: string, step: string, attempt: number): Promise<void> {
  await db.query(
    `INSERT INTO flow_step (flow, flow_key, step, status, attempt, done_at)
     VALUES ($1, $2, $3, 'started', $4, clock_timestamp()) ON CONFLICT DO NOTHING`,
    [flow, key, step, attempt],
  );
}

/** Takes back a `started` mark of a step whose forward action never ran (a done step is left as it is). */
export async function unmarkStarted(db: Queryable, flow: string, key: string, step: string): Promise<void> {
  await db.query("DELETE FROM flow_step WHERE flow = $1 AND flow_key = $2 AND step = $3 AND status = 'started'", [flow, key, step]);
}

/**
 * Records a step as done. Returns false when it was already recorded (another run of
 * the same flow got there first): the caller's transaction should then roll back.
 */
export async function recordStep(tx: Queryable, flow: string, key: string, step: string, result: Record<string, unknown>, attempt: number): Promise<boolean> {
  const inserted = await tx.query(
    `INSERT INTO flow_step (flow, flow_key, step, status, result, attempt, done_at)
     VALUES ($1, $2, $3, 'done', $4, $5, clock_timestamp())
     ON CONFLICT (flow, flow_key, step) DO UPDATE SET status = 'done', result = EXCLUDED.result, attempt = EXCLUDED.attempt, done_at = EXCLUDED.done_at
       WHERE flow_step.status = 'started'`,
    [flow, key, step, JSON.stringify(result), attempt],
  );
  return inserted.rowCount === 1;
}

/** Marks a done (or started) step as compensated, with what its compensation reported; false when it was neither (already compensated or never begun). */
export async function markCompensated(tx: Queryable, flow: string, key: string, step: string, detail: Record<string, unknown>): Promise<boolean> {
  const updated = await tx.query(
    `UPDATE flow_step SET status = 'compensated', compensated_at = clock_timestamp(), compensation = $4
      WHERE flow = $1 AND flow_key = $2 AND step = $3 AND status IN ('done', 'started')`,
    [flow, key, step, JSON.stringify(detail)],
  );
  return updated.rowCount === 1;
}

/** Forgets a step so that it runs again (a backorder retries allocation; an operator release re-screens nothing). */
export async function forgetStep(tx: Queryable, flow: string, key: string, step: string): Promise<void> {
  await tx.query('DELETE FROM flow_step WHERE flow = $1 AND flow_key = $2 AND step = $3', [flow, key, step]);
}
