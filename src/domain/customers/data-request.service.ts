import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { DataRequest, DataRequestType, ErasureTarget } from '../../model/consent.ts';
import type { CustomerRecordData } from '../../model/customer.ts';
import { newId } from '../../model/ids.ts';
import type { Order } from '../../model/order.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import type { Database, Queryable } from '../../store/database.ts';
import { clearConsentProofs } from '../../store/customers/consent-queries.ts';
import * as q from '../../store/customers/customer-queries.ts';
import * as p from '../../store/customers/customer-privacy-queries.ts';
import { lockCustomers } from '../../store/customers/customer-batch.store.ts';
import { listPropagations, type PropagationRow } from '../../store/customers/propagation.store.ts';
import { expireExports, insertDataRequest, selectDataRequest, selectEraseRequest, type DataRequestRow } from '../../store/customers/data-request-queries.ts';
import { listOrderReturns, readCustomerTimeline } from '../../store/orders/order-lifecycle-queries.ts';
import { rewriteOrderPersonalData, selectOrderDocument } from '../../store/orders/order-erasure-queries.ts';
import { containing, sweepTable, sweptTables } from '../../store/privacy/personal-data-scan.ts';
import { recordAudit, type AuditContext } from '../audit/audit.ts';
import { consentsOf } from './consent.service.ts';
import { customerEvent } from './customer-events.ts';
import { CustomerService } from './customer.service.ts';
import { toMatchRecord } from './match-record.ts';
import { type PersonalValues, erasedEmail, erasedExternalId, erasedRecordData, orderValues, pseudonymiseOrder, pseudonymiseOrderCopy, recordValues, replaceValues, searchable } from './personal-data.ts';

/**
 * Data subject requests (docs/customers.md, ADR 0039): an export gathers everything Syncline
 * holds about a customer into one document; an erase removes or pseudonymises their personal
 * data everywhere in Syncline's database, in one transaction with customer.erasure_requested.
 * Both act on the identity the id stands for now: a merged id means its survivor, with every
 * customer merged into it.
 */

export type DataRequestResult = { kind: 'not-found' } | { kind: 'created' | 'already-erased'; request: DataRequest };

/** A request as the API shows it; an erase's systems with the outcome of the request sent to each (customer_propagation). */
export const toDataRequest = (row: DataRequestRow, propagations: readonly PropagationRow[] = []): DataRequest => ({
  id: row.id,
  customerId: row.customer_id,
  type: row.type,
  status: row.status,
  requestedAt: row.requested_at.toISOString(),
  completedAt: row.completed_at?.toISOString() ?? null,
  document: (row.document as Record<string, unknown> | null) ?? null,
  systems: ((row.systems as ErasureTarget[] | null) ?? []).map((target) => {
    const sent = propagations.find((p) => p.system === target.system && p.connection === target.connection);
    return { ...target, status: sent?.status ?? 'requested', attempts: sent?.attempts ?? 0, lastError: sent?.lastError ?? null, updatedAt: sent?.updatedAt ?? null };
  }),
});

async function presentRequest(db: Queryable, row: DataRequestRow): Promise<DataRequest> {
  return toDataRequest(row, row.type === 'erase' ? await listPropagations(db, { requestId: row.id }) : []);
}

export class DataRequestService {
  readonly #db: Database;
  readonly #customers: CustomerService;

  constructor(db: Database) {
    this.#db = db;
    this.#customers = new CustomerService(db);
  }

  async get(requestId: string): Promise<DataRequest | undefined> {
    const row = await selectDataRequest(this.#db, requestId);
    return row && presentRequest(this.#db, row);
  }

  async request(customerId: string, type: DataRequestType, who: AuditContext): Promise<DataRequestResult> {
    return type === 'export' ? this.#export(customerId, who) : this.#erase(customerId, who);
  }

  async #export(customerId: string, who: AuditContext): Promise<DataRequestResult> {
    return this.#db.transaction(async (tx) => {
      const current = await p.selectCurrentCustomerId(tx, customerId);
      if (!current) return { kind: 'not-found' };
      const document = await this.#document(tx, current);
      const row = await insertDataRequest(tx, { id: newId('dataRequest'), customerId: current, type: 'export', requestedBy: who.actor, document, systems: [] });
      await recordAudit(tx, who, { action: 'customer.exported', targetType: 'customer', targetId: current, details: { requestId: row.id } });
      return { kind: 'created', request: toDataRequest(row) };
    });
  }

  /** Everything held about one identity, as one JSON document. */
  async #document(tx: Queryable, customerId: string): Promise<Record<string, unknown>> {
    const identity = await p.selectIdentityIds(tx, customerId);
    const customer = await this.#customers.get(customerId);
    const records = await q.selectRecordsOf(tx, customerId);
    const recordIds = records.map((r) => r.id);
    const orderIds = await p.selectOrderIdsOfRecords(tx, recordIds);
    const orders = [];
    for (const orderId of orderIds) {
      orders.push({ order: await selectOrderDocument(tx, orderId), returns: await listOrderReturns(tx, orderId) });
    }
    const emails = [...new Set((customer?.emails ?? []).map((e) => e.value.toLowerCase()))];
    const timeline = [];
    for (const email of emails) timeline.push(...(await readCustomerTimeline(tx, email)));
    return {
      format: 'syncline.customer-export.v1',
      generatedAt: new Date().toISOString(),
      customerId,
      customerIds: identity,
      customer,
      sourceRecordHistory: (await p.selectHistoryOf(tx, recordIds)).map((h) => ({ recordId: h.record_id, customerId: h.customer_id, reason: h.reason, version: h.version, data: h.data, mergeId: h.merge_id, at: h.recorded_at.toISOString() })),
      merges: await p.selectMergesOf(tx, identity),
      stewardship: await p.selectStewardshipOf(tx, identity),
      consents: await consentsOf(tx, customerId),
      orders,
      customerTimeline: timeline,
      audit: await p.selectAuditOf(tx, [...identity, ...orderIds]),
      dataRequests: await p.selectRequestsOf(tx, identity),
    };
  }

  /**
   * Erases the identity's personal data in one transaction: customer records pseudonymised
   * (system ids kept), history versions dropped, match keys deleted, golden record emptied,
   * consent proofs and earlier exports removed; the customer's orders pseudonymised (finance
   * fields kept); every other place the values were copied to rewritten; customer.erasure_requested
   * published. A customer erased already answers with the first erase request.
   */
  async #erase(customerId: string, who: AuditContext): Promise<DataRequestResult> {
    return this.#db.transaction(async (tx) => {
      // Matching must not merge a record into the customer while it is erased.
      await q.lockMatching(tx);
      const current = await p.selectCurrentCustomerId(tx, customerId);
      if (!current) return { kind: 'not-found' };
      // Ingestion locks the customers a record may join (customer-batch.store.ts): none joins this one while it is erased.
      await lockCustomers(tx, [current]);
      const identity = await p.selectIdentityIds(tx, current);
      if (await p.selectErasedAt(tx, current)) {
        const first = await selectEraseRequest(tx, identity);
        if (first) return { kind: 'already-erased', request: await presentRequest(tx, first) };
      }
      const records = await q.selectRecordsOf(tx, current);
      const recordIds = records.map((r) => r.id);
      const values: PersonalValues = { strong: [], weak: [] };
      const collect = (found: PersonalValues) => (values.strong.push(...found.strong), values.weak.push(...found.weak));
      for (const record of records) collect(recordValues(record.data as CustomerRecordData));
      for (const entry of await p.selectHistoryOf(tx, recordIds)) collect(recordValues(entry.data as CustomerRecordData | null));
      // The orders resolved to the records, and those placed with one of their e-mails that the
      // customer-resolution subscriber has not reached yet.
      const emails = [...new Set(records.flatMap((r) => (r.data as CustomerRecordData).emails.map((e) => e.address.toLowerCase())))];
      const orderIds = [...new Set([...(await p.selectOrderIdsOfRecords(tx, recordIds)), ...(await p.selectUnresolvedOrderIdsByEmail(tx, emails))])];
      const documents = new Map<string, Order>();
      for (const orderId of orderIds) {
        const document = (await selectOrderDocument(tx, orderId)) as Order | undefined;
        if (!document) continue;
        documents.set(orderId, document);
        collect(orderValues(document));
      }

      const targets: ErasureTarget[] = [];
      for (const record of records) {
        const data = record.data as CustomerRecordData;
        const externalId = erasedExternalId(record.external_id, record.id);
        const erased = erasedRecordData(data, externalId);
        await p.pseudonymiseRecord(tx, record.id, externalId, erased, toMatchRecord(record.id, erased));
        // A system is asked by its own id, even where that id is an e-mail (a loyalty member's):
        // a channel is never asked (its own privacy process), so its guest id stays pseudonymised.
        targets.push({ recordId: record.id, system: record.system, connection: record.connection, sourceId: record.system === 'channel' ? externalId : record.external_id });
      }
      await p.dropHistoryVersions(tx, recordIds);
      await p.deleteKeys(tx, recordIds);
      await p.markErased(tx, identity);
      await p.supersedePairsOf(tx, identity);
      await clearConsentProofs(tx, identity);
      await expireExports(tx, identity);
      for (const [orderId, document] of documents) await rewriteOrderPersonalData(tx, orderId, pseudonymiseOrder(document), erasedEmail(orderId));

      // Rows holding a strong value, or naming the customer, a record or an order, are about
      // the customer: every value goes from them, and the person objects of a named order.
      const replace = replaceValues(searchable([...values.strong, ...values.weak]));
      const patterns = searchable(values.strong).map(containing);
      const orders = new Set(orderIds);
      const swept: Record<string, number> = {};
      for (const table of await sweptTables(tx)) {
        const changed = await sweepTable(tx, table, patterns, [...identity, ...recordIds, ...orderIds], (value, named) => {
          const order = named.find((id) => orders.has(id));
          return replace(order ? pseudonymiseOrderCopy(value, order) : value);
        });
        if (changed > 0) swept[table.table] = changed;
      }

      const id = newId('dataRequest');
      const row = await insertDataRequest(tx, { id, customerId: current, type: 'erase', requestedBy: who.actor, document: null, systems: targets });
      await appendEvents(tx, [customerEvent(EVENT_TYPES.customerErasureRequested, current, { requestId: id, customerId: current, records: targets }, who.correlationId ?? id)]);
      await recordAudit(tx, who, { action: 'customer.erased', targetType: 'customer', targetId: current, details: { requestId: id, customerIds: identity, records: records.length, orders: [...documents.keys()], swept } });
      return { kind: 'created', request: toDataRequest(row) };
    });
  }
}
