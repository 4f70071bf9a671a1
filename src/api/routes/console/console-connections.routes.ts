import type { FastifyInstance } from 'fastify';
import { listConnections } from '../../../connectors/registry/connections.service.ts';
import { OpsService, type TargetView } from '../../../runtime/ops.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { NoQuery, parseQuery } from '../../validation.ts';
import { forBrowser } from './console-masking.ts';
import { masksPersonalData, requireConsole } from './console-session.ts';

/**
 * The console's connections page (docs/console.md): every connection (GET /v1/connections: health,
 * last activity, last error, options with secrets masked) joined with its runtime target
 * (OpsService.targets(): rate-limit use, calls in flight, breaker). Secrets never leave: the
 * connection service masks secret options, and forBrowser drops every key that names a credential.
 */

const hidden = { hide: true };

/** GET /console/api/connections (viewer and up). */
export async function consoleConnectionsRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {
  const viewer = requireConsole(db, config.consoleIdleSeconds, 'viewer');
  const ops = new OpsService(db);

  app.get('/console/api/connections', { schema: hidden, preHandler: viewer }, async (request) => {
    parseQuery(NoQuery, request.query);
    const [connections, targets] = await Promise.all([listConnections(db, config), ops.targets()]);
    const targetOf = new Map(targets.map((t) => [t.name, t]));
    const items = connections.map((c) => {
      const target = targetOf.get(c.target.name);
      // A system connection keeps no state row of its own: its last error is its target's last failure.
      const lastError = c.lastOutboundError ?? target?.breaker.lastFailure ?? null;
      return {
        id: c.id,
        connector: c.connector,
        kind: c.kind,
        source: c.source,
        health: c.health,
        options: c.options,
        lastInboundAt: c.lastInboundAt,
        lastOutboundAt: c.lastOutboundAt,
        lastError,
        target: c.target.name,
        breaker: {
          state: c.target.breaker,
          blockedUntil: c.target.blockedUntil,
          openedAt: target?.breaker.openedAt ?? null,
          consecutiveFailures: target?.breaker.consecutiveFailures ?? 0,
        },
        rateLimit: target?.rateLimit ?? { perSecond: null, callsLastSecond: 0, usage: null },
        // With a concurrency cap, the slots held are the calls in flight; without one, the target's running jobs.
        inFlight: target?.concurrency.cap ? target.concurrency.inFlight : c.target.running,
        concurrencyCap: target?.concurrency.cap ?? null,
        jobs: { running: c.target.running, waiting: c.target.waiting },
        ...(c.webhookPath ? { webhookPath: c.webhookPath, listings: c.listings, reconcile: c.reconcile } : {}),
      };
    });
    return forBrowser({ items }, masksPersonalData(request));
  });
}
