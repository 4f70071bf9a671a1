import type { Queryable } from '../database.ts';
import { blindIndex, decryptJson, encryptJson, newDataKey, unwrapDataKey, type DataKey } from './customer-crypto.ts';

/**
 * Customer tables (migrations 0039, 0046): one function per statement; the domain service
 * composes them. Personal data is encrypted here, on the way in, and decrypted here, on the way
 * out (customer-crypto.ts): callers see plain records and plain match keys.
 */

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
  /** The record's data key, wrapped (null once shredded). */
  data_key: string | null;
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

/** The AAD of a record's column: a ciphertext only opens in the row and column it was written to. */
export const recordAad = (recordId: string, column: 'data' | 'match') => `record:${recordId}:${column}`;
export const historyAad = (recordId: string, version: number, reason: string) => `history:${recordId}:${version}:${reason}`;
const goldenAad = (customerId: string) => `customer:${customerId}:golden`;

/** The blind index of a record's own id in its system (external ids of guests are e-mails). */
export const externalIdIndex = (system: string, connection: string, externalId: string) => blindIndex(`x:${system}|${connection}|${externalId}`);

export type RawRecordRow = Omit<SourceRecordRow, 'data' | 'match'> & { data: unknown; match: unknown };

/**
 * A record row as stored -> as read: payload and match form decrypted, the external id taken
 * from the payload. A shredded record reads as `{ shredded: true }` with no personal data.
 * A row from before migration 0046 (no data key, a plain object) reads as it is.
 */
export function decodeRecord(row: RawRecordRow): SourceRecordRow {
  if (typeof row.data !== 'string') return row as SourceRecordRow;
  if (row.data_key === null) return { ...row, external_id: '', data: { shredded: true }, match: { id: row.id, system: row.system, given: undefined, family: undefined, emails: [], phones: [], addresses: [], postcodes: [], loyaltyIds: [], erpIds: [] } };
  const key = unwrapDataKey(row.data_key);
  const data = decryptJson<{ externalId: string }>(key, row.data, recordAad(row.id, 'data'));
  return { ...row, external_id: data.externalId, data, match: decryptJson(key, row.match as string, recordAad(row.id, 'match')) };
}

/** Whether a record read back was shredded (its data key forgotten): it has no personal data to give. */
export const isShredded = (data: unknown): boolean => (data as { shredded?: boolean }).shredded === true;

function decodeCustomer(row: CustomerRow & { data_key?: string | null }): CustomerRow {
  const { data_key, ...rest } = row;
  if (typeof row.golden !== 'string') return rest;
  if (!data_key) return { ...rest, golden: {} };
  return { ...rest, golden: decryptJson(unwrapDataKey(data_key), row.golden, goldenAad(row.id)) };
}

/** The golden record encrypted under a fresh data key: [ciphertext, wrapped key]. */
export function sealGolden(customerId: string, golden: unknown): [string, string] {
  const { key, wrapped } = newDataKey();
  return [JSON.stringify(encryptJson(key, golden, goldenAad(customerId))), wrapped];
}

/**
 * Serialises matching: two records of one person arriving at once must not both become new
 * customers. A transaction-scoped advisory lock (ADR 0036: one matcher at a time).
 */
export async function lockMatching(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('syncline.customer-matching'))`);
}

/** Serialises the resolution of one order (an event delivered twice at once resolves it once). */
export async function lockOrderResolution(tx: Queryable, orderId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('syncline.order-customer'), hashtext($1))`, [orderId]);
}

export async function insertCustomer(tx: Queryable, id: string): Promise<void> {
  await tx.query('INSERT INTO customer (id) VALUES ($1)', [id]);
}

export async function selectCustomer(db: Queryable, id: string, forUpdate = false): Promise<CustomerRow | undefined> {
  const row = (await db.query<CustomerRow>(`SELECT * FROM customer WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id])).rows[0];
  return row && decodeCustomer(row);
}

export async function setGolden(tx: Queryable, id: string, golden: unknown): Promise<void> {
  const [sealed, dataKey] = sealGolden(id, golden);
  await tx.query('UPDATE customer SET golden = $2, data_key = $3, updated_at = now() WHERE id = $1', [id, sealed, dataKey]);
}

export async function setCustomerStatus(tx: Queryable, id: string, mergedInto: string | null): Promise<void> {
  await tx.query(`UPDATE customer SET status = CASE WHEN $2::text IS NULL THEN 'active' ELSE 'merged' END, merged_into = $2, updated_at = now() WHERE id = $1`, [id, mergedInto]);
}

export async function selectRecordByExternalId(tx: Queryable, system: string, connection: string, externalId: string): Promise<SourceRecordRow | undefined> {
  const row = (await tx.query<RawRecordRow>('SELECT * FROM customer_source_record WHERE system = $1 AND connection = $2 AND external_id = $3', [system, connection, externalIdIndex(system, connection, externalId)])).rows[0];
  return row && decodeRecord(row);
}

/** Inserts a record, its payload and match form encrypted under a new data key. */
export async function insertRecord(tx: Queryable, row: { id: string; customerId: string; system: string; connection: string; externalId: string; data: unknown; match: unknown; observedAt: string }): Promise<void> {
  const { key, wrapped } = newDataKey();
  await tx.query(
    `INSERT INTO customer_source_record (id, customer_id, system, connection, external_id, data, match, observed_at, data_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [row.id, row.customerId, row.system, row.connection, externalIdIndex(row.system, row.connection, row.externalId), JSON.stringify(encryptJson(key, row.data, recordAad(row.id, 'data'))), JSON.stringify(encryptJson(key, row.match, recordAad(row.id, 'match'))), row.observedAt, wrapped],
  );
}

/** A newer version of a record (under its data key): returns its new version number. */
export async function updateRecordData(tx: Queryable, id: string, data: unknown, match: unknown, observedAt: string): Promise<number> {
  const current = (await tx.query<{ data_key: string | null }>('SELECT data_key FROM customer_source_record WHERE id = $1 FOR UPDATE', [id])).rows[0];
  const wrapped = current?.data_key ?? newDataKey().wrapped;
  const key = unwrapDataKey(wrapped);
  const { rows } = await tx.query<{ version: number }>(
    'UPDATE customer_source_record SET data = $2, match = $3, observed_at = $4, data_key = $5, version = version + 1, updated_at = now() WHERE id = $1 RETURNING version',
    [id, JSON.stringify(encryptJson(key, data, recordAad(id, 'data'))), JSON.stringify(encryptJson(key, match, recordAad(id, 'match'))), observedAt, wrapped],
  );
  return rows[0]!.version;
}

export interface HistoryEntry {
  recordId: string;
  customerId: string;
  reason: string;
  version: number;
  /** The record's payload at this version (received, updated); encrypted under the record's data key. */
  data?: unknown;
  mergeId?: string;
  /** The record's wrapped data key when the caller has it (saves a read). */
  dataKey?: string | null;
}

export async function insertHistory(tx: Queryable, entries: readonly HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const missing = entries.filter((e) => e.data !== undefined && e.dataKey === undefined).map((e) => e.recordId);
  const keys = new Map<string, string | null>();
  if (missing.length > 0) {
    for (const row of (await tx.query<{ id: string; data_key: string | null }>('SELECT id, data_key FROM customer_source_record WHERE id = ANY($1::text[])', [missing])).rows) keys.set(row.id, row.data_key);
  }
  const unwrapped = new Map<string, DataKey>();
  const sealed = (e: HistoryEntry) => {
    if (e.data === undefined) return null;
    const wrapped = e.dataKey !== undefined ? e.dataKey : keys.get(e.recordId);
    if (!wrapped) return null; // shredded: nothing personal is written
    let key = unwrapped.get(wrapped);
    if (!key) unwrapped.set(wrapped, (key = unwrapDataKey(wrapped)));
    return encryptJson(key, e.data, historyAad(e.recordId, e.version, e.reason));
  };
  await tx.query(
    `INSERT INTO customer_source_history (record_id, customer_id, reason, version, data, merge_id)
     SELECT e.record_id, e.customer_id, e.reason, e.version, e.data, e.merge_id
       FROM jsonb_to_recordset($1::jsonb) AS e(record_id text, customer_id text, reason text, version int, data jsonb, merge_id text)`,
    [JSON.stringify(entries.map((e) => ({ record_id: e.recordId, customer_id: e.customerId, reason: e.reason, version: e.version, data: sealed(e), merge_id: e.mergeId ?? null })))],
  );
}

export interface HistoryEntryRow {
  record_id: string;
  seq: string;
  customer_id: string;
  reason: string;
  version: number;
  /** The version received, decrypted; null when the record was shredded or the version dropped. */
  data: unknown;
  merge_id: string | null;
  recorded_at: Date;
}

/** Every history entry of the records with its payload decrypted (null when shredded), oldest first per record. */
export async function selectHistoriesWithData(db: Queryable, recordIds: readonly string[]): Promise<HistoryEntryRow[]> {
  const { rows } = await db.query<HistoryEntryRow & { data_key: string | null }>(
    `SELECT h.record_id, h.seq, h.customer_id, h.reason, h.version, h.merge_id, h.recorded_at, h.data, r.data_key
       FROM customer_source_history h JOIN customer_source_record r ON r.id = h.record_id WHERE h.record_id = ANY($1::text[]) ORDER BY h.record_id, h.seq`,
    [recordIds],
  );
  return rows.map(({ data_key, data, ...row }) => ({
    ...row,
    data: typeof data === 'string' ? (data_key ? decryptJson(unwrapDataKey(data_key), data, historyAad(row.record_id, row.version, row.reason)) : null) : data,
  }));
}

/** Every version of a record with its payload decrypted (null when shredded), oldest first. */
export async function selectHistoryWithData(db: Queryable, recordId: string): Promise<HistoryEntryRow[]> {
  return selectHistoriesWithData(db, [recordId]);
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
  await tx.query('INSERT INTO customer_match_key (key, record_id, customer_id) SELECT DISTINCT k, $2, $3 FROM unnest($1::text[]) AS k', [keys.map((k) => blindIndex(k)), recordId, customerId]);
}

/**
 * The records of every customer sharing a blocking key with keys, oldest customer first.
 * A key shared by more than maxPerKey records says little (a shop's default e-mail, a
 * warehouse address) and is skipped.
 */
export async function selectCandidateRecords(tx: Queryable, keys: readonly string[], maxPerKey: number): Promise<SourceRecordRow[]> {
  const { rows } = await tx.query<RawRecordRow>(
    `WITH hits AS (
       SELECT k.key, k.customer_id, count(*) OVER (PARTITION BY k.key) AS shared
         FROM customer_match_key k WHERE k.key = ANY($1::text[])
     )
     SELECT r.* FROM customer_source_record r
      WHERE r.customer_id IN (SELECT customer_id FROM hits WHERE shared <= $2)
      ORDER BY r.customer_id, r.id`,
    [keys.map((k) => blindIndex(k)), maxPerKey],
  );
  return rows.map(decodeRecord);
}

/** Active customers holding a key (contact-point look-ups). */
export async function selectCustomerIdsByKey(db: Queryable, key: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>('SELECT DISTINCT customer_id FROM customer_match_key WHERE key = $1 ORDER BY customer_id LIMIT $2', [blindIndex(key), limit]);
  return rows.map((r) => r.customer_id);
}

export async function selectRecordsOf(db: Queryable, customerId: string): Promise<SourceRecordRow[]> {
  return (await db.query<RawRecordRow>('SELECT * FROM customer_source_record WHERE customer_id = $1 ORDER BY created_at, id', [customerId])).rows.map(decodeRecord);
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

/**
 * Crypto-shredding (erasure): forgets the data keys of a customer's records, of its golden
 * record and of the customers merged into it. Their payloads, match forms and history stay as
 * ciphertext no key opens; the records read as `{ shredded: true }`. Returns the records shredded.
 */
export async function shredCustomerKey(db: Queryable, customerId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH RECURSIVE merged AS (
       SELECT id FROM customer WHERE id = $1
       UNION SELECT c.id FROM customer c JOIN merged m ON c.merged_into = m.id
     ), customers AS (
       UPDATE customer SET data_key = NULL, golden = '{}', updated_at = now() WHERE id IN (SELECT id FROM merged) RETURNING id
     ), records AS (
       UPDATE customer_source_record SET data_key = NULL, updated_at = now() WHERE customer_id IN (SELECT id FROM merged) RETURNING id
     ), keys AS (
       DELETE FROM customer_match_key WHERE record_id IN (SELECT id FROM records) RETURNING 1
     )
     SELECT ((SELECT count(*) FROM records) + 0 * (SELECT count(*) FROM customers) + 0 * (SELECT count(*) FROM keys))::int AS n`,
    [customerId],
  );
  return rows[0]!.n;
}
