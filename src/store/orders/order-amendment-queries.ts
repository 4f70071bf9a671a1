import type { Queryable } from '../database.ts';
import type { Order, OrderSubmission } from '../../model/order.ts';
import type { AmendmentChanges, AmendmentStatus, OrderAmendmentView } from '../../model/order-amendment.ts';

/** Order amendments (order_amendment, migration 0026) and the order rows an applied amendment rewrites. */

export interface AmendmentRow extends OrderAmendmentView {
  proposed: OrderSubmission;
}

interface RawAmendment {
  id: string;
  order_id: string;
  channel: string;
  status: AmendmentStatus;
  order_status: string;
  changes: AmendmentChanges;
  proposed: OrderSubmission;
  code: string | null;
  channel_updated_at: Date | string | null;
  created_at: Date | string;
  decided_at: Date | string | null;
  decided_by: string | null;
  note: string | null;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());
const toRow = (r: RawAmendment): AmendmentRow => ({
  id: r.id,
  orderId: r.order_id,
  channel: r.channel,
  status: r.status,
  orderStatus: r.order_status,
  changes: r.changes,
  proposed: r.proposed,
  code: r.code,
  channelUpdatedAt: iso(r.channel_updated_at),
  createdAt: iso(r.created_at)!,
  decidedAt: iso(r.decided_at),
  decidedBy: r.decided_by,
  note: r.note,
});

/** Records an amendment. */
export async function insertAmendment(
  tx: Queryable,
  a: { id: string; orderId: string; channel: string; status: AmendmentStatus; orderStatus: string; changes: AmendmentChanges; proposed: OrderSubmission; code: string | null; channelUpdatedAt: string | null; correlationId: string; decidedBy: string | null },
): Promise<void> {
  await tx.query(
    `INSERT INTO order_amendment (id, order_id, channel, status, order_status, changes, proposed, code, channel_updated_at, correlation_id, decided_at, decided_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $4 IN ('held', 'pending') THEN NULL ELSE now() END, $11)`,
    [a.id, a.orderId, a.channel, a.status, a.orderStatus, JSON.stringify(a.changes), JSON.stringify(a.proposed), a.code, a.channelUpdatedAt, a.correlationId, a.decidedBy],
  );
}

/** Records the outcome of a pending amendment once it is taken in. */
export async function settleAmendment(tx: Queryable, id: string, outcome: { status: Exclude<AmendmentStatus, 'pending'>; orderStatus: string; changes: AmendmentChanges; code: string | null; decidedBy: string | null }): Promise<void> {
  await tx.query(
    `UPDATE order_amendment SET status = $2, order_status = $3, changes = $4, code = $5, decided_by = $6, decided_at = CASE WHEN $2 = 'held' THEN NULL ELSE now() END
      WHERE id = $1 AND status = 'pending'`,
    [id, outcome.status, outcome.orderStatus, JSON.stringify(outcome.changes), outcome.code, outcome.decidedBy],
  );
}

/** The order's amendment held for review, if any. */
export async function heldAmendment(db: Queryable, orderId: string): Promise<AmendmentRow | undefined> {
  const result = await db.query<RawAmendment>("SELECT * FROM order_amendment WHERE order_id = $1 AND status = 'held'", [orderId]);
  return result.rows[0] && toRow(result.rows[0]);
}

/** The order's amendments waiting to be taken in, oldest first. */
export async function pendingAmendments(db: Queryable, orderId: string): Promise<AmendmentRow[]> {
  const result = await db.query<RawAmendment>("SELECT * FROM order_amendment WHERE order_id = $1 AND status = 'pending' ORDER BY created_at, id", [orderId]);
  return result.rows.map(toRow);
}

/** One amendment of an order; with lock, its row is locked for the caller's transaction. */
export async function readAmendment(db: Queryable, orderId: string, id: string, options: { lock?: boolean } = {}): Promise<AmendmentRow | undefined> {
  const result = await db.query<RawAmendment>(`SELECT * FROM order_amendment WHERE id = $1 AND order_id = $2 ${options.lock ? 'FOR UPDATE' : ''}`, [id, orderId]);
  return result.rows[0] && toRow(result.rows[0]);
}

/** The order's amendments, oldest first. */
export async function listAmendments(db: Queryable, orderId: string): Promise<AmendmentRow[]> {
  const result = await db.query<RawAmendment>('SELECT * FROM order_amendment WHERE order_id = $1 ORDER BY created_at, id', [orderId]);
  return result.rows.map(toRow);
}

/** True when the channel already sent a version of the order newer than `channelUpdatedAt`. */
export async function newerVersionSeen(db: Queryable, orderId: string, channelUpdatedAt: string): Promise<boolean> {
  const result = await db.query(
    "SELECT 1 FROM order_amendment WHERE order_id = $1 AND status IN ('applied', 'held', 'reported') AND channel_updated_at > $2 LIMIT 1",
    [orderId, channelUpdatedAt],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * The order's latest rejected amendment of this channel version or a later one (by the channel's
 * own update time; without one, the latest rejected amendment): a version an operator turned down.
 */
export async function rejectedVersion(db: Queryable, orderId: string, channelUpdatedAt: string | null): Promise<AmendmentRow | undefined> {
  const result = await db.query<RawAmendment>(
    `SELECT * FROM order_amendment WHERE order_id = $1 AND status = 'rejected' AND ($2::timestamptz IS NULL OR channel_updated_at >= $2)
      ORDER BY decided_at DESC NULLS LAST, id DESC LIMIT 1`,
    [orderId, channelUpdatedAt],
  );
  return result.rows[0] && toRow(result.rows[0]);
}

/** Settles a held amendment (applied, rejected or superseded); false when it was not held any more. */
export async function decideAmendment(tx: Queryable, id: string, decision: { status: 'applied' | 'rejected' | 'superseded'; by: string | null; note: string | null }): Promise<boolean> {
  const result = await tx.query("UPDATE order_amendment SET status = $2, decided_at = now(), decided_by = $3, note = $4 WHERE id = $1 AND status = 'held'", [id, decision.status, decision.by, decision.note]);
  return (result.rowCount ?? 0) > 0;
}

/** Supersedes the order's held amendment, if any; returns its id. */
export async function supersedeHeld(tx: Queryable, orderId: string): Promise<string | undefined> {
  const result = await tx.query<{ id: string }>("UPDATE order_amendment SET status = 'superseded', decided_at = now() WHERE order_id = $1 AND status = 'held' RETURNING id", [orderId]);
  return result.rows[0]?.id;
}

/**
 * Rewrites the order's document (an applied amendment); status and hold stay in their own columns.
 * The order's `order.created` event reads the accepted document from the order row (see
 * OUTBOX_COLUMNS): the same statement first copies that document into the event, once.
 */
export async function saveOrderDocument(tx: Queryable, order: Order): Promise<void> {
  const { hold: _hold, ...document } = order;
  await tx.query(
    `WITH accepted AS (
       UPDATE outbox_event e SET data = s.document
         FROM sales_order s
        WHERE s.id = $1 AND e.subject = $1 AND e.type = 'order.created' AND e.data IS NULL
     )
     UPDATE sales_order SET document = $2, grand_total = $3, customer_email = $4, updated_at = now() WHERE id = $1`, [
    order.id,
    JSON.stringify(document),
    order.totals.grandTotal,
    order.customer.email,
  ]);
}

/** Replaces the order's line quantities (nothing shipped, cancelled or returned yet: before release). */
export async function replaceLineStates(tx: Queryable, order: Order): Promise<void> {
  await tx.query('DELETE FROM order_line_state WHERE order_id = $1', [order.id]);
  await tx.query(
    `INSERT INTO order_line_state (order_id, line_number, sku, quantity, unit_price)
     SELECT $1, l.line_number, l.sku, l.quantity, l.unit_price
       FROM jsonb_to_recordset($2::jsonb) AS l(line_number integer, sku text, quantity integer, unit_price numeric)`,
    [order.id, JSON.stringify(order.lines.map((l) => ({ line_number: l.lineNumber, sku: l.sku, quantity: l.quantity, unit_price: l.unitPrice })))],
  );
}

/** Sets the lines a planned fulfilment will ask its location for. */
export async function setFulfilmentLines(tx: Queryable, orderId: string, locationCode: string, lines: readonly { lineNumber: number; sku: string; quantity: number }[]): Promise<void> {
  await tx.query("UPDATE order_fulfilment SET lines = $3 WHERE order_id = $1 AND location_code = $2 AND status = 'planned'", [orderId, locationCode, JSON.stringify(lines)]);
}
