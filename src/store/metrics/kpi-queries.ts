import type { Queryable } from '../database.ts';

/**
 * The reads behind GET /metrics (docs/metrics.md), run at scrape time. Each is bounded: the
 * latency KPIs look at the most recent rows only (by primary key or a time window), the
 * counts group small tables or one column. No row values other than codes and names leave here.
 */

/** How many of the latest order timeline rows the latency KPIs look at. */
export const TIMELINE_WINDOW_ROWS = 50_000;

/** Quantiles (seconds) of a latency over the window, as [p50, p95, max, count]. */
export interface LatencyRow {
  kpi: string;
  p50: number | null;
  p95: number | null;
  max: number | null;
  count: number;
}

const percentiles = (expr: string) => `
  percentile_cont(0.5) WITHIN GROUP (ORDER BY ${expr})::float8 AS p50,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY ${expr})::float8 AS p95,
  max(${expr})::float8 AS max,
  count(*)::integer AS count`;

/**
 * Business latencies: order received (intake) to ERP posting and to allocation (the first success of the
 * step, from the latest timeline rows), shipment confirmation (shipped at the warehouse to
 * recorded here) and refund completion (return requested to completed), over the last hour.
 */
export async function latencyKpis(db: Queryable): Promise<LatencyRow[]> {
  const result = await db.query<LatencyRow>(
    `WITH recent AS (
       SELECT t.order_id, t.action, min(t.at) AS at
         FROM order_timeline t
        WHERE t.id > (SELECT coalesce(max(id), 0) - ${TIMELINE_WINDOW_ROWS} FROM order_timeline)
          AND t.outcome = 'succeeded' AND t.action IN ('erp.post', 'inventory.allocate')
        GROUP BY t.order_id, t.action),
     steps AS (
       SELECT r.action, extract(epoch FROM r.at - o.created_at) AS seconds
         FROM recent r JOIN sales_order o ON o.id = r.order_id
        WHERE r.at > now() - interval '1 hour')
     SELECT CASE action WHEN 'erp.post' THEN 'erp_posting' ELSE 'allocation' END AS kpi, ${percentiles('seconds')}
       FROM steps GROUP BY action
     UNION ALL
     SELECT 'shipment_confirmation', ${percentiles('extract(epoch FROM recorded_at - shipped_at)')}
       FROM order_shipment WHERE recorded_at > now() - interval '1 hour'
     UNION ALL
     SELECT 'refund_completion', ${percentiles('extract(epoch FROM completed_at - created_at)')}
       FROM order_return WHERE status = 'completed' AND completed_at > now() - interval '1 hour'`,
  );
  return result.rows;
}

/** Orders by status; orders held or waiting by reason (order_flow.hold_reason kind). */
export async function orderCounts(db: Queryable): Promise<{ statuses: { status: string; count: number }[]; holds: { reason: string; count: number }[] }> {
  const statuses = await db.query<{ status: string; count: number }>('SELECT status, count(*)::integer AS count FROM sales_order GROUP BY status');
  const holds = await db.query<{ reason: string; count: number }>(
    `SELECT coalesce(hold_reason->>'kind', 'unknown') AS reason, count(*)::integer AS count
       FROM order_flow WHERE hold_reason IS NOT NULL AND completed_at IS NULL GROUP BY 1`,
  );
  return { statuses: statuses.rows, holds: holds.rows };
}

/** Dead letters by status, error code and target (the exception reasons of the runtime). */
export async function deadLetterCounts(db: Queryable): Promise<{ status: string; code: string; target: string; count: number }[]> {
  const result = await db.query<{ status: string; code: string; target: string; count: number }>(
    `SELECT status, error_code AS code, coalesce(target, '') AS target, count(*)::integer AS count
       FROM runtime_dead_letter GROUP BY 1, 2, 3`,
  );
  return result.rows;
}

/** Queue depth, jobs waiting for a retry and the oldest due job's age, per lane and target. */
export async function queueDepths(db: Queryable): Promise<{ lane: number; target: string; waiting: number; running: number; retrying: number; oldest_seconds: number }[]> {
  const result = await db.query<{ lane: number; target: string; waiting: number; running: number; retrying: number; oldest_seconds: number }>(
    `SELECT lane, coalesce(target, '') AS target,
            count(*) FILTER (WHERE locked_until IS NULL OR locked_until <= now())::integer AS waiting,
            count(*) FILTER (WHERE locked_until > now())::integer AS running,
            count(*) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND attempts > 0)::integer AS retrying,
            coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE (locked_until IS NULL OR locked_until <= now()) AND run_at <= now())), 0)::float8 AS oldest_seconds
       FROM runtime_job GROUP BY 1, 2`,
  );
  return result.rows;
}

/**
 * Oversold stock: balances whose reservations exceed what is on hand (the ledger's `available`
 * below zero), and how many units are over.
 */
export async function oversell(db: Queryable): Promise<{ balances: number; units: number }> {
  const result = await db.query<{ balances: number; units: number }>(
    `SELECT count(*)::integer AS balances, coalesce(sum(reserved - on_hand), 0)::float8 AS units
       FROM inventory_balance WHERE reserved > on_hand`,
  );
  return result.rows[0] ?? { balances: 0, units: 0 };
}

/**
 * Inventory sync lag per channel: for SKUs whose availability changed after it was last
 * published to a channel, the age of the oldest such change (0 when every channel is current).
 * Channels are those availability was ever published to (inventory_availability_published).
 */
export async function inventorySyncLag(db: Queryable): Promise<{ channel: string; lag_seconds: number; pending_skus: number }[]> {
  const result = await db.query<{ channel: string; lag_seconds: number; pending_skus: number }>(
    `WITH changed AS (SELECT sku, min(changed_at) AS changed_at FROM inventory_availability_change GROUP BY sku)
     SELECT p.channel,
            coalesce(extract(epoch FROM now() - min(c.changed_at) FILTER (WHERE c.changed_at > p.published_at)), 0)::float8 AS lag_seconds,
            count(*) FILTER (WHERE c.changed_at > p.published_at)::integer AS pending_skus
       FROM inventory_availability_published p LEFT JOIN changed c USING (sku)
      GROUP BY p.channel`,
  );
  return result.rows;
}

/** Requests counted in the current rate-limit window of each API client (bucket `client:<id>`). */
export async function clientRateCounts(db: Queryable): Promise<{ client_id: string; count: number }[]> {
  const result = await db.query<{ client_id: string; count: number }>(
    `SELECT DISTINCT ON (bucket) substr(bucket, 8) AS client_id, count
       FROM api_rate_count WHERE bucket LIKE 'client:%'
      ORDER BY bucket, window_start DESC`,
  );
  return result.rows;
}
