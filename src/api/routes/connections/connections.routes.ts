import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { listConnections } from '../../../connectors/registry/connections.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { NoQuery, parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';

const Connection = z
  .object({
    id: z.string(),
    connector: z.string().meta({ example: 'shopify' }),
    kind: z.string().meta({ description: '`channel`, or the system kind: erp, wms, payment, fraud, loyalty, crm.' }),
    source: z.enum(['file', 'environment', 'sandbox', 'unset']).meta({ description: 'file: syncline.yaml; environment: SYNCLINE_*_URL; sandbox: the in-process sandbox; unset: not configured.' }),
    health: z.enum(['ok', 'degraded', 'down', 'waiting', 'uninstalled']).meta({
      description: 'degraded: the last outbound call failed; down: the breaker is open; waiting: no outbound credentials, outbound jobs wait in the queue.',
    }),
    options: z.record(z.string(), z.unknown()).meta({ description: 'The options, each secret one masked as ********.' }),
    uninstalled: z.boolean(),
    uninstalledAt: z.string().nullable(),
    lastInboundAt: z.string().nullable(),
    lastOutboundAt: z.string().nullable(),
    lastOutboundError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
    target: z.object({
      name: z.string().meta({ example: 'shopify:acme-us' }),
      breaker: z.string(),
      blockedUntil: z.string().nullable(),
      running: z.number().int(),
      waiting: z.number().int(),
      policy: z.record(z.string(), z.unknown()).nullable(),
    }),
    pendingOutbound: z.number().int(),
    webhookPath: z.string().optional(),
    listings: z.number().int().optional(),
    reconcile: z.object({ everySeconds: z.number().int(), cursor: z.string().nullable(), lastRunAt: z.string().nullable() }).optional(),
  })
  .meta({ id: 'Connection', description: 'One configured instance of a connector, with its state; never a secret.' });

const EXAMPLE = {
  id: 'acme-us',
  connector: 'shopify',
  kind: 'channel',
  source: 'file',
  health: 'ok',
  options: { shopDomain: 'acme-us.myshopify.com', accessToken: '********', webhookSecret: '********' },
  uninstalled: false,
  uninstalledAt: null,
  lastInboundAt: '2026-12-01T10:15:00.000Z',
  lastOutboundAt: '2026-12-01T10:15:02.000Z',
  lastOutboundError: null,
  target: { name: 'shopify:acme-us', breaker: 'closed', blockedUntil: null, running: 0, waiting: 2, policy: { ratePerSecond: 2, maxConcurrency: 4 } },
  pendingOutbound: 2,
  webhookPath: '/webhooks/shopify/acme-us',
  listings: 120,
  reconcile: { everySeconds: 300, cursor: '2026-12-01T10:10:00Z', lastRunAt: '2026-12-01T10:10:04.000Z' },
};

/** GET /v1/connections and /v1/connections/{id}: the configured connections for operators. */
export async function connectionsRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {

  const list = operation({
    operationId: 'listConnections',
    tags: ['Connections'],
    summary: 'Every connection: connector, health, last activity, target state; no secrets',
    auth: 'ops:read',
    query: NoQuery,
    responses: { 200: { description: 'The channel connections of syncline.yaml, then the five systems.', schema: z.object({ items: z.array(Connection) }).meta({ id: 'ConnectionList' }), example: { items: [EXAMPLE] } } },
  });
  app.get('/v1/connections', { schema: list }, async (request) => {
    parseQuery(NoQuery, request.query);
    return { items: await listConnections(db, config) };
  });

  const show = operation({
    operationId: 'getConnection',
    tags: ['Connections'],
    summary: 'One connection: health, last activity, target state; no secrets',
    auth: 'ops:read',
    params: { id: 'The connection id (syncline.yaml), or a system kind (erp, wms, payment, fraud, loyalty, crm).' },
    query: NoQuery,
    responses: { 200: { description: 'The connection.', schema: Connection, example: EXAMPLE } },
    problems: { 'not-found': 'No connection with that id.' },
  });
  app.get('/v1/connections/:id', { schema: show }, async (request) => {
    parseQuery(NoQuery, request.query);
    const { id } = request.params as { id: string };
    const found = (await listConnections(db, config)).find((c) => c.id === id);
    if (!found) throw new ProblemError('not-found', `No connection with id ${id}.`);
    return found;
  });
}
