import type { Queryable } from '../database.ts';

export interface WindowCount {
  bucket: string;
  windowStart: number;
  count: number;
}

/**
 * Adds this process's counts since its last sync and reads back the deployment-wide totals of
 * the added and the watched windows, in one statement (one round trip per sync, not per request).
 */
export async function syncWindowCounts(db: Queryable, added: WindowCount[], watched: { bucket: string; windowStart: number }[]): Promise<WindowCount[]> {
  const result = await db.query<{ bucket: string; window_start: string; count: number }>(
    `WITH added AS (
       INSERT INTO api_rate_count AS c (bucket, window_start, count)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[])
       ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + excluded.count
       RETURNING bucket, window_start, count)
     SELECT bucket, window_start, count FROM added
     UNION ALL
     SELECT r.bucket, r.window_start, r.count FROM api_rate_count r
      WHERE (r.bucket, r.window_start) IN (SELECT * FROM unnest($4::text[], $5::bigint[]))
        AND NOT EXISTS (SELECT 1 FROM added a WHERE a.bucket = r.bucket AND a.window_start = r.window_start)`,
    [added.map((a) => a.bucket), added.map((a) => a.windowStart), added.map((a) => a.count), watched.map((w) => w.bucket), watched.map((w) => w.windowStart)],
    { prepare: true },
  );
  return result.rows.map((row) => ({ bucket: row.bucket, windowStart: Number(row.window_start), count: row.count }));
}

/** Deletes counts of windows that started before the given epoch second. */
export async function deleteWindowCountsBefore(db: Queryable, epochSeconds: number): Promise<void> {
  await db.query('DELETE FROM api_rate_count WHERE window_start < $1', [epochSeconds]);
}
