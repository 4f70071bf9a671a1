import type { Queryable } from '../database.ts';
import { Order, OrderHold, type TimelineEntry } from '../../model/order.ts';

export interface OrderRow {
  document: Order;
  status: Order['status'];
  updated_at: Date | string;
  hold: unknown;
}

// The order's current hold (order_flow.hold_reason) is shown on the order itself.
const ORDER_COLUMNS = 'document, status, updated_at, (SELECT f.hold_reason FROM order_flow f WHERE f.order_id = sales_order.id) AS hold';

// jsonb does not keep key order; parsing restores the schema's order, so a stored
// order serialises to the same bytes as the response that created it.
/** The order from its row and its flow's hold (for a read that joins sales_order itself). */
export const orderFromRow = (row: OrderRow): Order => {
  const hold = row.hold === null ? undefined : OrderHold.safeParse(row.hold);
  return Order.parse({ ...row.document, status: row.status, updatedAt: new Date(row.updated_at).toISOString(), ...(hold?.success ? { hold: hold.data } : {}) });
};

/** The order as it is now (current status and hold), or undefined. */
export async function findOrderById(db: Queryable, id: string): Promise<Order | undefined> {
  const result = await db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM sales_order WHERE id = $1`, [id]);
  return result.rows[0] && orderFromRow(result.rows[0]);
}

/** The order exactly as it was accepted: the body of the original 201 response. */
export async function findAcceptedOrder(db: Queryable, id: string): Promise<Order | undefined> {
  const result = await db.query<{ document: Order }>('SELECT document FROM sales_order WHERE id = $1', [id]);
  return result.rows[0] && Order.parse(result.rows[0].document);
}

export interface OrderListFilter {
  channel?: string | undefined;
  channelOrderId?: string | undefined;
  /** Lower-cased, as intake stores it (index sales_order_customer_email_id_idx). */
  customerEmail?: string | undefined;
  /** Index sales_order_status_id_idx. */
  status?: string | undefined;
  /** Only orders with an id below this one (keyset pagination, newest first; also the end of a time range, idBoundary). */
  before?: string | undefined;
  /** Only orders with this id or a later one (the start of a time range, idBoundary). */
  notBefore?: string | undefined;
  limit: number;
}

/** Orders matching the filter, newest first. */
export async function listOrders(db: Queryable, filter: OrderListFilter): Promise<Order[]> {
  const result = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM sales_order
      WHERE ($1::text IS NULL OR channel = $1)
        AND ($2::text IS NULL OR channel_order_id = $2)
        AND ($3::text IS NULL OR id < $3)
        AND ($5::text IS NULL OR customer_email = lower($5))
        AND ($6::text IS NULL OR status = $6)
        AND ($7::text IS NULL OR id >= $7)
      ORDER BY id DESC
      LIMIT $4`,
    [filter.channel ?? null, filter.channelOrderId ?? null, filter.before ?? null, filter.limit, filter.customerEmail ?? null, filter.status ?? null, filter.notBefore ?? null],
  );
  return result.rows.map(orderFromRow);
}

/** The order's timeline, oldest first. */
export async function readTimeline(db: Queryable, orderId: string): Promise<TimelineEntry[]> {
  const result = await db.query<{
    at: Date | string;
    system: string;
    action: string;
    outcome: TimelineEntry['outcome'];
    attempt: number;
    duration_ms: number | null;
    correlation_id: string;
    detail: Record<string, unknown> | null;
  }>(
    // The first entry, the order's receipt, is recorded by the order row itself.
    `SELECT at, system, action, outcome, attempt, duration_ms, correlation_id, detail FROM (
       SELECT created_at AS at, 'syncline' AS system, 'order.received' AS action, 'succeeded' AS outcome, 1 AS attempt,
              NULL::integer AS duration_ms, correlation_id,
              jsonb_build_object('channel', channel, 'channelOrderId', channel_order_id,
                                 'lines', jsonb_array_length(document->'lines')) AS detail, 0::bigint AS seq
         FROM sales_order WHERE id = $1
       UNION ALL
       SELECT at, system, action, outcome, attempt, duration_ms, correlation_id, detail, id AS seq
         FROM order_timeline WHERE order_id = $1
     ) AS entries
     ORDER BY at, seq`,
    [orderId],
  );
  return result.rows.map((row) => ({
    at: new Date(row.at).toISOString(),
    system: row.system,
    action: row.action,
    outcome: row.outcome,
    attempt: row.attempt,
    durationMs: row.duration_ms,
    correlationId: row.correlation_id,
    detail: row.detail,
  }));
}
