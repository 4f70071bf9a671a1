import type { Queryable } from '../database.ts';

/** Customer records coming in (migration 0045): merge reviews and the pull cursors of each connection. */

/**
 * Queues a review of a past merge into customerId (both sides of the pair are that customer);
 * false when a review of that customer is pending already.
 */
export async function insertMergeReview(tx: Queryable, row: { id: string; customerId: string; mergeId: string; recordA: string; recordB: string; evidence: unknown }): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO customer_stewardship (id, customer_a, customer_b, record_a, record_b, score, evidence, review_merge_id) VALUES ($1, $2, $2, $3, $4, 0, $5, $6)
     ON CONFLICT DO NOTHING`,
    [row.id, row.customerId, row.recordA, row.recordB, JSON.stringify(row.evidence), row.mergeId],
  );
  return (rowCount ?? 0) > 0;
}

/** The merge a stewardship row reviews (null: an ordinary pair). */
export async function selectReviewedMerge(db: Queryable, stewardshipId: string): Promise<string | null> {
  return (await db.query<{ review_merge_id: string | null }>('SELECT review_merge_id FROM customer_stewardship WHERE id = $1', [stewardshipId])).rows[0]?.review_merge_id ?? null;
}

export interface RecordSyncRow {
  connection: string;
  system: string;
  cursor: Date | null;
  last_run: unknown;
  last_error: unknown;
  updated_at: Date;
}

export async function selectRecordSync(db: Queryable, connection: string): Promise<RecordSyncRow | undefined> {
  return (await db.query<RecordSyncRow>('SELECT * FROM customer_record_sync WHERE connection = $1', [connection])).rows[0];
}

/** A completed pull: the cursor the next one reads from and its summary. */
export async function completeRecordSync(db: Queryable, connection: string, system: string, cursor: string | null, run: unknown): Promise<void> {
  await db.query(
    `INSERT INTO customer_record_sync (connection, system, cursor, last_run) VALUES ($1, $2, $3, $4)
     ON CONFLICT (connection) DO UPDATE SET cursor = EXCLUDED.cursor, last_run = EXCLUDED.last_run, last_error = NULL, updated_at = now()`,
    [connection, system, cursor, JSON.stringify(run)],
  );
}

export async function failRecordSync(db: Queryable, connection: string, system: string, failure: { code: string; message: string }): Promise<void> {
  await db.query(
    `INSERT INTO customer_record_sync (connection, system, last_error) VALUES ($1, $2, $3)
     ON CONFLICT (connection) DO UPDATE SET last_error = EXCLUDED.last_error, updated_at = now()`,
    [connection, system, JSON.stringify({ ...failure, at: new Date().toISOString() })],
  );
}

/** The next pull of the connection reads everything again. */
export async function resetRecordSync(db: Queryable, connection: string): Promise<void> {
  await db.query('UPDATE customer_record_sync SET cursor = NULL, updated_at = now() WHERE connection = $1', [connection]);
}
