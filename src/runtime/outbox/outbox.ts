import type { Queryable } from '../../store/database.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';

/**
 * The transactional outbox: events are written in the caller's transaction, so an
 * event exists if and only if the state change that caused it committed.
 */

export interface NewEvent {
  id: string;
  type: string;
  source: string;
  subject: string;
  time: string;
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  data: unknown;
}

/**
 * The INSERT that appends events, reading them from a jsonb parameter; exported so that a hot
 * path can run it as one data-modifying CTE of a larger statement (one round trip fewer).
 */
export function appendEventsSql(param: string): string {
  return `INSERT INTO outbox_event (id, type, source, subject, time, correlation_id, traceparent, tracestate, data)
     SELECT e.id, e.type, e.source, e.subject, e.time, e.correlation_id, e.traceparent, e.tracestate, e.data
       FROM jsonb_to_recordset(${param}::jsonb) AS e(id text, type text, source text, subject text, time timestamptz,
                                               correlation_id text, traceparent text, tracestate text, data jsonb)`;
}

/** The jsonb parameter for appendEventsSql. */
export function appendEventsParam(events: readonly NewEvent[]): string {
  return JSON.stringify(
    events.map((e) => ({
      id: e.id,
      type: e.type,
      source: e.source,
      subject: e.subject,
      time: e.time,
      correlation_id: e.correlationId,
      traceparent: e.traceparent ?? null,
      tracestate: e.tracestate ?? null,
      data: e.data,
    })),
  );
}

/** Appends events to the outbox inside the caller's transaction. */
export async function appendEvents(tx: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(appendEventsSql('$1'), [appendEventsParam(events)]);
}

/** A position in the feed: the writing transaction and the row within it. */
export interface FeedCursor {
  txId: string;
  position: string;
}

export function encodeCursor(cursor: FeedCursor): string {
  return Buffer.from(`${cursor.txId}.${cursor.position}`).toString('base64url');
}

/** Decodes a cursor; returns undefined when it is not one this server issued. */
export function decodeCursor(text: string): FeedCursor | undefined {
  const match = /^(\d{1,20})\.(\d{1,20})$/.exec(Buffer.from(text, 'base64url').toString());
  return match ? { txId: match[1]!, position: match[2]! } : undefined;
}

/**
 * The columns of an outbox_event row `e` as readers select them (mapped with toCloudEvent).
 * An event written without data (`order.created`: intake does not copy the order into the
 * outbox) carries the document of the order it names; an amendment copies the accepted
 * document into the event before it rewrites the order's (saveOrderDocument), so the
 * event reads the same forever.
 */
export const OUTBOX_COLUMNS = `e.tx_id, e.position, e.id, e.type, e.source, e.subject, e.time, e.correlation_id, e.traceparent, e.tracestate,
       coalesce(e.data, (SELECT s.document FROM sales_order s WHERE s.id = e.subject)) AS data`;

/** An outbox_event row as read (readers map it with toCloudEvent). */
export interface OutboxRow {
  tx_id: string;
  position: string;
  id: string;
  type: string;
  source: string;
  subject: string;
  time: Date | string;
  correlation_id: string;
  traceparent: string | null;
  tracestate: string | null;
  data: unknown;
}

export interface FeedPage {
  events: CloudEvent[];
  /** Pass as `after` to continue; equals the input cursor when nothing new was visible (null at the very start). */
  nextCursor: string | null;
}

/**
 * Reads events after a cursor in transaction order. Rows at or above the horizon are
 * held back, so a follower never skips an event that commits later with an earlier
 * position. The horizon is the oldest transaction of *this* database still running
 * in the statement's snapshot (and the reader's own transaction, if it has an id):
 * transactions of other databases on the same server cannot write this outbox, so a
 * long one there must not stall the feed. An xid whose database cannot be told (it
 * ended meanwhile, or belongs to a role whose sessions are hidden) counts as ours.
 */
export async function readFeed(db: Queryable, after: FeedCursor | undefined, limit: number): Promise<FeedPage> {
  const result = await db.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS}
       FROM outbox_event e
      WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint)
        AND e.tx_id < (
          SELECT least(
                   pg_snapshot_xmax(s.snapshot),
                   pg_current_xact_id_if_assigned(),
                   (SELECT min(x) FROM pg_snapshot_xip(s.snapshot) AS x
                     WHERE NOT EXISTS (
                       SELECT 1 FROM pg_stat_activity a
                        WHERE a.datname IS DISTINCT FROM current_database()
                          AND a.backend_xid::text = (x::text::numeric % 4294967296)::text)))
            FROM (SELECT pg_current_snapshot() AS snapshot) AS s)
      ORDER BY e.tx_id, e.position
      LIMIT $3`,
    [after?.txId ?? '0', after?.position ?? '0', limit],
  );
  const last = result.rows.at(-1);
  return {
    events: result.rows.map(toCloudEvent),
    nextCursor: last ? encodeCursor({ txId: last.tx_id, position: last.position }) : after ? encodeCursor(after) : null,
  };
}

/** The CloudEvent of an outbox row. */
export function toCloudEvent(row: OutboxRow): CloudEvent {
  return {
    specversion: '1.0',
    id: row.id,
    source: row.source,
    type: row.type,
    subject: row.subject,
    time: new Date(row.time).toISOString(),
    datacontenttype: 'application/json',
    correlationid: row.correlation_id,
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
    ...(row.traceparent && row.tracestate ? { tracestate: row.tracestate } : {}),
    data: row.data,
  };
}
