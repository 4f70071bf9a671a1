import type { FastifyInstance, FastifyReply } from 'fastify';
import { listAudit } from '../../../domain/audit/audit.ts';
import { listClientViews, registerClient, rotateClientSecret, setClientEnabled, type ClientView } from '../../../domain/clients/client.service.ts';
import { SCOPES } from '../../../domain/clients/scopes.ts';
import { listSigningKeys } from '../../../domain/clients/signing-keys.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { EmptyBody, NoQuery, parseBody, parseQuery } from '../../validation.ts';
import { CreateBody, graceOf, RotateBody } from '../admin/client-input.ts';
import { clientIdOf } from '../admin/clients.routes.ts';
import { forBrowser } from './console-masking.ts';
import { consoleAuditContext, requireConsole } from './console-session.ts';

/**
 * API clients in the console, for admins only (docs/console.md, ADR 0037): the list with scopes
 * and key age, and create, rotate the secret, disable and enable, each through the domain
 * service the CLI and /v1/admin/clients use (same input rules, same grace, same audit events,
 * actor console:<user id>). A generated secret is in the answer of the request that made it and
 * nowhere else: Cache-Control no-store, added after forBrowser() (which drops every key named
 * like a secret), never logged (the request log holds no bodies).
 */

const hidden = { hide: true };
/** Rotations looked at to date each client's current secret (default: 500, far more clients than a deployment has). */
const ROTATIONS_READ = 500;

/** A client as the console shows it: dates named without "secret" (forBrowser drops such keys; these are dates, not credentials). */
function consoleClient(client: ClientView, keySetAt: string) {
  return {
    clientId: client.clientId,
    name: client.name,
    scopes: client.scopes,
    status: client.status,
    rateLimit: client.rateLimit,
    createdAt: client.createdAt,
    keySetAt,
    previousKeyValidUntil: client.previousSecretValidUntil,
  };
}

/** The one answer that carries a secret: the client (through forBrowser) and the secret beside it, never cached. */
function withSecretOnce(reply: FastifyReply, status: number, client: ReturnType<typeof consoleClient>, clientSecret: string) {
  return reply.code(status).header('Cache-Control', 'no-store').send({ client: forBrowser(client, false), clientSecret });
}

const notFound = (id: string) => new ProblemError('not-found', `No client with id ${id}.`);

/** /console/api/admin/clients* (admin role; 403 forbidden problem for anyone else; POSTs need the CSRF token). */
export async function consoleClientsRoutes(app: FastifyInstance, { db, config, access }: ApiContext): Promise<void> {
  const admin = requireConsole(db, config.consoleIdleSeconds, 'admin');
  const guarded = { schema: hidden, preHandler: admin };

  app.get('/console/api/admin/clients', guarded, async (request) => {
    parseQuery(NoQuery, request.query);
    const [clients, rotations, keys] = await Promise.all([
      listClientViews(db),
      listAudit(db, { action: 'client.secret_rotated' }, { limit: ROTATIONS_READ }),
      listSigningKeys(db, config.tokenTtlSeconds * 1000),
    ]);
    // The audit is newest first: the first rotation seen per client is its current secret's.
    const rotatedAt = new Map<string, string>();
    for (const event of rotations.items) if (!rotatedAt.has(event.targetId)) rotatedAt.set(event.targetId, event.occurredAt);
    const items = clients.map((c) => consoleClient(c, rotatedAt.get(c.clientId) ?? c.createdAt));
    return forBrowser({ items, signingKeys: keys, scopeCatalogue: SCOPES }, false);
  });

  app.post('/console/api/admin/clients', guarded, async (request, reply) => {
    const body = parseBody(CreateBody, request.body);
    const { credentials, client } = await registerClient(db, body, consoleAuditContext(request));
    await access.refresh();
    return withSecretOnce(reply, 201, consoleClient(client, client.createdAt), credentials.clientSecret);
  });

  app.post('/console/api/admin/clients/:id/rotate-secret', guarded, async (request, reply) => {
    const id = clientIdOf(request);
    const body = parseBody(RotateBody, request.body ?? undefined);
    const result = await rotateClientSecret(db, id, graceOf(body), consoleAuditContext(request));
    if ('kind' in result) throw notFound(id);
    return withSecretOnce(reply, 200, consoleClient(result.client, result.client.updatedAt), result.clientSecret);
  });

  for (const [action, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(`/console/api/admin/clients/:id/${action}`, guarded, async (request) => {
      const id = clientIdOf(request);
      parseBody(EmptyBody, request.body ?? undefined);
      const result = await setClientEnabled(db, id, enabled, consoleAuditContext(request));
      if ('kind' in result) throw notFound(id);
      // This process refuses (or accepts again) the client's tokens before answering; the others hear the NOTIFY.
      await access.refresh();
      return forBrowser({ clientId: result.clientId, name: result.name, status: result.status }, false);
    });
  }
}
