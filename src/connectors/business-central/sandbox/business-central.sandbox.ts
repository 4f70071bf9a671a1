import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import type { FaultRenderer } from '../../kit/faults.ts';
import { BC_SCOPE } from '../business-central-wire.ts';
import { BcApiError, BcCompany, etagOf, type ItemSeed, type Stored, type StoredDocument, type StoredOrder } from './business-central-company.ts';
import { parseODataFilter } from './odata-filter.ts';

/**
 * An emulator of Dynamics 365 Business Central's API v2.0 for the calls Syncline makes, and of
 * the Microsoft identity platform's token endpoint that guards it. It plays both hosts on one
 * port: `POST /{tenant}/oauth2/v2.0/token` and `/v2.0/{tenant}/{environment}/api/v2.0/...`.
 * Shapes follow the API v2.0 reference (../fixtures, ../SOURCES.md); what is simplified is in
 * ../README.md.
 */

export interface BusinessCentralSandboxOptions extends SandboxListenOptions {
  /** Tenant id in the URLs (default: a fixed GUID, BC_SANDBOX.tenantId). */
  tenantId?: string;
  /** Environment name (default: "production"). */
  environment?: string;
  /** The one company's id (default: BC_SANDBOX.companyId). */
  companyId?: string;
  /** The app registration the token endpoint accepts (default: BC_SANDBOX's). */
  clientId?: string;
  clientSecret?: string;
  items?: ItemSeed[];
  /** Seconds a token lives (default: 3599, as the identity platform's). */
  tokenLifetimeSeconds?: number;
  /** Requests per user in the sliding window (default: 6000 per 300 s, BC online's). */
  requestsPerWindow?: number;
  windowSeconds?: number;
  /** Entities per page when the client does not ask for fewer (default: 20000, BC's page limit). */
  pageSize?: number;
}

export interface RunningBusinessCentralSandbox extends RunningSandbox {
  company: BcCompany;
  tenantId: string;
  environment: string;
  companyId: string;
  clientId: string;
  clientSecret: string;
  /** The token URL and API base URL a client is configured with. */
  tokenUrl: string;
  /** Tokens issued so far. */
  tokensIssued(): number;
}

/** The sandbox's fixed identities, so a rehearsal can be configured before it starts. */
export const BC_SANDBOX = {
  tenantId: '7b2d1a4e-5c3f-4e8a-9d61-0f2b8c4a1e57',
  environment: 'production',
  companyId: 'c1f0e3a2-8b4d-4f6e-a1c2-3d5e7f9a0b1c',
  clientId: '3f8a9c2e-1d4b-4c6a-8e0f-2a7b5c9d1e36',
  clientSecret: 'sandbox-client-secret',
} as const;

const renderFault: FaultRenderer = (kind, _status, message) => ({
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify({ error: { code: kind === 'throttled' || kind === 'quota' ? 'Application_TooManyRequests' : 'ServiceUnavailable', message } }),
});

const Limits = z.strictObject({ requestsPerWindow: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(3600) }).partial();
/** `edit`: another user edits the record; `shipment`: on a sales order, another user ships and invoices one unit of its first open line. */
const Conflicts = z.strictObject({ count: z.number().int().min(0).max(1000), change: z.enum(['edit', 'shipment']).default('edit') });

type Segment = { name: string; key?: string };

/** `companies(x)/salesOrders(y)/Microsoft.NAV.shipAndInvoice` as segments with their keys. */
function segmentsOf(path: string): Segment[] {
  return path
    .split('/')
    .filter(Boolean)
    .map((part) => {
      const match = /^([A-Za-z.]+)(?:\(([^)]*)\))?$/.exec(decodeURIComponent(part));
      if (!match) throw new BcApiError(400, 'BadRequest_InvalidRequestUrl', `The request URI is not valid: '${part}'.`);
      return { name: match[1]!, ...(match[2] !== undefined ? { key: match[2].replace(/^'|'$/g, '') } : {}) };
    });
}

export async function startBusinessCentralSandbox(options: BusinessCentralSandboxOptions = {}): Promise<RunningBusinessCentralSandbox> {
  const tenantId = options.tenantId ?? BC_SANDBOX.tenantId;
  const environment = options.environment ?? BC_SANDBOX.environment;
  const companyId = options.companyId ?? BC_SANDBOX.companyId;
  const clientId = options.clientId ?? BC_SANDBOX.clientId;
  const clientSecret = options.clientSecret ?? BC_SANDBOX.clientSecret;
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  let limits = { requestsPerWindow: options.requestsPerWindow ?? 6000, windowSeconds: options.windowSeconds ?? 300 };
  let pendingConflicts = 0;
  let conflictChange: 'edit' | 'shipment' = 'edit';
  let issued = 0;
  const company = new BcCompany(companyId, 'Syncline Sandbox Company', options.items ?? []);
  const tokens = new Map<string, { clientId: string; expiresAt: number }>();
  const windows = new Map<string, number[]>();
  const { app, faults } = createSandboxApp('business-central', { render: renderFault, log: options.log });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));

  const odataError = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).header('content-type', 'application/json; charset=utf-8').send({ error: { code, message } });

  // ---- the identity platform's token endpoint ---------------------------------------------------

  app.post('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const { tenant } = request.params as { tenant: string };
    const form = (request.body ?? {}) as Record<string, string>;
    const oauthError = (status: number, error: string, description: string) =>
      reply.code(status).send({ error, error_description: description, error_codes: [], timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z', trace_id: randomUUID(), correlation_id: randomUUID() });
    if (tenant !== tenantId) return oauthError(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.grant_type !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    if (form.client_id !== clientId) return oauthError(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${form.client_id ?? ''}' was not found in the directory.`);
    if (form.client_secret !== clientSecret) return oauthError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    if (form.scope !== BC_SCOPE) return oauthError(400, 'invalid_scope', `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid.`);
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, { clientId: form.client_id, expiresAt: Date.now() + lifetime * 1000 });
    issued += 1;
    return reply.send({ token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  });

  // ---- admin ------------------------------------------------------------------------------------

  app.put('/_sandbox/limits', async (request) => {
    limits = { ...limits, ...Limits.parse(request.body ?? {}) };
    windows.clear();
    return limits;
  });
  /** The next `count` conditional writes meet an entity another user has just changed: 412. */
  app.put('/_sandbox/conflicts', async (request) => {
    const parsed = Conflicts.parse(request.body ?? {});
    pendingConflicts = parsed.count;
    conflictChange = parsed.change;
    return { count: pendingConflicts, change: conflictChange };
  });
  app.post('/_sandbox/items', async (request, reply) => reply.code(201).send(company.addItem(request.body as ItemSeed)));
  /** Ends every token now (as when a secret is rotated): the next API call gets 401. */
  app.delete('/_sandbox/tokens', async (_request, reply) => {
    tokens.clear();
    return reply.code(204).send();
  });

  // ---- the API ----------------------------------------------------------------------------------

  /** The user a bearer token stands for; undefined when missing, unknown or expired. */
  const userOf = (request: FastifyRequest): string | undefined => {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? tokens.get(header.slice(7)) : undefined;
    if (!token || token.expiresAt <= Date.now()) return undefined;
    return token.clientId;
  };

  /** Counts a request in the user's sliding window; the seconds to wait when it is full. */
  const throttle = (user: string): number | undefined => {
    const now = Date.now();
    const windowMs = limits.windowSeconds * 1000;
    const times = (windows.get(user) ?? []).filter((t) => t > now - windowMs);
    windows.set(user, times);
    if (times.length >= limits.requestsPerWindow) return Math.max(1, Math.ceil((times[0]! + windowMs - now) / 1000));
    times.push(now);
    return undefined;
  };

  const withEtag = (entity: Stored, extra: Record<string, unknown> = {}) => ({ '@odata.etag': etagOf(entity), ...entity.fields, ...extra });
  const orderView = (order: StoredOrder, expand: boolean) => withEtag(order, expand ? { salesOrderLines: order.lines.map((l) => withEtag(l)) } : {});
  const documentView = (doc: StoredDocument, expand: string | undefined) => withEtag(doc, expand ? { [expand]: doc.lines } : {});

  const collection = (request: FastifyRequest, url: URL, context: string, entities: Record<string, unknown>[]) => {
    const filter = url.searchParams.get('$filter');
    let rows = entities;
    if (filter) {
      try {
        const predicate = parseODataFilter(filter);
        rows = rows.filter((row) => predicate(row));
      } catch (error) {
        throw new BcApiError(400, 'BadRequest', `Invalid filter expression: ${(error as Error).message}`);
      }
    }
    // $orderby on one property (`invoiceDate desc`), as the integration asks it.
    const orderby = /^(\w+)(?:\s+(asc|desc))?$/i.exec(url.searchParams.get('$orderby') ?? '');
    if (orderby) {
      const [, field, direction] = orderby;
      const sign = direction?.toLowerCase() === 'desc' ? -1 : 1;
      rows = [...rows].sort((a, b) => (a[field!] === b[field!] ? 0 : String(a[field!]) < String(b[field!]) ? -sign : sign));
    } else if (url.searchParams.has('$orderby')) {
      throw new BcApiError(400, 'BadRequest', 'The sandbox supports $orderby on one property only.');
    }
    const top = url.searchParams.get('$top');
    if (top !== null) rows = rows.slice(0, Number(top));
    const preferred = /odata\.maxpagesize=(\d+)/.exec(String(request.headers.prefer ?? ''));
    const pageSize = Math.min(options.pageSize ?? 20_000, preferred ? Number(preferred[1]) : Infinity);
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const page = rows.slice(skip, skip + pageSize);
    const body: Record<string, unknown> = { '@odata.context': `${url.origin}${url.pathname.replace(/\/api\/v2\.0\/.*/, '/api/v2.0/$metadata')}#${context}`, value: page };
    if (skip + pageSize < rows.length) {
      const next = new URL(url);
      next.searchParams.set('$skiptoken', String(skip + pageSize));
      body['@odata.nextLink'] = next.toString();
    }
    return body;
  };

  /** Checks If-Match on a conditional write; a pending conflict first lets "another user" change the entity. */
  const checkIfMatch = (request: FastifyRequest, entity: Stored) => {
    const ifMatch = request.headers['if-match'];
    if (!ifMatch) throw new BcApiError(428, 'Request_PreconditionRequired', 'Could not validate the client concurrency token required by the service. Please provide a valid token in the client request.');
    if (pendingConflicts > 0) {
      pendingConflicts -= 1;
      if (conflictChange === 'shipment' && 'lines' in entity) company.shipOneUnit(entity as StoredOrder);
      else company.touch(entity);
    }
    if (ifMatch !== '*' && ifMatch !== etagOf(entity)) throw new BcApiError(412, 'Request_EntityChanged', 'Another user has already changed the record.');
  };

  const notFound = (what: string, key: string | undefined) => new BcApiError(404, 'BadRequest_NotFound', `The ${what} with id '${key ?? ''}' does not exist.`);

  app.all('/v2.0/*', async (request, reply) => {
    const url = new URL(request.url, `http://${request.headers.host ?? '127.0.0.1'}`);
    const user = userOf(request);
    if (!user) {
      reply.header('www-authenticate', `Bearer authorization_uri="https://login.microsoftonline.com/${tenantId}/oauth2/authorize", error="invalid_token"`);
      return odataError(reply, 401, 'Authentication_InvalidCredentials', 'The server has rejected the client credentials.');
    }
    const wait = throttle(user);
    if (wait !== undefined) {
      reply.header('retry-after', String(wait));
      return odataError(reply, 429, 'Application_TooManyRequests', `Too many requests: more than ${limits.requestsPerWindow} in ${limits.windowSeconds} seconds for this user.`);
    }
    try {
      const prefix = `/v2.0/${tenantId}/${environment}/api/v2.0/`;
      if (!url.pathname.startsWith(prefix)) {
        const [, , tenant, env] = url.pathname.split('/');
        if (tenant !== tenantId) return odataError(reply, 401, 'Authentication_InvalidCredentials', 'The token was not issued for this tenant.');
        return odataError(reply, 404, 'NoEnvironment', `The environment '${env ?? ''}' does not exist.`);
      }
      const segments = segmentsOf(url.pathname.slice(prefix.length));
      const body = (request.body ?? {}) as Record<string, unknown>;
      const method = request.method;
      const [first, second, third, fourth] = segments;
      if (first?.name !== 'companies') throw new BcApiError(404, 'BadRequest_NotFound', `Resource not found for the segment '${first?.name ?? ''}'.`);
      if (first.key === undefined) {
        if (method !== 'GET') throw new BcApiError(405, 'BadRequest_MethodNotAllowed', 'The method is not allowed on companies.');
        return collection(request, url, 'companies', [company.companyView()]);
      }
      if (first.key.toLowerCase() !== company.id) throw notFound('company', first.key);
      if (!second) return company.companyView();
      const expand = url.searchParams.get('$expand') ?? undefined;
      const ctx = (name: string) => `companies(${company.id})/${name}`;

      switch (second.name) {
        case 'items': {
          if (second.key === undefined) {
            if (method === 'GET') return collection(request, url, ctx('items'), [...company.items.values()].map((i) => withEtag(i)));
            throw new BcApiError(405, 'BadRequest_MethodNotAllowed', 'The sandbox does not create items through the API; use POST /_sandbox/items.');
          }
          const item = company.items.get(second.key);
          if (!item) throw notFound('item', second.key);
          return withEtag(item);
        }
        case 'customers': {
          if (second.key === undefined) {
            if (method === 'POST') return reply.code(201).send(withEtag(company.createCustomer(body)));
            return collection(request, url, ctx('customers'), [...company.customers.values()].map((c) => withEtag(c, { balanceDue: company.balanceDue(c.id) })));
          }
          const customer = company.customers.get(second.key);
          if (!customer) throw notFound('customer', second.key);
          if (method === 'PATCH') {
            checkIfMatch(request, customer);
            company.updateCustomer(customer, body);
          }
          return withEtag(customer, { balanceDue: company.balanceDue(customer.id) });
        }
        case 'salesOrders': {
          const expandLines = expand === 'salesOrderLines';
          if (second.key === undefined) {
            if (method === 'POST') return reply.code(201).send(orderView(company.createSalesOrder(body), expandLines));
            return collection(request, url, ctx('salesOrders'), [...company.salesOrders.values()].map((o) => orderView(o, expandLines)));
          }
          const order = company.salesOrders.get(second.key);
          if (!order) throw notFound('salesOrder', second.key);
          if (!third) {
            if (method === 'DELETE') {
              checkIfMatch(request, order);
              company.deleteSalesOrder(order);
              return reply.code(204).send();
            }
            if (method === 'GET') return orderView(order, expandLines);
            throw new BcApiError(405, 'BadRequest_MethodNotAllowed', `${method} is not supported on a salesOrder by the sandbox.`);
          }
          if (third.name === 'Microsoft.NAV.shipAndInvoice' && method === 'POST') {
            company.shipAndInvoice(order);
            return reply.code(204).send();
          }
          if (third.name !== 'salesOrderLines') throw new BcApiError(404, 'BadRequest_NotFound', `Resource not found for the segment '${third.name}'.`);
          if (third.key === undefined) {
            if (method === 'POST') return reply.code(201).send(withEtag(company.addSalesOrderLine(order, body)));
            return collection(request, url, ctx(`salesOrders(${order.id})/salesOrderLines`), order.lines.map((l) => withEtag(l)));
          }
          const line = order.lines.find((l) => l.id === third.key);
          if (!line) throw notFound('salesOrderLine', third.key);
          if (method === 'PATCH') {
            checkIfMatch(request, line);
            company.updateSalesOrderLine(order, line, body);
          }
          return withEtag(line);
        }
        case 'salesShipments':
        case 'salesInvoices':
        case 'salesCreditMemos': {
          const store = company[second.name];
          const linesName = { salesShipments: 'salesShipmentLines', salesInvoices: 'salesInvoiceLines', salesCreditMemos: 'salesCreditMemoLines' }[second.name];
          const expandName = expand === linesName ? linesName : undefined;
          if (second.key === undefined) {
            if (method === 'POST' && second.name === 'salesCreditMemos') return reply.code(201).send(documentView(company.createCreditMemo(body), expandName));
            if (method !== 'GET') throw new BcApiError(405, 'BadRequest_MethodNotAllowed', `${method} is not supported on ${second.name} by the sandbox.`);
            return collection(request, url, ctx(second.name), [...store.values()].map((d) => documentView(d, expandName)));
          }
          const doc = store.get(second.key);
          if (!doc) throw notFound(second.name.slice(0, -1), second.key);
          if (!third) return documentView(doc, expandName);
          if (second.name === 'salesCreditMemos' && third.name === 'Microsoft.NAV.post' && method === 'POST') {
            company.postCreditMemo(doc);
            return reply.code(204).send();
          }
          if (third.name === linesName) {
            if (third.key === undefined) return collection(request, url, ctx(`${second.name}(${doc.id})/${linesName}`), doc.lines);
            const line = doc.lines.find((l) => l.id === third.key);
            if (!line) throw notFound(linesName.slice(0, -1), third.key);
            return line;
          }
          throw new BcApiError(404, 'BadRequest_NotFound', `Resource not found for the segment '${third.name}'.`);
        }
        default:
          void fourth;
          throw new BcApiError(404, 'BadRequest_NotFound', `Resource not found for the segment '${second.name}'.`);
      }
    } catch (error) {
      if (error instanceof BcApiError) return odataError(reply, error.status, error.code, error.message);
      throw error;
    }
  });

  const running = await listenSandbox('business-central', app, faults, options);
  return {
    ...running,
    company,
    tenantId,
    environment,
    companyId,
    clientId,
    clientSecret,
    tokenUrl: `${running.url}/${tenantId}/oauth2/v2.0/token`,
    tokensIssued: () => issued,
  };
}
