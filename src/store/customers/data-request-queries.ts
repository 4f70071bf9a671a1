import type { Queryable } from '../database.ts';

/** customer_data_request (migration 0043). */

export interface DataRequestRow {
  id: string;
  customer_id: string;
  type: 'export' | 'erase';
  status: 'completed' | 'expired';
  requested_by: string;
  requested_at: Date;
  completed_at: Date | null;
  document: unknown;
  systems: unknown;
}

export async function insertDataRequest(tx: Queryable, row: { id: string; customerId: string; type: 'export' | 'erase'; requestedBy: string; document: unknown; systems: unknown }): Promise<DataRequestRow> {
  return (await tx.query<DataRequestRow>(
    `INSERT INTO customer_data_request (id, customer_id, type, status, requested_by, completed_at, document, systems)
     VALUES ($1, $2, $3, 'completed', $4, now(), $5, $6) RETURNING *`,
    [row.id, row.customerId, row.type, row.requestedBy, row.document === null ? null : JSON.stringify(row.document), JSON.stringify(row.systems)],
  )).rows[0]!;
}

export async function selectDataRequest(db: Queryable, id: string): Promise<DataRequestRow | undefined> {
  return (await db.query<DataRequestRow>('SELECT * FROM customer_data_request WHERE id = $1', [id])).rows[0];
}

/** The erase request that erased one of the customers, if any. */
export async function selectEraseRequest(db: Queryable, customerIds: readonly string[]): Promise<DataRequestRow | undefined> {
  return (await db.query<DataRequestRow>(`SELECT * FROM customer_data_request WHERE type = 'erase' AND customer_id = ANY($1::text[]) ORDER BY requested_at LIMIT 1`, [customerIds])).rows[0];
}

/** Exports of an erased customer lose their document: it is a copy of the personal data. */
export async function expireExports(tx: Queryable, customerIds: readonly string[]): Promise<void> {
  await tx.query(`UPDATE customer_data_request SET document = NULL, status = 'expired' WHERE type = 'export' AND customer_id = ANY($1::text[])`, [customerIds]);
}
