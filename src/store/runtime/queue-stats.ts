import type { Queryable } from '../database.ts';

export interface QueueStatsRow {
  dimension: 'lane' | 'type' | 'target';
  key: string;
  waiting: number;
  running: number;
  /** Due but not yet started. */
  due: number;
  oldest_due_at: Date | string | null;
}

/** Queue depth and the oldest due job, grouped by lane, by type and by target, in one scan. */
export async function queueStats(db: Queryable): Promise<QueueStatsRow[]> {
  const result = await db.query<QueueStatsRow>(
    `SELECT CASE WHEN GROUPING(lane) = 0 THEN 'lane' WHEN GROUPING(type) = 0 THEN 'type' ELSE 'target' END AS dimension,
            coalesce(lane::text, type, target, '(none)') AS key,
            count(*) FILTER (WHERE locked_until IS NULL OR locked_until <= now())::integer AS waiting,
            count(*) FILTER (WHERE locked_until > now())::integer AS running,
            count(*) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_at <= now())::integer AS due,
            min(run_at) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_at <= now()) AS oldest_due_at
       FROM (SELECT lane, type, coalesce(target, '(none)') AS target, locked_until, run_at FROM runtime_job) j
      GROUP BY GROUPING SETS ((lane), (type), (target))
      ORDER BY 1, 2`,
  );
  return result.rows;
}
