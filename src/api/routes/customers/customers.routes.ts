import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CountryCode } from '../../../model/country.ts';
import { Customer } from '../../../model/customer.ts';
import { registerRecordRoutes } from './customer-records.routes.ts';
import { isId } from '../../../model/ids.ts';
import { CustomerService, type StewardDecisionResult } from '../../../domain/customers/customer.service.ts';
import { CustomerAccountService } from '../../../domain/customers/customer-account.service.ts';
import { PartCache } from '../../../domain/customers/part-cache.ts';
import { CustomerAccount } from '../../../model/customer-account.ts';
import { createErpClient } from '../../../connectors/connectors.ts';
import { createLoyaltyClient } from '../../../connectors/loyalty/outbound/loyalty.client.ts';
import { connectorSettingsFromConfig } from '../../../connectors/connector-settings.ts';
import { createErpRouter } from '../../../flows/erp-routing/erp-router.ts';
import { accountSources } from '../../../flows/customers/account-sources.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { customerView, seesPersonalData } from './customer-privacy.routes.ts';

const CustomerQuery = z
  .strictObject({
    email: z.string().min(3).max(254).optional().meta({ description: 'An e-mail address; compared in its normalised form (case; gmail dots and plus tags).' }),
    phone: z.string().min(4).max(32).optional().meta({ description: 'A phone number, E.164 or national (then give country).' }),
    country: CountryCode.optional().meta({ description: 'The country a national phone number is read in.' }),
  })
  .refine((q) => (q.email === undefined) !== (q.phone === undefined), { message: 'give exactly one of email and phone', path: ['email'] });

const CustomerList = z.object({ data: z.array(Customer) }).meta({ id: 'CustomerList' });

const Evidence = z.object({ kind: z.string(), detail: z.string(), points: z.number() });
const StewardshipPair = z
  .object({
    id: z.string(),
    customerIds: z.array(z.string()).meta({ description: 'The two customers (as they were when the pair was queued).' }),
    recordIds: z.array(z.string()).meta({ description: 'The two source records compared.' }),
    score: z.number(),
    evidence: z.array(Evidence),
    status: z.enum(['pending', 'merged', 'kept_apart', 'superseded']),
    reviewsMergeId: z.string().nullable().meta({ description: 'Set when the pair reviews a past automatic merge that a record no longer supports: merge keeps it, keep-apart undoes it.' }),
    createdAt: z.string(),
  })
  .meta({ id: 'StewardshipPair', description: 'A pair of customers the score put between the thresholds.' });
const StewardshipList = z.object({ data: z.array(StewardshipPair), nextAfter: z.string().nullable() }).meta({ id: 'StewardshipList' });
const StewardshipQuery = z.strictObject({
  after: z.string().regex(/^stw_[0-9a-hjkmnp-tv-z]{26}$/, 'must be a stewardship id (stw_…)').optional().meta({ description: 'nextAfter of the previous page.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const MergeOutcome = z.object({ mergeId: z.string(), survivorId: z.string(), pair: StewardshipPair }).meta({ id: 'StewardshipMergeOutcome' });
const UnmergeOutcome = z.object({ mergeId: z.string(), survivorId: z.string(), restoredId: z.string(), recordIds: z.array(z.string()) }).meta({ id: 'UnmergeOutcome' });

const customerId = 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1';
const recordId = 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2';
const customerExample = {
  id: customerId,
  status: 'active',
  mergedInto: null,
  golden: {
    givenName: { value: 'Ada', recordId, rule: 'most-complete' },
    familyName: { value: 'Lovelace', recordId, rule: 'source-priority' },
    email: { value: 'ada@example.com', recordId, rule: 'verified-first' },
  },
  identifiers: [{ system: 'channel', connection: 'shopify-us', id: '7741', kind: 'own' }],
  emails: [{ value: 'Ada@Example.com', normalized: 'ada@example.com', recordId }],
  phones: [{ value: '(213) 373-4253', normalized: '+12133734253', recordId }],
  addresses: [],
  sourceRecords: [{ id: recordId, system: 'channel', connection: 'shopify-us', externalId: '7741', version: 1, data: {}, observedAt: '2026-11-22T10:15:00.000Z' }],
  merges: [],
  createdAt: '2026-11-22T10:15:01.000Z',
  updatedAt: '2026-11-22T10:15:01.000Z',
};
const pairExample = {
  id: 'stw_01jd5q8x7m2v3k4n5p6r7s8tc6',
  customerIds: [customerId, 'cus_01jd5q8x7m2v3k4n5p6r7s8tc4'],
  recordIds: [recordId, 'csr_01jd5q8x7m2v3k4n5p6r7s8tc5'],
  score: 0.8808,
  evidence: [
    { kind: 'given name', detail: 'same (ada / ada)', points: 2 },
    { kind: 'family name', detail: 'same (lovelace / lovelace)', points: 2 },
    { kind: 'address', detail: 'same address', points: 3 },
  ],
  status: 'pending',
  reviewsMergeId: null,
  createdAt: '2026-11-22T10:15:02.000Z',
};

const findCustomers = operation({
  operationId: 'findCustomers',
  tags: ['Customers'],
  summary: 'Find customers by e-mail or phone',
  description: 'Compared in normalised form (docs/customers.md): e-mail case, gmail dots and plus tags; phones as E.164.',
  auth: 'customers:read',
  query: CustomerQuery,
  responses: { 200: { description: 'The customers holding the contact point (none: an empty list).', schema: CustomerList, example: { data: [customerExample] } } },
});

const getCustomer = operation({
  operationId: 'getCustomer',
  tags: ['Customers'],
  summary: 'A customer: golden record, identifiers, contact points, source records, merges',
  description: 'A merged customer answers with status merged and mergedInto, the customer its records joined.',
  auth: 'customers:read',
  params: { id: 'Customer id (cus_…).' },
  responses: { 200: { description: 'The customer.', schema: Customer, example: customerExample } },
  problems: { 'not-found': 'No such customer.' },
});

const accountExample = {
  customerId,
  requestedId: customerId,
  budgetMs: 300,
  elapsedMs: 41,
  profile: { source: 'syncline', status: 'ok', fetchedAt: '2026-11-22T10:20:00.000Z', ageSeconds: 0, data: customerExample },
  loyalty: { source: 'loyalty', status: 'unavailable', fetchedAt: null, ageSeconds: null, error: 'timeout', data: null },
  erp: {
    source: 'erp:erp',
    status: 'cached',
    fetchedAt: '2026-11-22T10:19:48.000Z',
    ageSeconds: 12,
    data: {
      accounts: [
        {
          connection: 'erp',
          account: '42',
          number: 'C42',
          name: 'Ada Lovelace',
          balance: '59.90',
          creditLimit: null,
          currency: 'USD',
          openInvoices: [{ erpId: '7', number: 'INV/7', kind: 'invoice', invoiceDate: '2026-11-20', dueDate: null, totalAmount: '59.90', remainingAmount: '59.90', currency: 'USD' }],
        },
      ],
    },
  },
  orders: {
    source: 'syncline',
    status: 'ok',
    fetchedAt: '2026-11-22T10:20:00.000Z',
    ageSeconds: 0,
    data: { orders: [{ id: 'ord_01jd5q8x7m2v3k4n5p6r7s8tc9', channel: 'shopify-us', channelOrderId: '1001', status: 'shipped', currency: 'USD', grandTotal: '59.90', placedAt: '2026-11-20T09:00:00.000Z' }], returns: [] },
  },
  consent: { source: 'syncline', status: 'ok', fetchedAt: '2026-11-22T10:20:00.000Z', ageSeconds: 0, data: { consents: [{ purpose: 'email_marketing', channel: null, status: 'withdrawn', consentId: 'cns_01jd5q8x7m2v3k4n5p6r7s8tc7', at: '2026-11-22T10:14:00.000Z' }] } },
};

const getAccount = operation({
  operationId: 'getCustomerAccount',
  tags: ['Customers'],
  summary: 'The composite account view: profile, loyalty, ERP account, orders and returns, consent',
  description:
    'Each part says its source, status (ok, cached, unavailable), when it was fetched and its age. The view answers within its latency budget (SYNCLINE_ACCOUNT_BUDGET_MS): a slow or down system’s part is served from cache with its age, or marked unavailable. A merged id answers for the customer it was merged into.',
  auth: 'customers:read',
  params: { id: 'Customer id (cus_…).' },
  responses: { 200: { description: 'The account view.', schema: CustomerAccount, example: accountExample } },
  problems: { 'not-found': 'No such customer.' },
});

const listStewardship = operation({
  operationId: 'listStewardship',
  tags: ['Customers'],
  summary: 'Pending stewardship pairs with their evidence',
  auth: 'customers:steward',
  query: StewardshipQuery,
  responses: { 200: { description: 'Pending pairs, oldest first.', schema: StewardshipList, example: { data: [pairExample], nextAfter: null } } },
});

const mergePair = operation({
  operationId: 'mergeStewardshipPair',
  tags: ['Customers'],
  summary: 'Merge a pending pair (the older customer survives)',
  auth: 'customers:steward',
  params: { id: 'Stewardship pair id (stw_…).' },
  responses: { 200: { description: 'Merged; customer.merged is published.', schema: MergeOutcome, example: { mergeId: 'cmg_01jd5q8x7m2v3k4n5p6r7s8tc3', survivorId: customerId, pair: { ...pairExample, status: 'merged' } } } },
  problems: { 'not-found': 'No such pair.', 'stewardship-decided': 'The pair was merged, kept apart or superseded already (status says which).' },
});

const keepApart = operation({
  operationId: 'keepStewardshipPairApart',
  tags: ['Customers'],
  summary: 'Keep a pending pair apart (remembered: the pair never comes back)',
  auth: 'customers:steward',
  params: { id: 'Stewardship pair id (stw_…).' },
  responses: { 200: { description: 'Kept apart.', schema: StewardshipPair, example: { ...pairExample, status: 'kept_apart' } } },
  problems: { 'not-found': 'No such pair.', 'stewardship-decided': 'The pair was decided already.' },
});

const unmerge = operation({
  operationId: 'unmergeCustomers',
  tags: ['Customers'],
  summary: 'Undo a past merge: the records come apart with their own history',
  description: 'Any merge (automatic, deterministic or a steward’s), by its id from GET /v1/customers/{id} merges. The two sides are kept apart from then on; customer.unmerged is published.',
  auth: 'customers:steward',
  params: { id: 'Merge id (cmg_…).' },
  responses: { 200: { description: 'Unmerged.', schema: UnmergeOutcome, example: { mergeId: 'cmg_01jd5q8x7m2v3k4n5p6r7s8tc3', survivorId: customerId, restoredId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc4', recordIds: ['csr_01jd5q8x7m2v3k4n5p6r7s8tc5'] } } },
  problems: { 'not-found': 'No such merge.', 'merge-already-undone': 'The merge was undone already.', 'merge-not-undoable': 'Its records have moved since (a later unmerge); undo that first.' },
});

const auditOf = (request: FastifyRequest) => ({ actor: `client:${request.principal?.clientId ?? 'unknown'}`, correlationId: request.id });

function decided(result: StewardDecisionResult, id: string): never {
  if (result.kind === 'not-found') throw new ProblemError('not-found', `No stewardship pair ${id}.`);
  throw new ProblemError('stewardship-decided', `The pair ${id} is ${result.kind === 'decided' ? result.status : result.kind} already.`, { pairStatus: result.kind === 'decided' ? result.status : result.kind });
}

/**
 * Evidence recorded before ADR 42 names the compared values in parentheses ("same (ada / ada)"):
 * masked like the rest without customers:pii. Evidence recorded since names no values.
 */
const maskedEvidence = (request: FastifyRequest) => <T extends { evidence: unknown }>(pair: T): T =>
  seesPersonalData(request)
    ? pair
    : { ...pair, evidence: (pair.evidence as { detail: string }[]).map((e) => ({ ...e, detail: e.detail.replace(/\(([^)]*)\)/g, (_, inner: string) => `(${inner.split(' / ').map((v) => (v ? `${v[0]}***` : v)).join(' / ')})`) })) };

/** Customers: look-ups and the account view (customers:read) and the stewardship queue (customers:steward). */
export async function customersRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {
  const customers = new CustomerService(db, config.connections.customers);
  const settings = connectorSettingsFromConfig(config);
  const account = new CustomerAccountService(
    db,
    customers,
    accountSources({ db, config, loyalty: createLoyaltyClient(settings.loyalty), erps: createErpRouter(config, createErpClient(settings.erp)) }),
    { budgetMs: config.accountView.budgetMs, cache: new PartCache({ ttlMs: config.accountView.cacheTtlMs, maxAgeMs: config.accountView.cacheMaxAgeMs }) },
  );
  registerRecordRoutes(app, customers);

  app.get('/v1/customers', { schema: findCustomers }, async (request) => {
    const query = parseQuery(CustomerQuery, request.query);
    const found = await customers.findByContact(query);
    if (found === 'invalid') {
      const field = query.email !== undefined ? 'email' : 'phone';
      throw new ProblemError('invalid-query', `The ${field} is not a valid ${field === 'email' ? 'e-mail address' : 'phone number'}.`, { errors: [{ pointer: `/${field}`, detail: `is not a valid ${field === 'email' ? 'e-mail address' : 'phone number'}` }] });
    }
    return customerView(request, { data: found });
  });

  app.get('/v1/customers/stewardship', { schema: listStewardship }, async (request) => {
    const query = parseQuery(StewardshipQuery, request.query);
    const page = await customers.pending(query.after, query.limit);
    return customerView(request, { data: page.map(maskedEvidence(request)), nextAfter: page.length === query.limit ? page.at(-1)!.id : null });
  });

  app.post('/v1/customers/stewardship/:id/merge', { schema: mergePair }, async (request) => {
    const { id } = request.params as { id: string };
    const result = isId('stewardship', id) ? await customers.stewardMerge(id, auditOf(request)) : ({ kind: 'not-found' } as const);
    if (result.kind !== 'merged') decided(result, id);
    return { mergeId: result.mergeId, survivorId: result.survivorId, pair: maskedEvidence(request)(result.pair) };
  });

  app.post('/v1/customers/stewardship/:id/keep-apart', { schema: keepApart }, async (request) => {
    const { id } = request.params as { id: string };
    const result = isId('stewardship', id) ? await customers.keepApart(id, auditOf(request)) : ({ kind: 'not-found' } as const);
    if (result.kind !== 'kept-apart') decided(result, id);
    return maskedEvidence(request)(result.pair);
  });

  app.post('/v1/customers/stewardship/merges/:id/unmerge', { schema: unmerge }, async (request) => {
    const { id } = request.params as { id: string };
    const result = isId('customerMerge', id) ? await customers.unmerge(id, auditOf(request)) : ({ kind: 'not-found' } as const);
    switch (result.kind) {
      case 'not-found':
        throw new ProblemError('not-found', `No merge ${id}.`);
      case 'already-unmerged':
        throw new ProblemError('merge-already-undone', `The merge ${id} was undone already.`);
      case 'records-moved':
        throw new ProblemError('merge-not-undoable', `The records of merge ${id} have moved since.`);
      case 'unmerged':
        return { mergeId: id, survivorId: result.survivorId, restoredId: result.restoredId, recordIds: result.recordIds };
    }
  });

  app.get('/v1/customers/:id', { schema: getCustomer }, async (request) => {
    const { id } = request.params as { id: string };
    const customer = isId('customer', id) ? await customers.get(id) : undefined;
    if (!customer) throw new ProblemError('not-found', `No customer ${id}.`);
    return customerView(request, customer);
  });

  app.get('/v1/customers/:id/account', { schema: getAccount }, async (request) => {
    const { id } = request.params as { id: string };
    const view = isId('customer', id) ? await account.view(id) : undefined;
    if (!view) throw new ProblemError('not-found', `No customer ${id}.`);
    // The profile is masked like GET /v1/customers/{id} without customers:pii; so are the orders' buyers.
    return customerView(request, view);
  });
}
