import { createHash } from 'node:crypto';
import type { Queryable } from '../database.ts';
import { blindIndex, encryptJson, unwrapDataKey, type DataKey } from './customer-crypto.ts';
import { decodeRecord, externalIdIndex, recordAad, sealGolden, type SourceRecordRow } from './customer-queries.ts';

/**
 * Set-based statements of batch ingestion (CustomerService.ingestMany, ADR 0042): a batch of
 * records is matched in memory against what these read, then written with one statement per
 * table. Personal data is encrypted here, as in customer-queries.ts.
 */

/** The advisory lock class of matching keys (the other int of the two-int lock form is the key's hash). */
const MATCH_KEY_LOCK_CLASS = 1414;

const lockHash = (key: string) => createHash('sha256').update(key).digest().readInt32BE(0);

/**
 * Locks the matching keys of a batch (blocking keys and own ids), in one order for every
 * transaction so two batches cannot wait on each other. Two records of one person share a key,
 * so the second waits for the first to commit and then finds it; records with no key in common
 * are matched at the same time.
 */
export async function lockMatchKeys(tx: Queryable, keys: readonly string[]): Promise<void> {
  await lockBlindKeys(tx, keys.map((k) => blindIndex(k)));
}

/**
 * Locks the match keys of records about to move to another customer (an unmerge): a batch
 * holding one of them has read who holds it, and must not see it change under its lock.
 */
export async function lockKeysOfRecords(tx: Queryable, recordIds: readonly string[]): Promise<void> {
  const { rows } = await tx.query<{ key: string }>('SELECT DISTINCT key FROM customer_match_key WHERE record_id = ANY($1::text[])', [[...recordIds]]);
  await lockBlindKeys(tx, rows.map((r) => r.key));
}

async function lockBlindKeys(tx: Queryable, blinded: readonly string[]): Promise<void> {
  const hashes = [...new Set(blinded.map(lockHash))].sort((a, b) => a - b);
  await tx.query(`SELECT count(pg_advisory_xact_lock(${MATCH_KEY_LOCK_CLASS}, h)) FROM (SELECT h FROM unnest($1::int[]) AS h ORDER BY h) AS s`, [hashes]);
}

/** Records already known by their system ids (system, connection, external id). */
export async function selectRecordsByExternalIds(tx: Queryable, ids: readonly { system: string; connection: string; externalId: string }[]): Promise<SourceRecordRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await tx.query<Parameters<typeof decodeRecord>[0]>(
    `SELECT r.* FROM unnest($1::text[], $2::text[], $3::text[]) AS u(system, connection, external_id)
       JOIN customer_source_record r ON r.system = u.system AND r.connection = u.connection AND r.external_id = u.external_id`,
    [ids.map((i) => i.system), ids.map((i) => i.connection), ids.map((i) => externalIdIndex(i.system, i.connection, i.externalId))],
  );
  return rows.map(decodeRecord);
}

/**
 * Who holds each key: the number of records holding it and, for a key held by at most
 * maxPerKey records, each record and its customer. Keys come back as given (not blinded).
 */
export async function selectKeyHits(tx: Queryable, keys: readonly string[], maxPerKey: number): Promise<{ key: string; held: number; recordId: string | null; customerId: string | null }[]> {
  const plain = new Map(keys.map((k) => [blindIndex(k), k]));
  const { rows } = await tx.query<{ key: string; held: number; record_id: string | null; customer_id: string | null }>(
    `WITH c AS (SELECT key, count(*)::int AS held FROM customer_match_key WHERE key = ANY($1::text[]) GROUP BY key)
     SELECT c.key, c.held, k.record_id, k.customer_id FROM c LEFT JOIN customer_match_key k ON k.key = c.key AND c.held <= $2`,
    [[...plain.keys()], maxPerKey],
  );
  return rows.map((r) => ({ key: plain.get(r.key)!, held: r.held, recordId: r.record_id, customerId: r.customer_id }));
}

/** Locks customers (in id order) and says where each is now. */
export async function lockCustomers(tx: Queryable, ids: readonly string[]): Promise<{ id: string; status: 'active' | 'merged'; merged_into: string | null }[]> {
  if (ids.length === 0) return [];
  return (await tx.query<{ id: string; status: 'active' | 'merged'; merged_into: string | null }>('SELECT id, status, merged_into FROM customer WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [[...ids]])).rows;
}

/** Every record of these customers, each customer's oldest first. */
export async function selectRecordsOfCustomers(tx: Queryable, ids: readonly string[]): Promise<(SourceRecordRow & { created_at: Date })[]> {
  if (ids.length === 0) return [];
  const { rows } = await tx.query<Parameters<typeof decodeRecord>[0] & { created_at: Date }>('SELECT * FROM customer_source_record WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, created_at, id', [[...ids]]);
  return rows.map((row) => ({ ...decodeRecord(row), created_at: row.created_at }));
}

/** Keep-apart pairs touching any of these records. */
export async function selectKeepApartOf(tx: Queryable, recordIds: readonly string[]): Promise<[string, string][]> {
  if (recordIds.length === 0) return [];
  const { rows } = await tx.query<{ record_a: string; record_b: string }>('SELECT record_a, record_b FROM customer_keep_apart WHERE record_a = ANY($1::text[]) OR record_b = ANY($1::text[])', [[...recordIds]]);
  return rows.map((r) => [r.record_a, r.record_b]);
}

export interface CustomerWrite {
  id: string;
  status: 'active' | 'merged';
  mergedInto: string | null;
  /** Set: the new golden record; undefined: unchanged. */
  golden?: unknown;
}

/** Inserts new customers and updates changed ones (status, golden record encrypted under a fresh data key). */
export async function writeCustomers(tx: Queryable, inserted: readonly CustomerWrite[], updated: readonly CustomerWrite[]): Promise<void> {
  const rows = (list: readonly CustomerWrite[]) =>
    JSON.stringify(
      list.map((c) => {
        const [golden, dataKey] = c.golden === undefined ? [null, null] : sealGolden(c.id, c.golden);
        return { id: c.id, status: c.status, merged_into: c.mergedInto, golden: golden === null ? null : JSON.parse(golden), data_key: dataKey };
      }),
    );
  if (inserted.length > 0) {
    await tx.query(
      `INSERT INTO customer (id, status, merged_into, golden, data_key)
       SELECT c.id, c.status, c.merged_into, coalesce(c.golden, '{}'), c.data_key FROM jsonb_to_recordset($1::jsonb) AS c(id text, status text, merged_into text, golden jsonb, data_key text)`,
      [rows(inserted)],
    );
  }
  if (updated.length > 0) {
    await tx.query(
      `UPDATE customer t SET status = c.status, merged_into = c.merged_into, golden = coalesce(c.golden, t.golden), data_key = CASE WHEN c.golden IS NULL THEN t.data_key ELSE c.data_key END, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS c(id text, status text, merged_into text, golden jsonb, data_key text) WHERE t.id = c.id`,
      [rows(updated)],
    );
  }
}

export interface RecordWrite {
  id: string;
  customerId: string;
  system: string;
  connection: string;
  externalId: string;
  version: number;
  observedAt: string;
  /** The wrapped data key of the record. */
  dataKey: string;
  /** Set when the payload changed (new, or a new version). */
  data?: unknown;
  match?: unknown;
  /** The match keys, when they changed. */
  keys?: readonly string[];
}

/**
 * Writes a batch's records: new ones inserted, known ones updated (a new version, or moved to
 * another customer by a merge), and their match keys (blind indexes) replaced or moved.
 */
export async function writeRecords(tx: Queryable, inserted: readonly RecordWrite[], updated: readonly RecordWrite[]): Promise<void> {
  const keys = new Map<string, DataKey>();
  const seal = (r: RecordWrite, column: 'data' | 'match') => {
    if (r[column] === undefined) return null;
    let key = keys.get(r.dataKey);
    if (!key) keys.set(r.dataKey, (key = unwrapDataKey(r.dataKey)));
    return encryptJson(key, r[column], recordAad(r.id, column));
  };
  const rows = (list: readonly RecordWrite[]) =>
    JSON.stringify(list.map((r) => ({ id: r.id, customer_id: r.customerId, system: r.system, connection: r.connection, external_id: externalIdIndex(r.system, r.connection, r.externalId), version: r.version, observed_at: r.observedAt, data_key: r.dataKey, data: seal(r, 'data'), match: seal(r, 'match') })));
  if (inserted.length > 0) {
    await tx.query(
      `INSERT INTO customer_source_record (id, customer_id, system, connection, external_id, version, observed_at, data_key, data, match)
       SELECT r.id, r.customer_id, r.system, r.connection, r.external_id, r.version, r.observed_at, r.data_key, to_jsonb(r.data), to_jsonb(r.match)
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, customer_id text, system text, connection text, external_id text, version int, observed_at timestamptz, data_key text, data text, match text)`,
      [rows(inserted)],
    );
  }
  if (updated.length > 0) {
    await tx.query(
      `UPDATE customer_source_record t SET customer_id = r.customer_id, version = r.version, observed_at = r.observed_at,
              data = coalesce(to_jsonb(r.data), t.data), match = coalesce(to_jsonb(r.match), t.match),
              data_key = CASE WHEN r.data IS NULL THEN t.data_key ELSE r.data_key END, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, customer_id text, version int, observed_at timestamptz, data text, match text, data_key text) WHERE t.id = r.id`,
      [rows(updated)],
    );
    const rekeyed = updated.filter((r) => r.keys).map((r) => r.id);
    if (rekeyed.length > 0) await tx.query('DELETE FROM customer_match_key WHERE record_id = ANY($1::text[])', [rekeyed]);
    const moved = updated.filter((r) => !r.keys);
    if (moved.length > 0) {
      await tx.query(
        `UPDATE customer_match_key k SET customer_id = m.customer_id FROM unnest($1::text[], $2::text[]) AS m(record_id, customer_id) WHERE k.record_id = m.record_id AND k.customer_id <> m.customer_id`,
        [moved.map((r) => r.id), moved.map((r) => r.customerId)],
      );
    }
  }
  const withKeys = [...inserted, ...updated].filter((r) => r.keys);
  const keyRows = withKeys.flatMap((r) => [...new Set(r.keys!.map((k) => blindIndex(k)))].map((k) => [k, r.id, r.customerId] as const));
  if (keyRows.length > 0) {
    await tx.query('INSERT INTO customer_match_key (key, record_id, customer_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])', [keyRows.map((k) => k[0]), keyRows.map((k) => k[1]), keyRows.map((k) => k[2])]);
  }
}

export async function insertMerges(tx: Queryable, rows: readonly { id: string; survivorId: string; mergedId: string; recordIds: readonly string[]; decision: string; rule: string; score: number | null; evidence: unknown; actor: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO customer_merge (id, survivor_id, merged_id, record_ids, decision, rule, score, evidence, actor)
     SELECT m.id, m.survivor_id, m.merged_id, ARRAY(SELECT jsonb_array_elements_text(m.record_ids)), m.decision, m.rule, m.score, m.evidence, m.actor
       FROM jsonb_to_recordset($1::jsonb) AS m(id text, survivor_id text, merged_id text, record_ids jsonb, decision text, rule text, score double precision, evidence jsonb, actor text)`,
    [JSON.stringify(rows.map((m) => ({ id: m.id, survivor_id: m.survivorId, merged_id: m.mergedId, record_ids: m.recordIds, decision: m.decision, rule: m.rule, score: m.score, evidence: m.evidence, actor: m.actor })))],
  );
}

/** Queues pairs for stewards (a pair pending already stays as it is), then supersedes the pending pairs naming a customer merged away. */
export async function writeStewardship(tx: Queryable, rows: readonly { id: string; customerA: string; customerB: string; recordA: string; recordB: string; score: number; evidence: unknown }[], mergedAway: readonly string[]): Promise<void> {
  if (rows.length > 0) {
    await tx.query(
      `INSERT INTO customer_stewardship (id, customer_a, customer_b, record_a, record_b, score, evidence)
       SELECT s.id, s.customer_a, s.customer_b, s.record_a, s.record_b, s.score, s.evidence
         FROM jsonb_to_recordset($1::jsonb) AS s(id text, customer_a text, customer_b text, record_a text, record_b text, score double precision, evidence jsonb)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(rows.map((s) => ({ id: s.id, customer_a: s.customerA, customer_b: s.customerB, record_a: s.recordA, record_b: s.recordB, score: s.score, evidence: s.evidence })))],
    );
  }
  if (mergedAway.length > 0) {
    await tx.query(`UPDATE customer_stewardship SET status = 'superseded', decided_at = now() WHERE status = 'pending' AND (customer_a = ANY($1::text[]) OR customer_b = ANY($1::text[]))`, [[...mergedAway]]);
  }
}
