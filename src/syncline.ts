import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import type { Database } from './store/database.ts';
import { openPostgres } from './store/postgres.database.ts';
import { openPglite } from './store/pglite.database.ts';
import { migrate } from './store/migrate.ts';
import { ensureBootstrapClient } from './domain/clients/client.service.ts';
import { OrderIntakeService } from './domain/orders/order-intake.service.ts';
import { InventoryService } from './domain/inventory/inventory.service.ts';
import { TokenService } from './api/auth/tokens.ts';
import { KeyRing } from './api/auth/key-ring.ts';
import { AccessRegistry } from './api/auth/access-registry.ts';
import { ClientRateLimiter, SharedWindowCounter } from './api/rate-limit.ts';
import { ensureSigningKey } from './domain/clients/signing-keys.ts';
import { buildServer } from './api/server.ts';
import type { ApiContext } from './api/api-context.ts';
import { RuntimeRegistry } from './runtime/registry.ts';
import { Worker } from './runtime/worker.ts';
import { loadHandlerModules } from './runtime/handler-modules.ts';
import { registerFlows } from './flows/flows.ts';

/** The composition root: opens the store, applies migrations and wires services together. */

/** Opens PostgreSQL when DATABASE_URL is set, otherwise embedded PGlite in the data folder; then migrates. */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  const db = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, poolSize: config.dbPoolSize })
    : await openPglite(join(config.dataDir, 'pgdata'));
  if (db.kind === 'pglite') {
    logger.info({ dataDir: config.dataDir }, 'using embedded PGlite (single process); set DATABASE_URL to use PostgreSQL');
  }
  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  return db;
}

/**
 * The API's services on an open database: signing keys, the client registry (refreshed by
 * NOTIFY), the shared request counters, intake and inventory. Their background loops start
 * here, except inventory's, which the caller starts once the server listens.
 */
export async function createApiContext(config: Config, db: Database, logger: Logger): Promise<ApiContext> {
  // Clients, revocations and signing keys live in memory, refreshed by NOTIFY; request counts
  // are shared every SYNCLINE_RATE_LIMIT_SYNC_MS (docs/adr/0008).
  await ensureSigningKey(db, config.jwtSecret);
  const access = new AccessRegistry(db, logger, new KeyRing(config.jwtSecret), { keyLifetimeMs: config.tokenTtlSeconds * 1000 + 60_000 });
  await access.start();
  const counters = new SharedWindowCounter(db, logger, { syncMs: config.rateLimitSyncMs });
  counters.start();
  const admission = new ClientRateLimiter(counters, { defaultLimit: config.clientRateLimit, windowSeconds: config.clientRateWindowSeconds, limitOf: (id) => access.rateLimitOf(id) });
  const tokens = new TokenService(access.keys, config.tokenTtlSeconds, { checks: access, admission });
  const intake = new OrderIntakeService(db, { maxConcurrentBatches: config.intakeWriters, maxBatchSize: config.intakeBatchSize });
  const inventory = new InventoryService(db, logger, { holdExpiryIntervalMs: config.holdExpiryIntervalMs, availabilityIntervalMs: config.availabilityIntervalMs });
  return { config, db, logger, tokens, intake, inventory, access, counters };
}

export interface RunningSyncline {
  db: Database;
  server: FastifyInstance | undefined;
  url: string | undefined;
  /** The job worker, when this process runs the workers role. */
  worker: Worker | undefined;
  close(): Promise<void>;
}

/** Starts the requested roles of Syncline in this process. */
export async function startSyncline(
  config: Config,
  logger: Logger,
  roles: { api: boolean; workers?: boolean; registry?: RuntimeRegistry },
): Promise<RunningSyncline> {
  const db = await openDatabase(config, logger);
  const bootstrap = await ensureBootstrapClient(db, { dataDir: config.dataDir, configured: config.bootstrapClient });
  if (bootstrap.kind === 'created') {
    logger.warn({ clientId: bootstrap.clientId, file: bootstrap.file }, `bootstrap admin client created; its credentials are in ${bootstrap.file} (mode 0600)`);
  }
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  let inventory: InventoryService | undefined;
  let access: AccessRegistry | undefined;
  let counters: SharedWindowCounter | undefined;
  if (roles.api) {
    const context = await createApiContext(config, db, logger);
    ({ inventory, access, counters } = context);
    server = await buildServer(context);
    url = await server.listen({ port: config.port, host: config.host });
    // Inventory's background loops (hold expiry, availability events) run beside the API for now.
    inventory.start();
  }
  let worker: Worker | undefined;
  if (roles.workers) {
    // Flows and connectors register their handlers here; SYNCLINE_HANDLER_MODULES adds more.
    const registry = roles.registry ?? new RuntimeRegistry();
    // The order lifecycle flows (src/flows); their connectors come from config, else the sandboxes.
    registerFlows(registry, { db, config, logger });
    await loadHandlerModules(config.handlerModules, registry, { db, config, logger });
    worker = new Worker(db, registry, logger, {
      concurrency: config.workerConcurrency,
      leaseMs: config.workerLeaseMs,
      pollMs: config.workerPollMs,
    });
    await worker.start();
    logger.info({ worker: worker.id, types: registry.types, concurrency: config.workerConcurrency }, 'worker ready');
  }
  return {
    db,
    server,
    url,
    worker,
    async close() {
      // Stop taking requests and jobs first; running jobs get the grace period to finish.
      await server?.close();
      await worker?.stop(config.shutdownGraceMs);
      await inventory?.stop();
      await counters?.stop();
      await access?.stop();
      await db.close();
    },
  };
}
