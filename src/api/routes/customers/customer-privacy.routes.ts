import type { FastifyInstance, FastifyRequest } from 'fastify';
import { allows } from '../../../domain/clients/scopes.ts';
import { ConsentService } from '../../../domain/customers/consent.service.ts';
import { DataRequestService } from '../../../domain/customers/data-request.service.ts';
import { ConsentInput, ConsentRecord, CustomerConsents, DataRequest, DataRequestInput } from '../../../model/consent.ts';
import { isId } from '../../../model/ids.ts';
import { z } from 'zod';
import type { ApiContext } from '../../api-context.ts';
import { EVENT_DATA_EXAMPLES } from '../../event-examples.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { forBrowser } from '../console/console-masking.ts';

/** The client's view of customer data: unmasked with customers:pii (or admin), masked otherwise (ADR 0039). */
export function customerView<T>(request: FastifyRequest, value: T): T {
  return seesPersonalData(request) ? value : forBrowser(value, true);
}

/** True when the client holds customers:pii (or admin). */
export function seesPersonalData(request: FastifyRequest): boolean {
  return allows(request.principal?.scopes ?? [], 'customers:pii');
}

const consentExample = (({ consentId, ...rest }) => ({ id: consentId, ...rest, recordedAt: '2026-11-22T10:15:01.000Z' }))(EVENT_DATA_EXAMPLES['customer.consent_changed'] as { consentId: string; customerId: string; at: string });
const customerId = consentExample.customerId;
const consentsExample = {
  customerId,
  current: [{ purpose: 'email_marketing', channel: null, status: 'withdrawn', consentId: consentExample.id, at: consentExample.at }],
  history: [consentExample],
};
const ConsentOutcome = z.object({ consent: ConsentRecord, consents: CustomerConsents }).meta({ id: 'ConsentOutcome' });

const recordConsent = operation({
  operationId: 'recordCustomerConsent',
  tags: ['Customers'],
  summary: 'Record a consent statement (grant or withdrawal) for a purpose and channel',
  description:
    'The current state per purpose and channel is the statement given last; a withdrawal wins a tie, and a withdrawal for every channel (channel null) overrides older grants on each channel (docs/customers.md). customer.consent_changed is published. The same statement from the same source again answers 200 with the first one and publishes nothing.',
  auth: 'customers:write',
  params: { id: 'Customer id (cus_…); a merged customer records on its survivor.' },
  body: { schema: ConsentInput, example: { purpose: 'email_marketing', channel: null, status: 'withdrawn', source: { system: 'crm', connection: 'crm' }, at: '2026-11-22T10:14:00Z', proof: 'unsubscribe-link:msg-8812' } },
  responses: {
    201: { description: 'Recorded; the statement and the customer’s consents after it.', schema: ConsentOutcome, example: { consent: consentExample, consents: consentsExample } },
    200: { description: 'The same statement was recorded already.', schema: ConsentOutcome, example: { consent: consentExample, consents: consentsExample } },
  },
  problems: { 'not-found': 'No such customer.' },
});

const listConsents = operation({
  operationId: 'listCustomerConsents',
  tags: ['Customers'],
  summary: 'A customer’s consents: the current state per purpose and channel, and every statement',
  auth: 'customers:read',
  params: { id: 'Customer id (cus_…); a merged customer answers with its survivor’s consents.' },
  responses: { 200: { description: 'Current state and history.', schema: CustomerConsents, example: consentsExample } },
  problems: { 'not-found': 'No such customer.' },
});

const requestExample = {
  id: 'dsr_01jd5q8x7m2v3k4n5p6r7s8tc8',
  customerId,
  type: 'erase',
  status: 'completed',
  requestedAt: '2026-11-22T10:15:01.000Z',
  completedAt: '2026-11-22T10:15:01.000Z',
  document: null,
  systems: [
    { recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2', system: 'loyalty', connection: 'loyalty', sourceId: 'LM-100', status: 'done', attempts: 1, lastError: null, updatedAt: '2026-11-22T10:15:04.000Z' },
    { recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc5', system: 'erp', connection: 'erp', sourceId: '7', status: 'pending', attempts: 2, lastError: { code: 'erp.unavailable', message: 'the ERP answered 503' }, updatedAt: '2026-11-22T10:15:09.000Z' },
  ],
};

const createDataRequest = operation({
  operationId: 'createCustomerDataRequest',
  tags: ['Customers'],
  summary: 'A data subject request: export everything held about a customer, or erase their personal data',
  description:
    'export: one JSON document (golden record, source records with their history, contact points, identifiers, merges and stewardship, consents, the orders and returns resolved to the customer, audit entries). ' +
    'erase: in one transaction, the personal data is removed or pseudonymised everywhere in Syncline (orders keep amounts, taxes, lines, dates and ids) and customer.erasure_requested asks each system holding a record to erase it. ' +
    'A merged customer stands for its survivor: erasing it erases the whole identity. Erasing an erased customer answers 200 with the first request.',
  auth: 'customers:privacy',
  params: { id: 'Customer id (cus_…).' },
  body: { schema: DataRequestInput, example: { type: 'erase' } },
  responses: {
    201: { description: 'Done; the request resource.', schema: DataRequest, example: requestExample },
    200: { description: 'The customer was erased already: the first erase request.', schema: DataRequest, example: requestExample },
  },
  problems: { 'not-found': 'No such customer.' },
});

const getDataRequest = operation({
  operationId: 'getCustomerDataRequest',
  tags: ['Customers'],
  summary: 'A data subject request, with the export document or the systems an erasure was requested from',
  auth: 'customers:privacy',
  params: { requestId: 'Data request id (dsr_…).' },
  responses: { 200: { description: 'The request.', schema: DataRequest, example: requestExample } },
  problems: { 'not-found': 'No such request.' },
});

const auditOf = (request: FastifyRequest) => ({ actor: `client:${request.principal?.clientId ?? 'unknown'}`, correlationId: request.id });
const notFound = (id: string): never => {
  throw new ProblemError('not-found', `No customer ${id}.`);
};

/** Consent (customers:write, customers:read) and data subject requests (customers:privacy). */
export async function customerPrivacyRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const consents = new ConsentService(db);
  const requests = new DataRequestService(db);

  app.post('/v1/customers/:id/consents', { schema: recordConsent }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = parseBody(ConsentInput, request.body);
    const result = isId('customer', id) ? await consents.record(id, body, auditOf(request)) : ({ kind: 'not-found' } as const);
    if (result.kind === 'not-found') return notFound(id);
    return reply.code(result.kind === 'recorded' ? 201 : 200).send(customerView(request, { consent: result.consent, consents: result.consents }));
  });

  app.get('/v1/customers/:id/consents', { schema: listConsents }, async (request) => {
    const { id } = request.params as { id: string };
    const found = isId('customer', id) ? await consents.list(id) : undefined;
    if (!found) return notFound(id);
    return customerView(request, found);
  });

  app.post('/v1/customers/:id/data-requests', { schema: createDataRequest }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = parseBody(DataRequestInput, request.body);
    const result = isId('customer', id) ? await requests.request(id, body.type, auditOf(request)) : ({ kind: 'not-found' } as const);
    if (result.kind === 'not-found') return notFound(id);
    return reply
      .code(result.kind === 'created' ? 201 : 200)
      .header('Location', `/v1/customer-data-requests/${result.request.id}`)
      .header('Cache-Control', 'no-store')
      .send(result.request);
  });

  app.get('/v1/customer-data-requests/:requestId', { schema: getDataRequest }, async (request, reply) => {
    const { requestId } = request.params as { requestId: string };
    const found = isId('dataRequest', requestId) ? await requests.get(requestId) : undefined;
    if (!found) throw new ProblemError('not-found', `No data request ${requestId}.`);
    return reply.header('Cache-Control', 'no-store').send(found);
  });
}
