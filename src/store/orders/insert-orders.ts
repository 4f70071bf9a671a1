import type { Queryable } from '../database.ts';
import type { Order } from '../../model/order.ts';
import type { NewEvent } from '../../runtime/outbox/outbox.ts';

/** One order to insert, with the idempotency key it arrived under and the event announcing it (its data is the order). */
export interface OrderInsert {
  order: Order;
  idempotency: { scope: string; key: string; fingerprint: string } | undefined;
  event: Omit<NewEvent, 'data'>;
}

export type OrderInsertOutcome =
  /** `json`: the order's document as stored, the one serialisation of it (an answer can send it as it is). */
  | { kind: 'created'; order: Order; json: string }
  | { kind: 'replayed'; orderId: string; status: number }
  | { kind: 'key-reused' }
  | { kind: 'key-in-flight' }
  | { kind: 'duplicate'; existingOrderId: string };

/**
 * The whole batch in one statement, so that it is its own transaction and costs one
 * round trip:
 * - `input` takes a transaction-scoped advisory try-lock per idempotency key; a key
 *   whose lock is held belongs to a request still in flight (it never waits);
 * - `inserted` writes the new orders; ON CONFLICT leaves out any channel order or
 *   idempotency key that exists, instead of failing the batch (the unique indexes decide,
 *   so the statement reads no other order: no plan can turn into a scan of the table);
 * - `events` writes each new order's `order.created` event to the outbox in the same
 *   transaction, without a copy of the order: its data is the order's document, read
 *   from sales_order when the event is read (readers use OUTBOX_COLUMNS).
 * Orders left out are classified by a second statement (classifyConflicts): a replay,
 * a reused key or a duplicate channel order. They are rare.
 */
const INSERT_ORDERS_SQL = `
WITH input AS MATERIALIZED (
  SELECT o.*,
         CASE WHEN o.idem_key IS NULL THEN true
              ELSE pg_try_advisory_xact_lock(hashtextextended(o.idem_scope || ' ' || o.idem_key, 0)) END AS locked
    FROM jsonb_to_recordset($1::jsonb) AS o(
           n int, id text, channel text, channel_order_id text, status text, currency text, grand_total numeric,
           placed_at timestamptz, created_at timestamptz, correlation_id text, customer_email text, document jsonb,
           idem_scope text, idem_key text, request_hash text,
           event_id text, event_type text, event_source text, traceparent text, tracestate text)
),
inserted AS (
  INSERT INTO sales_order (id, channel, channel_order_id, status, currency, grand_total, placed_at, created_at,
                           updated_at, correlation_id, customer_email, document,
                           idempotency_scope, idempotency_key, request_hash)
  SELECT i.id, i.channel, i.channel_order_id, i.status, i.currency, i.grand_total, i.placed_at, i.created_at,
         i.created_at, i.correlation_id, i.customer_email, i.document, i.idem_scope, i.idem_key, i.request_hash
    FROM input i
   WHERE i.locked
   ORDER BY i.n
  ON CONFLICT DO NOTHING
  RETURNING id
),
events AS (
  INSERT INTO outbox_event (id, type, source, subject, time, correlation_id, traceparent, tracestate)
  SELECT i.event_id, i.event_type, i.event_source, i.id, i.created_at, i.correlation_id, i.traceparent, i.tracestate
    FROM input i JOIN inserted USING (id)
   ORDER BY i.n
)
SELECT i.n, i.locked, ins.id IS NOT NULL AS created
  FROM input i
  LEFT JOIN inserted ins USING (id)`;

interface InsertRow {
  n: number;
  locked: boolean;
  created: boolean;
}

const idemKey = (i: { scope: string; key: string }) => `${i.scope}\n${i.key}`;
const channelKey = (o: { channel: string; channelOrderId: string }) => `${o.channel}\n${o.channelOrderId}`;

/**
 * Inserts a batch of orders, each with its idempotency record and `order.created`
 * outbox event, atomically. Returns one outcome per input, in input order.
 */
export async function insertOrders(db: Queryable, inserts: readonly OrderInsert[]): Promise<OrderInsertOutcome[]> {
  const outcomes: (OrderInsertOutcome | undefined)[] = inserts.map(() => undefined);

  // The same key twice in one batch: the second one is in flight behind the first.
  const keysInBatch = new Set<string>();
  inserts.forEach((insert, i) => {
    if (!insert.idempotency) return;
    const key = idemKey(insert.idempotency);
    if (keysInBatch.has(key)) outcomes[i] = { kind: 'key-in-flight' };
    keysInBatch.add(key);
  });

  // Sorted by channel order so that concurrent batches wait on each other's rows in one order (no deadlock).
  const candidates = inserts
    .map((insert, i) => ({ insert, i }))
    .filter(({ i }) => outcomes[i] === undefined)
    .sort((a, b) => (channelKey(a.insert.order) < channelKey(b.insert.order) ? -1 : 1));
  if (candidates.length === 0) return outcomes as OrderInsertOutcome[];

  // Each order is serialised once: its JSON goes into the batch as the row's document, and back
  // to the caller for the answer.
  const documents = candidates.map(({ insert }) => JSON.stringify(insert.order));
  const rows = await db.query<InsertRow>(INSERT_ORDERS_SQL, [batchJson(candidates.map(({ insert }) => insert), documents)], { prepare: true });

  const unresolved: typeof candidates = [];
  for (const row of rows.rows) {
    const candidate = candidates[row.n]!;
    const { insert, i } = candidate;
    if (!row.locked) outcomes[i] = { kind: 'key-in-flight' };
    else if (row.created) outcomes[i] = { kind: 'created', order: insert.order, json: documents[row.n]! };
    else unresolved.push(candidate);
  }
  if (unresolved.length > 0) await classifyConflicts(db, unresolved, outcomes);
  return outcomes as OrderInsertOutcome[];
}

/** The statement's input: one JSON object per order, numbered in batch order, its document spliced in as JSON text. */
function batchJson(inserts: readonly OrderInsert[], documents: readonly string[]): string {
  const rows = inserts.map(({ order, idempotency, event }, n) => {
    const columns = JSON.stringify({
      n,
      id: order.id,
      channel: order.channel,
      channel_order_id: order.channelOrderId,
      status: order.status,
      currency: order.currency,
      grand_total: order.totals.grandTotal,
      placed_at: order.placedAt,
      created_at: order.createdAt,
      correlation_id: order.correlationId,
      customer_email: order.customer.email.toLowerCase(),
      idem_scope: idempotency?.scope ?? null,
      idem_key: idempotency?.key ?? null,
      request_hash: idempotency?.fingerprint ?? null,
      event_id: event.id,
      event_type: event.type,
      event_source: event.source,
      traceparent: event.traceparent ?? null,
      tracestate: event.tracestate ?? null,
    });
    return `${columns.slice(0, -1)},"document":${documents[n]}}`;
  });
  return `[${rows.join(',')}]`;
}

function replayOrReuse(insert: OrderInsert, existingId: string, existingHash: string | null): OrderInsertOutcome {
  return existingHash === insert.idempotency?.fingerprint
    ? { kind: 'replayed', orderId: existingId, status: 201 }
    : { kind: 'key-reused' };
}

/**
 * Inserts left out by ON CONFLICT: an order with the same key exists (a replay, or the
 * key reused for another request), or the channel order exists. A fresh statement sees
 * which; each half of it is a lookup in one unique index.
 */
async function classifyConflicts(
  db: Queryable,
  unresolved: { insert: OrderInsert; i: number }[],
  outcomes: (OrderInsertOutcome | undefined)[],
): Promise<void> {
  const existing = await db.query<{ id: string; channel: string; channel_order_id: string; idempotency_scope: string | null; idempotency_key: string | null; request_hash: string | null }>(
    `SELECT s.id, s.channel, s.channel_order_id, s.idempotency_scope, s.idempotency_key, s.request_hash
       FROM sales_order s
      WHERE (s.channel, s.channel_order_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     UNION
     SELECT s.id, s.channel, s.channel_order_id, s.idempotency_scope, s.idempotency_key, s.request_hash
       FROM sales_order s
      WHERE (s.idempotency_scope, s.idempotency_key) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
    [
      unresolved.map(({ insert }) => insert.order.channel),
      unresolved.map(({ insert }) => insert.order.channelOrderId),
      unresolved.map(({ insert }) => insert.idempotency?.scope ?? null),
      unresolved.map(({ insert }) => insert.idempotency?.key ?? null),
    ],
  );
  const byKey = new Map(existing.rows.filter((r) => r.idempotency_key !== null).map((r) => [idemKey({ scope: r.idempotency_scope!, key: r.idempotency_key! }), r]));
  const byChannel = new Map(existing.rows.map((r) => [channelKey({ channel: r.channel, channelOrderId: r.channel_order_id }), r]));
  for (const { insert, i } of unresolved) {
    const sameKey = insert.idempotency && byKey.get(idemKey(insert.idempotency));
    if (sameKey) outcomes[i] = replayOrReuse(insert, sameKey.id, sameKey.request_hash);
    else {
      const sameOrder = byChannel.get(channelKey(insert.order));
      // Not found only if the other order was rolled back in between; the caller may simply retry.
      outcomes[i] = sameOrder ? { kind: 'duplicate', existingOrderId: sameOrder.id } : { kind: 'key-in-flight' };
    }
  }
}
