import type { Queryable } from '../database.ts';

/** customer_consent (migration 0043): statements, never updated. */

export interface ConsentRow {
  id: string;
  customer_id: string;
  purpose: 'email_marketing' | 'sms_marketing' | 'profiling';
  channel: string | null;
  status: 'granted' | 'withdrawn';
  source_system: 'channel' | 'loyalty' | 'crm' | 'erp' | 'syncline';
  source_connection: string | null;
  given_at: Date;
  proof: string | null;
  recorded_by: string;
  recorded_at: Date;
}

/** Records a statement; undefined when the same statement from the same source was recorded already. */
export async function insertConsent(tx: Queryable, row: Omit<ConsentRow, 'recorded_at' | 'given_at'> & { given_at: string }): Promise<ConsentRow | undefined> {
  return (await tx.query<ConsentRow>(
    `INSERT INTO customer_consent (id, customer_id, purpose, channel, status, source_system, source_connection, given_at, proof, recorded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT DO NOTHING RETURNING *`,
    [row.id, row.customer_id, row.purpose, row.channel, row.status, row.source_system, row.source_connection, row.given_at, row.proof, row.recorded_by],
  )).rows[0];
}

/** Every statement recorded for any of the customers, by the time given. */
export async function selectConsents(db: Queryable, customerIds: readonly string[]): Promise<ConsentRow[]> {
  return (await db.query<ConsentRow>('SELECT * FROM customer_consent WHERE customer_id = ANY($1::text[]) ORDER BY given_at, recorded_at, id', [customerIds])).rows;
}

/** An erased customer's statements keep what happened (purpose, channel, status, time) without the proof. */
export async function clearConsentProofs(tx: Queryable, customerIds: readonly string[]): Promise<void> {
  await tx.query('UPDATE customer_consent SET proof = NULL WHERE customer_id = ANY($1::text[]) AND proof IS NOT NULL', [customerIds]);
}
