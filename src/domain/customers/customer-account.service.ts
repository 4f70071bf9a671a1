import type { AccountPart, ConsentPartData, CustomerAccount, ErpPartData, LoyaltyPartData, OrdersPartData } from '../../model/customer-account.ts';
import type { Customer, CustomerRecordData } from '../../model/customer.ts';
import type { Database } from '../../store/database.ts';
import { selectCustomerOrders, selectCustomerReturns, selectLatestErpOrder } from '../../store/customers/customer-account-queries.ts';
import { readConsentPart, type ConsentReader } from './account-consent.ts';
import type { CustomerService } from './customer.service.ts';
import { PartCache, type PartRead } from './part-cache.ts';

/**
 * The composite account view (docs/customers.md#account-view, ADR 0040): the profile, loyalty,
 * ERP account, orders and returns, and consent of a customer, read in parallel, each part with
 * its source and age. Parts from other systems go through the part cache and the view's latency
 * budget: a slow or down system's part is served from cache with its age, or marked unavailable.
 */

/** An ERP account a customer's records name (connection null: the default ERP). */
export interface ErpAccountRef {
  connection: string | null;
  account: string;
}

/** Where the remote parts come from (implemented over the connectors and their runtime targets). */
export interface AccountSources {
  /** Balance and tier of each loyalty member key (member id, or the e-mail points were kept under); unknown keys are left out. */
  loyalty(keys: readonly string[], signal: AbortSignal): Promise<LoyaltyPartData>;
  /** The ERP accounts named; with none, the account the customer's latest ERP order was posted to. */
  erp(accounts: readonly ErpAccountRef[], latestOrder: { orderId: string; erp: string | null } | undefined, signal: AbortSignal): Promise<ErpPartData>;
}

export interface CustomerAccountOptions {
  /** The view answers within this many ms (default: 300). */
  budgetMs?: number;
  /** Kept for the profile, local reads and the answer itself out of the budget (default: 40 ms, at most a third of the budget). */
  reserveMs?: number;
  /** Orders and returns listed (default: 20 each). */
  recent?: number;
  /** The consent part (default: readConsentPart, docs/customers.md#account-view). */
  consent?: ConsentReader;
  cache?: PartCache;
}

const SECOND = 1000;

export class CustomerAccountService {
  readonly #db: Database;
  readonly #customers: CustomerService;
  readonly #sources: AccountSources;
  readonly #budgetMs: number;
  readonly #reserveMs: number;
  readonly #recent: number;
  readonly #consent: ConsentReader;
  readonly cache: PartCache;

  constructor(db: Database, customers: CustomerService, sources: AccountSources, options: CustomerAccountOptions = {}) {
    this.#db = db;
    this.#customers = customers;
    this.#sources = sources;
    this.#budgetMs = options.budgetMs ?? 300;
    this.#reserveMs = Math.min(options.reserveMs ?? 40, Math.floor(this.#budgetMs / 3));
    this.#recent = options.recent ?? 20;
    this.#consent = options.consent ?? readConsentPart;
    this.cache = options.cache ?? new PartCache();
  }

  /** The account of a customer (a merged id answers for the customer it was merged into); undefined when there is none. */
  async view(requestedId: string): Promise<CustomerAccount | undefined> {
    const started = performance.now();
    const customer = await this.#current(requestedId);
    if (!customer) return undefined;
    // Remote parts wait until this instant, whatever the local reads beside them take.
    const deadline = started + this.#budgetMs - this.#reserveMs;
    const left = () => Math.max(0, deadline - performance.now());
    const now = () => this.cache.now();
    const local = <T>(data: T): AccountPart<T> => ({ source: 'syncline', status: 'ok', fetchedAt: new Date(now()).toISOString(), ageSeconds: 0, data });
    const records = customer.sourceRecords.map((r) => ({ system: r.system, connection: r.connection, externalId: r.externalId, data: r.data as CustomerRecordData }));
    const memberKeys = loyaltyKeys(records, customer);
    const accounts = erpAccounts(records);
    const loyaltyRead: Promise<PartRead<LoyaltyPartData>> = memberKeys.length
      ? this.cache.read(`loyalty:${memberKeys.join(',')}`, (signal) => this.#sources.loyalty(memberKeys, signal), left())
      : Promise.resolve({ status: 'ok', value: { members: [] }, at: now() });
    const erpRead = (async (): Promise<{ read: PartRead<ErpPartData>; connections: (string | null)[] }> => {
      const latestOrder = accounts.length ? undefined : await this.#latestErpOrder(customer.id);
      const connections = [...accounts.map((a) => a.connection), ...(latestOrder ? [latestOrder.erp] : [])];
      if (!accounts.length && !latestOrder) return { read: { status: 'ok', value: { accounts: [] }, at: now() }, connections };
      const key = `erp:${accounts.map((a) => `${a.connection}/${a.account}`).join(',') || `order/${latestOrder!.orderId}`}`;
      return { read: await this.cache.read(key, (signal) => this.#sources.erp(accounts, latestOrder, signal), left()), connections };
    })();
    const [orders, consent, loyalty, erp] = await Promise.all([this.#orders(customer.id), this.#consent(this.#db, customer.id), loyaltyRead, erpRead]);
    const erpConnections = [...new Set(erp.connections.map((c) => c ?? 'default'))];
    return {
      customerId: customer.id,
      requestedId,
      budgetMs: this.#budgetMs,
      elapsedMs: Math.round(performance.now() - started),
      profile: local(customer),
      loyalty: remote('loyalty', loyalty, now()),
      erp: remote(erpConnections.length === 1 ? `erp:${erpConnections[0]}` : 'erp', erp.read, now()),
      orders: local(orders),
      consent: consent ?? { source: 'syncline', status: 'unavailable', fetchedAt: null, ageSeconds: null, error: 'consent.not_recorded', data: null },
    };
  }

  /** The customer as it is now: a merged id is followed to the customer that holds its records. */
  async #current(id: string): Promise<Customer | undefined> {
    let customer = await this.#customers.get(id);
    for (let hops = 0; customer?.status === 'merged' && customer.mergedInto && hops < 100; hops++) customer = await this.#customers.get(customer.mergedInto);
    return customer;
  }

  async #latestErpOrder(customerId: string): Promise<{ orderId: string; erp: string | null } | undefined> {
    const row = await selectLatestErpOrder(this.#db, customerId);
    return row && { orderId: row.order_id, erp: row.erp };
  }

  async #orders(customerId: string): Promise<OrdersPartData> {
    const [orders, returns] = await Promise.all([selectCustomerOrders(this.#db, customerId, this.#recent), selectCustomerReturns(this.#db, customerId, this.#recent)]);
    return {
      orders: orders.map((o) => ({ id: o.id, channel: o.channel, channelOrderId: o.channel_order_id, status: o.status, currency: o.currency, grandTotal: o.grand_total, placedAt: o.placed_at.toISOString() })),
      returns: returns.map((r) => ({
        id: r.id,
        orderId: r.order_id,
        status: r.status,
        refundAmount: r.refund_amount,
        location: r.location_code,
        creditNote: (r.credit_note as OrdersPartData['returns'][number]['creditNote']) ?? null,
        createdAt: r.created_at.toISOString(),
        completedAt: r.completed_at?.toISOString() ?? null,
      })),
    };
  }
}

function remote<T>(source: string, read: PartRead<T>, now: number): AccountPart<T> {
  if (read.status === 'unavailable') return { source, status: 'unavailable', fetchedAt: null, ageSeconds: null, error: read.error, data: null };
  const age = Math.max(0, now - read.at) / SECOND;
  return {
    source,
    status: read.status,
    fetchedAt: new Date(read.at).toISOString(),
    ageSeconds: Math.round(age * 10) / 10,
    ...(read.status === 'cached' && read.error ? { error: read.error } : {}),
    data: read.value,
  };
}

/**
 * The loyalty members of a customer: its loyalty records' ids and the loyalty ids other records
 * carry (a card scanned at a web checkout). A customer with no member has their points kept
 * under their e-mail (awards without a member), read by the golden e-mail.
 */
export function loyaltyKeys(records: readonly { system: string; externalId: string; data: CustomerRecordData }[], customer: Pick<Customer, 'golden'>): string[] {
  const members = new Set<string>();
  for (const r of records) {
    if (r.system === 'loyalty') members.add(r.externalId);
    if (r.data.references?.loyaltyId) members.add(r.data.references.loyaltyId);
  }
  if (members.size === 0 && customer.golden.email?.value) members.add(customer.golden.email.value.toLowerCase());
  return [...members].sort();
}

/** The ERP accounts of a customer: its ERP records (their connection) and ERP ids other records carry (the default ERP). */
export function erpAccounts(records: readonly { system: string; connection: string; externalId: string; data: CustomerRecordData }[]): ErpAccountRef[] {
  const found = new Map<string, ErpAccountRef>();
  for (const r of records) {
    if (r.system === 'erp') found.set(`${r.connection}/${r.externalId}`, { connection: r.connection, account: r.externalId });
  }
  for (const r of records) {
    const id = r.data.references?.erpPartyId;
    if (id && ![...found.values()].some((a) => a.account === id)) found.set(`default/${id}`, { connection: null, account: id });
  }
  return [...found.values()].sort((a, b) => `${a.connection}/${a.account}`.localeCompare(`${b.connection}/${b.account}`));
}
