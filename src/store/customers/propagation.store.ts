import type { Queryable } from '../database.ts';
import { decodeRecord, type RawRecordRow } from './customer-queries.ts';

/** Where a customer event stands in one system connection (migration 0042). */
export type PropagationStatus = 'pending' | 'done' | 'failed' | 'not_applicable';

export interface PropagationRow {
  eventId: string;
  eventType: string;
  customerId: string;
  requestId: string | null;
  system: string;
  connection: string;
  status: PropagationStatus;
  attempts: number;
  lastError: { code: string; message: string } | null;
  detail: unknown[];
  createdAt: string;
  updatedAt: string;
}

interface Row {
  event_id: string;
  event_type: string;
  customer_id: string;
  request_id: string | null;
  system: string;
  connection: string;
  status: PropagationStatus;
  attempts: number;
  last_error: { code: string; message: string } | null;
  detail: unknown[];
  created_at: Date;
  updated_at: Date;
}

const toRow = (r: Row): PropagationRow => ({
  eventId: r.event_id,
  eventType: r.event_type,
  customerId: r.customer_id,
  requestId: r.request_id,
  system: r.system,
  connection: r.connection,
  status: r.status,
  attempts: r.attempts,
  lastError: r.last_error,
  detail: r.detail,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Records the (event, system, connection) rows an event is carried to; a replayed event keeps the rows it has. */
export async function insertPropagations(
  tx: Queryable,
  rows: readonly { eventId: string; eventType: string; customerId: string; requestId: string | null; system: string; connection: string; status: PropagationStatus; detail?: unknown[] }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await tx.query(
    `INSERT INTO customer_propagation (event_id, event_type, customer_id, request_id, system, connection, status, detail)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
     ON CONFLICT (event_id, system, connection) DO NOTHING`,
    [
      rows.map((r) => r.eventId),
      rows.map((r) => r.eventType),
      rows.map((r) => r.customerId),
      rows.map((r) => r.requestId),
      rows.map((r) => r.system),
      rows.map((r) => r.connection),
      rows.map((r) => r.status),
      rows.map((r) => JSON.stringify(r.detail ?? [])),
    ],
  );
  return result.rowCount ?? 0;
}

/** Counts an attempt and records its outcome: a final status with what was done, or (pending) the error it met. */
export async function recordPropagationAttempt(
  db: Queryable,
  key: { eventId: string; system: string; connection: string },
  outcome: { status: PropagationStatus; detail?: unknown[]; error?: { code: string; message: string } | null; countAttempt?: boolean },
): Promise<void> {
  await db.query(
    `UPDATE customer_propagation
        SET status = $4, attempts = attempts + $5, detail = COALESCE($6::jsonb, detail), last_error = CASE WHEN $7::jsonb IS NULL AND $4 <> 'failed' THEN NULL ELSE COALESCE($7::jsonb, last_error) END, updated_at = now()
      WHERE event_id = $1 AND system = $2 AND connection = $3`,
    [key.eventId, key.system, key.connection, outcome.status, outcome.countAttempt === false ? 0 : 1, outcome.detail ? JSON.stringify(outcome.detail) : null, outcome.error ? JSON.stringify(outcome.error) : null],
  );
}

/** The status of one (event, system, connection), if recorded. */
export async function selectPropagationStatus(db: Queryable, key: { eventId: string; system: string; connection: string }): Promise<PropagationStatus | undefined> {
  const { rows } = await db.query<{ status: PropagationStatus }>('SELECT status FROM customer_propagation WHERE event_id = $1 AND system = $2 AND connection = $3', [key.eventId, key.system, key.connection]);
  return rows[0]?.status;
}

/** Propagation outcomes of a customer or of a data subject request, oldest first. */
export async function listPropagations(db: Queryable, filter: { customerId?: string; requestId?: string }): Promise<PropagationRow[]> {
  if (filter.customerId === undefined && filter.requestId === undefined) throw new Error('listPropagations needs a customerId or a requestId');
  const { rows } = await db.query<Row>(
    `SELECT * FROM customer_propagation
      WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR request_id = $2)
      ORDER BY created_at, event_id, system, connection`,
    [filter.customerId ?? null, filter.requestId ?? null],
  );
  return rows.map(toRow);
}

/** A source record by its system ids only (no personal data): what propagation addresses. */
export interface RecordRef {
  recordId: string;
  system: string;
  connection: string;
  sourceId: string;
}

/** The system ids of a customer's records, oldest first. */
export async function selectRecordRefs(db: Queryable, customerId: string): Promise<RecordRef[]> {
  const { rows } = await db.query<RawRecordRow>('SELECT * FROM customer_source_record WHERE customer_id = $1 ORDER BY created_at, id', [customerId]);
  return rows.map(toRef);
}

/**
 * The system ids of the records a customer held right after a merge: its records now, less
 * those that joined it by a later merge (merge ids sort by time). A merge event planned late
 * must not take records of a later merge for the survivor's own.
 */
export async function selectRecordRefsAfterMerge(db: Queryable, customerId: string, mergeId: string): Promise<RecordRef[]> {
  const { rows } = await db.query<RawRecordRow>(
    `SELECT r.* FROM customer_source_record r
      WHERE r.customer_id = $1
        AND NOT EXISTS (SELECT 1 FROM customer_source_history h WHERE h.record_id = r.id AND h.reason = 'merged' AND h.merge_id > $2)
      ORDER BY r.created_at, r.id`,
    [customerId, mergeId],
  );
  return rows.map(toRef);
}

/** A record by its system id: stored as a blind index, read back from the decrypted record (a shredded record has none). */
function toRef(row: RawRecordRow): RecordRef {
  const record = decodeRecord(row);
  return { recordId: record.id, system: record.system, connection: record.connection, sourceId: record.external_id };
}
