import { resolve } from 'node:path';
import { z } from 'zod';
import { connectorRegistry, SYSTEM_KINDS, type ConnectorRegistry, type SystemKind } from '../connectors/registry/connector-registry.ts';
import type { BusinessCentralErpSettings } from '../connectors/business-central/business-central.connector.ts';
import type { TargetPolicy } from '../runtime/targets/target-policy.ts';
import { parseCustomerKeySettings, type CustomerKeySettings } from '../store/customers/customer-crypto.ts';
import { checkConnectionsFile, connectionsFilePath, systemConnections, type ConnectionsFile } from './connections-file.ts';
import type { HubspotSettings } from '../connectors/hubspot/hubspot-wire.ts';

/** Thrown when an environment variable is missing or malformed; the message names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const environmentSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection URL')
    .optional(),
  SYNCLINE_DATA_DIR: z.string().min(1).default('./.syncline'),
  // 0 asks the operating system for a free port (tests do this).
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SYNCLINE_DB_POOL_SIZE: integer(1, 500).default(20),
  SYNCLINE_MAX_BODY_BYTES: integer(1024, 100 * 1024 * 1024).default(1024 * 1024),
  SYNCLINE_TOKEN_TTL_SECONDS: integer(30, 86_400).default(900),
  SYNCLINE_CONSOLE_IDLE_SECONDS: integer(60, 86_400).default(1800),
  // Slow clients (docs: README, Errors and limits).
  SYNCLINE_HEADERS_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  SYNCLINE_REQUEST_TIMEOUT_MS: integer(100, 3_600_000).default(30_000),
  // Longer than the 60 s idle timeout of common load balancers, or they reuse a connection Node just closed (502s).
  SYNCLINE_KEEP_ALIVE_TIMEOUT_MS: integer(100, 600_000).default(72_000),
  SYNCLINE_IDLE_TIMEOUT_MS: integer(100, 3_600_000).default(120_000),
  SYNCLINE_MAX_URL_BYTES: integer(256, 65_536).default(8192),
  SYNCLINE_INTAKE_WRITERS: integer(1, 64).default(1),
  SYNCLINE_INTAKE_BATCH_SIZE: integer(1, 1000).default(128),
  SYNCLINE_MOVEMENT_WRITERS: integer(1, 64).default(2),
  SYNCLINE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SYNCLINE_BOOTSTRAP_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,64}$/, 'must be 3-64 characters of letters, digits, _ . -')
    .optional(),
  SYNCLINE_BOOTSTRAP_CLIENT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SYNCLINE_PUBLIC_URL: z.url().optional(),
  // External systems (docs/connectors.md). A system left unset is served by its sandbox.
  SYNCLINE_ERP_URL: z.url().optional(),
  SYNCLINE_ERP_DATABASE: z.string().min(1).optional(),
  SYNCLINE_ERP_LOGIN: z.string().min(1).optional(),
  SYNCLINE_ERP_PASSWORD: z.string().min(1).optional(),
  SYNCLINE_ERP_CHARGE_PRODUCTS: z
    .string()
    .regex(/^(shipping|discount)=[^,=]*(,(shipping|discount)=[^,=]*)*$/, 'must look like shipping=SHIP,discount=DISC (empty: not posted)')
    .optional(),
  SYNCLINE_ERP_SHORT_STOCK: z.enum(['acknowledge', 'hold']).optional(),
  SYNCLINE_ERP_PAYMENT_TERM: integer(1, 2_147_483_647).optional(),
  SYNCLINE_ERP_PRICES_INCLUDE_TAX: z.enum(['auto', 'true', 'false']).optional(),
  // The product catalogue's scheduled sync from the ERP (docs/products.md); 0: on demand only.
  SYNCLINE_PRODUCT_SYNC_SECONDS: integer(0, 86_400).default(900),
  SYNCLINE_CRM_PULL_SECONDS: integer(0, 86_400).default(900),
  // Customer records pulled from the ERPs and the loyalty service (docs/customers.md); 0: on demand only.
  SYNCLINE_CUSTOMER_SYNC_SECONDS: integer(0, 86_400).default(0),
  SYNCLINE_WMS_URL: z.url().optional(),
  SYNCLINE_WMS_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SYNCLINE_PAYMENT_URL: z.url().optional(),
  SYNCLINE_PAYMENT_API_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  SYNCLINE_FRAUD_URL: z.url().optional(),
  SYNCLINE_LOYALTY_URL: z.url().optional(),
  SYNCLINE_CRM_URL: z.url().optional(),
  SYNCLINE_CRM_TOKEN: z.string().min(8).optional(),
  // Connections (docs/connections.md): the syncline.yaml to read instead of ./syncline.yaml.
  SYNCLINE_CONFIG: z.string().min(1).optional(),
  SYNCLINE_SANDBOXES: z.enum(['on', 'off']).default('on'),
  SYNCLINE_METRICS_PUBLIC: z.enum(['true', 'false']).default('false'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  SYNCLINE_SANDBOX_BASE_PORT: integer(0, 65530).default(7100),
  SYNCLINE_HOLD_EXPIRY_INTERVAL_MS: integer(10, 60_000).default(1000),
  SYNCLINE_AVAILABILITY_INTERVAL_MS: integer(10, 60_000).default(250),
  SYNCLINE_WORKER_CONCURRENCY: integer(1, 1000).default(10),
  SYNCLINE_WEBHOOK_NETWORKS: z.enum(['public', 'loopback', 'any']).default('loopback'),
  SYNCLINE_WEBHOOK_PAUSE_AFTER_MS: integer(1, 365 * 86_400_000).default(3 * 86_400_000),
  SYNCLINE_WEBHOOK_RETRY_SCHEDULE_MS: z
    .string()
    .regex(/^\d{1,10}(,\d{1,10}){0,49}$/, 'must be a comma-separated list of delays in ms')
    .default('5000,300000,1800000,7200000,18000000,36000000'),
  SYNCLINE_WEBHOOK_TIMEOUT_MS: integer(100, 300_000).default(10_000),
  SYNCLINE_WEBHOOK_BREAKER_COOLDOWN_MS: integer(10, 3_600_000).default(60_000),
  SYNCLINE_WORKER_LEASE_MS: integer(500, 3_600_000).default(30_000),
  SYNCLINE_WORKER_POLL_MS: integer(10, 60_000).default(1000),
  SYNCLINE_SHUTDOWN_GRACE_MS: integer(0, 3_600_000).default(10_000),
  SYNCLINE_HANDLER_MODULES: z.string().optional(),
  // Order flows (docs/flows.md).
  SYNCLINE_ROUTING_KINDS: z
    .string()
    .regex(/^(warehouse|store|3pl)(,(warehouse|store|3pl))*$/, 'must be a comma-separated list of warehouse, store, 3pl')
    .optional(),
  SYNCLINE_ROUTING_PRIORITIES: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+=\d+(,[A-Za-z0-9_.-]+=\d+)*$/, 'must look like WH-EAST=1,STORE-12=5')
    .optional(),
  SYNCLINE_RETURN_WINDOW_DAYS: integer(0, 3650).default(30),
  // The customer account view (docs/customers.md#account-view).
  SYNCLINE_ACCOUNT_BUDGET_MS: integer(20, 60_000).default(300),
  SYNCLINE_ACCOUNT_CACHE_TTL_MS: integer(0, 3_600_000).default(30_000),
  SYNCLINE_ACCOUNT_CACHE_MAX_AGE_MS: integer(0, 86_400_000).default(900_000),
  SYNCLINE_TARGET_POLICIES: z
    .string()
    .refine((text) => {
      try {
        const value: unknown = JSON.parse(text);
        return typeof value === 'object' && value !== null && !Array.isArray(value);
      } catch {
        return false;
      }
    }, 'must be a JSON object of target name to policy')
    .optional(),
  SYNCLINE_FLOW_BACKOFF_CAP_MS: integer(100, 3_600_000).default(60_000),
  // API governance (README: Authentication).
  SYNCLINE_CLIENT_RATE_LIMIT: integer(1, 100_000_000).default(60_000),
  SYNCLINE_CLIENT_RATE_WINDOW_SECONDS: integer(1, 3600).default(60),
  SYNCLINE_RATE_LIMIT_SYNC_MS: integer(20, 5000).default(200),
  SYNCLINE_AUTH_FAILURE_LIMIT: integer(1, 1_000_000).default(10),
  SYNCLINE_TRUST_PROXY: z
    .string()
    .regex(/^(true|\d{1,2}|[0-9a-fA-F:.\/]+(,[0-9a-fA-F:.\/]+)*)$/, 'must be true, a number of proxy hops, or a comma-separated list of proxy addresses or CIDR ranges')
    .optional(),
  // NATS JetStream (docs/runtime.md, Events on NATS JetStream).
  SYNCLINE_NATS_URL: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, 'must be a nats:// or tls:// URL (several comma-separated)')
    .optional(),
  SYNCLINE_NATS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of letters, digits, _ and -')
    .default('SYNCLINE'),
  SYNCLINE_NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated tokens of letters, digits, _ and -')
    .default('syncline'),
  SYNCLINE_NATS_TOKEN: z.string().min(1).optional(),
  SYNCLINE_NATS_USER: z.string().min(1).optional(),
  SYNCLINE_NATS_PASSWORD: z.string().min(1).optional(),
  SYNCLINE_NATS_CREDS_FILE: z.string().min(1).optional(),
  // Encryption at rest of customer personal data (docs/customers.md, Encryption at rest).
  SYNCLINE_CUSTOMER_KEYS: z.string().min(1).optional(),
  SYNCLINE_CUSTOMER_ACTIVE_KEY: z.string().min(1).optional(),
  SYNCLINE_CUSTOMER_INDEX_KEY: z.string().min(1).optional(),
});

/** Where and how outbox events are published to NATS JetStream (docs/runtime.md). */
export interface NatsSettings {
  /** Server URLs (SYNCLINE_NATS_URL, comma-separated). */
  servers: string[];
  /** JetStream stream name (SYNCLINE_NATS_STREAM, default: SYNCLINE). */
  stream: string;
  /** Subjects are `<prefix>.<event type>` (SYNCLINE_NATS_SUBJECT_PREFIX, default: syncline). */
  subjectPrefix: string;
  /** At most one of: a token, a user and password, a credentials file. Never logged. */
  auth: { token: string } | { user: string; password: string } | { credsFile: string } | undefined;
}

/** Real external systems Syncline is pointed at; a system left undefined is served by its sandbox. */
export interface ExternalSystems {
  /** Tryton (SYNCLINE_ERP_* or a `tryton` connection) or Business Central (a `business-central` connection). */
  erp?: BusinessCentralErpSettings | {
    url: string;
    database: string;
    login: string;
    password: string;
    /** SYNCLINE_ERP_CHARGE_PRODUCTS, e.g. shipping=SHIP,discount=DISC (default: the connector's, SHIP and DISC). */
    chargeProducts?: { shipping?: string | null; discount?: string | null };
    /** SYNCLINE_ERP_SHORT_STOCK: acknowledge | hold (default: acknowledge). */
    shortStock?: 'acknowledge' | 'hold';
    /** SYNCLINE_ERP_PAYMENT_TERM: the ERP's payment term id (default: the customer's). */
    paymentTermId?: number;
    /** SYNCLINE_ERP_PRICES_INCLUDE_TAX: auto | true | false (default: auto, see src/connectors/tryton/README.md). */
    pricesIncludeTax?: 'auto' | boolean;
    /** The ERP's warehouse location sales ship from (syncline.yaml `warehouse`; default: 5). */
    warehouseId?: number;
  };
  wms?: { url: string; webhookSecret: string };
  payment?: { url: string; apiKey: string };
  fraud?: { url: string };
  loyalty?: { url: string };
  /** The CRM (HubSpot): SYNCLINE_CRM_URL and SYNCLINE_CRM_TOKEN, or a `hubspot` connection. */
  crm?: HubspotSettings;
}

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  dbPoolSize: number;
  maxBodyBytes: number;
  tokenTtlSeconds: number;
  /** A console session ends after this many seconds without a request (SYNCLINE_CONSOLE_IDLE_SECONDS, default: 1800). */
  consoleIdleSeconds: number;
  /** How long a client may take to send a request's headers, in ms (SYNCLINE_HEADERS_TIMEOUT_MS, default: 10000). */
  headersTimeoutMs: number;
  /** How long a client may take to send a whole request, in ms (SYNCLINE_REQUEST_TIMEOUT_MS, default: 30000). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, in ms (SYNCLINE_KEEP_ALIVE_TIMEOUT_MS, default: 72000). */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed, in ms (SYNCLINE_IDLE_TIMEOUT_MS, default: 120000). */
  idleTimeoutMs: number;
  /** Longest request URL (path and query) answered; longer ones get 414, in bytes (SYNCLINE_MAX_URL_BYTES, default: 8192). */
  maxUrlBytes: number;
  /** Order intake statements in flight at once per process; each carries a batch of orders. */
  intakeWriters: number;
  /** Most orders written by one intake statement. */
  intakeBatchSize: number;
  /** Stock movement transactions in flight at once per API process, each on a connection of its own. */
  movementWriters: number;
  jwtSecret: string | undefined;
  bootstrapClient: { id: string; secret: string } | undefined;
  publicUrl: string | undefined;
  /** External systems from SYNCLINE_ERP_*, SYNCLINE_WMS_*, SYNCLINE_PAYMENT_*, SYNCLINE_FRAUD_URL, SYNCLINE_LOYALTY_URL (default: none, sandboxes). */
  systems: ExternalSystems;
  /**
   * `syncline start` runs the sandbox of every system left unset, in process (SYNCLINE_SANDBOXES, default: on);
   * erp on basePort, wms + 1, payment + 2, fraud + 3, loyalty + 4, crm + 7 (SYNCLINE_SANDBOX_BASE_PORT, default: 7100; 0: free ports).
   */
  sandboxes: { enabled: boolean; basePort: number };
  /** Jobs one worker process runs at once (SYNCLINE_WORKER_CONCURRENCY, default: 10). */
  workerConcurrency: number;
  /** How long a claimed job belongs to its worker before others may take it, in ms (SYNCLINE_WORKER_LEASE_MS, default: 30000). */
  workerLeaseMs: number;
  /** Fallback poll of idle workers, in ms (SYNCLINE_WORKER_POLL_MS, default: 1000). */
  workerPollMs: number;
  /**
   * Webhook subscriptions (docs/events.md): which networks a subscription URL may point to (SYNCLINE_WEBHOOK_NETWORKS:
   * public = public addresses over https only; loopback = that plus loopback over http or https; any = also private and
   * link-local addresses and plain http; default: loopback); a subscriber failing for longer than pauseAfterMs is paused
   * (SYNCLINE_WEBHOOK_PAUSE_AFTER_MS, default: 259200000, 3 days); retry delays before jitter, the last one repeating
   * (SYNCLINE_WEBHOOK_RETRY_SCHEDULE_MS, default: 5000,300000,1800000,7200000,18000000,36000000); one attempt's timeout
   * (SYNCLINE_WEBHOOK_TIMEOUT_MS, default: 10000); how long a subscriber's breaker stays open after 5 failures in a row
   * (SYNCLINE_WEBHOOK_BREAKER_COOLDOWN_MS, default: 60000).
   */
  webhooks: { networks: 'public' | 'loopback' | 'any'; pauseAfterMs: number; retryScheduleMs: number[]; timeoutMs: number; breakerCooldownMs: number };
  /** On SIGTERM, how long running jobs may take to finish, in ms (SYNCLINE_SHUTDOWN_GRACE_MS, default: 10000). */
  shutdownGraceMs: number;
  /** Modules that register job handlers, comma-separated paths (SYNCLINE_HANDLER_MODULES, default: none). */
  handlerModules: string[];
  /** How often expired inventory holds are released, in ms (default: 1000). */
  holdExpiryIntervalMs: number;
  /** Availability changes within this many ms coalesce into one event per SKU and channel (default: 250). */
  availabilityIntervalMs: number;
  /** Order routing: location kinds allowed, most preferred first, and priorities per location code (SYNCLINE_ROUTING_KINDS, SYNCLINE_ROUTING_PRIORITIES; default: warehouse,3pl,store and none). */
  routing: { kinds: ('warehouse' | 'store' | '3pl')[]; priorities: Record<string, number> };
  /** Days after shipment during which returns are accepted (SYNCLINE_RETURN_WINDOW_DAYS, default: 30). */
  returnWindowDays: number;
  /** Seconds between scheduled pulls of the CRM's contacts into customer records; 0: off (SYNCLINE_CRM_PULL_SECONDS, default: 900). */
  crmPullSeconds: number;
  /**
   * The customer account view: the latency budget of a view in ms (SYNCLINE_ACCOUNT_BUDGET_MS, default: 300); how long a
   * part fetched from a system is served again without asking it (SYNCLINE_ACCOUNT_CACHE_TTL_MS, default: 30000); the
   * oldest copy served when the system is slow or down (SYNCLINE_ACCOUNT_CACHE_MAX_AGE_MS, default: 900000).
   */
  accountView: { budgetMs: number; cacheTtlMs: number; cacheMaxAgeMs: number };
  /** Seconds between scheduled product catalogue syncs from the ERP; 0: only on demand (SYNCLINE_PRODUCT_SYNC_SECONDS, default: 900). */
  productSyncSeconds: number;
  /** Seconds between scheduled pulls of customer records (ERP parties, loyalty members); 0: only on demand (SYNCLINE_CUSTOMER_SYNC_SECONDS, default: 0). */
  customerSyncSeconds: number;
  /** Policies of the flows' targets (erp, wms, payment, fraud, loyalty, crm) as JSON (SYNCLINE_TARGET_POLICIES, default: built-in per target). */
  targetPolicies: Record<string, Record<string, unknown>>;
  /** Longest retry delay of flow jobs, in ms (SYNCLINE_FLOW_BACKOFF_CAP_MS, default: 60000). */
  flowBackoffCapMs: number;
  /** Requests per client per rate window unless the client has its own limit (SYNCLINE_CLIENT_RATE_LIMIT, default: 60000). */
  clientRateLimit: number;
  /** Length of the rate window in seconds (SYNCLINE_CLIENT_RATE_WINDOW_SECONDS, default: 60). */
  clientRateWindowSeconds: number;
  /** How often each API process shares its request counts, in ms (SYNCLINE_RATE_LIMIT_SYNC_MS, default: 200). */
  rateLimitSyncMs: number;
  /** Failed client authentications per minute, per client id and per address, before 429 (SYNCLINE_AUTH_FAILURE_LIMIT, default: 10). */
  authFailureLimit: number;
  /** Which proxies' X-Forwarded-For is believed for the client address (SYNCLINE_TRUST_PROXY, default: none). */
  trustProxy: boolean | number | string[];
  /** Publish every outbox event to NATS JetStream (SYNCLINE_NATS_*, default: off). */
  nats: NatsSettings | undefined;
  /**
   * The connections of syncline.yaml (SYNCLINE_CONFIG, else ./syncline.yaml; default: none) and where each
   * system kind's settings came from: `file`, `environment` (SYNCLINE_*_URL); a kind absent is served by its sandbox.
   */
  connections: ConnectionsFile & { systemSources: Partial<Record<SystemKind, 'file' | 'environment'>> };
  /** GET /metrics answers without a token (SYNCLINE_METRICS_PUBLIC=true, default: false: scope ops:read). */
  metricsPublic: boolean;
  /** Spans are exported over OTLP/HTTP to this collector (OTEL_EXPORTER_OTLP_ENDPOINT, default: none, nothing is exported). */
  otlpEndpoint: string | undefined;
  /**
   * Keys of customer personal data (SYNCLINE_CUSTOMER_KEYS `id=<base64 32 bytes>,...`, SYNCLINE_CUSTOMER_ACTIVE_KEY, default:
   * the only key; SYNCLINE_CUSTOMER_INDEX_KEY; default: none, keys generated into the data folder on first start). Never logged.
   */
  customerKeys: CustomerKeySettings | undefined;
}

/** Reads and validates configuration from environment variables and the connections file (syncline.yaml). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, registry: ConnectorRegistry = connectorRegistry()): Config {
  // Empty strings count as unset, as most shells and orchestrators produce them for "no value".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const value = present[name];
      const shown = value === undefined || /SECRET|URL|PASSWORD|KEY|NATS_TOKEN/.test(name) ? '' : ` (got "${value}")`;
      return `${name} ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (Boolean(e.SYNCLINE_BOOTSTRAP_CLIENT_ID) !== Boolean(e.SYNCLINE_BOOTSTRAP_CLIENT_SECRET)) {
    throw new ConfigError(
      'Invalid configuration: SYNCLINE_BOOTSTRAP_CLIENT_ID and SYNCLINE_BOOTSTRAP_CLIENT_SECRET must be set together',
    );
  }
  if (e.SYNCLINE_HEADERS_TIMEOUT_MS > e.SYNCLINE_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('Invalid configuration: SYNCLINE_HEADERS_TIMEOUT_MS must not be longer than SYNCLINE_REQUEST_TIMEOUT_MS');
  }
  const together = (names: string[]) => {
    const set = names.filter((name) => present[name] !== undefined);
    if (set.length > 0 && set.length < names.length) {
      throw new ConfigError(`Invalid configuration: ${names.join(', ')} must be set together (missing ${names.filter((n) => !set.includes(n)).join(', ')})`);
    }
  };
  together(['SYNCLINE_ERP_URL', 'SYNCLINE_ERP_DATABASE', 'SYNCLINE_ERP_LOGIN', 'SYNCLINE_ERP_PASSWORD']);
  together(['SYNCLINE_WMS_URL', 'SYNCLINE_WMS_WEBHOOK_SECRET']);
  together(['SYNCLINE_PAYMENT_URL', 'SYNCLINE_PAYMENT_API_KEY']);
  together(['SYNCLINE_CRM_URL', 'SYNCLINE_CRM_TOKEN']);
  together(['SYNCLINE_NATS_USER', 'SYNCLINE_NATS_PASSWORD']);
  const natsAuths = ['SYNCLINE_NATS_TOKEN', 'SYNCLINE_NATS_USER', 'SYNCLINE_NATS_CREDS_FILE'].filter((name) => present[name] !== undefined);
  if (natsAuths.length > 1) throw new ConfigError(`Invalid configuration: set only one NATS credential (got ${natsAuths.join(', ')})`);
  if (natsAuths.length > 0 && !e.SYNCLINE_NATS_URL) throw new ConfigError(`Invalid configuration: ${natsAuths[0]} is set but SYNCLINE_NATS_URL is not`);
  const customerKeys = parseCustomerKeySettings(e.SYNCLINE_CUSTOMER_KEYS, e.SYNCLINE_CUSTOMER_ACTIVE_KEY, e.SYNCLINE_CUSTOMER_INDEX_KEY);
  if (typeof customerKeys === 'string') throw new ConfigError(`Invalid configuration: ${customerKeys}`);
  const systems: ExternalSystems = {};
  if (e.SYNCLINE_ERP_URL && e.SYNCLINE_ERP_DATABASE && e.SYNCLINE_ERP_LOGIN && e.SYNCLINE_ERP_PASSWORD) {
    systems.erp = { url: e.SYNCLINE_ERP_URL, database: e.SYNCLINE_ERP_DATABASE, login: e.SYNCLINE_ERP_LOGIN, password: e.SYNCLINE_ERP_PASSWORD };
    if (e.SYNCLINE_ERP_CHARGE_PRODUCTS) {
      systems.erp.chargeProducts = Object.fromEntries(e.SYNCLINE_ERP_CHARGE_PRODUCTS.split(',').map((pair) => pair.split('=')).map(([charge, code]) => [charge, code || null]));
    }
    if (e.SYNCLINE_ERP_SHORT_STOCK) systems.erp.shortStock = e.SYNCLINE_ERP_SHORT_STOCK;
    if (e.SYNCLINE_ERP_PAYMENT_TERM) systems.erp.paymentTermId = e.SYNCLINE_ERP_PAYMENT_TERM;
    if (e.SYNCLINE_ERP_PRICES_INCLUDE_TAX) systems.erp.pricesIncludeTax = e.SYNCLINE_ERP_PRICES_INCLUDE_TAX === 'auto' ? 'auto' : e.SYNCLINE_ERP_PRICES_INCLUDE_TAX === 'true';
  }
  if (e.SYNCLINE_WMS_URL && e.SYNCLINE_WMS_WEBHOOK_SECRET) systems.wms = { url: e.SYNCLINE_WMS_URL, webhookSecret: e.SYNCLINE_WMS_WEBHOOK_SECRET };
  if (e.SYNCLINE_PAYMENT_URL && e.SYNCLINE_PAYMENT_API_KEY) systems.payment = { url: e.SYNCLINE_PAYMENT_URL, apiKey: e.SYNCLINE_PAYMENT_API_KEY };
  if (e.SYNCLINE_FRAUD_URL) systems.fraud = { url: e.SYNCLINE_FRAUD_URL };
  if (e.SYNCLINE_LOYALTY_URL) systems.loyalty = { url: e.SYNCLINE_LOYALTY_URL };
  if (e.SYNCLINE_CRM_URL && e.SYNCLINE_CRM_TOKEN) systems.crm = { url: e.SYNCLINE_CRM_URL, accessToken: e.SYNCLINE_CRM_TOKEN };
  const systemSources: Partial<Record<SystemKind, 'file' | 'environment'>> = Object.fromEntries(SYSTEM_KINDS.filter((k) => systems[k]).map((k) => [k, 'environment']));
  const targetPolicies = e.SYNCLINE_TARGET_POLICIES ? (JSON.parse(e.SYNCLINE_TARGET_POLICIES) as Record<string, Record<string, unknown>>) : {};
  const file: ConnectionsFile = { path: connectionsFilePath(present), connections: [] };
  if (file.path) {
    const checked = checkConnectionsFile(file.path, registry, present, SYSTEM_KINDS.filter((k) => systems[k]));
    if (checked.problems.length > 0) throw new ConfigError(`Invalid configuration in ${file.path}:\n  ${checked.problems.join('\n  ')}`);
    file.connections = checked.connections;
    file.erpRouting = checked.erpRouting;
    file.customers = checked.customers;
    // A system connection of the file stands where its SYNCLINE_*_URL variables would.
    for (const [kind, connection] of systemConnections(checked.connections, checked.erpRouting)) {
      (systems as Record<string, unknown>)[kind] = connection.options;
      systemSources[kind] = 'file';
      // The connector's own limits (Business Central's), then the file's, then SYNCLINE_TARGET_POLICIES.
      const defaults = registry.systems.get(connection.connector)?.defaultTargetPolicy;
      if (connection.limits || defaults) {
        const override = targetPolicies[kind] as TargetPolicy | undefined;
        const breaker = { ...defaults?.breaker, ...connection.limits?.breaker, ...override?.breaker };
        targetPolicies[kind] = { ...defaults, ...connection.limits, ...override, ...(Object.keys(breaker).length ? { breaker } : {}) };
      }
    }
  }
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.SYNCLINE_DATA_DIR),
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dbPoolSize: e.SYNCLINE_DB_POOL_SIZE,
    maxBodyBytes: e.SYNCLINE_MAX_BODY_BYTES,
    tokenTtlSeconds: e.SYNCLINE_TOKEN_TTL_SECONDS,
    consoleIdleSeconds: e.SYNCLINE_CONSOLE_IDLE_SECONDS,
    headersTimeoutMs: e.SYNCLINE_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.SYNCLINE_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: e.SYNCLINE_KEEP_ALIVE_TIMEOUT_MS,
    idleTimeoutMs: e.SYNCLINE_IDLE_TIMEOUT_MS,
    maxUrlBytes: e.SYNCLINE_MAX_URL_BYTES,
    intakeWriters: e.SYNCLINE_INTAKE_WRITERS,
    intakeBatchSize: e.SYNCLINE_INTAKE_BATCH_SIZE,
    movementWriters: e.SYNCLINE_MOVEMENT_WRITERS,
    jwtSecret: e.SYNCLINE_JWT_SECRET,
    bootstrapClient:
      e.SYNCLINE_BOOTSTRAP_CLIENT_ID && e.SYNCLINE_BOOTSTRAP_CLIENT_SECRET
        ? { id: e.SYNCLINE_BOOTSTRAP_CLIENT_ID, secret: e.SYNCLINE_BOOTSTRAP_CLIENT_SECRET }
        : undefined,
    publicUrl: e.SYNCLINE_PUBLIC_URL,
    systems,
    sandboxes: { enabled: e.SYNCLINE_SANDBOXES === 'on', basePort: e.SYNCLINE_SANDBOX_BASE_PORT },
    workerConcurrency: e.SYNCLINE_WORKER_CONCURRENCY,
    workerLeaseMs: e.SYNCLINE_WORKER_LEASE_MS,
    workerPollMs: e.SYNCLINE_WORKER_POLL_MS,
    webhooks: {
      networks: e.SYNCLINE_WEBHOOK_NETWORKS,
      pauseAfterMs: e.SYNCLINE_WEBHOOK_PAUSE_AFTER_MS,
      retryScheduleMs: e.SYNCLINE_WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number),
      timeoutMs: e.SYNCLINE_WEBHOOK_TIMEOUT_MS,
      breakerCooldownMs: e.SYNCLINE_WEBHOOK_BREAKER_COOLDOWN_MS,
    },
    shutdownGraceMs: e.SYNCLINE_SHUTDOWN_GRACE_MS,
    handlerModules: (e.SYNCLINE_HANDLER_MODULES ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean)
      .map((m) => resolve(m)),
    holdExpiryIntervalMs: e.SYNCLINE_HOLD_EXPIRY_INTERVAL_MS,
    availabilityIntervalMs: e.SYNCLINE_AVAILABILITY_INTERVAL_MS,
    routing: {
      kinds: e.SYNCLINE_ROUTING_KINDS ? (e.SYNCLINE_ROUTING_KINDS.split(',') as ('warehouse' | 'store' | '3pl')[]) : ['warehouse', '3pl', 'store'],
      priorities: Object.fromEntries((e.SYNCLINE_ROUTING_PRIORITIES ?? '').split(',').filter(Boolean).map((pair) => [pair.split('=')[0]!, Number(pair.split('=')[1])])),
    },
    returnWindowDays: e.SYNCLINE_RETURN_WINDOW_DAYS,
    accountView: { budgetMs: e.SYNCLINE_ACCOUNT_BUDGET_MS, cacheTtlMs: e.SYNCLINE_ACCOUNT_CACHE_TTL_MS, cacheMaxAgeMs: e.SYNCLINE_ACCOUNT_CACHE_MAX_AGE_MS },
    productSyncSeconds: e.SYNCLINE_PRODUCT_SYNC_SECONDS,
    crmPullSeconds: e.SYNCLINE_CRM_PULL_SECONDS,
    customerSyncSeconds: e.SYNCLINE_CUSTOMER_SYNC_SECONDS,
    targetPolicies,
    flowBackoffCapMs: e.SYNCLINE_FLOW_BACKOFF_CAP_MS,
    clientRateLimit: e.SYNCLINE_CLIENT_RATE_LIMIT,
    clientRateWindowSeconds: e.SYNCLINE_CLIENT_RATE_WINDOW_SECONDS,
    rateLimitSyncMs: e.SYNCLINE_RATE_LIMIT_SYNC_MS,
    authFailureLimit: e.SYNCLINE_AUTH_FAILURE_LIMIT,
    trustProxy:
      e.SYNCLINE_TRUST_PROXY === undefined ? false : e.SYNCLINE_TRUST_PROXY === 'true' ? true : /^\d+$/.test(e.SYNCLINE_TRUST_PROXY) ? Number(e.SYNCLINE_TRUST_PROXY) : e.SYNCLINE_TRUST_PROXY.split(','),
    nats: e.SYNCLINE_NATS_URL
      ? {
          servers: e.SYNCLINE_NATS_URL.split(','),
          stream: e.SYNCLINE_NATS_STREAM,
          subjectPrefix: e.SYNCLINE_NATS_SUBJECT_PREFIX,
          auth: e.SYNCLINE_NATS_TOKEN
            ? { token: e.SYNCLINE_NATS_TOKEN }
            : e.SYNCLINE_NATS_USER && e.SYNCLINE_NATS_PASSWORD
              ? { user: e.SYNCLINE_NATS_USER, password: e.SYNCLINE_NATS_PASSWORD }
              : e.SYNCLINE_NATS_CREDS_FILE
                ? { credsFile: resolve(e.SYNCLINE_NATS_CREDS_FILE) }
                : undefined,
        }
      : undefined,
    connections: { ...file, systemSources },
    metricsPublic: e.SYNCLINE_METRICS_PUBLIC === 'true',
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    customerKeys,
  };
}
