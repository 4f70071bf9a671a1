import type { Queryable } from '../database.ts';

/** A job row to insert; lane is 0 (critical) to 2 (bulk). */
export interface NewJobRow {
  type: string;
  lane: number;
  payload: unknown;
  orderingKey: string | null;
  target: string | null;
  jobKey: string | null;
  correlationId: string;
  runAt: string | null;
  maxAttempts: number | null;
  /** W3C trace context the job's run continues (migration 0025). */
  traceparent: string | null;
  tracestate: string | null;
}

export const JOBS_CHANNEL = 'syncline_jobs';

/**
 * Inserts jobs in one statement, in array order (ids follow it, which is what ordering
 * keys rely on), skips jobs whose job key is already queued, and wakes idle workers
 * with one NOTIFY that is delivered when the caller's transaction commits.
 * Returns the ids of the inserted jobs.
 */
export async function insertJobs(tx: Queryable, jobs: readonly NewJobRow[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  const result = await tx.query<{ ids: string[] | null }>(
    `WITH ins AS (
       INSERT INTO runtime_job (type, lane, payload, ordering_key, target, job_key, correlation_id, run_at, max_attempts, traceparent, tracestate)
       SELECT j.type, j.lane, j.payload, j.ordering_key, j.target, j.job_key, j.correlation_id, coalesce(j.run_at, now()), j.max_attempts, j.traceparent, j.tracestate
         FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, lane smallint, payload jsonb, ordering_key text, target text,
                                                          job_key text, correlation_id text, run_at timestamptz, max_attempts integer,
                                                          traceparent text, tracestate text))
              WITH ORDINALITY AS j(type, lane, payload, ordering_key, target, job_key, correlation_id, run_at, max_attempts, traceparent, tracestate, ord)
        ORDER BY j.ord
       ON CONFLICT (job_key) DO NOTHING
       RETURNING id, lane
     )
     SELECT array_agg(id ORDER BY id) AS ids,
            CASE WHEN count(*) > 0 THEN pg_notify('${JOBS_CHANNEL}', min(lane)::text) END AS notified
       FROM ins`,
    [
      JSON.stringify(
        jobs.map((j) => ({
          type: j.type,
          lane: j.lane,
          payload: j.payload ?? null,
          ordering_key: j.orderingKey,
          target: j.target,
          job_key: j.jobKey,
          correlation_id: j.correlationId,
          run_at: j.runAt,
          max_attempts: j.maxAttempts,
          traceparent: j.traceparent,
          tracestate: j.tracestate,
        })),
      ),
    ],
    { prepare: true },
  );
  return result.rows[0]?.ids ?? [];
}
