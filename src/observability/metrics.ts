import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Queryable } from '../store/database.ts';
import { listTargetStatus } from '../store/runtime/target-queries.ts';
import { clientRateCounts, deadLetterCounts, inventorySyncLag, latencyKpis, orderCounts, oversell, queueDepths } from '../store/metrics/kpi-queries.ts';

/**
 * The Prometheus metrics of a Syncline process (docs/metrics.md, docs/adr/0022). Counters and
 * histograms of this process (HTTP requests, job runs) are kept in memory; the queue, breaker,
 * dead-letter and business figures are read from the database at scrape time, so every
 * process reports the same shared state. Labels are codes and names (route templates,
 * statuses, lanes, targets, client ids), never personal data.
 */

const LANES = ['critical', 'normal', 'bulk'] as const;
const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

/** Request latency buckets (seconds). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class SynclineMetrics {
  readonly registry = new Registry();
  readonly #httpRequests = new Counter({ name: 'syncline_http_requests_total', help: 'HTTP requests answered, by method, route template and status code.', labelNames: ['method', 'route', 'status_code'], registers: [this.registry] });
  readonly #httpDuration = new Histogram({ name: 'syncline_http_request_duration_seconds', help: 'Time to answer an HTTP request, by method, route template and status code.', labelNames: ['method', 'route', 'status_code'], buckets: HTTP_BUCKETS, registers: [this.registry] });
  readonly #clientRequests = new Counter({ name: 'syncline_api_client_requests_total', help: 'Authenticated API requests by API client id.', labelNames: ['client_id'], registers: [this.registry] });
  // Job runs are tallied in a plain map and added to the counter when it is read: labelling a
  // prom-client counter hashes its labels, which cost more per run than a trivial job's work.
  readonly #jobRunTally = new Map<string, { succeeded: number; failed: number }>();
  readonly #jobRuns: Counter = new Counter({
    name: 'syncline_job_runs_total',
    help: 'Job runs finished in this process, by job type and outcome (succeeded, failed); a failed run is retried or dead-lettered.',
    labelNames: ['type', 'outcome'],
    registers: [this.registry],
    collect: () => this.#flushJobRuns(),
  });
  #db: Queryable | undefined;
  #clientLimit: (clientId: string) => number | undefined = () => undefined;
  // Reads the shared state into the gauges; run once per scrape, before rendering.
  readonly #collect: () => Promise<void>;

  constructor() {
    const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [this.registry] });
    const queueJobs = gauge('syncline_queue_jobs', 'Jobs in the queue by lane, target and state (waiting, running, retrying).', ['lane', 'target', 'state']);
    const queueAge = gauge('syncline_queue_oldest_job_age_seconds', 'Age of the oldest due job not yet started, by lane and target.', ['lane', 'target']);
    const deadLetters = gauge('syncline_dead_letters', 'Dead letters by status, reason (error code) and target.', ['status', 'reason', 'target']);
    const breaker = gauge('syncline_target_breaker_state', 'Circuit breaker state of each target: 1 for the current state, 0 for the others.', ['target', 'state']);
    const targetUse = gauge('syncline_target_rate_limit_usage_ratio', 'Calls in the last second over the rate limit of each target (0..1; absent when unlimited).', ['target']);
    const clientUse = gauge('syncline_api_client_rate_limit_usage_ratio', 'Requests in the current window over the rate limit of each API client (0..1).', ['client_id']);
    const orders = gauge('syncline_orders', 'Orders by status.', ['status']);
    const holds = gauge('syncline_order_exceptions', 'Orders held, waiting or in exception, by reason.', ['reason']);
    const latency = gauge('syncline_order_latency_seconds', 'Business latencies over the last hour by KPI (erp_posting, allocation, shipment_confirmation, refund_completion) and quantile (0.5, 0.95, 1).', ['kpi', 'quantile']);
    const latencyCount = gauge('syncline_order_latency_samples', 'Orders, shipments or returns measured by each latency KPI over the last hour.', ['kpi']);
    const oversold = gauge('syncline_inventory_oversold_balances', 'SKU and location balances whose reservations exceed what is on hand.', []);
    const oversoldUnits = gauge('syncline_inventory_oversold_units', 'Units reserved beyond what is on hand, over all balances.', []);
    const syncLag = gauge('syncline_inventory_sync_lag_seconds', 'Age of the oldest availability change not yet published to each channel (0 when current).', ['channel']);
    const syncPending = gauge('syncline_inventory_sync_pending_skus', 'SKUs whose availability changed after it was last published to each channel.', ['channel']);

    const collectAll = async () => {
      const db = this.#db;
      if (!db) return;
      const [queues, letters, targets, counts, latencies, over, lag, rates] = await Promise.all([
        queueDepths(db), deadLetterCounts(db), listTargetStatus(db), orderCounts(db), latencyKpis(db), oversell(db), inventorySyncLag(db), clientRateCounts(db),
      ]);
      for (const g of [queueJobs, queueAge, deadLetters, breaker, targetUse, clientUse, orders, holds, latency, latencyCount, syncLag, syncPending]) g.reset();
      for (const lane of LANES) queueAge.set({ lane, target: '' }, 0);
      for (const q of queues) {
        const lane = LANES[q.lane] ?? String(q.lane);
        queueJobs.set({ lane, target: q.target, state: 'waiting' }, q.waiting);
        queueJobs.set({ lane, target: q.target, state: 'running' }, q.running);
        queueJobs.set({ lane, target: q.target, state: 'retrying' }, q.retrying);
        queueAge.set({ lane, target: q.target }, q.oldest_seconds);
      }
      for (const d of letters) deadLetters.set({ status: d.status, reason: d.code, target: d.target }, d.count);
      for (const t of targets) {
        for (const state of BREAKER_STATES) breaker.set({ target: t.name, state }, t.breaker_state.replace('-', '_') === state ? 1 : 0);
        const limit = Number(t.policy.ratePerSecond ?? 0);
        if (limit > 0) targetUse.set({ target: t.name }, t.calls_last_second / limit);
      }
      for (const r of rates) {
        const limit = this.#clientLimit(r.client_id);
        if (limit && limit > 0) clientUse.set({ client_id: r.client_id }, r.count / limit);
      }
      for (const s of counts.statuses) orders.set({ status: s.status }, s.count);
      for (const h of counts.holds) holds.set({ reason: h.reason }, h.count);
      for (const l of latencies) {
        latencyCount.set({ kpi: l.kpi }, l.count);
        if (l.count === 0) continue;
        latency.set({ kpi: l.kpi, quantile: '0.5' }, l.p50 ?? 0);
        latency.set({ kpi: l.kpi, quantile: '0.95' }, l.p95 ?? 0);
        latency.set({ kpi: l.kpi, quantile: '1' }, l.max ?? 0);
      }
      oversold.set(over.balances);
      oversoldUnits.set(over.units);
      for (const c of lag) {
        syncLag.set({ channel: c.channel }, c.lag_seconds);
        syncPending.set({ channel: c.channel }, c.pending_skus);
      }
    };
    this.#collect = collectAll;
  }

  /** Reads shared state from this database at scrape time; `clientLimit` gives an API client's request limit per window. */
  attach(db: Queryable, clientLimit: (clientId: string) => number | undefined): void {
    this.#db = db;
    this.#clientLimit = clientLimit;
  }

  /** Records an answered HTTP request (route: the template, e.g. /v1/orders/:id; never the raw URL). */
  observeRequest(request: { method: string; route: string; statusCode: number; seconds: number; clientId?: string | undefined }): void {
    const labels = { method: request.method, route: request.route, status_code: String(request.statusCode) };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, request.seconds);
    if (request.clientId) this.#clientRequests.inc({ client_id: request.clientId });
  }

  /** Records a finished job run. */
  observeJobRun(type: string, outcome: 'succeeded' | 'failed'): void {
    let tally = this.#jobRunTally.get(type);
    if (!tally) this.#jobRunTally.set(type, (tally = { succeeded: 0, failed: 0 }));
    tally[outcome] += 1;
  }

  #flushJobRuns(): void {
    for (const [type, tally] of this.#jobRunTally) {
      if (tally.succeeded > 0) this.#jobRuns.inc({ type, outcome: 'succeeded' }, tally.succeeded);
      if (tally.failed > 0) this.#jobRuns.inc({ type, outcome: 'failed' }, tally.failed);
      tally.succeeded = 0;
      tally.failed = 0;
    }
  }

  /** The scrape: Prometheus text exposition format. */
  async render(): Promise<{ contentType: string; body: string }> {
    await this.#collect();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** This process's metrics (one registry per process, as Prometheus scrapes a process). */
export const metrics = new SynclineMetrics();
