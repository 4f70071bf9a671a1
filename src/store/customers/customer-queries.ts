import type { Queryable } from '../database.ts';

/** Customer tables (migration 0039): one function per statement; the domain service composes them. */

export interface SourceRecordRow {
  id: string;
  customer_id: string;
  system: string;
  connection: string;
  external_id: string;
  data: unknown;
  match: unknown;
  version: number;
  observed_at: Date;
}

export interface CustomerRow {
  id: string;
  status: 'active' | 'merged';
  merged_into: string | null;
  golden: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface MergeRow {
  id: string;
  survivor_id: string;
  merged_id: string;
  record_ids: string[];
  decision: 'deterministic' | 'automatic' | 'steward';
  rule: string;
  score: number | null;
  evidence: unknown;
  actor: string;
  created_at: Date;
  unmerged_at: Date | null;
}

export interface StewardshipRow {
  id: string;
  customer_a: string;
  customer_b: string;
  record_a: string;
  record_b: string;
  score: number;
  evidence: unknown;
  status: 'pending' | 'merged' | 'kept_apart' | 'superseded';
  merge_id: string | null;
  /** Migration 0045: the merge this row reviews (customer_a = customer_b), null for an ordinary pair. */
  review_merge_id?: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  created_at: Date;
}

/**
 * Serialises matching: two records of one person arriving at once must not both become new
 * customers. A transaction-scoped advisory lock (ADR 0036: one matcher at a time).
 */
export async function lockMatching(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('syncline.customer-matching'))`);
}

export async function insertCustomer(tx: Queryable, id: string): Promise<void> {
  await tx.query('INSERT INTO customer (id) VALUES ($1)', [id]);
}

export async function selectCustomer(db: Queryable, id: string, forUpdate = false): Promise<CustomerRow | undefined> {
  return (await db.query<CustomerRow>(`SELECT * FROM customer WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id])).rows[0];
}

export async function setGolden(tx: Queryable, id: string, golden: unknown): Promise<void> {
  await tx.query('UPDATE customer SET golden = $2, updated_at = now() WHERE id = $1', [id, JSON.stringify(golden)]);
}

export async function setCustomerStatus(tx: Queryable, id: string, mergedInto: string | null): Promise<void> {
  await tx.query(`UPDATE customer SET status = CASE WHEN $2::text IS NULL THEN 'active' ELSE 'merged' END, merged_into = $2, updated_at = now() WHERE id = $1`, [id, mergedInto]);
}

export async function selectRecordByExternalId(tx: Queryable, system: string, connection: string, externalId: string): Promise<SourceRecordRow | undefined> {
  return (await tx.query<SourceRecordRow>('SELECT * FROM customer_source_record WHERE system = $1 AND connection = $2 AND external_id = $3', [system, connection, externalId])).rows[0];
}

export async function insertRecord(tx: Queryable, row: { id: string; customerId: string; system: string; connection: string; externalId: string; data: unknown; match: unknown; observedAt: string }): Promise<void> {
  await tx.query(
    `INSERT INTO customer_source_record (id, customer_id, system, connection, external_id, data, match, observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [row.id, row.customerId, row.system, row.connection, row.externalId, JSON.stringify(row.data), JSON.stringify(row.match), row.observedAt],
  );
}

/** A newer version of a record: returns its new version number. */
export async function updateRecordData(tx: Queryable, id: string, data: unknown, match: unknown, observedAt: string): Promise<number> {
  const { rows } = await tx.query<{ version: number }>(
    'UPDATE customer_source_record SET data = $2, match = $3, observed_at = $4, version = version + 1, updated_at = now() WHERE id = $1 RETURNING version',
    [id, JSON.stringify(data), JSON.stringify(match), observedAt],
  );
  return rows[0]!.version;
}

export async function insertHistory(tx: Queryable, entries: readonly { recordId: string; customerId: string; reason: string; version: number; data?: unknown; mergeId?: string }[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(
    `INSERT INTO customer_source_history (record_id, customer_id, reason, version, data, merge_id)
     SELECT e.record_id, e.customer_id, e.reason, e.version, e.data, e.merge_id
       FROM jsonb_to_recordset($1::jsonb) AS e(record_id text, customer_id text, reason text, version int, data jsonb, merge_id text)`,
    [JSON.stringify(entries.map((e) => ({ record_id: e.recordId, customer_id: e.customerId, reason: e.reason, version: e.version, data: e.data ?? null, merge_id: e.mergeId ?? null })))],
  );
}

export async function selectHistory(db: Queryable, recordId: string): Promise<{ customer_id: string; reason: string; version: number; merge_id: string | null; recorded_at: Date }[]> {
  return (await db.query<{ customer_id: string; reason: string; version: number; merge_id: string | null; recorded_at: Date }>(
    'SELECT customer_id, reason, version, merge_id, recorded_at FROM customer_source_history WHERE record_id = $1 ORDER BY seq',
    [recordId],
  )).rows;
}

/** Replaces a record's blocking keys. */
export async function replaceKeys(tx: Queryable, recordId: string, customerId: string, keys: readonly string[]): Promise<void> {
  await tx.query('DELETE FROM customer_match_key WHERE record_id = $1', [recordId]);
  await tx.query('INSERT INTO customer_match_key (key, record_id, customer_id) SELECT DISTINCT k, $2, $3 FROM unnest($1::text[]) AS k', [keys, recordId, customerId]);
}

/**
 * The records of every customer sharing a blocking key with keys, oldest customer first.
 * A key shared by more than maxPerKey records says little (a shop's default e-mail, a
 * warehouse address) and is skipped.
 */
export async function selectCandidateRecords(tx: Queryable, keys: readonly string[], maxPerKey: number): Promise<SourceRecordRow[]> {
  const { rows } = await tx.query<SourceRecordRow>(
    `WITH hits AS (
       SELECT k.key, k.customer_id, count(*) OVER (PARTITION BY k.key) AS shared
         FROM customer_match_key k WHERE k.key = ANY($1::text[])
     )
     SELECT r.* FROM customer_source_record r
      WHERE r.customer_id IN (SELECT customer_id FROM hits WHERE shared <= $2)
      ORDER BY r.customer_id, r.id`,
    [keys, maxPerKey],
  );
  return rows;
}

/** Active customers holding a key (contact-point look-ups). */
export async function selectCustomerIdsByKey(db: Queryable, key: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>('SELECT DISTINCT customer_id FROM customer_match_key WHERE key = $1 ORDER BY customer_id LIMIT $2', [key, limit]);
  return rows.map((r) => r.customer_id);
}

export async function selectRecordsOf(db: Queryable, customerId: string): Promise<SourceRecordRow[]> {
  return (await db.query<SourceRecordRow>('SELECT * FROM customer_source_record WHERE customer_id = $1 ORDER BY created_at, id', [customerId])).rows;
}

/** Moves records (and their keys) to another customer. */
export async function moveRecords(tx: Queryable, recordIds: readonly string[], customerId: string): Promise<void> {
  await tx.query('UPDATE customer_source_record SET customer_id = $2, updated_at = now() WHERE id = ANY($1::text[])', [recordIds, customerId]);
  await tx.query('UPDATE customer_match_key SET customer_id = $2 WHERE record_id = ANY($1::text[])', [recordIds, customerId]);
}

export async function insertMerge(tx: Queryable, row: { id: string; survivorId: string; mergedId: string; recordIds: readonly string[]; decision: string; rule: string; score: number | null; evidence: unknown; actor: string }): Promise<void> {
  await tx.query(
    `INSERT INTO customer_merge (id, survivor_id, merged_id, record_ids, decision, rule, score, evidence, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [row.id, row.survivorId, row.mergedId, row.recordIds, row.decision, row.rule, row.score, JSON.stringify(row.evidence), row.actor],
  );
}

export async function selectMerge(db: Queryable, id: string, forUpdate = false): Promise<MergeRow | undefined> {
  return (await db.query<MergeRow>(`SELECT * FROM customer_merge WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id])).rows[0];
}

export async function selectMergesInto(db: Queryable, survivorId: string): Promise<MergeRow[]> {
  return (await db.query<MergeRow>('SELECT * FROM customer_merge WHERE survivor_id = $1 ORDER BY created_at DESC, id DESC', [survivorId])).rows;
}

export async function markUnmerged(tx: Queryable, id: string, actor: string): Promise<void> {
  await tx.query('UPDATE customer_merge SET unmerged_at = now(), unmerged_by = $2 WHERE id = $1', [id, actor]);
}

/** Queues a pair for a steward; nothing when the pair is pending already. */
export async function insertStewardship(tx: Queryable, row: { id: string; customerA: string; customerB: string; recordA: string; recordB: string; score: number; evidence: unknown }): Promise<void> {
  await tx.query(
    `INSERT INTO customer_stewardship (id, customer_a, customer_b, record_a, record_b, score, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT DO NOTHING`,
    [row.id, row.customerA, row.customerB, row.recordA, row.recordB, row.score, JSON.stringify(row.evidence)],
  );
}

export async function selectPendingStewardship(db: Queryable, after: string | undefined, limit: number): Promise<StewardshipRow[]> {
  return (await db.query<StewardshipRow>(
    `SELECT * FROM customer_stewardship WHERE status = 'pending' AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
    [after ?? null, limit],
  )).rows;
}

export async function selectStewardship(db: Queryable, id: string, forUpdate = false): Promise<StewardshipRow | undefined> {
  return (await db.query<StewardshipRow>(`SELECT * FROM customer_stewardship WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id])).rows[0];
}

export async function decideStewardship(tx: Queryable, id: string, status: StewardshipRow['status'], actor: string, mergeId: string | null): Promise<void> {
  await tx.query('UPDATE customer_stewardship SET status = $2, decided_by = $3, decided_at = now(), merge_id = $4 WHERE id = $1', [id, status, actor, mergeId]);
}

/** Pending pairs that name a customer which is now merged, or name it twice: no longer a question. */
export async function supersedeStewardship(tx: Queryable, customerId: string): Promise<void> {
  await tx.query(`UPDATE customer_stewardship SET status = 'superseded', decided_at = now() WHERE status = 'pending' AND (customer_a = $1 OR customer_b = $1)`, [customerId]);
}

/** Remembers that every record of one side is a different person from every record of the other. */
export async function insertKeepApart(tx: Queryable, left: readonly string[], right: readonly string[], actor: string): Promise<void> {
  await tx.query(
    `INSERT INTO customer_keep_apart (record_a, record_b, decided_by)
     SELECT least(a, b), greatest(a, b), $3 FROM unnest($1::text[]) AS a, unnest($2::text[]) AS b WHERE a <> b
     ON CONFLICT DO NOTHING`,
    [left, right, actor],
  );
}

/** The customers (among candidates) holding a record kept apart from one of records. */
export async function selectKeptApartCustomers(tx: Queryable, records: readonly string[], candidates: readonly string[]): Promise<Set<string>> {
  if (records.length === 0 || candidates.length === 0) return new Set();
  const { rows } = await tx.query<{ customer_id: string }>(
    `SELECT DISTINCT r.customer_id FROM customer_keep_apart k
       JOIN customer_source_record r ON r.id = CASE WHEN k.record_a = ANY($1::text[]) THEN k.record_b ELSE k.record_a END
      WHERE (k.record_a = ANY($1::text[]) OR k.record_b = ANY($1::text[])) AND r.customer_id = ANY($2::text[])`,
    [records, candidates],
  );
  return new Set(rows.map((r) => r.customer_id));
}

export async function insertOrderCustomer(tx: Queryable, orderId: string, customerId: string, recordId: string): Promise<void> {
  await tx.query('INSERT INTO order_customer (order_id, customer_id, record_id) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [orderId, customerId, recordId]);
}

export async function selectOrderCustomer(db: Queryable, orderId: string): Promise<{ customer_id: string; record_id: string } | undefined> {
  return (await db.query<{ customer_id: string; record_id: string }>('SELECT customer_id, record_id FROM order_customer WHERE order_id = $1', [orderId])).rows[0];
}

/** The customer a source record belongs to now. */
export async function selectRecordCustomer(db: Queryable, recordId: string): Promise<string | undefined> {
  return (await db.query<{ customer_id: string }>('SELECT customer_id FROM customer_source_record WHERE id = $1', [recordId])).rows[0]?.customer_id;
}
