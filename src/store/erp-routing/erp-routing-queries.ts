import type { Queryable } from '../database.ts';

/** The ERP routing of orders (migration 0030): the route on order_flow, the shadow report. */

/** The ERP connections an order was routed to; undefined when it was never routed. */
export interface RecordedErpRoute {
  erp: string;
  shadow: string | null;
}

/** Records the order's route unless one is recorded already; true when this call recorded it. */
export async function recordErpRoute(tx: Queryable, orderId: string, route: RecordedErpRoute): Promise<boolean> {
  const result = await tx.query('UPDATE order_flow SET erp_connection = $2, erp_shadow = $3 WHERE order_id = $1 AND erp_connection IS NULL', [orderId, route.erp, route.shadow]);
  return (result.rowCount ?? 0) > 0;
}

export async function readErpRoute(db: Queryable, orderId: string): Promise<RecordedErpRoute | undefined> {
  const result = await db.query<{ erp_connection: string | null; erp_shadow: string | null }>('SELECT erp_connection, erp_shadow FROM order_flow WHERE order_id = $1', [orderId]);
  const row = result.rows[0];
  return row?.erp_connection ? { erp: row.erp_connection, shadow: row.erp_shadow } : undefined;
}

export interface ShadowReportRow {
  orderId: string;
  primaryErp: string;
  shadowErp: string;
  outcome: 'matched' | 'different' | 'failed';
  differences: { field: string; primary: unknown; shadow: unknown }[];
  primarySale: Record<string, unknown> | null;
  shadowSale: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** Writes (or rewrites, on a repeated shadow posting) the shadow report of one order. */
export async function upsertShadowReport(tx: Queryable, r: Omit<ShadowReportRow, 'createdAt' | 'updatedAt'>): Promise<void> {
  await tx.query(
    `INSERT INTO erp_shadow_report (order_id, primary_erp, shadow_erp, outcome, differences, primary_sale, shadow_sale, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (order_id) DO UPDATE SET primary_erp = EXCLUDED.primary_erp, shadow_erp = EXCLUDED.shadow_erp, outcome = EXCLUDED.outcome,
       differences = EXCLUDED.differences, primary_sale = EXCLUDED.primary_sale, shadow_sale = EXCLUDED.shadow_sale, error = EXCLUDED.error, updated_at = now()`,
    [
      r.orderId,
      r.primaryErp,
      r.shadowErp,
      r.outcome,
      JSON.stringify(r.differences),
      r.primarySale ? JSON.stringify(r.primarySale) : null,
      r.shadowSale ? JSON.stringify(r.shadowSale) : null,
      r.error ? JSON.stringify(r.error) : null,
    ],
  );
}

/** What became of the shadow sale when the order's sale was cancelled (kept in the report's shadow sale as `cancel`). */
export interface ShadowCancel {
  /** The shadow ERP's answer (`cancelled`, `cancelled_documents`, `already_shipped`, `not_found`), or `failed` for good. */
  outcome: string;
  /** The shadow sale's state after the cancel. */
  state: string | null;
  at: string;
  error?: { code: string; message: string };
}

/** Records the mirrored cancel on the order's shadow report (its shadow sale's state and `cancel`); no report yet: nothing to record. */
export async function recordShadowCancel(tx: Queryable, orderId: string, cancel: ShadowCancel): Promise<void> {
  await tx.query(
    `UPDATE erp_shadow_report
        SET shadow_sale = CASE WHEN shadow_sale IS NULL THEN NULL
                               ELSE shadow_sale || jsonb_build_object('cancel', $2::jsonb) || CASE WHEN $3::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('state', $3::text) END END,
            updated_at = now()
      WHERE order_id = $1`,
    [orderId, JSON.stringify(cancel), cancel.state],
  );
}

/** Shadow reports, newest order first; `before`: only orders with a smaller id (the previous page's last). */
export async function selectShadowReports(db: Queryable, filter: { outcome?: string; shadowErp?: string; before?: string }, limit: number): Promise<ShadowReportRow[]> {
  const result = await db.query<{
    order_id: string;
    primary_erp: string;
    shadow_erp: string;
    outcome: ShadowReportRow['outcome'];
    differences: ShadowReportRow['differences'];
    primary_sale: Record<string, unknown> | null;
    shadow_sale: Record<string, unknown> | null;
    error: ShadowReportRow['error'];
    created_at: Date;
    updated_at: Date;
  }>(
    `SELECT order_id, primary_erp, shadow_erp, outcome, differences, primary_sale, shadow_sale, error, created_at, updated_at FROM erp_shadow_report
      WHERE ($1::text IS NULL OR outcome = $1) AND ($2::text IS NULL OR shadow_erp = $2) AND ($3::text IS NULL OR order_id < $3)
      ORDER BY order_id DESC LIMIT $4`,
    [filter.outcome ?? null, filter.shadowErp ?? null, filter.before ?? null, limit],
  );
  return result.rows.map((row) => ({
    orderId: row.order_id,
    primaryErp: row.primary_erp,
    shadowErp: row.shadow_erp,
    outcome: row.outcome,
    differences: row.differences,
    primarySale: row.primary_sale,
    shadowSale: row.shadow_sale,
    error: row.error,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  }));
}
