import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  changeClient,
  DEFAULT_SECRET_GRACE_MS,
  listClientViews,
  MAX_SECRET_GRACE_MS,
  parseDuration,
  registerClient,
  rotateClientSecret,
  setClientEnabled,
  showClient,
} from '../../../domain/clients/client.service.ts';
import { isScope, SCOPES, type Scope } from '../../../domain/clients/scopes.ts';
import { clientActor, type AuditContext } from '../../../domain/audit/audit.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { routeDoc } from './route-doc.ts';

const ScopeList = z
  .array(z.string().refine(isScope, `must be one of ${SCOPES.join(', ')}`))
  .min(1)
  .max(SCOPES.length)
  .transform((scopes) => [...new Set(scopes)] as Scope[]);
const Name = z.string().trim().min(1).max(200);
const RateLimit = z.number().int().min(1).max(100_000_000).nullable();

const CreateBody = z.strictObject({ name: Name, scopes: ScopeList, rateLimit: RateLimit.optional() });
const UpdateBody = z
  .strictObject({ name: Name.optional(), scopes: ScopeList.optional(), rateLimit: RateLimit.optional() })
  .refine((b) => b.name !== undefined || b.scopes !== undefined || b.rateLimit !== undefined, { message: 'name at least one of name, scopes, rateLimit' });
const RotateBody = z
  .strictObject({
    grace: z
      .string()
      .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 30s, 15m, 24h or 7d')
      .refine((v) => (parseDuration(v) ?? 0) <= MAX_SECRET_GRACE_MS, 'must be at most 30d')
      .optional(),
  })
  .optional();
const EmptyBody = z.strictObject({}).optional();
const ClientId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

/** The audit context of an admin request: the calling client and the correlation id. */
export function requestAuditContext(request: FastifyRequest): AuditContext {
  return { actor: clientActor(request.principal!.clientId), correlationId: request.id };
}

function clientIdParam(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!ClientId.safeParse(id).success) throw new ProblemError('not-found', `No client with id ${id}.`);
  return id;
}

const doc = (operationId: string, summary: string) => routeDoc({ operationId, tags: ['admin'], summary, security: [{ oauth2: ['admin'] }] });

/** Client lifecycle for administrators: list, show, create, change, disable, enable, rotate the secret. */
export async function adminClientsRoutes(app: FastifyInstance, { db, tokens, access }: ApiContext): Promise<void> {
  const isAdmin = authorize(tokens, 'admin');

  app.get('/v1/admin/clients', { preHandler: isAdmin, ...doc('listClients', 'List API clients') }, async (request) => {
    parseQuery(z.strictObject({}), request.query);
    return { items: await listClientViews(db) };
  });

  app.get('/v1/admin/clients/:id', { preHandler: isAdmin, ...doc('getClient', 'Show an API client (never its secret)') }, async (request) => {
    const id = clientIdParam(request);
    const client = await showClient(db, id);
    if (!client) throw new ProblemError('not-found', `No client with id ${id}.`);
    return client;
  });

  app.post('/v1/admin/clients', { preHandler: isAdmin, ...doc('createClient', 'Create an API client; its secret is returned once') }, async (request, reply) => {
    const body = parseBody(CreateBody, request.body);
    const { credentials, client } = await registerClient(db, body, requestAuditContext(request));
    await access.refresh();
    return reply.code(201).header('Location', `/v1/admin/clients/${client.clientId}`).header('Cache-Control', 'no-store').send({ ...client, clientSecret: credentials.clientSecret });
  });

  app.patch('/v1/admin/clients/:id', { preHandler: isAdmin, ...doc('updateClient', 'Change the name, scopes or rate limit of an API client') }, async (request) => {
    const id = clientIdParam(request);
    const body = parseBody(UpdateBody, request.body);
    const result = await changeClient(db, id, body, requestAuditContext(request));
    if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
    await access.refresh();
    return result;
  });

  for (const [action, enabled, operationId, summary] of [
    ['disable', false, 'disableClient', "Disable an API client; its live tokens are refused at once"],
    ['enable', true, 'enableClient', 'Enable a disabled API client'],
  ] as const) {
    app.post(`/v1/admin/clients/:id/${action}`, { preHandler: isAdmin, ...doc(operationId, summary) }, async (request) => {
      const id = clientIdParam(request);
      parseBody(EmptyBody, request.body ?? undefined);
      const result = await setClientEnabled(db, id, enabled, requestAuditContext(request));
      if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
      // This process refuses the client's tokens before answering; the others hear the NOTIFY.
      await access.refresh();
      return result;
    });
  }

  app.post('/v1/admin/clients/:id/rotate-secret', { preHandler: isAdmin, ...doc('rotateClientSecret', 'Give an API client a new secret; the old one works for the grace period') }, async (request, reply) => {
    const id = clientIdParam(request);
    const body = parseBody(RotateBody, request.body ?? undefined);
    const graceMs = body?.grace ? parseDuration(body.grace)! : DEFAULT_SECRET_GRACE_MS;
    const result = await rotateClientSecret(db, id, graceMs, requestAuditContext(request));
    if ('kind' in result) throw new ProblemError('not-found', `No client with id ${id}.`);
    return reply.header('Cache-Control', 'no-store').send({ ...result.client, clientSecret: result.clientSecret });
  });
}
