import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { CustomerRecordData } from '../../model/customer.ts';
import { newId } from '../../model/ids.ts';
import { appendEvents, type NewEvent } from '../../runtime/outbox/outbox.ts';
import type { Queryable } from '../../store/database.ts';
import * as b from '../../store/customers/customer-batch.store.ts';
import { newDataKey } from '../../store/customers/customer-crypto.ts';
import { insertHistory, isShredded, type HistoryEntry } from '../../store/customers/customer-queries.ts';
import { blockingKeys, toMatchRecord, type MatchRecord } from './match-record.ts';
import { decide, type Candidate, type CandidateVerdict, type DeterministicRule, type MatchingOptions } from './matching.ts';
import { goldenRecord, type SurvivorshipConfig } from './survivorship.ts';

/**
 * Batch ingestion (docs/customers.md, ADR 0042): a batch of records is matched in memory, in
 * order, each against the customers before it, as ingesting them one by one would; the database
 * is read before (keys, candidates, their records, keep-apart pairs) and written after, one
 * statement per table. About 17 statements per batch instead of 15 per record.
 *
 * Concurrency: the batch's matching keys are locked first (advisory locks, one order), then the
 * candidate customers' rows (FOR UPDATE, id order), then their records are read. Two records
 * of one person share a key, so one waits for the other and finds it.
 */

/** unchanged: the record as stored already (a repeat), or older than the stored version (stale). */
export type IngestOutcome = 'created' | 'merged' | 'updated' | 'unchanged';
export interface IngestResult {
  outcome: IngestOutcome;
  customerId: string;
  recordId: string;
  /** Pairs this record sent to the stewardship queue. */
  queued: number;
  /** How a merge was decided (outcome merged, or updated and merged again on new evidence). */
  decision?: 'deterministic' | 'automatic' | undefined;
  rule?: DeterministicRule | undefined;
  /** For an update: the new evidence that made it matched again (empty: not matched again). */
  newEvidence?: string[];
  /** For an update: past automatic merges the record no longer supports, sent to stewardship for review. */
  reviews?: number;
}

export interface BatchSettings {
  matching: MatchingOptions;
  survivorship: SurvivorshipConfig;
  maxPerKey: number;
  actor: string;
  source: string;
}

interface WorkRecord {
  id: string;
  customerId: string;
  /** The customer the record had in the database (undefined: new in this batch). */
  storedCustomerId: string | undefined;
  data: CustomerRecordData;
  match: MatchRecord;
  keys: string[];
  version: number;
  observedAt: string;
  dataKey: string;
  /** Sort order in its customer: stored records by creation, then new ones. */
  createdAt: number;
  dataChanged: boolean;
}

interface WorkCustomer {
  id: string;
  status: 'active' | 'merged';
  mergedInto: string | null;
  isNew: boolean;
  records: WorkRecord[];
  golden: unknown;
  goldenDirty: boolean;
  statusChanged: boolean;
}

/** The lock key of a record by its system ids (locked by a batch that takes the record in, and by an update). */
export const externalKey = (d: { system: string; connection: string; externalId: string }) => `x:${d.system}|${d.connection}|${d.externalId}`;
const byOrder = (x: WorkRecord, y: WorkRecord) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

/** Matches and writes a batch inside tx; returns one result per record, in order. */
export async function ingestBatch(tx: Queryable, batch: readonly CustomerRecordData[], settings: BatchSettings, correlationId: string): Promise<IngestResult[]> {
  const prepared = batch.map((data) => {
    const match = toMatchRecord(newId('customerRecord'), data);
    return { data, match, keys: blockingKeys(match) };
  });
  const allKeys = [...new Set(prepared.flatMap((p) => p.keys))];
  await b.lockMatchKeys(tx, [...allKeys, ...prepared.map((p) => externalKey(p.data))]);

  // Who holds the keys and who holds the records sent again, then their customers, locked.
  // Under our key locks no other batch adds or drops a holder of our keys, and an unmerge locks
  // the keys it moves; what can change before our row locks is a holder's customer merged away
  // (by a batch with no key in common, or a steward): then read again, and lock the survivor
  // (a deadlock this late lock allows is retried by the caller).
  let hits: Awaited<ReturnType<typeof b.selectKeyHits>> = [];
  const locked = new Set<string>();
  for (let round = 0; round < 10; round++) {
    const known = await b.selectRecordsByExternalIds(tx, prepared.map((p) => p.data));
    hits = await b.selectKeyHits(tx, allKeys, settings.maxPerKey);
    const wanted = new Set([...known.map((r) => r.customer_id), ...hits.map((h) => h.customerId).filter((id): id is string => id !== null)]);
    const missing = [...wanted].filter((id) => !locked.has(id));
    if (missing.length === 0) break;
    const rows = await b.lockCustomers(tx, missing);
    for (const row of rows) locked.add(row.id);
    if (rows.every((row) => row.status === 'active')) break;
  }
  const stored = await b.selectRecordsOfCustomers(tx, [...locked]);
  const keepApart = new Set((await b.selectKeepApartOf(tx, stored.map((r) => r.id))).map(([x, y]) => `${x}|${y}`));

  // The in-memory state: customers, records, and who holds each key.
  const customers = new Map<string, WorkCustomer>();
  const records = new Map<string, WorkRecord>();
  const byExternal = new Map<string, WorkRecord>();
  const holders = new Map<string, Set<string>>();
  const held = new Map<string, number>();
  for (const h of hits) {
    held.set(h.key, h.held);
    if (h.recordId) (holders.get(h.key) ?? holders.set(h.key, new Set()).get(h.key)!).add(h.recordId);
  }
  const customerOf = (id: string, status: 'active' | 'merged' = 'active', mergedInto: string | null = null, isNew = false): WorkCustomer => {
    let c = customers.get(id);
    if (!c) customers.set(id, (c = { id, status, mergedInto, isNew, records: [], golden: undefined, goldenDirty: false, statusChanged: false }));
    return c;
  };
  for (const row of stored) {
    const data = row.data as CustomerRecordData;
    const r: WorkRecord = { id: row.id, customerId: row.customer_id, storedCustomerId: row.customer_id, data, match: row.match as MatchRecord, keys: [], version: row.version, observedAt: row.observed_at.toISOString(), dataKey: row.data_key ?? newDataKey().wrapped, createdAt: row.created_at.getTime(), dataChanged: false };
    records.set(r.id, r);
    if (row.data_key !== null) byExternal.set(externalKey({ system: row.system, connection: row.connection, externalId: row.external_id }), r);
    customerOf(row.customer_id).records.push(r);
  }
  const addHolder = (key: string, recordId: string) => {
    (holders.get(key) ?? holders.set(key, new Set()).get(key)!).add(recordId);
    held.set(key, (held.get(key) ?? 0) + 1);
  };

  const results: IngestResult[] = [];
  const history: HistoryEntry[] = [];
  const merges: Parameters<typeof b.insertMerges>[1][number][] = [];
  const stewardship: Parameters<typeof b.writeStewardship>[1][number][] = [];
  const mergedAway: string[] = [];
  const events: NewEvent[] = [];
  const event = (type: string, subject: string, data: unknown): NewEvent => ({ id: newId('event'), type, source: settings.source, subject, time: new Date().toISOString(), correlationId, data: data as Record<string, unknown> });
  const refresh = (c: WorkCustomer) => {
    c.golden = goldenRecord(c.records.filter((r) => !isShredded(r.data)).map((r) => ({ id: r.id, data: r.data })), settings.survivorship);
    c.goldenDirty = false;
  };

  const merge = (survivor: WorkCustomer, merged: WorkCustomer, decision: 'deterministic' | 'automatic', verdict: Pick<CandidateVerdict, 'rule' | 'score' | 'evidence'>) => {
    if (merged.goldenDirty) refresh(merged);
    const recordIds = merged.records.map((r) => r.id);
    const mergeId = newId('customerMerge');
    const rule = verdict.rule ?? 'score';
    for (const r of merged.records) {
      r.customerId = survivor.id;
      history.push({ recordId: r.id, customerId: survivor.id, reason: 'merged', version: r.version, mergeId });
    }
    survivor.records = [...survivor.records, ...merged.records].sort(byOrder);
    merged.records = [];
    merged.status = 'merged';
    merged.mergedInto = survivor.id;
    merged.statusChanged = true;
    mergedAway.push(merged.id);
    merges.push({ id: mergeId, survivorId: survivor.id, mergedId: merged.id, recordIds, decision, rule, score: verdict.score, evidence: verdict.evidence, actor: settings.actor });
    events.push(event(EVENT_TYPES.customerMerged, survivor.id, { mergeId, survivorId: survivor.id, mergedId: merged.id, recordIds, decision, rule, score: verdict.score, evidence: verdict.evidence }));
  };
  const keptApart = (final: WorkCustomer, candidates: readonly string[]) => {
    const out = new Set<string>();
    if (keepApart.size === 0) return out;
    for (const id of candidates) {
      const other = customers.get(id)!;
      if (final.records.some((x) => other.records.some((y) => keepApart.has(x.id < y.id ? `${x.id}|${y.id}` : `${y.id}|${x.id}`)))) out.add(id);
    }
    return out;
  };

  for (const { data, match, keys } of prepared) {
    const existing = byExternal.get(externalKey(data));
    if (existing) {
      // Seen before: a new version, its keys and golden record recomputed; not matched again.
      for (const key of existing.keys.length > 0 ? existing.keys : blockingKeys(existing.match)) holders.get(key)?.delete(existing.id);
      existing.match = { ...match, id: existing.id };
      existing.data = data;
      existing.keys = keys;
      existing.version += 1;
      existing.observedAt = data.observedAt;
      existing.dataChanged = true;
      for (const key of keys) addHolder(key, existing.id);
      history.push({ recordId: existing.id, customerId: existing.customerId, reason: 'updated', version: existing.version, data, dataKey: existing.dataKey });
      customers.get(existing.customerId)!.goldenDirty = true;
      results.push({ outcome: 'updated', customerId: existing.customerId, recordId: existing.id, queued: 0 });
      continue;
    }
    const recordId = match.id;
    // Candidates: the customers now holding a record that shares a key held by few enough records.
    const candidateIds = new Set<string>();
    for (const key of keys) {
      if ((held.get(key) ?? 0) > settings.maxPerKey) continue;
      for (const holder of holders.get(key) ?? []) candidateIds.add(records.get(holder)!.customerId);
    }
    const candidates: Candidate[] = [...candidateIds].sort().map((id) => ({ customerId: id, records: [...customers.get(id)!.records].sort((x, y) => (x.id < y.id ? -1 : 1)).map((r) => r.match) }));
    const decision = decide(match, candidates, settings.matching);

    const mine = customerOf(newId('customer'), 'active', null, true);
    const record: WorkRecord = { id: recordId, customerId: mine.id, storedCustomerId: undefined, data, match, keys, version: 1, observedAt: data.observedAt, dataKey: newDataKey().wrapped, createdAt: Number.MAX_SAFE_INTEGER, dataChanged: true };
    records.set(recordId, record);
    byExternal.set(externalKey(data), record);
    mine.records.push(record);
    history.push({ recordId, customerId: mine.id, reason: 'received', version: 1, data, dataKey: record.dataKey });
    let final = mine;
    if (decision.into) {
      final = customers.get(decision.into.customerId)!;
      merge(final, mine, decision.decision!, decision.into);
      const others = decision.alsoMerge.map((v) => v.customerId);
      const apart = keptApart(final, others);
      for (const verdict of decision.alsoMerge.filter((v) => !apart.has(v.customerId))) merge(final, customers.get(verdict.customerId)!, 'deterministic', verdict);
    } else {
      events.push(event(EVENT_TYPES.customerCreated, mine.id, { customerId: mine.id, recordId, system: data.system, connection: data.connection }));
    }
    for (const key of keys) addHolder(key, recordId);
    const review = decision.review.filter((v) => v.customerId !== final.id && customers.get(v.customerId)!.status === 'active');
    const apart = keptApart(final, review.map((v) => v.customerId));
    const queued = review.filter((v) => !apart.has(v.customerId));
    for (const verdict of queued) {
      stewardship.push({ id: newId('stewardship'), customerA: verdict.customerId, customerB: final.id, recordA: verdict.recordId, recordB: recordId, score: verdict.score, evidence: verdict.evidence });
    }
    final.goldenDirty = true;
    results.push({ outcome: decision.into ? 'merged' : 'created', customerId: final.id, recordId, queued: queued.length, decision: decision.decision, rule: decision.into?.rule });
  }

  // Writes: one statement per table, parents before children.
  for (const c of customers.values()) if (c.goldenDirty) refresh(c);
  const touched = [...customers.values()].filter((c) => c.isNew || c.statusChanged || c.golden !== undefined);
  const write = (c: WorkCustomer): b.CustomerWrite => ({ id: c.id, status: c.status, mergedInto: c.mergedInto, ...(c.golden !== undefined ? { golden: c.golden } : {}) });
  await b.writeCustomers(tx, touched.filter((c) => c.isNew).map(write), touched.filter((c) => !c.isNew).map(write));
  const recordWrite = (r: WorkRecord): b.RecordWrite => ({
    id: r.id,
    customerId: r.customerId,
    system: r.data.system,
    connection: r.data.connection,
    externalId: r.data.externalId,
    version: r.version,
    observedAt: r.observedAt,
    dataKey: r.dataKey,
    ...(r.dataChanged ? { data: r.data, match: r.match, keys: r.keys } : {}),
  });
  const all = [...records.values()];
  await b.writeRecords(
    tx,
    all.filter((r) => r.storedCustomerId === undefined).map(recordWrite),
    all.filter((r) => r.storedCustomerId !== undefined && (r.dataChanged || r.customerId !== r.storedCustomerId)).map(recordWrite),
  );
  await insertHistory(tx, history);
  await b.insertMerges(tx, merges);
  await b.writeStewardship(tx, stewardship, mergedAway);
  await appendEvents(tx, events);
  return results;
}
