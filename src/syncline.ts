import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config, ExternalSystems } from './config/config.ts';
import type { Database } from './store/database.ts';
import { openPostgres } from './store/postgres.database.ts';
import { openPglite } from './store/pglite.database.ts';
import { migrate } from './store/migrate.ts';
import { loadCustomerKeyring, verifyCustomerKeys } from './store/customers/customer-keys.ts';
import { useCustomerKeyring } from './store/customers/customer-crypto.ts';
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
import { NatsRelay } from './runtime/outbox/nats-relay.ts';
import { registerFlows } from './flows/flows.ts';
import { auditErpRouting } from './domain/orders/erp-routing.ts';
import { registerWebhookDeliveries } from './runtime/webhooks/webhook-delivery.ts';
import { heldDataFolderLock, type DataFolderLock } from './store/data-folder-lock.ts';
import { connectorSettingsFromConfig, unconfiguredSystems } from './connectors/connector-settings.ts';
import { checkErpSetup, erpSettingsPrefix, erpSetupProblemText } from './connectors/connectors.ts';
import { startTraceExport, stopTraceExport } from './observability/tracing.ts';
import { DEMO_PRODUCTS, SANDBOX_PORT_OFFSETS, startSomeSandboxes, type SomeSandboxes } from './connectors/sandboxes.ts';
import { CHANNEL_SANDBOX_PORT_OFFSETS, startChannelSandboxes, type RunningChannelSandboxes } from './connectors/channel-sandboxes.ts';
import { connectorRegistry } from './connectors/registry/connector-registry.ts';
import { channelConnections, registerChannels, startChannelJobs } from './flows/channel/channel.flow.ts';
import { startProductSyncJobs } from './flows/products/product-sync.flow.ts';
import { startCrmPullJobs } from './flows/customers/crm-contacts.flow.ts';
import { crmConnectionId } from './flows/flows.ts';
import { startCustomerRecordSyncJobs } from './flows/customers/record-sync.flow.ts';
import { ensureConnectionStates } from './store/channels/channel-queries.ts';

/** The composition root: opens the store, applies migrations and wires services together. */

/**
 * Opens PostgreSQL when DATABASE_URL is set, otherwise embedded PGlite in the data folder; then
 * migrates and, unless told not to (an admin command that reads no customer: `clients`, `dlq` ...),
 * loads and checks the customer keys.
 */
export async function openDatabase(config: Config, logger: Logger, options: { customerKeys?: boolean } = {}): Promise<Database> {
  const db = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, poolSize: config.dbPoolSize })
    : await openPglite(join(config.dataDir, 'pgdata'));
  if (db.kind === 'pglite') {
    logger.info({ dataDir: config.dataDir }, 'using embedded PGlite (single process); set DATABASE_URL to use PostgreSQL');
  }
  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  // Customer personal data is encrypted (ADR 0042): the keys are checked against the tables
  // before anything reads them, so a wrong or missing key stops the start with its reason.
  if (options.customerKeys === false) return db;
  try {
    const keyring = loadCustomerKeyring(config.customerKeys, config.dataDir, (message, fields) => logger.warn(fields, message));
    await verifyCustomerKeys(db, keyring);
    useCustomerKeyring(keyring);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * The API's services on an open database: signing keys, the client registry (refreshed by
 * NOTIFY), the shared request counters, intake and inventory. Their background loops start
 * here, except inventory's, which the caller starts once the server listens.
 */
export async function createApiContext(config: Config, db: Database, logger: Logger, options: { intakeDb?: Database; movementDb?: Database } = {}): Promise<ApiContext> {
  // Clients, revocations and signing keys live in memory, refreshed by NOTIFY; request counts
  // are shared every SYNCLINE_RATE_LIMIT_SYNC_MS (docs/adr/0008).
  await ensureSigningKey(db, config.jwtSecret);
  const access = new AccessRegistry(db, logger, new KeyRing(config.jwtSecret), { keyLifetimeMs: config.tokenTtlSeconds * 1000 + 60_000 });
  await access.start();
  const counters = new SharedWindowCounter(db, logger, { syncMs: config.rateLimitSyncMs });
  counters.start();
  const admission = new ClientRateLimiter(counters, { defaultLimit: config.clientRateLimit, windowSeconds: config.clientRateWindowSeconds, limitOf: (id) => access.rateLimitOf(id) });
  const tokens = new TokenService(access.keys, config.tokenTtlSeconds, { checks: access, admission });
  const intake = new OrderIntakeService(db, { maxConcurrentBatches: config.intakeWriters, maxBatchSize: config.intakeBatchSize, writer: options.intakeDb });
  const inventory = new InventoryService(db, logger, {
    holdExpiryIntervalMs: config.holdExpiryIntervalMs,
    availabilityIntervalMs: config.availabilityIntervalMs,
    movementWriter: options.movementDb,
  });
  return { config, db, logger, tokens, intake, inventory, access, counters };
}

export interface RunningSyncline {
  db: Database;
  server: FastifyInstance | undefined;
  url: string | undefined;
  /** The job worker, when this process runs the workers role. */
  worker: Worker | undefined;
  /** The publisher of outbox events to NATS JetStream, when this process runs workers and SYNCLINE_NATS_URL is set. */
  natsRelay: NatsRelay | undefined;
  /** The sandboxes this process runs for the systems left unconfigured, with their URLs. */
  sandboxes: Partial<Record<keyof ExternalSystems, string>>;
  /** The storefront sandboxes this process runs when no channel connection is declared, by connection id. */
  channelSandboxes: Record<string, string>;
  close(): Promise<void>;
}

export interface StartRoles {
  api: boolean;
  workers?: boolean;
  registry?: RuntimeRegistry;
  /**
   * Run, in this process, the sandbox of every external system left unconfigured, unless
   * SYNCLINE_SANDBOXES=off (default: false; `syncline start` asks for it, so tests that bring
   * their own connectors or sandboxes never get a second set).
   */
  sandboxes?: boolean;
}

/** Each shutdown stage may overrun its budget by this much before it is abandoned. */
export const SHUTDOWN_STAGE_MARGIN_MS = 1000;

/** Waits for work at most ms; says whether it finished. The timer never keeps the process alive. */
async function within(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The sandboxes this process started (none when every system and a channel is configured). */
interface StartedSandboxes {
  systems?: SomeSandboxes | undefined;
  channels?: RunningChannelSandboxes | undefined;
}

/**
 * Starts the sandboxes of the unconfigured systems, and the storefront sandboxes when no channel
 * connection is declared; returns the config that points at them.
 */
async function startMissingSandboxes(config: Config, logger: Logger): Promise<{ config: Config; sandboxes: StartedSandboxes }> {
  const { config: withSystems, sandboxes: systems } = await startMissingSystemSandboxes(config, logger);
  if (!config.sandboxes.enabled || channelConnections(config).size > 0) return { config: withSystems, sandboxes: { systems } };
  let channels: RunningChannelSandboxes;
  try {
    channels = await startChannelSandboxes({ host: '127.0.0.1', basePort: config.sandboxes.basePort, products: DEMO_PRODUCTS, registry: connectorRegistry() });
  } catch (error) {
    await systems?.close();
    throw portsInUse(config, error);
  }
  for (const [id, url] of Object.entries(channels.urls)) {
    logger.info({ connection: id, address: url }, `${id} listening at ${url}: place a test order with POST ${url}/_sandbox/orders (declare a connection in syncline.yaml to replace it)`);
  }
  const connections = { ...withSystems.connections, connections: [...withSystems.connections.connections, ...channels.connections] };
  return { config: { ...withSystems, connections }, sandboxes: { systems, channels } };
}

/** A sandbox port taken is said with what to do about it; any other error is returned as it is. */
function portsInUse(config: Config, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return error;
  const last = config.sandboxes.basePort + Math.max(CHANNEL_SANDBOX_PORT_OFFSETS.woocommerce, SANDBOX_PORT_OFFSETS.crm);
  return new Error(
    `a sandbox port (${config.sandboxes.basePort}-${last}) is in use (${(error as Error).message}); ` +
      'set SYNCLINE_SANDBOX_BASE_PORT to other ports (0: free ones), configure the external systems, or set SYNCLINE_SANDBOXES=off',
    { cause: error },
  );
}

/** Starts the sandboxes of the unconfigured systems and returns the config that points at them. */
async function startMissingSystemSandboxes(config: Config, logger: Logger): Promise<{ config: Config; sandboxes: SomeSandboxes | undefined }> {
  const missing = unconfiguredSystems(config);
  if (missing.length === 0) return { config, sandboxes: undefined };
  if (!config.sandboxes.enabled) {
    const expected = connectorSettingsFromConfig(config);
    logger.warn(
      { systems: Object.fromEntries(missing.map((name) => [name, (expected[name] as { url?: string }).url])) },
      `SYNCLINE_SANDBOXES=off and no ${missing.join(', ')} configured: the flows expect them at these URLs and retry until they answer`,
    );
    return { config, sandboxes: undefined };
  }
  let sandboxes: SomeSandboxes;
  try {
    sandboxes = await startSomeSandboxes(missing, { host: '127.0.0.1', basePort: config.sandboxes.basePort, products: DEMO_PRODUCTS });
  } catch (error) {
    throw portsInUse(config, error);
  }
  for (const name of missing) {
    logger.info({ system: name, address: sandboxes.settings[name]!.url }, `${name} sandbox listening at ${sandboxes.settings[name]!.url} (configure the real system to replace it)`);
  }
  // Configured systems win; the sandboxes fill in the rest, WMS webhook secret included.
  return { config: { ...config, systems: { ...(sandboxes.settings as ExternalSystems), ...config.systems } }, sandboxes };
}

/** Starts the requested roles of Syncline in this process. */
export async function startSyncline(configured: Config, logger: Logger, roles: StartRoles): Promise<RunningSyncline> {
  // Spans are exported only when an OTLP endpoint is configured (docs/adr/0022).
  await startTraceExport({ endpoint: configured.otlpEndpoint });
  const db = await openDatabase(configured, logger);
  const lock = db.kind === 'pglite' ? heldDataFolderLock(join(configured.dataDir, 'pgdata')) : undefined;
  let config = configured;
  let sandboxes: StartedSandboxes = {};
  if (roles.sandboxes) {
    try {
      ({ config, sandboxes } = await startMissingSandboxes(configured, logger));
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  try {
    return await startRoles(db, lock, config, logger, roles, sandboxes);
  } catch (error) {
    // A start that fails half-way (the API port taken...) leaves nothing running or held.
    await Promise.allSettled([sandboxes.systems?.close(), sandboxes.channels?.close()]);
    await db.close().catch(() => {});
    throw error;
  }
}

async function startRoles(
  db: Database,
  lock: DataFolderLock | undefined,
  config: Config,
  logger: Logger,
  roles: StartRoles,
  sandboxes: StartedSandboxes,
): Promise<RunningSyncline> {
  // Channel connections of syncline.yaml: their state rows exist before any webhook arrives.
  await ensureConnectionStates(db, [...channelConnections(config).values()]);
  const bootstrap = await ensureBootstrapClient(db, { dataDir: config.dataDir, databaseUrl: config.databaseUrl, configured: config.bootstrapClient });
  if (bootstrap.kind === 'created') {
    logger.warn({ clientId: bootstrap.clientId, file: bootstrap.file }, `bootstrap admin client created; its credentials are in ${bootstrap.file} (mode 0600)`);
  }
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  let inventory: InventoryService | undefined;
  let access: AccessRegistry | undefined;
  let counters: SharedWindowCounter | undefined;
  // A pool of its own beside the process's (a bulkhead), on PostgreSQL only (PGlite is one connection).
  const ownPool = (applicationName: string, poolSize: number) =>
    db.kind === 'postgres' && config.databaseUrl ? openPostgres({ connectionString: config.databaseUrl, poolSize, applicationName }) : undefined;
  // Order intake writes on connections of its own (one per intake writer): a hundred stores
  // flushing their offline sales hold every connection of the API's pool, and the orders must not
  // queue behind them (docs/runtime.md).
  const intakeDb = roles.api ? ownPool('syncline-intake', config.intakeWriters) : undefined;
  // Stock movements write on a few connections of their own: the same flush, bounded, so that its
  // transactions queue here instead of taking PostgreSQL's cores from the orders' steps.
  const movementDb = roles.api ? ownPool('syncline-movements', config.movementWriters) : undefined;
  const closeApiPools = async () => {
    await Promise.all([intakeDb?.close(), movementDb?.close()].map((closing) => closing?.catch(() => {})));
  };
  if (roles.api) {
    try {
      const context = await createApiContext(config, db, logger, { intakeDb, movementDb });
      ({ inventory, access, counters } = context);
      server = await buildServer(context);
      try {
        url = await server.listen({ port: config.port, host: config.host });
      } catch (error) {
        await server.close();
        throw error;
      }
      lock?.recordUrl(url);
      // Same process: loopback reaches a server listening on every address, too.
      const base = ['0.0.0.0', '::', 'localhost'].includes(config.host) ? `http://127.0.0.1:${new URL(url).port}` : url;
      // The WMS sandbox tells this Syncline about shipments (signed with the sandbox's own secret).
      const wms = sandboxes.systems?.sandboxes.wms;
      if (wms) wms.state.config.callbackUrl = `${base}/webhooks/wms/default`;
      try {
        await sandboxes.channels?.sendWebhooksTo(base);
      } catch (error) {
        await server.close();
        throw error;
      }
      // Inventory's background loops (hold expiry, availability events) run beside the API for now.
      inventory.start();
    } catch (error) {
      await closeApiPools();
      throw error;
    }
  }
  let worker: Worker | undefined;
  // With the API in the same process, the worker has a pool of its own (a bulkhead): twenty stores
  // flushing their offline sales at once hold every connection of the API's pool, and the
  // critical lane's jobs must not queue behind them for a connection (docs/runtime.md).
  const workerDb = (roles.workers && roles.api ? ownPool('syncline-worker', config.dbPoolSize) : undefined) ?? db;
  if (roles.workers) {
    try {
      worker = await startWorker(workerDb, config, logger, roles.registry);
    } catch (error) {
      await server?.close();
      await inventory?.stop();
      await closeApiPools();
      if (workerDb !== db) await workerDb.close().catch(() => {});
      throw error;
    }
  }
  // Beside the worker's relay, with a cursor of its own: Syncline's subscribers never wait for NATS.
  const natsRelay = worker && config.nats ? new NatsRelay(workerDb, config.nats, logger) : undefined;
  natsRelay?.start();
  return {
    db,
    server,
    url,
    worker,
    natsRelay,
    sandboxes: Object.fromEntries(Object.entries(sandboxes.systems?.settings ?? {}).map(([name, settings]) => [name, settings.url])),
    channelSandboxes: sandboxes.channels?.urls ?? {},
    async close() {
      // Stop taking requests and jobs first; running jobs get the grace period to finish.
      // Every stage is bounded: a request, job or transaction that never ends must not keep
      // the process alive. Unfinished jobs go back to the queue (or their lease expires);
      // whatever was accepted is already committed.
      const stage = async (name: string, work: Promise<unknown> | undefined, ms: number) => {
        // A stage that fails is logged and the next one still runs: the database is closed whatever the worker did.
        const settled = work?.catch((error: unknown) => logger.error({ err: error, stage: name }, `shutdown: ${name} failed`));
        if (!(await within(settled, ms))) logger.warn({ stage: name, waitedMs: ms }, `shutdown: ${name} did not finish in time; no longer waiting for it`);
      };
      await stage('api', server?.close(), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('intake and movement databases', Promise.all([intakeDb?.close(), movementDb?.close()]), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('worker', worker?.stop(config.shutdownGraceMs), config.shutdownGraceMs + SHUTDOWN_STAGE_MARGIN_MS);
      // A batch in flight ends when its PubAcks arrive or time out (5 s).
      await stage('nats relay', natsRelay?.stop(), 5000 + SHUTDOWN_STAGE_MARGIN_MS);
      if (workerDb !== db) await stage('worker database', workerDb.close(), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('inventory', inventory?.stop(), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('rate limits', counters?.stop(), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('access registry', access?.stop(), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('database', db.close(), SHUTDOWN_STAGE_MARGIN_MS);
      // Released even when PGlite's close was abandoned: this process is about to let go.
      lock?.release();
      await stage('sandboxes', Promise.all([sandboxes.systems?.close(), sandboxes.channels?.close()]), SHUTDOWN_STAGE_MARGIN_MS);
      await stage('trace export', stopTraceExport(), SHUTDOWN_STAGE_MARGIN_MS);
    },
  };
}

/** The job worker with the flows' handlers and those of SYNCLINE_HANDLER_MODULES, claiming. */
async function startWorker(db: Database, config: Config, logger: Logger, given: RuntimeRegistry | undefined): Promise<Worker> {
  // Flows and connectors register their handlers here; SYNCLINE_HANDLER_MODULES adds more.
  const registry = given ?? new RuntimeRegistry();
  // The order lifecycle flows (src/flows); their connectors come from config, else the sandboxes.
  const flows = registerFlows(registry, { db, config, logger });
  // A change of the ERP routing rules is audited once, by the first worker that starts with it.
  if (await auditErpRouting(db, config.connections.erpRouting, { actor: 'system:start', correlationId: null })) {
    logger.info({ routing: config.connections.erpRouting ?? null }, 'ERP routing rules changed since the last start; orders routed already keep their ERP');
  }
  // An ERP that lacks what the settings name fails every posting: say so at start, not per order.
  // Each ERP connection is checked (several when routed between), named by its path in the file.
  const erpConnections = config.connections.connections.map((c, index) => ({ c, index })).filter(({ c }) => c.kind === 'erp');
  const erpSetups = config.connections.erpRouting
    ? erpConnections.map(({ c, index }) => ({ erp: c.id, prefix: `connections[${index}].options`, settings: c.options as NonNullable<typeof config.systems.erp> }))
    : config.systems.erp
      ? [{ erp: undefined, prefix: erpSettingsPrefix(config.connections.connections), settings: config.systems.erp }]
      : [];
  for (const { erp, prefix, settings } of erpSetups) {
    checkErpSetup(settings).then(
      (problems) =>
        problems.forEach((problem) => {
          const { option, message } = erpSetupProblemText(problem);
          logger.error({ code: problem.code, erp, ...problem.details }, `ERP configuration error: ${option ? `${prefix}.${option}` : prefix}: ${message} (every order posting would fail; see syncline config check)`);
        }),
      (error: unknown) => logger.warn({ err: (error as Error).message, erp }, 'ERP setup could not be checked'),
    );
  }
  // Channel connections of syncline.yaml: intake, outbound jobs on each connection's target, reconciliation.
  const intake = new OrderIntakeService(db, { maxConcurrentBatches: config.intakeWriters, maxBatchSize: config.intakeBatchSize });
  registerChannels(registry, { db, config, logger, intake, inventory: flows.inventory });
  // Webhook subscriptions: the relay routes events to them; deliveries are jobs (docs/events.md).
  registerWebhookDeliveries(registry, { db, config, logger });
  await loadHandlerModules(config.handlerModules, registry, { db, config, logger });
  const worker = new Worker(db, registry, logger, {
    concurrency: config.workerConcurrency,
    leaseMs: config.workerLeaseMs,
    pollMs: config.workerPollMs,
  });
  await worker.start();
  await startChannelJobs(db, config);
  await startProductSyncJobs(db, config);
  // Only a CRM that is configured (or served by the sandbox started here) is pulled from.
  if (config.systems.crm) await startCrmPullJobs(db, crmConnectionId(config), config.crmPullSeconds);
  await startCustomerRecordSyncJobs(db, { config, erps: flows.erps, loyalty: flows.connectors.loyalty });
  logger.info({ worker: worker.id, types: registry.types, concurrency: config.workerConcurrency }, 'worker ready');
  return worker;
}
