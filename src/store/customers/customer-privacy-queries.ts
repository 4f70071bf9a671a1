import type { Queryable } from '../database.ts';
import { selectHistoriesWithData, type HistoryEntryRow } from './customer-queries.ts';

/**
 * Reads and writes of customer personal data for data subject requests (ADR 0039): the
 * export's reads, and the erasure of the customer tables (records pseudonymised, history
 * versions dropped, match keys deleted, golden record emptied).
 */

/** A customer and every customer merged into it (recursively): the ids one identity answers to. */
export async function selectIdentityIds(db: Queryable, customerId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH RECURSIVE identity(id) AS (
       SELECT $1::text
       UNION SELECT c.id FROM customer c JOIN identity i ON c.merged_into = i.id
     ) SELECT id FROM identity ORDER BY id`,
    [customerId],
  );
  return rows.map((r) => r.id);
}

/** Every history entry (with the version received, decrypted) of the records, oldest first. */
export const selectHistoryOf = selectHistoriesWithData;
export type { HistoryEntryRow };

/** Stewardship pairs naming one of the customers. */
export async function selectStewardshipOf(db: Queryable, customerIds: readonly string[]): Promise<Record<string, unknown>[]> {
  return (await db.query('SELECT * FROM customer_stewardship WHERE customer_a = ANY($1::text[]) OR customer_b = ANY($1::text[]) ORDER BY created_at, id', [customerIds])).rows;
}

/** Merges into or out of one of the customers. */
export async function selectMergesOf(db: Queryable, customerIds: readonly string[]): Promise<Record<string, unknown>[]> {
  return (await db.query('SELECT * FROM customer_merge WHERE survivor_id = ANY($1::text[]) OR merged_id = ANY($1::text[]) ORDER BY created_at, id', [customerIds])).rows;
}

/** The orders resolved to one of the records, oldest first. */
export async function selectOrderIdsOfRecords(db: Queryable, recordIds: readonly string[]): Promise<string[]> {
  return (await db.query<{ order_id: string }>('SELECT order_id FROM order_customer WHERE record_id = ANY($1::text[]) ORDER BY order_id', [recordIds])).rows.map((r) => r.order_id);
}

/** Pseudonymises one source record: its data replaced (no personal data), its match form with it. */
export async function pseudonymiseRecord(tx: Queryable, recordId: string, externalId: string, data: unknown, match: unknown): Promise<void> {
  await tx.query('UPDATE customer_source_record SET external_id = $2, data = $3, match = $4, updated_at = now() WHERE id = $1', [recordId, externalId, JSON.stringify(data), JSON.stringify(match)]);
}

/** Drops the versions of the records kept in their history (the memberships stay). */
export async function dropHistoryVersions(tx: Queryable, recordIds: readonly string[]): Promise<void> {
  await tx.query('UPDATE customer_source_history SET data = NULL WHERE record_id = ANY($1::text[]) AND data IS NOT NULL', [recordIds]);
}

/** Deletes the records' blocking keys: an erased customer is nobody's candidate. */
export async function deleteKeys(tx: Queryable, recordIds: readonly string[]): Promise<void> {
  await tx.query('DELETE FROM customer_match_key WHERE record_id = ANY($1::text[])', [recordIds]);
}

/** Empties the golden records and marks the customers erased. */
export async function markErased(tx: Queryable, customerIds: readonly string[]): Promise<void> {
  await tx.query(`UPDATE customer SET golden = '{}', erased_at = coalesce(erased_at, now()), updated_at = now() WHERE id = ANY($1::text[])`, [customerIds]);
}

/** Pending stewardship pairs of erased customers are no longer a question. */
export async function supersedePairsOf(tx: Queryable, customerIds: readonly string[]): Promise<void> {
  await tx.query(`UPDATE customer_stewardship SET status = 'superseded', decided_at = now() WHERE status = 'pending' AND (customer_a = ANY($1::text[]) OR customer_b = ANY($1::text[]))`, [customerIds]);
}

export async function selectErasedAt(db: Queryable, customerId: string): Promise<Date | null> {
  return (await db.query<{ erased_at: Date | null }>('SELECT erased_at FROM customer WHERE id = $1', [customerId])).rows[0]?.erased_at ?? null;
}

/** The customer an id stands for now (following merged_into), or undefined for an unknown id. */
export async function selectCurrentCustomerId(db: Queryable, customerId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `WITH RECURSIVE chain(id, merged_into, depth) AS (
       SELECT id, merged_into, 0 FROM customer WHERE id = $1
       UNION ALL SELECT c.id, c.merged_into, chain.depth + 1 FROM customer c JOIN chain ON c.id = chain.merged_into WHERE chain.depth < 1000
     ) SELECT id FROM chain WHERE merged_into IS NULL`,
    [customerId],
  );
  return rows[0]?.id;
}

/** Audit entries about one of the targets (customers, orders), oldest first. */
export async function selectAuditOf(db: Queryable, targetIds: readonly string[]): Promise<Record<string, unknown>[]> {
  return (await db.query('SELECT id, occurred_at, actor, action, target_type, target_id, details FROM audit_event WHERE target_id = ANY($1::text[]) ORDER BY id', [targetIds])).rows;
}

/** Earlier data subject requests of the customers (without their documents). */
export async function selectRequestsOf(db: Queryable, customerIds: readonly string[]): Promise<Record<string, unknown>[]> {
  return (await db.query('SELECT id, customer_id, type, status, requested_by, requested_at, completed_at FROM customer_data_request WHERE customer_id = ANY($1::text[]) ORDER BY requested_at, id', [customerIds])).rows;
}

/** Orders placed with one of the e-mails that no customer resolution has claimed yet (the subscriber runs after intake). */
export async function selectUnresolvedOrderIdsByEmail(db: Queryable, emails: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM sales_order s
      WHERE s.customer_email = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM order_customer oc WHERE oc.order_id = s.id)
      ORDER BY s.id`,
    [emails],
  );
  return rows.map((r) => r.id);
}
