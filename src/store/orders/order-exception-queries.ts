import type { Queryable } from '../database.ts';

/**
 * Orders in the exception state (ADR 0007 and 0011): an exception hold in order_flow.hold_reason,
 * on hold or with its status kept. Read through the partial index order_flow_exception_idx
 * (migration 0034), so the work grows with the exceptions, not with the orders.
 */

const EXCEPTION = `f.hold_reason->>'kind' = 'exception' AND f.completed_at IS NULL`;

/** Orders in the exception state counted per reason (error code) and system. */
export async function exceptionOrderGroups(db: Queryable): Promise<{ code: string; system: string; count: number }[]> {
  const result = await db.query<{ code: string; system: string; count: number }>(
    `SELECT f.hold_reason->>'code' AS code, f.hold_reason->>'system' AS system, count(*)::integer AS count
       FROM order_flow f WHERE ${EXCEPTION} GROUP BY 1, 2`,
  );
  return result.rows;
}

export interface ExceptionOrderRow {
  id: string;
  channel: string;
  channelOrderId: string;
  status: string;
  customerEmail: string;
  placedAt: string;
  code: string;
  system: string;
  step: string | null;
  message: string;
  deadLetterId: string;
  statusKept: boolean;
  since: string;
}

/** Orders in the exception state, newest first, optionally of one reason and system; keyset on the order id. */
export async function listExceptionOrders(db: Queryable, filter: { code?: string | undefined; system?: string | undefined; before?: string | undefined; limit: number }): Promise<ExceptionOrderRow[]> {
  const result = await db.query<{ id: string; channel: string; channel_order_id: string; status: string; customer_email: string; placed_at: Date; hold: Record<string, unknown> }>(
    `SELECT o.id, o.channel, o.channel_order_id, o.status, o.customer_email, o.placed_at, f.hold_reason AS hold
       FROM order_flow f JOIN sales_order o ON o.id = f.order_id
      WHERE ${EXCEPTION}
        AND ($1::text IS NULL OR f.hold_reason->>'code' = $1)
        AND ($2::text IS NULL OR f.hold_reason->>'system' = $2)
        AND ($3::text IS NULL OR f.order_id < $3)
      ORDER BY f.order_id DESC LIMIT $4`,
    [filter.code ?? null, filter.system ?? null, filter.before ?? null, filter.limit],
  );
  return result.rows.map((row) => ({
    id: row.id,
    channel: row.channel,
    channelOrderId: row.channel_order_id,
    status: row.status,
    customerEmail: row.customer_email,
    placedAt: new Date(row.placed_at).toISOString(),
    code: String(row.hold.code ?? ''),
    system: String(row.hold.system ?? ''),
    step: typeof row.hold.step === 'string' ? row.hold.step : null,
    message: String(row.hold.message ?? ''),
    deadLetterId: String(row.hold.deadLetterId ?? ''),
    statusKept: row.hold.statusKept === true,
    since: String(row.hold.since ?? ''),
  }));
}
