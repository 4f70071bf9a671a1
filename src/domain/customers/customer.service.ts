import { isDeepStrictEqual } from 'node:util';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import { normalizeAddress, normalizeEmail, normalizePhone } from '../../model/contact-points.ts';
import type { Order } from '../../model/order.ts';
import { CustomerRecordInput, type Customer, type CustomerRecordData, type CustomerMergeSummary } from '../../model/customer.ts';
import type { EventData } from '../../model/events.ts';
import { newId } from '../../model/ids.ts';
import { appendEvents, type NewEvent } from '../../runtime/outbox/outbox.ts';
import type { Database, Queryable } from '../../store/database.ts';
import * as q from '../../store/customers/customer-queries.ts';
import { listPropagations, type PropagationRow } from '../../store/customers/propagation.store.ts';
import * as rq from '../../store/customers/customer-record-queries.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';
import { blockingKeys, emailKey, phoneKey, toMatchRecord, type MatchRecord } from './match-record.ts';
import { lockCustomers, lockKeysOfRecords, lockMatchKeys, selectRecordsByExternalIds } from '../../store/customers/customer-batch.store.ts';
import { externalKey, ingestBatch, type BatchSettings, type IngestResult } from './ingest-batch.ts';
import { decide, DEFAULT_MATCHING, type Candidate, type CandidateVerdict, type MatchingOptions } from './matching.ts';
import { evidenceMayBeLost, mergeStillSupported, newEvidence } from './rematch.ts';
import { DEFAULT_SURVIVORSHIP, goldenRecord, type SurvivorshipConfig } from './survivorship.ts';

/**
 * Customers (docs/customers.md): every record a system sends goes through matching and
 * lands in one customer; stewards decide the pairs the score left in between.
 */

export interface CustomerServiceOptions {
  /** Thresholds and name similarity (default: DEFAULT_MATCHING). */
  matching?: MatchingOptions;
  /** Survivorship rules and ownership (default: DEFAULT_SURVIVORSHIP). */
  survivorship?: SurvivorshipConfig;
  /** A blocking key shared by more records than this is skipped (default: 200). */
  maxRecordsPerKey?: number;
}

export type { IngestOutcome, IngestResult } from './ingest-batch.ts';

export interface StewardshipPair {
  id: string;
  customerIds: [string, string];
  recordIds: [string, string];
  score: number;
  evidence: unknown;
  status: q.StewardshipRow['status'];
  /** Set when the pair reviews a past merge a record's new version no longer supports (ADR 0041). */
  reviewsMergeId: string | null;
  createdAt: string;
}

export type StewardDecisionResult =
  | { kind: 'not-found' }
  | { kind: 'decided'; status: q.StewardshipRow['status'] }
  | { kind: 'merged'; mergeId: string; survivorId: string; pair: StewardshipPair }
  | { kind: 'kept-apart'; pair: StewardshipPair };

export type UnmergeResult = { kind: 'not-found' } | { kind: 'already-unmerged' } | { kind: 'records-moved' } | { kind: 'unmerged'; survivorId: string; restoredId: string; recordIds: string[] };

/** The actor of decisions matching takes by itself. */
const MATCHING_ACTOR = 'system:matching';
const SOURCE = '/syncline/customers';

const event = <T extends keyof typeof EVENT_DATA>(type: T, subject: string, data: EventData<(typeof EVENT_DATA)[T]>, correlationId: string): NewEvent => ({
  id: newId('event'),
  type: EVENT_DATA[type],
  source: SOURCE,
  subject,
  time: new Date().toISOString(),
  correlationId,
  data,
});
const EVENT_DATA = { created: EVENT_TYPES.customerCreated, merged: EVENT_TYPES.customerMerged, unmerged: EVENT_TYPES.customerUnmerged } as const;

const pairOf = (row: q.StewardshipRow): StewardshipPair => ({
  id: row.id,
  customerIds: [row.customer_a, row.customer_b],
  recordIds: [row.record_a, row.record_b],
  score: row.score,
  evidence: row.evidence,
  status: row.status,
  reviewsMergeId: row.review_merge_id ?? null,
  createdAt: row.created_at.toISOString(),
});

export class CustomerService {
  readonly #db: Database;
  readonly #matching: MatchingOptions;
  readonly #survivorship: SurvivorshipConfig;
  readonly #maxPerKey: number;
  readonly #batchSettings: BatchSettings;

  constructor(db: Database, options: CustomerServiceOptions = {}) {
    this.#db = db;
    this.#matching = options.matching ?? DEFAULT_MATCHING;
    this.#survivorship = options.survivorship ?? DEFAULT_SURVIVORSHIP;
    this.#maxPerKey = options.maxRecordsPerKey ?? 200;
    this.#batchSettings = { matching: this.#matching, survivorship: this.#survivorship, maxPerKey: this.#maxPerKey, actor: MATCHING_ACTOR, source: SOURCE };
  }

  /**
   * Takes in one customer record from a system: a record seen before is updated in place
   * (its customer stays); a new one is matched, then merged, queued for stewardship or kept
   * as a new customer. Events and history commit with it.
   */
  async ingest(input: CustomerRecordInput, context: { correlationId: string }): Promise<IngestResult> {
    return (await this.ingestMany([input], context))[0]!;
  }

  /**
   * Takes in a batch of records (an initial import, a nightly sync, or one record) in one
   * transaction: matched in memory in order, each against those before it, then written with
   * one statement per table (ingest-batch.ts). Only batches sharing a matching key wait for
   * each other.
   */
  async ingestMany(inputs: readonly CustomerRecordInput[], context: { correlationId: string }): Promise<IngestResult[]> {
    const records = inputs.map((input) => CustomerRecordInput.parse(input));
    if (records.length === 0) return [];
    return this.#transaction((tx) => this.#ingestIn(tx, records, context));
  }

  /**
   * Records a system sent before take the update path, one at a time: a repeat or an older
   * version changes nothing, a new version with new evidence is matched again (ADR 41). New
   * records are matched together in a batch (ADR 42). Results in the order of the records.
   */
  async #ingestIn(tx: Queryable, records: readonly CustomerRecordData[], context: { correlationId: string }): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array(records.length);
    const fresh: number[] = [];
    // The records' own keys, then which of them are known (two statements for the whole batch): a
    // batch taking one of the same records in waits, and the other way round.
    await lockMatchKeys(tx, records.map(externalKey));
    const stored = (await selectRecordsByExternalIds(tx, records)).filter((r) => !q.isShredded(r.data));
    const known = new Map(stored.map((r) => [externalKey({ system: r.system, connection: r.connection, externalId: r.external_id }), r]));
    // Steward decisions take the matching lock: none moves a known record's customer while it is updated.
    if (known.size > 0) await q.lockMatching(tx);
    for (const [i, data] of records.entries()) {
      const before = known.get(externalKey(data));
      if (!before) {
        fresh.push(i);
        continue;
      }
      // Its keys before and after, and its customer: no batch or other update moves them meanwhile.
      await lockMatchKeys(tx, [...blockingKeys(before.match as MatchRecord), ...blockingKeys(toMatchRecord(before.id, data))]);
      await lockCustomers(tx, [before.customer_id]);
      // Read again under those locks: its customer may have changed since, and a record sent twice
      // in one batch has its first version written by now.
      results[i] = await this.#update(tx, (await q.selectRecordByExternalId(tx, data.system, data.connection, data.externalId))!, data, context);
    }
    if (fresh.length > 0) {
      const batch = await ingestBatch(tx, fresh.map((i) => records[i]!), this.#batchSettings, context.correlationId);
      fresh.forEach((i, n) => (results[i] = batch[n]!));
    }
    return results;
  }

  /**
   * Resolves an accepted order to a customer (the channel's record of the buyer goes through
   * matching) and records the order's customer, in one transaction; an order resolved
   * already keeps its customer. The order's own customer fields are not touched.
   */
  async resolveOrder(order: Order, context: { correlationId: string }): Promise<IngestResult | undefined> {
    const data = CustomerRecordInput.parse(orderCustomerRecord(order));
    return this.#transaction(async (tx) => {
      await q.lockOrderResolution(tx, order.id);
      if (await q.selectOrderCustomer(tx, order.id)) return undefined;
      const [result] = await this.#ingestIn(tx, [data], context);
      await q.insertOrderCustomer(tx, order.id, result!.customerId, result!.recordId);
      return result;
    });
  }

  /**
   * A transaction, run again when PostgreSQL ends it as a deadlock victim: matching takes row
   * locks on the customers it reads, and a batch that finds a customer merged meanwhile locks
   * its survivor out of id order.
   */
  async #transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#db.transaction(fn);
      } catch (error) {
        if (attempt >= 8 || (error as { code?: string }).code !== '40P01') throw error;
      }
    }
  }

  /** The customer an order resolved to, as it is now (following merges); undefined while unresolved. */
  async customerOfOrder(orderId: string): Promise<{ customerId: string; recordId: string } | undefined> {
    const link = await q.selectOrderCustomer(this.#db, orderId);
    if (!link) return undefined;
    const record = await q.selectRecordCustomer(this.#db, link.record_id);
    return { customerId: record ?? link.customer_id, recordId: link.record_id };
  }

  async #update(tx: Queryable, known: q.SourceRecordRow, data: CustomerRecordData, context: { correlationId: string }): Promise<IngestResult> {
    // A repeat (a retried post, a sync reading a record again) or an older version: no new version.
    const stored = known.data as CustomerRecordData;
    if (isDeepStrictEqual(stored, data) || Date.parse(data.observedAt) < known.observed_at.getTime()) {
      return { outcome: 'unchanged', customerId: known.customer_id, recordId: known.id, queued: 0 };
    }
    const match = toMatchRecord(known.id, data);
    const version = await q.updateRecordData(tx, known.id, data, match, data.observedAt);
    await q.insertHistory(tx, [{ recordId: known.id, customerId: known.customer_id, reason: 'updated', version, data }]);
    await q.replaceKeys(tx, known.id, known.customer_id, blockingKeys(match));
    const rematch = await this.#rematch(tx, known, match, context);
    await this.#refreshGolden(tx, rematch.customerId);
    return { outcome: 'updated', recordId: known.id, ...rematch };
  }

  /**
   * A changed record is matched again when it brings new evidence (ADR 0041): it may take its
   * customer into another (a merge with its decision) or queue a pair for a steward; kept-apart
   * customers stay apart. A past automatic merge the record no longer supports is sent to a
   * steward for review, never split silently.
   */
  async #rematch(tx: Queryable, known: q.SourceRecordRow, match: MatchRecord, context: { correlationId: string }) {
    const previous = known.match as MatchRecord;
    const reviews = evidenceMayBeLost(previous, match) ? await this.#reviewMerges(tx, known.customer_id, match) : 0;
    const evidence = newEvidence(previous, match);
    const unchanged = { customerId: known.customer_id, queued: 0, newEvidence: evidence, reviews, decision: undefined, rule: undefined };
    if (evidence.length === 0) return unchanged;
    const own = (await q.selectRecordsOf(tx, known.customer_id)).map((r) => r.id);
    const others = (await this.#candidates(tx, blockingKeys(match))).filter((c) => c.customerId !== known.customer_id);
    const apart = await q.selectKeptApartCustomers(tx, own, others.map((c) => c.customerId));
    const decision = decide(match, others.filter((c) => !apart.has(c.customerId)), this.#matching);
    const events: NewEvent[] = [];
    let current = known.customer_id;
    for (const verdict of decision.into ? [decision.into, ...decision.alsoMerge] : []) {
      // The older customer survives, as in a steward's merge: its id is the one systems learnt first.
      const [survivor, merged] = verdict.customerId < current ? [verdict.customerId, current] : [current, verdict.customerId];
      await this.#merge(tx, survivor, merged, { decision: verdict === decision.into ? decision.decision! : 'deterministic', verdict, actor: MATCHING_ACTOR }, events, context.correlationId);
      current = survivor;
    }
    const merged = new Set([known.customer_id, current, ...(decision.into ? [decision.into, ...decision.alsoMerge].map((v) => v.customerId) : [])]);
    const queued = decision.review.filter((v) => !merged.has(v.customerId));
    for (const verdict of queued) {
      await q.insertStewardship(tx, { id: newId('stewardship'), customerA: verdict.customerId, customerB: current, recordA: verdict.recordId, recordB: known.id, score: verdict.score, evidence: verdict.evidence });
    }
    await appendEvents(tx, events);
    return { ...unchanged, customerId: current, queued: queued.length, decision: decision.decision, rule: decision.into?.rule };
  }

  /**
   * Past automatic and deterministic merges into the record's customer that its new version no
   * longer supports: each goes to the stewardship queue as a review of that merge (the steward
   * keeps it, or undoes it). Returns how many were queued.
   */
  async #reviewMerges(tx: Queryable, customerId: string, match: MatchRecord): Promise<number> {
    const merges = (await q.selectMergesInto(tx, customerId)).filter((m) => !m.unmerged_at && m.decision !== 'steward');
    if (merges.length === 0) return 0;
    const records = (await q.selectRecordsOf(tx, customerId)).map((r) => (r.id === match.id ? match : (r.match as MatchRecord)));
    let queued = 0;
    for (const merge of merges) {
      const moved = records.filter((r) => merge.record_ids.includes(r.id));
      const stayed = records.filter((r) => !merge.record_ids.includes(r.id));
      if (!moved.some((r) => r.id === match.id) && !stayed.some((r) => r.id === match.id)) continue;
      if (moved.length === 0 || stayed.length === 0 || mergeStillSupported(moved, stayed, this.#matching)) continue;
      const other = (moved.some((r) => r.id === match.id) ? stayed : moved)[0]!;
      if (await rq.insertMergeReview(tx, { id: newId('stewardship'), customerId, mergeId: merge.id, recordA: other.id, recordB: match.id, evidence: [{ kind: 're-match', detail: `the record's new version no longer supports merge ${merge.id} (${merge.rule})`, points: 0 }] })) queued++;
    }
    return queued;
  }

  /** Candidate customers: every customer with a record sharing a blocking key, oldest first. */
  async #candidates(tx: Queryable, keys: readonly string[]): Promise<Candidate[]> {
    const byCustomer = new Map<string, Candidate['records'][number][]>();
    for (const row of await q.selectCandidateRecords(tx, keys, this.#maxPerKey)) {
      const records = byCustomer.get(row.customer_id) ?? [];
      records.push(row.match as MatchRecord);
      byCustomer.set(row.customer_id, records);
    }
    return [...byCustomer].map(([customerId, records]) => ({ customerId, records }));
  }

  /** Moves every record of merged into survivor, keeps the merge and each record's history, announces it. */
  async #merge(
    tx: Queryable,
    survivorId: string,
    mergedId: string,
    how: { decision: 'deterministic' | 'automatic' | 'steward'; verdict: Pick<CandidateVerdict, 'rule' | 'score' | 'evidence'>; actor: string },
    events: NewEvent[],
    correlationId: string,
  ): Promise<string> {
    const records = await q.selectRecordsOf(tx, mergedId);
    const recordIds = records.map((r) => r.id);
    const mergeId = newId('customerMerge');
    const rule = how.decision === 'steward' ? 'steward' : (how.verdict.rule ?? 'score');
    await q.moveRecords(tx, recordIds, survivorId);
    await q.setCustomerStatus(tx, mergedId, survivorId);
    await q.insertMerge(tx, { id: mergeId, survivorId, mergedId, recordIds, decision: how.decision, rule, score: how.verdict.score, evidence: how.verdict.evidence, actor: how.actor });
    await q.insertHistory(tx, records.map((r) => ({ recordId: r.id, customerId: survivorId, reason: 'merged', version: r.version, mergeId })));
    await q.supersedeStewardship(tx, mergedId);
    events.push(
      event('merged', survivorId, { mergeId, survivorId, mergedId, recordIds, decision: how.decision, rule, score: how.verdict.score, evidence: how.verdict.evidence }, correlationId),
    );
    return mergeId;
  }

  async #refreshGolden(tx: Queryable, customerId: string): Promise<void> {
    const records = await q.selectRecordsOf(tx, customerId);
    await q.setGolden(tx, customerId, goldenRecord(records.filter((r) => !q.isShredded(r.data)).map((r) => ({ id: r.id, data: r.data as CustomerRecordData })), this.#survivorship));
  }

  /** The customer a (possibly merged) id stands for now, each step locked: matching waits for the steward's decision, and the other way round. */
  async #resolve(db: Queryable, id: string): Promise<q.CustomerRow | undefined> {
    let row = await q.selectCustomer(db, id, true);
    for (let hops = 0; row?.merged_into && hops < 1000; hops++) row = await q.selectCustomer(db, row.merged_into, true);
    return row;
  }

  /** A customer with its golden record, identifiers, contact points, source records and merges (a merged one says where it went). */
  async get(id: string): Promise<Customer | undefined> {
    const row = await q.selectCustomer(this.#db, id);
    if (!row) return undefined;
    const records = await q.selectRecordsOf(this.#db, id);
    const merges = await q.selectMergesInto(this.#db, id);
    // A shredded record (its data key forgotten) still counts as a record, with nothing personal to show.
    const datas = records.filter((r) => !q.isShredded(r.data)).map((r) => ({ id: r.id, data: r.data as CustomerRecordData }));
    const country = (d: CustomerRecordData) => d.addresses[0]?.country;
    return {
      id: row.id,
      status: row.status,
      mergedInto: row.merged_into,
      golden: row.golden,
      identifiers: datas.flatMap(({ data }) => [
        { system: data.system, connection: data.connection, id: data.externalId, kind: 'own' as const },
        ...(data.references.loyaltyId ? [{ system: 'loyalty' as const, connection: data.connection, id: data.references.loyaltyId, kind: 'reference' as const }] : []),
        ...(data.references.erpPartyId ? [{ system: 'erp' as const, connection: data.connection, id: data.references.erpPartyId, kind: 'reference' as const }] : []),
        ...(data.references.crmContactId ? [{ system: 'crm' as const, connection: data.connection, id: data.references.crmContactId, kind: 'reference' as const }] : []),
      ]),
      emails: datas.flatMap(({ id: recordId, data }) => data.emails.map((e) => ({ value: e.address, normalized: normalizeEmail(e.address) ?? e.address, recordId }))),
      phones: datas.flatMap(({ id: recordId, data }) => data.phones.map((p) => ({ value: p, normalized: normalizePhone(p, country(data)) ?? p, recordId }))),
      addresses: datas.flatMap(({ id: recordId, data }) => data.addresses.map((a) => ({ value: a, normalized: normalizeAddress(a), recordId }))),
      sourceRecords: records.map((r) => ({ id: r.id, system: r.system as CustomerRecordData['system'], connection: r.connection, externalId: r.external_id, version: r.version, data: r.data, observedAt: r.observed_at.toISOString() })),
      merges: merges.map(mergeSummary),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  }

  /** Customers holding a contact point (e-mail or phone), each resolved to the customer it is now. */
  async findByContact(contact: { email?: string; phone?: string; country?: string }, limit = 20): Promise<Customer[] | 'invalid'> {
    const key = contact.email !== undefined ? emailKey(contact.email) : contact.phone !== undefined ? phoneKey(contact.phone, contact.country) : undefined;
    if (!key) return 'invalid';
    const ids = await q.selectCustomerIdsByKey(this.#db, key, limit);
    const found: Customer[] = [];
    for (const id of ids) {
      const customer = await this.get(id);
      if (customer) found.push(customer);
    }
    return found;
  }

  /** Pending stewardship pairs, oldest first; pass the last id as after for the next page. */
  async pending(after: string | undefined, limit: number): Promise<StewardshipPair[]> {
    return (await q.selectPendingStewardship(this.#db, after, limit)).map(pairOf);
  }

  /** Runs a steward's decision on a pending pair, with both customers as they are now, under the matching lock. */
  #decidePending(pairId: string, decision: (tx: Queryable, row: q.StewardshipRow, a: q.CustomerRow | undefined, b: q.CustomerRow | undefined) => Promise<StewardDecisionResult>): Promise<StewardDecisionResult> {
    return this.#transaction(async (tx) => {
      await q.lockMatching(tx);
      const row = await q.selectStewardship(tx, pairId, true);
      if (!row) return { kind: 'not-found' };
      if (row.status !== 'pending') return { kind: 'decided', status: row.status };
      return decision(tx, row, await this.#resolve(tx, row.customer_a), await this.#resolve(tx, row.customer_b));
    });
  }

  /** A steward merges a pending pair (the older customer survives). */
  async stewardMerge(pairId: string, who: AuditContext): Promise<StewardDecisionResult> {
    return this.#decidePending(pairId, async (tx, row, a, b) => {
      // A review of a past merge (ADR 0041): merging keeps that merge as it is.
      const reviewed = await rq.selectReviewedMerge(tx, pairId);
      if (reviewed) {
        await q.decideStewardship(tx, pairId, 'merged', who.actor, reviewed);
        await recordAudit(tx, who, { action: 'customer.merge_confirmed', targetType: 'customer', targetId: row.customer_a, details: { stewardshipId: pairId, mergeId: reviewed } });
        return { kind: 'merged', mergeId: reviewed, survivorId: a?.id ?? row.customer_a, pair: pairOf({ ...row, status: 'merged', merge_id: reviewed }) };
      }
      if (!a || !b || a.id === b.id) {
        await q.decideStewardship(tx, pairId, 'superseded', who.actor, null);
        return { kind: 'decided', status: 'superseded' };
      }
      const [survivor, merged] = a.id < b.id ? [a.id, b.id] : [b.id, a.id];
      const events: NewEvent[] = [];
      const evidence = row.evidence as CandidateVerdict['evidence'];
      const mergeId = await this.#merge(tx, survivor, merged, { decision: 'steward', verdict: { rule: undefined, score: row.score, evidence }, actor: who.actor }, events, who.correlationId ?? pairId);
      await q.decideStewardship(tx, pairId, 'merged', who.actor, mergeId);
      await this.#refreshGolden(tx, survivor);
      await appendEvents(tx, events);
      await recordAudit(tx, who, { action: 'customer.merged', targetType: 'customer', targetId: survivor, details: { stewardshipId: pairId, mergeId, mergedId: merged } });
      return { kind: 'merged', mergeId, survivorId: survivor, pair: pairOf({ ...row, status: 'merged', merge_id: mergeId }) };
    });
  }

  /** A steward keeps a pending pair apart: remembered for every record of both sides. */
  async keepApart(pairId: string, who: AuditContext): Promise<StewardDecisionResult> {
    const reviewed = await rq.selectReviewedMerge(this.#db, pairId);
    // A review of a past merge (ADR 0041): keeping apart undoes that merge (the records go back, kept apart).
    if (reviewed) return this.#keepReviewedApart(pairId, reviewed, who);
    return this.#decidePending(pairId, async (tx, row, a, b) => {
      const left = a ? (await q.selectRecordsOf(tx, a.id)).map((r) => r.id) : [row.record_a];
      const right = b ? (await q.selectRecordsOf(tx, b.id)).map((r) => r.id) : [row.record_b];
      await q.insertKeepApart(tx, left, right, who.actor);
      await q.decideStewardship(tx, pairId, 'kept_apart', who.actor, null);
      await recordAudit(tx, who, { action: 'customer.kept_apart', targetType: 'customer_stewardship', targetId: pairId, details: { customerIds: [row.customer_a, row.customer_b] } });
      return { kind: 'kept-apart', pair: pairOf({ ...row, status: 'kept_apart' }) };
    });
  }

  async #keepReviewedApart(pairId: string, mergeId: string, who: AuditContext): Promise<StewardDecisionResult> {
    return this.#db.transaction(async (tx) => {
      await q.lockMatching(tx);
      const row = await q.selectStewardship(tx, pairId, true);
      if (!row) return { kind: 'not-found' };
      if (row.status !== 'pending') return { kind: 'decided', status: row.status };
      const undone = await this.#unmerge(tx, mergeId, who);
      await q.decideStewardship(tx, pairId, undone.kind === 'unmerged' ? 'kept_apart' : 'superseded', who.actor, null);
      return undone.kind === 'unmerged' ? { kind: 'kept-apart', pair: pairOf({ ...row, status: 'kept_apart' }) } : { kind: 'decided', status: 'superseded' };
    });
  }

  /**
   * Undoes a past merge: the records it moved go back to the customer they came from, each
   * with its history, and the two sides are kept apart from then on.
   */
  async unmerge(mergeId: string, who: AuditContext): Promise<UnmergeResult> {
    return this.#transaction(async (tx) => {
      await q.lockMatching(tx);
      return this.#unmerge(tx, mergeId, who);
    });
  }

  async #unmerge(tx: Queryable, mergeId: string, who: AuditContext): Promise<UnmergeResult> {
    {
      const merge = await q.selectMerge(tx, mergeId, true);
      if (!merge) return { kind: 'not-found' };
      if (merge.unmerged_at) return { kind: 'already-unmerged' };
      const current = await this.#resolve(tx, merge.survivor_id);
      const holding = current ? await q.selectRecordsOf(tx, current.id) : [];
      const moving = holding.filter((r) => merge.record_ids.includes(r.id));
      if (!current || moving.length !== merge.record_ids.length) return { kind: 'records-moved' };
      const staying = holding.filter((r) => !merge.record_ids.includes(r.id)).map((r) => r.id);
      await lockKeysOfRecords(tx, merge.record_ids);
      await q.moveRecords(tx, merge.record_ids, merge.merged_id);
      await q.setCustomerStatus(tx, merge.merged_id, null);
      await q.markUnmerged(tx, mergeId, who.actor);
      await q.insertHistory(tx, moving.map((r) => ({ recordId: r.id, customerId: merge.merged_id, reason: 'unmerged', version: r.version, mergeId })));
      await q.insertKeepApart(tx, merge.record_ids, staying, who.actor);
      await this.#refreshGolden(tx, current.id);
      await this.#refreshGolden(tx, merge.merged_id);
      await appendEvents(tx, [event('unmerged', current.id, { mergeId, survivorId: current.id, restoredId: merge.merged_id, recordIds: merge.record_ids }, who.correlationId ?? mergeId)]);
      await recordAudit(tx, who, { action: 'customer.unmerged', targetType: 'customer', targetId: current.id, details: { mergeId, restoredId: merge.merged_id } });
      return { kind: 'unmerged', survivorId: current.id, restoredId: merge.merged_id, recordIds: merge.record_ids };
    }
  }

  /** The customer events carried to the systems holding its records (ADR 0038); undefined for an unknown customer. */
  async propagations(id: string): Promise<PropagationRow[] | undefined> {
    if (!(await q.selectCustomer(this.#db, id))) return undefined;
    return listPropagations(this.#db, { customerId: id });
  }

  /** Every version and membership change of one source record, oldest first. */
  async history(recordId: string) {
    return q.selectHistory(this.#db, recordId);
  }
}

/**
 * The channel's record of an order's buyer: the channel customer id when the channel has
 * one, else the guest's e-mail (normalised) as the id; the name split at its last word; the
 * shipping address. A channel e-mail is not taken as verified.
 */
export function orderCustomerRecord(order: Order): CustomerRecordInput {
  const { customer, shippingAddress: a } = order;
  const words = customer.name.trim().split(/\s+/);
  const familyName = words.length > 1 ? words.at(-1) : undefined;
  const givenName = words.length > 1 ? words.slice(0, -1).join(' ') : words[0];
  return {
    system: 'channel',
    connection: order.channel,
    externalId: customer.channelCustomerId ?? `guest:${normalizeEmail(customer.email) ?? customer.email.toLowerCase()}`,
    ...(givenName ? { givenName } : {}),
    ...(familyName ? { familyName } : {}),
    emails: [{ address: customer.email, verified: false }],
    phones: [customer.phone ?? a.phone].filter((p): p is string => !!p),
    addresses: [{ line1: a.line1, ...(a.line2 ? { line2: a.line2 } : {}), city: a.city, ...(a.region ? { region: a.region } : {}), postalCode: a.postalCode, country: a.country }],
    observedAt: order.placedAt,
  };
}

function mergeSummary(row: q.MergeRow): CustomerMergeSummary {
  return {
    id: row.id,
    survivorId: row.survivor_id,
    mergedId: row.merged_id,
    recordIds: row.record_ids,
    decision: row.decision,
    rule: row.rule,
    score: row.score,
    at: row.created_at.toISOString(),
    unmergedAt: row.unmerged_at?.toISOString() ?? null,
  };
}
