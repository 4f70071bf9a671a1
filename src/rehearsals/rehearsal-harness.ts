import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { startSandboxes, type RunningSandboxes, type SandboxName } from '../connectors/sandboxes.ts';
import { sandboxAdmin } from '../connectors/kit/sandbox-app.ts';
import { FLOW_JOBS } from '../flows/flow-deps.ts';
import { relayLag, type RelayLagRow } from '../store/runtime/relay-cursor.ts';
import { startSyncline, type RunningSyncline } from '../syncline.ts';
import { percentile, writeReport, type RehearsalCheck, type RehearsalReport, type Series } from './rehearsal-report.ts';

/**
 * The harness every rehearsal runs in: it starts the sandboxes and Syncline in this process (on
 * the embedded PGlite in a fresh data folder, or on DATABASE_URL), stocks a warehouse, submits
 * orders over HTTP at the rates of the scenario's phases, samples the queues once a second, waits
 * for the ERP backlog to drain, reads back what happened and writes the report. A scenario file
 * holds only its plan: its phases, what it does to the sandboxes as the run goes, and its own
 * checks and series (docs/rehearsals.md).
 *
 * Glossary:
 * - phase: a stretch of the load at one rate of orders per second.
 * - drain: after the last order, until no order of the run waits for either part of its flow.
 * - drain start: the second from which the drain rate is measured (the end of the peak, or later
 *   when the scenario kept the ERP from working until then).
 */

/** Options every scenario takes. */
export interface RehearsalOptions {
  /** Where the report folder is made (default: ./rehearsals). */
  out?: string;
  /** Requests per second the ERP serves; Syncline's ERP limit is set to it (default: 40). */
  erpQuotaPerSecond?: number;
  /** How long the backlog may take to drain after the last order before the run gives up (default: 300 s). */
  drainTimeoutSeconds?: number;
  /** The p99 time from submission to `allocated` the run must keep (default: 2000 ms). */
  allocatedP99BoundMs?: number;
  /** A line of progress, about once a second. */
  onProgress?: (line: string) => void;
}

export interface Phase {
  /** Seconds since the load started at which the phase ends. */
  until: number;
  /** Orders per second. */
  rate: number;
  name: string;
}

/** What the harness hands a scenario while the run goes and when it is measured. */
export interface RehearsalContext {
  erp: ReturnType<typeof sandboxAdmin>;
  running: RunningSyncline;
  /** Syncline's API over HTTP, as the rehearsal's client (every scope). */
  api: Api;
  /** The sandboxes' base URLs (their admin APIs: `sandboxAdmin(url)`). */
  sandboxUrls: Record<SandboxName, string>;
  /** Seconds since the load started (negative while the scenario prepares). */
  now: () => number;
}

/** What a scenario adds to the report once the run is over. */
export interface ScenarioFindings {
  checks?: RehearsalCheck[];
  series?: Record<string, Series>;
  figures?: Record<string, unknown>;
}

/** One scenario: its load and what it does beyond it. */
export interface RehearsalPlan {
  scenario: string;
  phases: Phase[];
  /** When the drain rate starts to be measured, in seconds since the load started (default: the end of the phase named "peak"). */
  drainFrom?: number;
  channels: string[];
  hotSkus: string[];
  hotStock: number;
  /** Overrides of Syncline's ERP target policy (the quota is set by the harness). */
  erpPolicy?: Record<string, unknown>;
  settings: Record<string, unknown>;
  /** Called once the warehouse is stocked, before the load starts (and before the ERP's counts are reset). */
  prepare?: (context: RehearsalContext) => Promise<void>;
  /** The scenario's own work not done yet (0: none); the drain goes on until it is 0 too. */
  pending?: (context: RehearsalContext) => Promise<number>;
  /** Whether the drain rate is checked (default: true); false for a scenario that does not load the ERP. */
  checkDrainRate?: boolean;
  /** Called about ten times a second while the load runs and during the drain, with the seconds since the load started. */
  onTick?: (t: number, context: RehearsalContext) => Promise<void>;
  /** A word for the progress line at second t (default: the phase's name). */
  describe?: (t: number) => string | undefined;
  /** The scenario's own checks, series and figures, read once the run is over. */
  findings?: (context: RehearsalContext, run: FinishedRun) => Promise<ScenarioFindings>;
}

/** What the harness measured, for a scenario's findings. */
export interface FinishedRun {
  submissions: readonly Submission[];
  samples: readonly Sample[];
  /** Milliseconds from acceptance to allocation, by order id. */
  toAllocatedMs: ReadonlyMap<string, number>;
  /** The ERP's sales by their reference (the order id). */
  erpSalesByReference: ReadonlyMap<string, number>;
  /** Order status by id. */
  status: ReadonlyMap<string, string>;
  quota: number;
  p99Bound: number;
}

/**
 * Time to allocated of the orders submitted inside a window of the run against others (the
 * baseline: by default every order outside the window). The p99 inside is allowed the absolute
 * bound, or 1.25 × the baseline's p99 when that is higher (a busy host slows both alike; the
 * window must not slow its orders more).
 */
export function allocationInWindow(run: FinishedRun, inside: (t: number) => boolean, baseline: (t: number) => boolean = (t) => !inside(t)) {
  const accepted = run.submissions.filter((s) => s.id);
  const ms = (wanted: (t: number) => boolean) => accepted.filter((s) => wanted(s.submittedAt)).flatMap((s) => (run.toAllocatedMs.has(s.id!) ? [run.toAllocatedMs.get(s.id!)!] : []));
  const during = ms(inside);
  const outside = ms((t) => !inside(t) && baseline(t));
  return {
    submittedInside: accepted.filter((s) => inside(s.submittedAt)).length,
    during,
    outside,
    p99During: percentile(during, 99),
    p99Allowed: Math.max(run.p99Bound, Math.round(1.25 * percentile(outside, 99))),
  };
}

const WAREHOUSE = 'WH-FLASH';
const REGULAR_SKUS = ['REG-1', 'REG-2', 'REG-3', 'REG-4', 'REG-5'];
/** Statuses of an order that holds stock (reserved or shipped from it). */
const HOLDING = new Set(['allocated', 'released', 'partially_shipped', 'shipped', 'completed']);
/** Statuses of an order the ERP has been told of (its release posted the sale). */
export const RELEASED = new Set(['released', 'partially_shipped', 'shipped', 'completed']);

export interface Submission {
  channel: string;
  channelOrderId: string;
  lines: { sku: string; quantity: number; unitPrice: string }[];
  /** Seconds since the load started. */
  submittedAt: number;
  acceptedAt?: number;
  id?: string;
  refused?: number;
}

export interface Sample {
  t: number;
  erpBacklog: number;
  lanes: [number, number, number];
  /** The outbox relay at the sample (the embedded database has one session: no other writer to wait for). */
  relay: RelayLagRow;
  /** The rehearsal process since the previous sample: event-loop delay (p99, ms) and CPU used (% of one core). */
  process: ProcessLoad;
}

export interface ProcessLoad {
  eventLoopDelayP99Ms: number;
  cpuPercent: number;
  /** The whole host since the previous sample, % of all its cores (null where /proc/stat cannot be read). */
  hostCpuPercent: number | null;
  /** Most callers waiting for a database connection at once (sampled every 50 ms; PostgreSQL only). */
  poolWaitingMax: number;
}

/**
 * How busy the rehearsal's one process is, second by second. Sandboxes, load, API and workers
 * share it, so a latency that grows while its event loop is delayed or its CPU is near one core
 * is the process's saturation, not the path under test (docs/rehearsals.md).
 */
function processMeter(pool: () => { waiting: number } | undefined): { read(): ProcessLoad; stop(): void } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let poolWaitingMax = 0;
  const poller = setInterval(() => {
    poolWaitingMax = Math.max(poolWaitingMax, pool()?.waiting ?? 0);
  }, 50);
  poller.unref();
  let cpu = process.cpuUsage();
  let at = performance.now();
  let host = hostCpuTicks();
  return {
    read() {
      const used = process.cpuUsage(cpu);
      const now = performance.now();
      const hostNow = hostCpuTicks();
      const load = {
        eventLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
        cpuPercent: Math.round(((used.user + used.system) / 1000 / Math.max(1, now - at)) * 100),
        hostCpuPercent: host && hostNow && hostNow.total > host.total ? Math.round(((hostNow.busy - host.busy) / (hostNow.total - host.total)) * 100) : null,
        poolWaitingMax,
      };
      poolWaitingMax = 0;
      cpu = process.cpuUsage();
      host = hostNow;
      at = now;
      delay.reset();
      return load;
    },
    stop: () => {
      clearInterval(poller);
      delay.disable();
    },
  };
}

/** The host's CPU time so far from /proc/stat's first line, in ticks: busy (all but idle and iowait) and total. */
function hostCpuTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one scenario and writes report.json, report.html and the charts as SVG files under a new folder; returns the report and the folder. */
export async function runRehearsal(base: Config, logger: Logger, plan: RehearsalPlan, options: RehearsalOptions = {}): Promise<{ report: RehearsalReport; folder: string }> {
  const { channels, hotSkus, hotStock, phases } = plan;
  const quota = options.erpQuotaPerSecond ?? 40;
  const drainTimeoutSeconds = options.drainTimeoutSeconds ?? 300;
  const p99Bound = options.allocatedP99BoundMs ?? 2000;
  const progress = options.onProgress ?? (() => {});
  const startedAt = new Date();
  const folder = join(options.out ?? 'rehearsals', `${plan.scenario}-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(folder, { recursive: true });

  const sandboxes = await startSandboxes({
    products: [...hotSkus, ...REGULAR_SKUS].map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1_000_000 })),
  });
  let running: RunningSyncline | undefined;
  const meter = processMeter(() => running?.db.pool?.());
  try {
    const client = { id: `rehearsal-${randomBytes(4).toString('hex')}`, secret: randomBytes(24).toString('base64url') };
    const config: Config = {
      ...base,
      // The embedded database is a fresh one: a rehearsal never touches the data folder in use.
      dataDir: base.databaseUrl ? base.dataDir : mkdtempSync(join(tmpdir(), 'syncline-rehearsal-')),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
      bootstrapClient: client,
      sandboxes: { enabled: false, basePort: 0 },
      systems: sandboxes.settings,
      workerPollMs: Math.min(base.workerPollMs, 100),
      targetPolicies: { ...base.targetPolicies, erp: { ...base.targetPolicies.erp, ...plan.erpPolicy, ratePerSecond: quota } },
    };
    running = await startSyncline(config, logger, { api: true, workers: true });
    const api = apiClient(running.url!, client);
    await setUp(api, hotSkus, hotStock);
    const erp = sandboxAdmin(sandboxes.urls.erp);
    await erp.setFaults({ quotaPerSecond: quota });
    let loadStart = Date.now();
    const now = () => (Date.now() - loadStart) / 1000;
    const context: RehearsalContext = { erp, running, api, sandboxUrls: sandboxes.urls, now };
    if (plan.prepare) {
      progress('preparing the scenario');
      await plan.prepare(context);
    }
    await erp.resetStats();
    // The ERP sandbox keeps its per-second counts for 10 minutes: a longer run reads them every
    // minute so that the quota check and the chart cover the whole run.
    const erpSeconds = new Map<string, ErpSecond>();
    let erpReadAt = 0;
    const keepErpSeconds = async (force = false) => {
      if (!force && Date.now() - erpReadAt < 60_000) return;
      erpReadAt = Date.now();
      for (const entry of (await erp.stats()).perSecond) erpSeconds.set(entry.second, entry);
    };

    // The load, phase by phase; one tick per 100 ms submits what is due.
    const submissions: Submission[] = [];
    loadStart = Date.now();
    const peakEnd = phases.find((p) => p.name === 'peak')?.until ?? phases.at(-1)!.until;
    const due = (t: number) => {
      let n = 0;
      let from = 0;
      for (const p of phases) {
        n += p.rate * Math.max(0, Math.min(t, p.until) - from);
        from = p.until;
      }
      return Math.floor(n);
    };
    const phaseAt = (t: number) => plan.describe?.(t) ?? phases.find((p) => t < p.until)?.name ?? 'drain';
    const inFlight = new Set<Promise<void>>();
    const samples: Sample[] = [];
    meter.read();
    let nextSample = 0;
    let sequence = 0;
    const loadSeconds = phases.at(-1)!.until;
    while (now() < loadSeconds) {
      const t = now();
      await plan.onTick?.(t, context);
      while (submissions.length < due(t)) {
        const submission = newSubmission(channels, hotSkus, sequence++, t);
        submissions.push(submission);
        const sent = submit(api, submission, now).finally(() => inFlight.delete(sent));
        inFlight.add(sent);
      }
      if (t >= nextSample) {
        await keepErpSeconds();
        samples.push(await sample(running, t, meter));
        const s = samples.at(-1)!;
        progress(`t=${t.toFixed(0)}s ${phaseAt(t)} submitted=${submissions.length} accepted=${submissions.filter((x) => x.id).length} erp-backlog=${s.erpBacklog} queued=${s.lanes.join('/')} loop-p99=${s.process.eventLoopDelayP99Ms}ms cpu=${s.process.cpuPercent}% host-cpu=${s.process.hostCpuPercent ?? '-'}% db-waiting=${s.process.poolWaitingMax} relay-lag=${s.relay.lagMs}ms`);
        nextSample = Math.floor(t) + 1;
      }
      await sleep(100);
    }
    await Promise.all(inFlight);

    // The drain: until no order of the run waits for either part of its flow.
    const ids = submissions.flatMap((s) => (s.id ? [s.id] : []));
    let drainedAt: number | null = null;
    while (now() < loadSeconds + drainTimeoutSeconds) {
      await plan.onTick?.(now(), context);
      await keepErpSeconds();
      const s = await sample(running, now(), meter);
      samples.push(s);
      const waiting = await count(running, `SELECT count(*) AS n FROM sales_order WHERE id = ANY($1) AND status IN ('received', 'validated', 'allocated')`, [ids]);
      const pending = (await plan.pending?.(context)) ?? 0;
      progress(`t=${s.t.toFixed(0)}s ${phaseAt(s.t)} erp-backlog=${s.erpBacklog} waiting=${waiting}${plan.pending ? ` pending=${pending}` : ''} queued=${s.lanes.join('/')}`);
      if (waiting === 0 && s.erpBacklog === 0 && pending === 0) {
        drainedAt = s.t;
        break;
      }
      await sleep(1000);
    }

    await keepErpSeconds(true);
    const report = await measure(context, plan, {
      erpSeconds: [...erpSeconds.values()].sort((a, b) => Date.parse(a.second) - Date.parse(b.second)),
      startedAt,
      loadStart,
      submissions,
      samples,
      peakEnd,
      drainFrom: plan.drainFrom ?? peakEnd,
      drainedAt,
      quota,
      p99Bound,
      api,
      settings: { ...plan.settings, channels, hotSkus, hotStock, erpQuotaPerSecond: quota, drainTimeoutSeconds },
    });
    writeReport(folder, report);
    return { report, folder };
  } finally {
    meter.stop();
    await running?.close().catch(() => {});
    await sandboxes.close();
  }
}

/** Syncline's API as the rehearsal's client: status, parsed body, and whether the answer was an idempotent replay. */
export type Api = ReturnType<typeof apiClient>;

/** The API over HTTP with a client-credentials token, renewed when it is refused. */
function apiClient(baseUrl: string, client: { id: string; secret: string }) {
  let token: Promise<string> | undefined;
  const fetchToken = async () => {
    const response = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    if (response.status !== 200) throw new Error(`the rehearsal's client could not get a token: ${response.status}`);
    return ((await response.json()) as { access_token: string }).access_token;
  };
  const send = async (method: string, path: string, body: unknown, headers: Record<string, string>) => {
    const used = (token ??= fetchToken());
    const response = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${await used}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    // A refused token is dropped once, whoever saw the refusal first.
    if (response.status === 401 && token === used) token = undefined;
    return { status: response.status, body: text ? JSON.parse(text) : undefined, replayed: response.headers.get('idempotent-replayed') === 'true' };
  };
  // A token outlives a short run but not a full-length one: a request refused with 401 is sent
  // once more with a new token (an Idempotency-Key in the headers makes that safe for writes).
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; replayed: boolean }> => {
    const answer = await send(method, path, body, headers);
    return answer.status === 401 ? send(method, path, body, headers) : answer;
  };
}

async function setUp(api: Api, hotSkus: string[], hotStock: number): Promise<void> {
  const location = await api('POST', '/v1/locations', { code: WAREHOUSE, name: WAREHOUSE, kind: 'warehouse' }, { 'idempotency-key': randomUUID() });
  if (location.status !== 201 && location.status !== 409) throw new Error(`creating the rehearsal's warehouse: ${location.status} ${JSON.stringify(location.body)}`);
  const movements = [
    ...hotSkus.map((sku) => ({ type: 'receipt', sku, location: WAREHOUSE, quantity: hotStock })),
    ...REGULAR_SKUS.map((sku) => ({ type: 'receipt', sku, location: WAREHOUSE, quantity: 1_000_000 })),
  ];
  const stocked = await api('POST', '/v1/inventory/movements', { movements }, { 'idempotency-key': randomUUID() });
  if (stocked.status !== 201 && stocked.status !== 200) throw new Error(`stocking the rehearsal's warehouse: ${stocked.status} ${JSON.stringify(stocked.body)}`);
}

/** An order of one channel: one regular line, and every second order a hot SKU too. */
export function newSubmission(channels: string[], hotSkus: string[], n: number, t: number): Submission {
  const lines = [{ sku: REGULAR_SKUS[n % REGULAR_SKUS.length]!, quantity: 1 + (n % 2), unitPrice: '10.00' }];
  if (n % 2 === 0) lines.unshift({ sku: hotSkus[(n / 2) % hotSkus.length]!, quantity: 1, unitPrice: '10.00' });
  return { channel: channels[n % channels.length]!, channelOrderId: `FS-${n}-${randomUUID().slice(0, 8)}`, lines, submittedAt: t };
}

/** Submits one order, sent again with its Idempotency-Key after a failure (at most three tries). */
export async function submit(api: Api, s: Submission, now: () => number): Promise<void> {
  const key = randomUUID();
  const order = {
    channel: s.channel,
    channelOrderId: s.channelOrderId,
    placedAt: new Date().toISOString(),
    currency: 'USD',
    customer: { email: 'flash@example.com', name: 'Flash Buyer' },
    shippingAddress: { name: 'Flash Buyer', line1: '1 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' },
    lines: s.lines,
    payments: [],
  };
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      const response = await api('POST', '/v1/orders', order, { 'idempotency-key': key });
      if (response.status === 201 || response.status === 200) {
        s.id = response.body.id as string;
        s.acceptedAt = now();
        return;
      }
      s.refused = response.status;
      if (response.status < 500 && response.status !== 429) return;
    } catch {
      s.refused = 0;
    }
    await sleep(200 * attempt);
  }
}

async function count(running: RunningSyncline, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await running.db.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0);
}

/** The jobs that call the ERP: an order's release (the sale), its shipments and invoice, and returns (credit notes). */
const ERP_JOBS = [FLOW_JOBS.release, FLOW_JOBS.shipment, FLOW_JOBS.invoice, FLOW_JOBS.return];

async function sample(running: RunningSyncline, t: number, meter: { read(): ProcessLoad }): Promise<Sample> {
  const rows = (await running.db.query<{ lane: number; n: string; erp: string }>(
    `SELECT lane, count(*) AS n, count(*) FILTER (WHERE type = ANY($1)) AS erp FROM runtime_job GROUP BY lane`,
    [ERP_JOBS],
  )).rows;
  const lanes: [number, number, number] = [0, 0, 0];
  let erpBacklog = 0;
  for (const r of rows) {
    lanes[r.lane] = Number(r.n);
    erpBacklog += Number(r.erp);
  }
  return { t, erpBacklog, lanes, relay: await relayLag(running.db, 'default', { writers: running.db.kind !== 'pglite' }), process: meter.read() };
}

type ErpSecond = Awaited<ReturnType<ReturnType<typeof sandboxAdmin>['stats']>>['perSecond'][number];

interface MeasureInput {
  /** The ERP sandbox's requests per second over the whole run, oldest first. */
  erpSeconds: ErpSecond[];
  startedAt: Date;
  loadStart: number;
  submissions: Submission[];
  samples: Sample[];
  peakEnd: number;
  drainFrom: number;
  drainedAt: number | null;
  quota: number;
  p99Bound: number;
  api: Api;
  settings: Record<string, unknown>;
}

/** Reads back what happened to every submitted order and checks the invariants. */
async function measure(context: RehearsalContext, plan: RehearsalPlan, m: MeasureInput): Promise<RehearsalReport> {
  const { erp, running } = context;
  const { db } = running;
  const accepted = m.submissions.filter((s) => s.id);
  const ids = accepted.map((s) => s.id!);
  const second = (ms: number) => Math.floor((ms - m.loadStart) / 1000);

  // Lost: acknowledged but not stored. Doubled: one channel order stored twice, or posted twice to the ERP.
  const stored = (await db.query<{ id: string; channel: string; channel_order_id: string; status: string }>(
    'SELECT id, channel, channel_order_id, status FROM sales_order WHERE channel_order_id = ANY($1)',
    [m.submissions.map((s) => s.channelOrderId)],
  )).rows;
  const storedIds = new Set(stored.map((r) => r.id));
  const lostOrders = ids.filter((id) => !storedIds.has(id)).length;
  const perChannelOrder = new Map<string, number>();
  for (const r of stored) perChannelOrder.set(`${r.channel}\n${r.channel_order_id}`, (perChannelOrder.get(`${r.channel}\n${r.channel_order_id}`) ?? 0) + 1);
  const erpState = await erp.call<{ sales: { reference: string }[] }>('GET', '/_sandbox/state');
  const perReference = new Map<string, number>();
  for (const sale of erpState.sales) perReference.set(sale.reference, (perReference.get(sale.reference) ?? 0) + 1);
  const doubledOrders =
    [...perChannelOrder.values()].reduce((n, c) => n + Math.max(0, c - 1), 0) + ids.reduce((n, id) => n + Math.max(0, (perReference.get(id) ?? 0) - 1), 0);

  // Oversold: units held by orders beyond the stock, and reservations beyond what is on hand.
  const status = new Map(stored.map((r) => [r.id, r.status]));
  let oversoldUnits = 0;
  for (const sku of plan.hotSkus) {
    const held = accepted.filter((s) => HOLDING.has(status.get(s.id!) ?? '')).reduce((n, s) => n + s.lines.filter((l) => l.sku === sku).reduce((q, l) => q + l.quantity, 0), 0);
    oversoldUnits += Math.max(0, held - plan.hotStock);
    const read = await m.api('GET', `/v1/inventory/availability?sku=${sku}&location=${WAREHOUSE}`);
    if (read.status !== 200) throw new Error(`the availability of ${sku} could not be read back: ${read.status} ${JSON.stringify(read.body)}`);
    const figure = read.body as { onHand: number; reserved: number };
    oversoldUnits += Math.max(0, figure.reserved - figure.onHand);
  }

  const timeline = (await db.query<{ order_id: string; received: Date | null; allocated: Date | null }>(
    `SELECT o.id AS order_id, o.created_at AS received, min(t.at) AS allocated
       FROM sales_order o JOIN order_timeline t ON t.order_id = o.id AND t.action = 'inventory.allocate' AND t.outcome = 'succeeded'
      WHERE o.id = ANY($1) GROUP BY o.id, o.created_at`,
    [ids],
  )).rows;
  const toAllocatedMs = new Map(timeline.filter((r) => r.received && r.allocated).map((r) => [r.order_id, new Date(r.allocated!).getTime() - new Date(r.received!).getTime()]));
  const toAllocated = [...toAllocatedMs.values()];

  const stats = { perSecond: m.erpSeconds };
  const erpRequestsPerSecond: Series = stats.perSecond.map((s) => ({ t: second(Date.parse(s.second)), value: s.accepted + s.throttled + s.failed })).filter((p) => p.t >= 0);
  const quotaExceededSeconds = erpRequestsPerSecond.filter((p) => p.value > m.quota).length;
  // Whole seconds strictly between the end of the peak and the drain in which postings waited for
  // the ERP (sampled backlog above 0): an ERP idle for want of work is not a slow drain.
  const drainEnd = m.drainedAt ?? Infinity;
  const backlogged = new Set(m.samples.filter((x) => x.erpBacklog > 0).map((x) => Math.floor(x.t)));
  const drainSeconds = stats.perSecond.filter((s) => {
    const t = second(Date.parse(s.second));
    return t > m.drainFrom && t < Math.floor(drainEnd) - 1 && backlogged.has(t);
  });
  const drainRatio = drainSeconds.length > 0 ? drainSeconds.reduce((n, s) => n + s.accepted, 0) / (drainSeconds.length * m.quota) : 1;

  const acceptedPerSecond = new Map<number, number>();
  for (const s of accepted) acceptedPerSecond.set(Math.floor(s.acceptedAt!), (acceptedPerSecond.get(Math.floor(s.acceptedAt!)) ?? 0) + 1);
  const lastSecond = Math.ceil(Math.max(...m.samples.map((s) => s.t), 0));
  const availability = new Map(
    (await db.query<{ s: string; n: string }>(
      `SELECT floor(extract(epoch FROM time))::bigint AS s, count(*) AS n FROM outbox_event
        WHERE type = 'inventory.availability.changed' AND time >= $1 GROUP BY 1`,
      [new Date(m.loadStart).toISOString()],
    )).rows.map((r) => [second(Number(r.s) * 1000), Number(r.n)]),
  );
  const deadLetters = Object.fromEntries(
    (await db.query<{ error_code: string; n: string }>('SELECT error_code, count(*) AS n FROM runtime_dead_letter GROUP BY error_code')).rows.map((r) => [r.error_code, Number(r.n)]),
  );
  const exceptions = Object.fromEntries(
    (await db.query<{ kind: string; n: string }>(
      `SELECT coalesce(f.hold_reason->>'kind', 'none') AS kind, count(*) AS n FROM sales_order o JOIN order_flow f ON f.order_id = o.id
        WHERE o.id = ANY($1) AND o.status = 'on_hold' GROUP BY 1`,
      [ids],
    )).rows.map((r) => [r.kind, Number(r.n)]),
  );

  const by = (wanted: string) => stored.filter((r) => r.status === wanted).length;
  const released = stored.filter((r) => RELEASED.has(r.status)).length;
  const p99 = percentile(toAllocated, 99);
  const drainedAfterSeconds = m.drainedAt === null ? null : Math.max(0, Number((m.drainedAt - m.peakEnd).toFixed(1)));
  const checks: RehearsalCheck[] = [
    { name: 'oversold units', ok: oversoldUnits === 0, value: oversoldUnits, expected: '0' },
    { name: 'orders lost', ok: lostOrders === 0, value: lostOrders, expected: '0' },
    { name: 'orders doubled', ok: doubledOrders === 0, value: doubledOrders, expected: '0' },
    { name: 'seconds above the ERP quota', ok: quotaExceededSeconds === 0, value: quotaExceededSeconds, expected: '0' },
    { name: 'backlog drained', ok: m.drainedAt !== null, value: drainedAfterSeconds ?? -1, expected: 'seconds after the peak, within the drain timeout' },
    { name: 'time to allocated p99 (ms)', ok: p99 <= m.p99Bound, value: p99, expected: `<= ${m.p99Bound}` },
  ];
  if (plan.checkDrainRate !== false) checks.push({ name: 'drain rate over the ERP quota', ok: drainRatio >= 0.8, value: Number(drainRatio.toFixed(2)), expected: '>= 0.8 (the target is 0.95)' });
  const findings = (await plan.findings?.(context, { submissions: m.submissions, samples: m.samples, toAllocatedMs, erpSalesByReference: perReference, status, quota: m.quota, p99Bound: m.p99Bound })) ?? {};
  checks.push(...(findings.checks ?? []));
  return {
    scenario: plan.scenario,
    startedAt: m.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    database: db.kind === 'pglite' ? 'pglite' : 'postgres',
    settings: m.settings,
    orders: {
      submitted: m.submissions.length,
      accepted: accepted.length,
      refused: m.submissions.length - accepted.length,
      released,
      backordered: by('pending_allocation'),
      onHold: by('on_hold'),
      other: stored.length - released - by('pending_allocation') - by('on_hold'),
    },
    timeToAllocatedMs: { p50: percentile(toAllocated, 50), p99, max: Math.max(0, ...toAllocated), count: toAllocated.length },
    drainedAfterSeconds,
    oversoldUnits,
    lostOrders,
    doubledOrders,
    quotaExceededSeconds,
    drainRatio: Number(drainRatio.toFixed(3)),
    deadLetters,
    exceptions,
    series: {
      acceptedPerSecond: Array.from({ length: lastSecond + 1 }, (_, t) => ({ t, value: acceptedPerSecond.get(t) ?? 0 })),
      erpBacklog: m.samples.map((s) => ({ t: Math.round(s.t), value: s.erpBacklog })),
      erpRequestsPerSecond,
      availabilityEventsPerSecond: Array.from({ length: lastSecond + 1 }, (_, t) => ({ t, value: availability.get(t) ?? 0 })),
      jobsQueued: m.samples.map((s) => ({ t: Math.round(s.t), critical: s.lanes[0], normal: s.lanes[1], bulk: s.lanes[2] })),
      processLoad: m.samples.map((s) => ({ t: Math.round(s.t), ...s.process })),
      relayLag: m.samples.map((s) => ({ t: Math.round(s.t), ...s.relay })),
      ...(findings.series ? { scenario: findings.series } : {}),
    },
    ...(findings.figures ? { figures: findings.figures } : {}),
    checks,
    passed: checks.every((c) => c.ok),
  };
}
