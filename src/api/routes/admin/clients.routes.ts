import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  changeClient,
  listClientViews,
  registerClient,
  rotateClientSecret,
  setClientEnabled,
  showClient,
} from '../../../domain/clients/client.service.ts';
import { SCOPES } from '../../../domain/clients/scopes.ts';
import { CreateBody, graceOf, RotateBody, UpdateBody } from './client-input.ts';
import { clientActor, type AuditContext } from '../../../domain/audit/audit.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { operation } from '../../route-kit.ts';
import { EmptyBody, NoQuery, parseBody, parseQuery } from '../../validation.ts';

const ClientId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

// What the domain's ClientView holds: never the secret or its hash.
const clientFields = {
  clientId: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  status: z.enum(['enabled', 'disabled']).meta({ description: "A disabled client's tokens are refused and it gets no new ones." }),
  rateLimit: z.number().int().nullable().meta({ description: 'Requests per rate window; null: the deployment default.' }),
  previousSecretValidUntil: z.string().nullable().meta({ description: 'Until when the secret before the last rotation is still accepted; null: it is not.' }),
  createdAt: z.string(),
  updatedAt: z.string(),
};
const ClientView = z.object(clientFields).meta({ id: 'ApiClient', description: 'An API client, without its secret.' });
const ClientWithSecret = z
  .object({ ...clientFields, clientSecret: z.string().meta({ description: 'Shown this once and stored only as a hash: keep it now.' }) })
  .meta({ id: 'ApiClientWithSecret', description: 'An API client with its new secret.' });

const clientExample = {
  clientId: 'cli_01jd5q8x7m2v3k4n5p6r7s8t9w',
  name: 'Storefront',
  scopes: ['orders:write', 'orders:read'],
  status: 'enabled',
  rateLimit: 600,
  previousSecretValidUntil: null,
  createdAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:00:00.000Z',
};
const secretExample = 'Zk3v9QeX1bT7mN2pR8sW4yC6hJ0aL5dF';
const clientIdParam = { id: 'Client id (cli_…).' };
const notFound = { 'not-found': 'No client with this id.' } as const;
const noStore = { 'Cache-Control': { description: 'no-store: the secret is never cached.' } };

const listClients = operation({
  operationId: 'listClients',
  tags: ['Admin'],
  summary: 'List API clients',
  description: 'Every client, oldest first, without secrets.',
  auth: 'admin',
  query: NoQuery,
  responses: {
    200: {
      description: 'Every client.',
      schema: z.object({ items: z.array(ClientView) }).meta({ id: 'ApiClientList' }),
      example: { items: [clientExample] },
    },
  },
});

const getClient = operation({
  operationId: 'getClient',
  tags: ['Admin'],
  summary: 'Show an API client (never its secret)',
  auth: 'admin',
  params: clientIdParam,
  responses: { 200: { description: 'The client.', schema: ClientView, example: clientExample } },
  problems: notFound,
});

const createClientOperation = operation({
  operationId: 'createClient',
  tags: ['Admin'],
  summary: 'Create an API client; its secret is returned once',
  description: 'The secret is in this answer and nowhere else (it is stored as a hash). Audited as client.created.',
  auth: 'admin',
  body: { schema: CreateBody, example: { name: 'Storefront', scopes: ['orders:write', 'orders:read'], rateLimit: 600 } },
  responses: {
    201: {
      description: 'Created.',
      schema: ClientWithSecret,
      example: { ...clientExample, clientSecret: secretExample },
      headers: { Location: { description: 'The client: /v1/admin/clients/{id}.' }, ...noStore },
    },
  },
});

const updateClient = operation({
  operationId: 'updateClient',
  tags: ['Admin'],
  summary: 'Change the name, scopes or rate limit of an API client',
  description: 'Tokens issued before the change keep the scopes they carry until they expire; the rate limit applies at once. Audited as client.updated.',
  auth: 'admin',
  params: clientIdParam,
  body: { schema: UpdateBody, example: { scopes: ['orders:read'], rateLimit: null } },
  responses: { 200: { description: 'The changed client.', schema: ClientView, example: { ...clientExample, scopes: ['orders:read'], rateLimit: null, updatedAt: '2026-11-22T12:00:00.000Z' } } },
  problems: notFound,
});

const setEnabledOperation = (enabled: boolean) =>
  operation({
    operationId: enabled ? 'enableClient' : 'disableClient',
    tags: ['Admin'],
    summary: enabled ? 'Enable a disabled API client' : 'Disable an API client; its live tokens are refused at once',
    description: enabled
      ? 'The client may get tokens again; tokens issued before it was disabled are accepted again until they expire. Audited as client.enabled.'
      : 'Every API process refuses its tokens once notified (this one before answering) and the token endpoint refuses it. Audited as client.disabled.',
    auth: 'admin',
    params: clientIdParam,
    body: { schema: EmptyBody, example: {}, required: false },
    responses: {
      200: {
        description: 'The client.',
        schema: ClientView,
        example: { ...clientExample, status: enabled ? 'enabled' : 'disabled', updatedAt: '2026-11-22T12:00:00.000Z' },
      },
    },
    problems: notFound,
  });

const rotateSecret = operation({
  operationId: 'rotateClientSecret',
  tags: ['Admin'],
  summary: 'Give an API client a new secret; the old one works for the grace period',
  description: 'The new secret is returned once. The previous secret is accepted until previousSecretValidUntil. Audited as client.secret_rotated.',
  auth: 'admin',
  params: clientIdParam,
  body: { schema: RotateBody, example: { grace: '24h' }, required: false },
  responses: {
    200: {
      description: 'The client and its new secret.',
      schema: ClientWithSecret,
      example: { ...clientExample, previousSecretValidUntil: '2026-11-23T12:00:00.000Z', updatedAt: '2026-11-22T12:00:00.000Z', clientSecret: secretExample },
      headers: noStore,
    },
  },
  problems: notFound,
});

/** The audit context of an admin request: the calling client and the correlation id. */
export function requestAuditContext(request: FastifyRequest): AuditContext {
  return { actor: clientActor(request.principal!.clientId), correlationId: request.id };
}

/** The client id of a /…/clients/:id route; a malformed id is answered like an unknown one (404). */
export function clientIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!ClientId.safeParse(id).success) throw new ProblemError('not-found', `No client with id ${id}.`);
  return id;
}

/** Client lifecycle for administrators: list, show, create, change, disable, enable, rotate the secret. */
export async function adminClientsRoutes(app: FastifyInstance, { db, tokens, access }: ApiContext): Promise<void> {

  app.get('/v1/admin/clients', { schema: listClients }, async (request) => {
    parseQuery(NoQuery, request.query);
    return { items: await listClientViews(db) };
  });

  app.get('/v1/admin/clients/:id', { schema: getClient }, async (request) => {
    const id = clientIdOf(request);
    const client = await showClient(db, id);
    if (!client) throw new ProblemError('not-found', `No client with id ${id}.`);
    return client;
  });

  app.post('/v1/admin/clients', { schema: createClientOperation }, async (request, reply) => {
    const body = parseBody(CreateBody, request.body);
    const { credentials, client } = await registerClient(db, body, requestAuditContext(request));
    await access.refresh();
    return reply.code(201).header('Location', `/v1/admin/clients/${client.clientId}`).header('Cache-Control', 'no-store').send({ ...client, clientSecret: credentials.clientSecret });
  });

  app.patch('/v1/admin/clients/:id', { schema: updateClient }, async (request) => {
    const id = clientIdOf(request);
    const body = parseBody(UpdateBody, request.body);
    const result = await changeClient(db, id, body, requestAuditContext(request));
    if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
    await access.refresh();
    return result;
  });

  for (const [action, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(`/v1/admin/clients/:id/${action}`, { schema: setEnabledOperation(enabled) }, async (request) => {
      const id = clientIdOf(request);
      parseBody(EmptyBody, request.body ?? undefined);
      const result = await setClientEnabled(db, id, enabled, requestAuditContext(request));
      if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
      // This process refuses the client's tokens before answering; the others hear the NOTIFY.
      await access.refresh();
      return result;
    });
  }

  app.post('/v1/admin/clients/:id/rotate-secret', { schema: rotateSecret }, async (request, reply) => {
    const id = clientIdOf(request);
    const body = parseBody(RotateBody, request.body ?? undefined);
    const result = await rotateClientSecret(db, id, graceOf(body), requestAuditContext(request));
    if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
    return reply.header('Cache-Control', 'no-store').send({ ...result.client, clientSecret: result.clientSecret });
  });
}
