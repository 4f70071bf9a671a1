import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { EVENT_TYPES } from '../model/cloud-event.ts';
import { sendIdempotent, type SendOutcome } from './idempotent-sender.ts';
import { allocationInWindow, runRehearsal, type FinishedRun, type Phase, type RehearsalContext, type RehearsalOptions, type ScenarioFindings } from './rehearsal-harness.ts';
import { percentile, type RehearsalCheck, type RehearsalReport, type Series } from './rehearsal-report.ts';

/**
 * The store-reconnect rehearsal: many stores come back online at once and flush the sales they
 * took offline as stock movements over the API (`POST /v1/inventory/movements`), every store at
 * the same time, each in batches under their own Idempotency-Key, some batches sent twice (a
 * re-send after a timeout while the first is still in flight, or after an answer that got lost),
 * while web orders keep coming. Checks: every movement applied exactly once (by its reference),
 * the final stock of every store and SKU as the arithmetic says, nothing negative, the last
 * availability published per SKU equal to the final stock, and web orders allocated as fast
 * during the flush as outside it (docs/rehearsals.md).
 */

export interface StoreReconnectOptions extends RehearsalOptions {
  /** Length of the web-order load in seconds; the stores reconnect at a quarter of it (default: 20). */
  durationSeconds?: number;
  /** Web orders per second during the whole load (default: 2). */
  baseRate?: number;
  /** Stores that come back online (default: 20). */
  stores?: number;
  /** Sales each store took offline (default: 100); every tenth is a return of one unit. */
  salesPerStore?: number;
  /** Offline transactions per request (default: 10). */
  batchSize?: number;
}

/** SKUs sold in the stores; the web orders want others, so the arithmetic per store is exact. */
export const POS_SKUS = Array.from({ length: 8 }, (_, i) => `POS-${i + 1}`);
/** Units of every POS SKU on each store's shelf before it went offline: more than its offline sales can take. */
export const SHELF_STOCK = 500;

export interface Batch {
  store: string;
  key: string;
  movements: { type: 'adjustment' | 'return'; sku: string; location: string; quantity: number; reason: string; reference: string }[];
  /** The sends of this batch: the first, and the duplicates a re-sending POS adds. */
  sends: SendOutcome[];
  /** When the POS first got its answer, in seconds since the load started. */
  answeredAt?: number;
}

/** A store's offline backlog: sales of one or two SKUs, one to three units each; every tenth a one-unit return. */
export function backlog(runId: string, store: string, sales: number, batchSize: number): Batch[] {
  const batches: Batch[] = [];
  for (let i = 0; i < sales; i += 1) {
    if (i % batchSize === 0) batches.push({ store, key: `${runId}-${store}-B${batches.length + 1}`, movements: [], sends: [] });
    const batch = batches.at(-1)!;
    const reference = `${runId}-${store}-T${i + 1}`;
    const seed = (i * 7 + store.length * 13 + Number(store.slice(-3))) % POS_SKUS.length;
    if (i % 10 === 9) {
      batch.movements.push({ type: 'return', sku: POS_SKUS[seed]!, location: store, quantity: 1, reason: 'offline return', reference });
      continue;
    }
    batch.movements.push({ type: 'adjustment', sku: POS_SKUS[seed]!, location: store, quantity: -(1 + (i % 3)), reason: 'offline sale', reference: `${reference}-1` });
    if (i % 2 === 0) batch.movements.push({ type: 'adjustment', sku: POS_SKUS[(seed + 3) % POS_SKUS.length]!, location: store, quantity: -1, reason: 'offline sale', reference: `${reference}-2` });
  }
  return batches;
}

/** Runs the store-reconnect rehearsal and writes its report under a new folder; returns the report and the folder. */
export function runStoreReconnect(base: Config, logger: Logger, options: StoreReconnectOptions = {}): Promise<{ report: RehearsalReport; folder: string }> {
  const duration = options.durationSeconds ?? 20;
  const baseRate = options.baseRate ?? 2;
  const reconnectAt = Math.max(1, duration / 4);
  const storeCount = options.stores ?? 20;
  const salesPerStore = options.salesPerStore ?? 100;
  const batchSize = options.batchSize ?? 10;
  const runId = randomBytes(3).toString('hex');
  const stores = Array.from({ length: storeCount }, (_, i) => `STORE-${String(i + 1).padStart(3, '0')}`);
  const batches = stores.flatMap((store) => backlog(runId, store, salesPerStore, batchSize));
  const phases: Phase[] = [
    { until: reconnectAt, rate: baseRate, name: 'stores offline' },
    { until: duration, rate: baseRate, name: 'stores back' },
  ];
  const flush: { startedAt?: number; endedAt?: number; running?: Promise<void> } = {};

  /** One store flushes its batches in order; every fifth batch of the run is re-sent at once (a timeout), every seventh again after its answer (a lost answer). */
  const flushStore = async (store: string, { api, now }: RehearsalContext) => {
    for (const batch of batches.filter((b) => b.store === store)) {
      const i = batches.indexOf(batch);
      const send = () => sendIdempotent(api, 'POST', '/v1/inventory/movements', { movements: batch.movements }, batch.key, { now });
      const first = i % 5 === 4 ? await Promise.all([send(), send()]) : [await send()];
      batch.answeredAt = now();
      batch.sends.push(...first);
      if (i % 7 === 6) batch.sends.push(await send());
    }
  };

  const onTick = async (t: number, context: RehearsalContext) => {
    if (flush.startedAt !== undefined || t < reconnectAt) return;
    flush.startedAt = t;
    flush.running = Promise.all(stores.map((store) => flushStore(store, context))).then(() => {
      flush.endedAt = context.now();
    });
  };

  const expected = expectedStock(stores, batches);

  /** The last availability published for each POS SKU over every channel's shared pool, after the flush began. */
  const lastPublished = async ({ running }: RehearsalContext, since: Date) =>
    new Map(
      (await running.db.query<{ sku: string; on_hand: number }>(
        `SELECT DISTINCT ON (data->>'sku') data->>'sku' AS sku, (data->>'onHand')::int AS on_hand FROM outbox_event
          WHERE type = $1 AND data->>'sku' = ANY($2) AND data->>'channel' IS NULL AND time >= $3 ORDER BY data->>'sku', time DESC, id DESC`,
        [EVENT_TYPES.inventoryAvailabilityChanged, POS_SKUS, since.toISOString()],
      )).rows.map((r) => [r.sku, Number(r.on_hand)]),
    );
  const pooled = (sku: string) => pooledStock(stores, expected, sku);
  let loadStartMs = 0;

  return runRehearsal(
    base,
    logger,
    {
      scenario: 'store-reconnect',
      phases,
      channels: ['shopify-us', 'woocommerce-eu'],
      hotSkus: ['WEB-1'],
      hotStock: 1_000_000,
      checkDrainRate: false,
      settings: { durationSeconds: duration, baseRate, reconnectAtSecond: reconnectAt, stores: storeCount, salesPerStore, batchSize, posSkus: POS_SKUS.length, shelfStock: SHELF_STOCK },
      async prepare({ api }) {
        for (const store of stores) {
          const made = await api('POST', '/v1/locations', { code: store, name: `Store ${store}`, kind: 'store' }, { 'idempotency-key': `${runId}-${store}` });
          if (made.status !== 201 && made.status !== 409) throw new Error(`creating store ${store}: ${made.status} ${JSON.stringify(made.body)}`);
        }
        const shelves = stores.flatMap((store) => POS_SKUS.map((sku) => ({ type: 'count', sku, location: store, quantity: SHELF_STOCK })));
        for (let i = 0; i < shelves.length; i += 1000) {
          const stocked = await api('POST', '/v1/inventory/movements', { movements: shelves.slice(i, i + 1000) }, { 'idempotency-key': `${runId}-shelves-${i}` });
          if (stocked.status !== 201) throw new Error(`stocking the stores: ${stocked.status} ${JSON.stringify(stocked.body)}`);
        }
        loadStartMs = Date.now();
      },
      onTick,
      describe: (t) => (flush.startedAt !== undefined && flush.endedAt === undefined ? `${phases.find((p) => t < p.until)?.name ?? 'drain'}, flushing` : undefined),
      async pending(context) {
        const unanswered = batches.filter((b) => b.answeredAt === undefined).length;
        if (flush.startedAt === undefined) return batches.length;
        if (unanswered > 0) return unanswered;
        // Flushed: wait until the last figure published for every SKU is the final one.
        const published = await lastPublished(context, new Date(loadStartMs));
        return POS_SKUS.filter((sku) => published.get(sku) !== pooled(sku)).length;
      },
      findings: async (context, run) => {
        await flush.running;
        const outcome: FlushOutcome = { stores, batches, expected, flush, published: await lastPublished(context, new Date(loadStartMs)) };
        return judgeFlush(run, outcome, await observe(context, outcome));
      },
    },
    options,
  );
}

/** Expected on hand per `store\nsku`: the shelf less the offline sales plus the offline returns. */
export function expectedStock(stores: string[], batches: Batch[]): Map<string, number> {
  const expected = new Map<string, number>();
  for (const store of stores) for (const sku of POS_SKUS) expected.set(`${store}\n${sku}`, SHELF_STOCK);
  for (const b of batches) for (const m of b.movements) expected.set(`${m.location}\n${m.sku}`, expected.get(`${m.location}\n${m.sku}`)! + m.quantity);
  return expected;
}

const pooledStock = (stores: string[], expected: Map<string, number>, sku: string) => stores.reduce((n, store) => n + expected.get(`${store}\n${sku}`)!, 0);

/** What the scenario did: the stores, their batches and how they were sent, the stock expected, the last availability published per SKU. */
export interface FlushOutcome {
  stores: string[];
  batches: Batch[];
  expected: Map<string, number>;
  flush: { startedAt?: number; endedAt?: number };
  published: Map<string, number>;
}

/** What Syncline holds once the run is over, read over its API. */
export interface FlushObservation {
  /** Ledger entries found per reference of the backlog (0: not applied). */
  ledger: Map<string, number>;
  /** On hand and available per `store\nsku`. */
  stock: Map<string, { onHand: number; available: number }>;
}

/** Reads back the ledger and the stock of every store over the API. */
async function observe({ api }: RehearsalContext, o: FlushOutcome): Promise<FlushObservation> {
  const ledger = new Map<string, number>();
  for (const b of o.batches) for (const m of b.movements) ledger.set(m.reference, 0);
  const stock = new Map<string, { onHand: number; available: number }>();
  for (const store of o.stores) {
    for (const sku of POS_SKUS) {
      let after: string | null = null;
      do {
        const page = await api('GET', `/v1/inventory/movements?sku=${sku}&location=${store}&limit=1000${after ? `&after=${after}` : ''}`);
        if (page.status !== 200) throw new Error(`reading the ledger of ${sku} at ${store}: ${page.status} ${JSON.stringify(page.body)}`);
        for (const entry of page.body.data as { reference: string | null }[]) {
          if (entry.reference !== null && ledger.has(entry.reference)) ledger.set(entry.reference, ledger.get(entry.reference)! + 1);
        }
        after = page.body.nextAfter;
      } while (after);
      const figure = (await api('GET', `/v1/inventory/availability?sku=${sku}&location=${store}`)).body as { onHand: number; available: number };
      stock.set(`${store}\n${sku}`, { onHand: figure.onHand, available: figure.available });
    }
  }
  return { ledger, stock };
}

/** The scenario's checks, series and figures from what it did and what Syncline holds. */
export function judgeFlush(run: FinishedRun, o: FlushOutcome, seen: FlushObservation): ScenarioFindings {
  // Every movement of the backlog must be in the ledger exactly once, found by its reference.
  const counts = o.batches.flatMap((b) => b.movements.map((m) => seen.ledger.get(m.reference) ?? 0));
  const missing = counts.filter((n) => n === 0).length;
  const doubled = counts.filter((n) => n > 1).reduce((n, c) => n + c - 1, 0);
  let negative = 0;
  const wrong: string[] = [];
  for (const [pair, wanted] of o.expected) {
    const figure = seen.stock.get(pair);
    if (figure && (figure.onHand < 0 || figure.available < 0)) negative += 1;
    if (figure?.onHand !== wanted) wrong.push(`${pair.replace('\n', '/')}: ${figure?.onHand ?? 'not read'}, expected ${wanted}`);
  }
  const wrongStock = wrong.length;
  const unpublished = POS_SKUS.filter((sku) => o.published.get(sku) !== pooledStock(o.stores, o.expected, sku));

  const sends = o.batches.flatMap((b) => b.sends);
  const attempts = sends.flatMap((s) => s.attempts);
  const latencies = attempts.filter((a) => a.status === 201).map((a) => a.ms);
  const unanswered = o.batches.filter((b) => !b.sends.some((s) => s.status === 201)).length;
  const movements = o.batches.reduce((n, b) => n + b.movements.length, 0);
  const flushSeconds = o.flush.startedAt !== undefined && o.flush.endedAt !== undefined ? o.flush.endedAt - o.flush.startedAt : null;
  // The flush, and the second after it while its availability is published.
  const inFlush = (t: number) => o.flush.startedAt !== undefined && t >= o.flush.startedAt && t < (o.flush.endedAt ?? Infinity) + 1;
  // Against the web orders before the flush: the ones just after it still wait behind its tail.
  const web = allocationInWindow(run, inFlush, (t) => o.flush.startedAt === undefined || t < o.flush.startedAt);

  const lastSecond = Math.ceil(Math.max(0, ...run.samples.map((s) => s.t)));
  const perSecond = (values: { t: number; n: number }[]): Series => {
    const by = new Map<number, number>();
    for (const v of values) by.set(Math.floor(v.t), (by.get(Math.floor(v.t)) ?? 0) + v.n);
    return Array.from({ length: lastSecond + 1 }, (_, t) => ({ t, value: by.get(t) ?? 0 }));
  };
  const firstApplied = o.batches.flatMap((b) => {
    const applied = b.sends.flatMap((s) => s.attempts).filter((a) => a.status === 201 && !a.replayed);
    return applied.length > 0 ? [{ t: applied[0]!.at + applied[0]!.ms / 1000, n: b.movements.length }] : [];
  });
  const requestP99: Series = Array.from({ length: lastSecond + 1 }, (_, t) => ({ t, value: percentile(attempts.filter((a) => Math.floor(a.at) === t).map((a) => a.ms), 99) }));

  const checks: RehearsalCheck[] = [
    { name: 'store movements not applied exactly once', ok: movements > 0 && missing === 0 && doubled === 0, value: missing + doubled, expected: `0 (of ${movements}, by reference: ${missing} missing, ${doubled} applied twice)` },
    { name: 'store batches never answered', ok: unanswered === 0, value: unanswered, expected: `0 (of ${o.batches.length})` },
    { name: 'store stock off the arithmetic', ok: wrongStock === 0, value: wrongStock, expected: `0 store/SKU pairs (shelf − offline sales + offline returns)${wrong.length ? `; first: ${wrong.slice(0, 5).join('; ')}` : ''}` },
    { name: 'negative on hand or availability', ok: negative === 0, value: negative, expected: '0 store/SKU pairs (no policy allows it)' },
    { name: 'availability published after the flush', ok: unpublished.length === 0, value: unpublished.length, expected: `0 SKUs whose last published pool differs from the final stock${unpublished.length ? ` (${unpublished.join(', ')})` : ''}` },
    {
      name: 'time to allocated p99 during the flush (ms)',
      ok: web.during.length > 0 && web.p99During <= web.p99Allowed,
      value: web.during.length > 0 ? web.p99During : -1,
      expected: `<= ${web.p99Allowed} (${run.p99Bound}, or 1.25 × the p99 before the flush if higher), over web orders submitted during the flush`,
    },
  ];
  return {
    checks,
    series: { storeMovementsAppliedPerSecond: perSecond(firstApplied), storeRequestP99Ms: requestP99 },
    figures: {
      stores: o.stores.length,
      batches: o.batches.length,
      movements,
      sends: sends.length,
      duplicateSends: sends.length - o.batches.length,
      attempts: attempts.length,
      answeredByStatus: Object.fromEntries([...new Set(attempts.map((a) => a.status))].map((s) => [String(s), attempts.filter((a) => a.status === s).length])),
      replays: attempts.filter((a) => a.replayed).length,
      flushSeconds: flushSeconds === null ? null : Number(flushSeconds.toFixed(1)),
      movementsPerSecond: flushSeconds ? Number((movements / flushSeconds).toFixed(1)) : null,
      requestLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(0, ...latencies), count: latencies.length },
      webOrdersDuringFlush: web.submittedInside,
      timeToAllocatedDuringFlushMs: { p50: percentile(web.during, 50), p99: web.p99During, count: web.during.length },
      timeToAllocatedBeforeFlushMs: { p50: percentile(web.outside, 50), p99: percentile(web.outside, 99), count: web.outside.length },
    },
  };
}
