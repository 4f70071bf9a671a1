import type { Queryable } from '../database.ts';
import type { Order } from '../../model/order.ts';
import type { StepRecord } from '../flows/flow-steps.ts';
import { orderFromRow } from './order-queries.ts';

/**
 * The order lifecycle's own tables (migration 0009): flow state, line quantities,
 * fulfilments per location, shipments, cancellations, returns, customer timeline.
 */

// ---- order_flow ------------------------------------------------------------------------------

export interface OrderFlowRow {
  order_id: string;
  hold_reason: Record<string, unknown> | null;
  hold_released_at: string | null;
  backorder_skus: string[] | null;
  payment_id: string | null;
  erp_sale: Record<string, unknown> | null;
  invoices: unknown[] | null;
  /** The ERP connection the order was routed to (ADR 0029), once it was; its shadow ERP, if any. */
  erp_connection: string | null;
  erp_shadow: string | null;
}

/** Starts an order's lifecycle: its flow row and line quantities. False when it had started already. */
export async function startOrderFlow(tx: Queryable, order: Order): Promise<boolean> {
  const inserted = await tx.query('INSERT INTO order_flow (order_id) VALUES ($1) ON CONFLICT DO NOTHING', [order.id]);
  if (inserted.rowCount === 0) return false;
  await tx.query(
    `INSERT INTO order_line_state (order_id, line_number, sku, quantity, unit_price)
     SELECT $1, l.line_number, l.sku, l.quantity, l.unit_price
       FROM jsonb_to_recordset($2::jsonb) AS l(line_number integer, sku text, quantity integer, unit_price numeric)`,
    [order.id, JSON.stringify(order.lines.map((l) => ({ line_number: l.lineNumber, sku: l.sku, quantity: l.quantity, unit_price: l.unitPrice })))],
  );
  return true;
}

export async function readOrderFlow(db: Queryable, orderId: string): Promise<OrderFlowRow | undefined> {
  const result = await db.query<OrderFlowRow>(
    'SELECT order_id, hold_reason, hold_released_at, backorder_skus, payment_id, erp_sale, invoices, erp_connection, erp_shadow FROM order_flow WHERE order_id = $1',
    [orderId],
  );
  return result.rows[0];
}

/**
 * What a run of the order's flow starts from, in one read: the order as it is now (undefined when
 * there is none), its flow row (undefined before the flow started), whether channel versions of
 * the order wait to be taken in (docs/adr/0023), whether a cancellation is open, the step
 * records of its flow `flow` (as readSteps gives them) and its fulfilments (as readFulfilments).
 */
export async function readOrderFlowForRun(
  db: Queryable,
  orderId: string,
  flow: string,
): Promise<{ order: Order | undefined; flow: OrderFlowRow | undefined; amendmentPending: boolean; cancellationOpen: boolean; steps: StepRecord[]; fulfilments: OrderFulfilment[] }> {
  const result = await db.query<
    OrderFlowRow & {
      amendment_pending: boolean;
      cancellation_open: boolean;
      steps: (Omit<StepRecord, 'doneAt'> & { doneAt: string })[];
      fulfilments: OrderFulfilment[];
      document: Order | null;
      status: Order['status'];
      updated_at: Date | string;
    }
  >(
    `SELECT f.order_id, f.hold_reason, f.hold_released_at, f.backorder_skus, f.payment_id, f.erp_sale, f.invoices, f.erp_connection, f.erp_shadow,
            o.document, o.status, o.updated_at,
            EXISTS (SELECT 1 FROM order_amendment a WHERE a.order_id = $1 AND a.status = 'pending') AS amendment_pending,
            EXISTS (SELECT 1 FROM order_cancellation c WHERE c.order_id = $1 AND c.status = 'requested') AS cancellation_open,
            (SELECT coalesce(json_agg(json_build_object('step', s.step, 'status', s.status, 'result', s.result, 'attempt', s.attempt, 'doneAt', s.done_at, 'compensation', s.compensation)
                                      ORDER BY s.done_at, s.step), '[]')
               FROM flow_step s WHERE s.flow = $2 AND s.flow_key = $1) AS steps,
            (SELECT coalesce(json_agg(json_build_object('locationCode', d.location_code, 'locationId', d.location_id, 'locationKind', d.location_kind,
                                                        'reservationId', d.reservation_id, 'lines', d.lines, 'externalId', d.external_id, 'status', d.status)
                                      ORDER BY d.location_code), '[]')
               FROM order_fulfilment d WHERE d.order_id = $1) AS fulfilments
       FROM (SELECT 1) AS one LEFT JOIN order_flow f ON f.order_id = $1 LEFT JOIN sales_order o ON o.id = $1`,
    [orderId, flow],
  );
  const { amendment_pending: amendmentPending, cancellation_open: cancellationOpen, steps, fulfilments, document, status, updated_at, ...row } = result.rows[0]!;
  return {
    order: document === null ? undefined : orderFromRow({ document, status, updated_at, hold: row.hold_reason }),
    flow: row.order_id === null ? undefined : row,
    amendmentPending,
    cancellationOpen,
    steps: steps.map((s) => ({ ...s, doneAt: new Date(s.doneAt) })),
    fulfilments,
  };
}

/** Sets the given order_flow columns (only those named). */
export async function updateOrderFlow(
  tx: Queryable,
  orderId: string,
  values: Partial<{
    hold_reason: Record<string, unknown> | null;
    hold_released_at: string | null;
    hold_released_by: string | null;
    backorder_skus: string[] | null;
    payment_id: string | null;
    erp_sale: Record<string, unknown> | null;
    invoices: unknown[] | null;
    completed_at: string | null;
  }>,
): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) return;
  const json = new Set(['hold_reason', 'erp_sale', 'invoices']);
  const sets = entries.map(([column], i) => `${column} = $${i + 2}`);
  const params = entries.map(([column, value]) => (json.has(column) && value !== null ? JSON.stringify(value) : value));
  await tx.query(`UPDATE order_flow SET ${sets.join(', ')} WHERE order_id = $1`, [orderId, ...params]);
}

/** Orders waiting for stock of any of these SKUs. */
export async function findBackorders(db: Queryable, skus: readonly string[]): Promise<{ order_id: string; correlation_id: string }[]> {
  const result = await db.query<{ order_id: string; correlation_id: string }>(
    `SELECT f.order_id, s.correlation_id FROM order_flow f JOIN sales_order s ON s.id = f.order_id
      WHERE f.backorder_skus && $1::text[] AND s.status = 'pending_allocation'`,
    [skus],
  );
  return result.rows;
}

// ---- order_line_state ------------------------------------------------------------------------

export interface LineState {
  lineNumber: number;
  sku: string;
  quantity: number;
  unitPrice: string;
  shipped: number;
  cancelled: number;
  returned: number;
}

export async function readLineStates(db: Queryable, orderId: string, options: { lock?: boolean } = {}): Promise<LineState[]> {
  const result = await db.query<{ line_number: number; sku: string; quantity: number; unit_price: string; shipped: number; cancelled: number; returned: number }>(
    `SELECT line_number, sku, quantity, unit_price::text, shipped, cancelled, returned FROM order_line_state
      WHERE order_id = $1 ORDER BY line_number ${options.lock ? 'FOR UPDATE' : ''}`,
    [orderId],
  );
  return result.rows.map((r) => ({
    lineNumber: r.line_number,
    sku: r.sku,
    quantity: r.quantity,
    unitPrice: r.unit_price,
    shipped: r.shipped,
    cancelled: r.cancelled,
    returned: r.returned,
  }));
}

/** Adds to the shipped, cancelled or returned quantity of lines (the table's CHECK refuses too much). */
export async function addLineQuantities(
  tx: Queryable,
  orderId: string,
  field: 'shipped' | 'cancelled' | 'returned',
  lines: readonly { lineNumber: number; quantity: number }[],
): Promise<void> {
  if (lines.length === 0) return;
  await tx.query(
    `UPDATE order_line_state s SET ${field} = s.${field} + l.quantity
       FROM (SELECT line_number, sum(quantity)::integer AS quantity
               FROM jsonb_to_recordset($2::jsonb) AS x(line_number integer, quantity integer) GROUP BY line_number) AS l
      WHERE s.order_id = $1 AND s.line_number = l.line_number`,
    [orderId, JSON.stringify(lines.map((l) => ({ line_number: l.lineNumber, quantity: l.quantity })))],
  );
}

// ---- order_fulfilment ------------------------------------------------------------------------

export interface FulfilmentLineRef {
  lineNumber: number;
  sku: string;
  quantity: number;
}

export interface OrderFulfilment {
  locationCode: string;
  locationId: string;
  locationKind: string;
  reservationId: string;
  lines: FulfilmentLineRef[];
  externalId: string | null;
  status: 'planned' | 'requested' | 'partially_shipped' | 'shipped' | 'cancelled';
}

export async function insertFulfilments(tx: Queryable, orderId: string, fulfilments: readonly Omit<OrderFulfilment, 'externalId' | 'status'>[]): Promise<void> {
  if (fulfilments.length === 0) return;
  await tx.query(
    `INSERT INTO order_fulfilment (order_id, location_code, location_id, location_kind, reservation_id, lines)
     SELECT $1, f.location_code, f.location_id, f.location_kind, f.reservation_id, f.lines
       FROM jsonb_to_recordset($2::jsonb) AS f(location_code text, location_id text, location_kind text, reservation_id text, lines jsonb)
     ON CONFLICT (order_id, location_code) DO UPDATE SET reservation_id = EXCLUDED.reservation_id, lines = EXCLUDED.lines, status = 'planned'`,
    [
      orderId,
      JSON.stringify(
        fulfilments.map((f) => ({ location_code: f.locationCode, location_id: f.locationId, location_kind: f.locationKind, reservation_id: f.reservationId, lines: f.lines })),
      ),
    ],
  );
}

export async function readFulfilments(db: Queryable, orderId: string): Promise<OrderFulfilment[]> {
  const result = await db.query<{
    location_code: string;
    location_id: string;
    location_kind: string;
    reservation_id: string;
    lines: FulfilmentLineRef[];
    external_id: string | null;
    status: OrderFulfilment['status'];
  }>('SELECT location_code, location_id, location_kind, reservation_id, lines, external_id, status FROM order_fulfilment WHERE order_id = $1 ORDER BY location_code', [orderId]);
  return result.rows.map((r) => ({
    locationCode: r.location_code,
    locationId: r.location_id,
    locationKind: r.location_kind,
    reservationId: r.reservation_id,
    lines: r.lines,
    externalId: r.external_id,
    status: r.status,
  }));
}

export async function updateFulfilment(tx: Queryable, orderId: string, locationCode: string, values: { status: OrderFulfilment['status']; externalId?: string }): Promise<void> {
  await tx.query('UPDATE order_fulfilment SET status = $3, external_id = COALESCE($4, external_id) WHERE order_id = $1 AND location_code = $2', [
    orderId,
    locationCode,
    values.status,
    values.externalId ?? null,
  ]);
}

export async function deleteFulfilments(tx: Queryable, orderId: string): Promise<void> {
  await tx.query("DELETE FROM order_fulfilment WHERE order_id = $1 AND status = 'planned'", [orderId]);
}

// ---- order_shipment --------------------------------------------------------------------------

export interface OrderShipment {
  id: string;
  sourceKey: string;
  locationCode: string;
  carrier: string | null;
  trackingNumbers: string[];
  lines: { lineNumber: number; sku: string; quantity: number }[];
  shippedAt: string;
}

/** Inserts a shipment; false when its source key was recorded before. */
export async function insertShipment(tx: Queryable, orderId: string, shipment: OrderShipment): Promise<boolean> {
  const result = await tx.query(
    `INSERT INTO order_shipment (id, order_id, source_key, location_code, carrier, tracking_numbers, lines, shipped_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source_key) DO NOTHING`,
    [shipment.id, orderId, shipment.sourceKey, shipment.locationCode, shipment.carrier, shipment.trackingNumbers, JSON.stringify(shipment.lines), shipment.shippedAt],
  );
  return result.rowCount === 1;
}

export async function readShipments(db: Queryable, orderId: string): Promise<OrderShipment[]> {
  const result = await db.query<{
    id: string;
    source_key: string;
    location_code: string;
    carrier: string | null;
    tracking_numbers: string[];
    lines: OrderShipment['lines'];
    shipped_at: Date;
  }>('SELECT id, source_key, location_code, carrier, tracking_numbers, lines, shipped_at FROM order_shipment WHERE order_id = $1 ORDER BY shipped_at, id', [orderId]);
  return result.rows.map((r) => ({
    id: r.id,
    sourceKey: r.source_key,
    locationCode: r.location_code,
    carrier: r.carrier,
    trackingNumbers: r.tracking_numbers,
    lines: r.lines,
    shippedAt: new Date(r.shipped_at).toISOString(),
  }));
}

// ---- order_cancellation ----------------------------------------------------------------------

export interface Cancellation {
  id: string;
  orderId: string;
  requestedBy: string;
  reason: string | null;
  status: 'requested' | 'completed' | 'partial' | 'refused';
  report: Record<string, unknown> | null;
  correlationId: string;
  createdAt: string;
  finishedAt: string | null;
}

export async function insertCancellation(tx: Queryable, c: { id: string; orderId: string; requestedBy: string; reason: string | null; correlationId: string }): Promise<void> {
  await tx.query('INSERT INTO order_cancellation (id, order_id, requested_by, reason, correlation_id) VALUES ($1, $2, $3, $4, $5)', [
    c.id,
    c.orderId,
    c.requestedBy,
    c.reason,
    c.correlationId,
  ]);
}

/** The order's cancellation still waiting to be carried out, if any. */
export async function openCancellation(db: Queryable, orderId: string): Promise<string | undefined> {
  const result = await db.query<{ id: string }>("SELECT id FROM order_cancellation WHERE order_id = $1 AND status = 'requested' ORDER BY created_at LIMIT 1", [orderId]);
  return result.rows[0]?.id;
}

export async function finishCancellation(tx: Queryable, id: string, status: Cancellation['status'], report: Record<string, unknown>): Promise<void> {
  await tx.query('UPDATE order_cancellation SET status = $2, report = $3, finished_at = now() WHERE id = $1', [id, status, JSON.stringify(report)]);
}

/**
 * The value of cancelled lines that the order's other partial cancellations already settled
 * (their reports' `cancelledValue`), as a decimal string: what a new partial cancel must not count again.
 */
export async function settledCancelledValue(db: Queryable, orderId: string, exceptCancellationId: string): Promise<string> {
  const result = await db.query<{ value: string }>(
    `SELECT coalesce(sum((report->>'cancelledValue')::numeric), 0)::text AS value FROM order_cancellation
      WHERE order_id = $1 AND id <> $2 AND status = 'partial' AND report ? 'cancelledValue'`,
    [orderId, exceptCancellationId],
  );
  return result.rows[0]!.value;
}

export async function readCancellation(db: Queryable, id: string): Promise<Cancellation | undefined> {
  const result = await db.query<{
    id: string;
    order_id: string;
    requested_by: string;
    reason: string | null;
    status: Cancellation['status'];
    report: Record<string, unknown> | null;
    correlation_id: string;
    created_at: Date;
    finished_at: Date | null;
  }>('SELECT * FROM order_cancellation WHERE id = $1', [id]);
  const r = result.rows[0];
  return (
    r && {
      id: r.id,
      orderId: r.order_id,
      requestedBy: r.requested_by,
      reason: r.reason,
      status: r.status,
      report: r.report,
      correlationId: r.correlation_id,
      createdAt: new Date(r.created_at).toISOString(),
      finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    }
  );
}

// ---- order_return ----------------------------------------------------------------------------

export interface ReturnLine {
  lineNumber: number;
  sku: string;
  quantity: number;
  condition: 'resellable' | 'damaged';
  unitPrice: string;
}

export interface ChannelRefundRef {
  channel: string;
  refundId: string;
  source: 'channel' | 'syncline';
}

export interface OrderReturn {
  id: string;
  orderId: string;
  lines: ReturnLine[];
  locationCode: string;
  reason: string | null;
  refundAmount: string;
  status: 'requested' | 'completed';
  refundId: string | null;
  creditNote: Record<string, unknown> | null;
  correlationId: string;
  createdAt: string;
  completedAt: string | null;
  /** Why the return's flow stopped (its job is a dead letter), null while it runs or once done. */
  exception: Record<string, unknown> | null;
  /**
   * The sales-channel refund paired with the return. source 'channel': taken in the channel (the
   * money already moved there); 'syncline': made here and reflected in the channel. Null: none.
   */
  channelRefund: ChannelRefundRef | null;
}

type NewReturn = Omit<OrderReturn, 'status' | 'refundId' | 'creditNote' | 'createdAt' | 'completedAt' | 'exception' | 'channelRefund'> & { channelRefund?: OrderReturn['channelRefund'] };

/** Records a return; false when a return of the same channel refund exists already (nothing written). */
export async function insertReturn(tx: Queryable, r: NewReturn): Promise<boolean> {
  const result = await tx.query(
    `INSERT INTO order_return (id, order_id, lines, location_code, reason, refund_amount, correlation_id, channel, channel_refund_id, channel_refund_source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (channel, channel_refund_id) WHERE channel_refund_id IS NOT NULL DO NOTHING`,
    [r.id, r.orderId, JSON.stringify(r.lines), r.locationCode, r.reason, r.refundAmount, r.correlationId, r.channelRefund?.channel ?? null, r.channelRefund?.refundId ?? null, r.channelRefund?.source ?? null],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Pairs a return made in Syncline with the refund its channel made of it; false when it is paired already. */
export async function pairChannelRefund(tx: Queryable, id: string, channel: string, channelRefundId: string): Promise<boolean> {
  const result = await tx.query(
    `UPDATE order_return SET channel = $2, channel_refund_id = $3, channel_refund_source = 'syncline'
      WHERE id = $1 AND channel IS NULL
        AND NOT EXISTS (SELECT 1 FROM order_return o WHERE o.channel = $2 AND o.channel_refund_id = $3)`,
    [id, channel, channelRefundId],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * True when a channel refund that made no return (none of its units had shipped) was taken in
 * already: its `channel.refund` entry on the order's timeline names it.
 */
export async function channelRefundNoted(db: Queryable, orderId: string, channel: string, channelRefundId: string): Promise<boolean> {
  const { rows } = await db.query(
    "SELECT 1 FROM order_timeline WHERE order_id = $1 AND system = $2 AND action = 'channel.refund' AND detail->>'channelRefundId' = $3 LIMIT 1",
    [orderId, channel, channelRefundId],
  );
  return rows.length > 0;
}

/** The return made of a channel's refund, if there is one. */
export async function findChannelReturn(db: Queryable, channel: string, channelRefundId: string): Promise<OrderReturn | undefined> {
  const result = await db.query<{ id: string }>('SELECT id FROM order_return WHERE channel = $1 AND channel_refund_id = $2', [channel, channelRefundId]);
  return result.rows[0] ? readReturn(db, result.rows[0].id) : undefined;
}

export async function readReturn(db: Queryable, id: string): Promise<OrderReturn | undefined> {
  const result = await db.query<{
    id: string;
    order_id: string;
    lines: ReturnLine[];
    location_code: string;
    reason: string | null;
    refund_amount: string;
    status: OrderReturn['status'];
    refund_id: string | null;
    credit_note: Record<string, unknown> | null;
    correlation_id: string;
    created_at: Date;
    completed_at: Date | null;
    exception: Record<string, unknown> | null;
    channel: string | null;
    channel_refund_id: string | null;
    channel_refund_source: ChannelRefundRef['source'] | null;
  }>(
    `SELECT id, order_id, lines, location_code, reason, refund_amount::text, status, refund_id, credit_note, correlation_id, created_at, completed_at, exception,
            channel, channel_refund_id, channel_refund_source
       FROM order_return WHERE id = $1`,
    [id],
  );
  const r = result.rows[0];
  return (
    r && {
      id: r.id,
      orderId: r.order_id,
      lines: r.lines,
      locationCode: r.location_code,
      reason: r.reason,
      refundAmount: r.refund_amount,
      status: r.status,
      refundId: r.refund_id,
      creditNote: r.credit_note,
      correlationId: r.correlation_id,
      createdAt: new Date(r.created_at).toISOString(),
      completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
      exception: r.exception,
      channelRefund: r.channel && r.channel_refund_id && r.channel_refund_source ? { channel: r.channel, refundId: r.channel_refund_id, source: r.channel_refund_source } : null,
    }
  );
}

/** The order's returns, oldest first (index order_return_order_idx). */
export async function listOrderReturns(db: Queryable, orderId: string): Promise<OrderReturn[]> {
  const ids = await db.query<{ id: string }>('SELECT id FROM order_return WHERE order_id = $1 ORDER BY created_at, id', [orderId]);
  const returns = await Promise.all(ids.rows.map((r) => readReturn(db, r.id)));
  return returns.filter((r): r is OrderReturn => r !== undefined);
}

/**
 * The dead letters behind an order's exceptions: the one named by its exception hold and those
 * of its returns whose flow stopped. Replaying them (only the open ones are) retries the order.
 */
export async function orderExceptionDeadLetters(db: Queryable, orderId: string): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT hold_reason->>'deadLetterId' AS id FROM order_flow
      WHERE order_id = $1 AND hold_reason->>'kind' = 'exception' AND hold_reason ? 'deadLetterId'
     UNION
     SELECT exception->>'deadLetterId' FROM order_return WHERE order_id = $1 AND exception ? 'deadLetterId'`,
    [orderId],
  );
  return result.rows.map((r) => r.id).sort();
}

/** Sets (or with null clears) why the return's flow stopped. */
export async function setReturnException(tx: Queryable, id: string, exception: Record<string, unknown> | null): Promise<void> {
  await tx.query('UPDATE order_return SET exception = $2 WHERE id = $1', [id, exception === null ? null : JSON.stringify(exception)]);
}

/** Units of each line already on a return (requested or completed), so two returns cannot exceed what shipped. */
export async function returnedQuantities(db: Queryable, orderId: string): Promise<Map<number, number>> {
  const result = await db.query<{ line_number: number; quantity: string }>(
    `SELECT (l->>'lineNumber')::integer AS line_number, sum((l->>'quantity')::integer) AS quantity
       FROM order_return r, jsonb_array_elements(r.lines) AS l WHERE r.order_id = $1 GROUP BY 1`,
    [orderId],
  );
  return new Map(result.rows.map((r) => [r.line_number, Number(r.quantity)]));
}

export async function completeReturn(tx: Queryable, id: string, values: { refundId: string | null; creditNote: Record<string, unknown> | null }): Promise<void> {
  await tx.query("UPDATE order_return SET status = 'completed', refund_id = $2, credit_note = $3, completed_at = now(), exception = NULL WHERE id = $1", [
    id,
    values.refundId,
    values.creditNote ? JSON.stringify(values.creditNote) : null,
  ]);
}

// ---- customer_timeline -----------------------------------------------------------------------

export async function appendCustomerTimeline(tx: Queryable, entry: { email: string; action: string; orderId: string | null; detail: Record<string, unknown> }): Promise<void> {
  await tx.query('INSERT INTO customer_timeline (customer_email, action, order_id, detail) VALUES (lower($1), $2, $3, $4)', [
    entry.email,
    entry.action,
    entry.orderId,
    JSON.stringify(entry.detail),
  ]);
}

export async function readCustomerTimeline(db: Queryable, email: string): Promise<{ at: string; action: string; orderId: string | null; detail: Record<string, unknown> | null }[]> {
  const result = await db.query<{ at: Date; action: string; order_id: string | null; detail: Record<string, unknown> | null }>(
    'SELECT at, action, order_id, detail FROM customer_timeline WHERE customer_email = lower($1) ORDER BY id',
    [email],
  );
  return result.rows.map((r) => ({ at: new Date(r.at).toISOString(), action: r.action, orderId: r.order_id, detail: r.detail }));
}
