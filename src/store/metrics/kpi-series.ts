import type { Queryable } from '../database.ts';

/**
 * The KPIs of the console's tiles as series over time (sparklines): counted or measured per bucket
 * over the last hour or day. Each series reads one index range by time (migration 0033), so the
 * cost follows the orders of the window, not every order ever taken.
 */

export type SeriesWindow = 'hour' | 'day';

/** Buckets of a window: 12 of 5 minutes for the hour, 24 of an hour for the day. */
export const SERIES_WINDOWS: Record<SeriesWindow, { bucketSeconds: number; buckets: number }> = {
  hour: { bucketSeconds: 300, buckets: 12 },
  day: { bucketSeconds: 3600, buckets: 24 },
};

/** Counted series (events per bucket) and measured ones (p95 seconds per bucket, null when none). */
export const COUNT_SERIES = ['orders', 'completed', 'exceptions'] as const;
export const LATENCY_SERIES = ['erp_posting', 'allocation', 'shipment_confirmation', 'refund_completion'] as const;
/** Events a latency bucket is measured on, at most (its latest). */
export const LATENCY_SAMPLE = 200;

export type SeriesName = (typeof COUNT_SERIES)[number] | (typeof LATENCY_SERIES)[number];

export interface KpiSeries {
  window: SeriesWindow;
  bucketSeconds: number;
  /** The end of the last bucket (now); bucket i covers [endsAt - (n - i) * size, endsAt - (n - i - 1) * size). */
  endsAt: string;
  series: Record<SeriesName, Array<number | null>>;
}

/** Every series of one window; buckets end now (each statement's), the last one is the latest `bucketSeconds`. */
export async function kpiSeries(db: Queryable, window: SeriesWindow): Promise<KpiSeries> {
  const { bucketSeconds, buckets } = SERIES_WINDOWS[window];
  // A stable expression (now() is fixed in the statement), so each range below is an index scan.
  const since = `(now() - $1::float8 * $2::integer * interval '1 second')`;
  const bucket = (ts: string) => `least(floor(extract(epoch FROM ${ts} - ${since}) / $1::float8)::integer, $2::integer - 1)`;
  const p95 = (expr: string) => `percentile_cont(0.95) WITHIN GROUP (ORDER BY ${expr})::float8`;
  // A latency per bucket from at most LATENCY_SAMPLE of its latest events (one index range each):
  // the cost stays flat however many orders a bucket holds.
  const sampled = (name: string, rows: string, at: string) => `
       SELECT '${name}', b.i, ${p95('extract(epoch FROM l.took)')}
         FROM generate_series(0, $2::integer - 1) AS b(i)
         CROSS JOIN LATERAL (${rows}
                               AND ${at} >= ${since} + b.i * $1::float8 * interval '1 second'
                               AND ${at} < ${since} + (b.i + 1) * $1::float8 * interval '1 second'
                             ORDER BY ${at} DESC LIMIT ${LATENCY_SAMPLE}) AS l
        GROUP BY b.i`;
  const statements = [
    `SELECT 'orders' AS series, ${bucket('created_at')} AS bucket, count(*)::float8 AS value
       FROM sales_order WHERE created_at >= ${since} GROUP BY 2
     UNION ALL
     SELECT 'completed', ${bucket('completed_at')}, count(*)::float8
       FROM order_flow WHERE completed_at >= ${since} GROUP BY 2
     UNION ALL
     SELECT 'exceptions', ${bucket('failed_at')}, count(*)::float8
       FROM runtime_dead_letter WHERE failed_at >= ${since} GROUP BY 2
     UNION ALL
     SELECT 'refund_completion', ${bucket('completed_at')}, ${p95('extract(epoch FROM completed_at - created_at)')}
       FROM order_return WHERE completed_at >= ${since} GROUP BY 2`,
    sampled('erp_posting', `SELECT t.at AS at, t.at - o.created_at AS took FROM order_timeline t JOIN sales_order o ON o.id = t.order_id
                              WHERE t.outcome = 'succeeded' AND t.action IN ('erp.post', 'inventory.allocate') AND t.action = 'erp.post'`, 't.at'),
    sampled('allocation', `SELECT t.at AS at, t.at - o.created_at AS took FROM order_timeline t JOIN sales_order o ON o.id = t.order_id
                             WHERE t.outcome = 'succeeded' AND t.action IN ('erp.post', 'inventory.allocate') AND t.action = 'inventory.allocate'`, 't.at'),
    sampled('shipment_confirmation', 'SELECT recorded_at AS at, recorded_at - shipped_at AS took FROM order_shipment WHERE true', 'recorded_at'),
  ];
  // Separate statements: each stays small enough for the planner not to compile it (JIT costs more than the query).
  const results = await Promise.all(
    statements.map((sql) => db.query<{ series: SeriesName; bucket: number; value: number; ends_at: Date | string }>(`SELECT s.*, now() AS ends_at FROM (${sql}) AS s(series, bucket, value)`, [bucketSeconds, buckets])),
  );
  const series = Object.fromEntries([
    ...COUNT_SERIES.map((name) => [name, Array.from({ length: buckets }, () => 0)]),
    ...LATENCY_SERIES.map((name) => [name, Array.from({ length: buckets }, () => null)]),
  ]) as KpiSeries['series'];
  let endsAt = new Date();
  for (const row of results.flatMap((r) => r.rows)) {
    endsAt = new Date(row.ends_at);
    if (row.bucket >= 0 && row.bucket < buckets) series[row.series][row.bucket] = Math.round(row.value * 1000) / 1000;
  }
  return { window, bucketSeconds, endsAt: endsAt.toISOString(), series };
}
