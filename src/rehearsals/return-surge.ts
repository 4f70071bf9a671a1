import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { sandboxAdmin } from '../connectors/kit/sandbox-app.ts';
import { sendIdempotent, type SendOutcome } from './idempotent-sender.ts';
import {
  allocationInWindow,
  newSubmission,
  runRehearsal,
  submit,
  type FinishedRun,
  type Phase,
  type RehearsalContext,
  type RehearsalOptions,
  type ScenarioFindings,
  type Submission,
} from './rehearsal-harness.ts';
import { percentile, type RehearsalCheck, type RehearsalReport, type Series } from './rehearsal-report.ts';

/**
 * The return-surge rehearsal: the orders of a promotion are placed and shipped (the WMS sandbox
 * ships each one shortly after it is released), then returned all at once over the API
 * (`POST /v1/returns`): some in full, some in part, some in two parts, a share of them sent twice
 * under the same Idempotency-Key, into a few stores — while new orders keep coming. Checks: every
 * return processed exactly once, refunded by the payment sandbox at the expected amount, credited
 * once by the ERP (under its quota, the backlog drained), its resellable units back in the stores'
 * stock, none lost; new orders allocated as fast during the surge as outside it (docs/rehearsals.md).
 */

export interface ReturnSurgeOptions extends RehearsalOptions {
  /** Length of the new-order load in seconds; the returns arrive at a quarter of it (default: 20). */
  durationSeconds?: number;
  /** New orders per second during the whole load (default: 2). */
  baseRate?: number;
  /** Orders of the promotion, shipped before the load starts; three in four are returned (default: 40). */
  promotionOrders?: number;
}

/** One return as the returns desk sends it, and what it must come to. */
interface PlannedReturn {
  key: string;
  order: Submission;
  location: string;
  lines: { lineNumber: number; quantity: number; condition: 'resellable' | 'damaged' }[];
  /** Minor units (every line costs 10.00). */
  expectedRefund: number;
  sends: SendOutcome[];
  /** The return id of the first accepted send. */
  id?: string;
  answeredAt?: number;
}

const UNIT_MINOR = 1000;

/**
 * The returns of promotion order i: full (i % 4 = 0), one unit (1), full with the regular line
 * damaged (2), one unit twice as two returns (3); into one of the stores by turn.
 */
function planReturns(runId: string, orders: Submission[], stores: string[]): PlannedReturn[] {
  const planned: PlannedReturn[] = [];
  orders.forEach((order, i) => {
    const location = stores[i % stores.length]!;
    const add = (suffix: string, lines: PlannedReturn['lines']) =>
      planned.push({ key: `${runId}-R${i}${suffix}`, order, location, lines, expectedRefund: lines.reduce((n, l) => n + l.quantity * UNIT_MINOR, 0), sends: [] });
    const all = order.lines.map((l, n) => ({ lineNumber: n + 1, quantity: l.quantity }));
    const last = all.at(-1)!;
    switch (i % 4) {
      case 0:
        add('', all.map((l) => ({ ...l, condition: 'resellable' })));
        break;
      case 1:
        add('', [{ lineNumber: last.lineNumber, quantity: 1, condition: 'resellable' }]);
        break;
      case 2:
        add('', all.map((l) => ({ ...l, condition: l.lineNumber === last.lineNumber ? 'damaged' : 'resellable' })));
        break;
      default:
        add('a', [{ lineNumber: last.lineNumber, quantity: 1, condition: 'resellable' }]);
        if (last.quantity > 1) add('b', [{ lineNumber: last.lineNumber, quantity: 1, condition: 'resellable' }]);
    }
  });
  return planned;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the return-surge rehearsal and writes its report under a new folder; returns the report and the folder. */
export function runReturnSurge(base: Config, logger: Logger, options: ReturnSurgeOptions = {}): Promise<{ report: RehearsalReport; folder: string }> {
  const duration = options.durationSeconds ?? 20;
  const baseRate = options.baseRate ?? 2;
  const surgeAt = Math.max(1, duration / 4);
  const promotionOrders = options.promotionOrders ?? 40;
  const runId = randomBytes(3).toString('hex');
  const stores = [1, 2, 3].map((n) => `RS-${runId}-${n}`);
  const channels = ['shopify-us', 'shopify-ca', 'woocommerce-eu'];
  const hotSkus = ['PROMO-1', 'PROMO-2'];
  const phases: Phase[] = [
    { until: surgeAt, rate: baseRate, name: 'after the promotion' },
    { until: duration, rate: baseRate, name: 'returns' },
  ];
  const promotion: Submission[] = [];
  const shipped: Submission[] = [];
  let returns: PlannedReturn[] = [];
  const surge: { startedAt?: number; answeredAt?: number; finishedAt?: number; running?: Promise<void> } = {};
  const backlog: { t: number; value: number }[] = [];

  /** Accepted returns not completed and not stopped by an exception. */
  const unfinished = async ({ running }: RehearsalContext) => {
    const ids = returns.flatMap((r) => (r.id ? [r.id] : []));
    return Number((await running.db.query<{ n: string }>(`SELECT count(*) AS n FROM order_return WHERE id = ANY($1) AND status <> 'completed' AND exception IS NULL`, [ids])).rows[0]?.n ?? 0);
  };

  /** A return sent as a desk would: every third sent twice at once (a timeout), every fifth again after its answer. */
  const sendReturn = async (r: PlannedReturn, n: number, { api, now }: RehearsalContext) => {
    const body = { orderId: r.order.id, location: r.location, reason: 'promotion return', lines: r.lines };
    const send = () => sendIdempotent(api, 'POST', '/v1/returns', body, r.key, { now });
    const first = n % 3 === 2 ? await Promise.all([send(), send()]) : [await send()];
    r.answeredAt = now();
    r.sends.push(...first);
    r.id = r.sends.find((s) => s.status === 202)?.body?.id;
    if (n % 5 === 4) r.sends.push(await send());
  };

  return runRehearsal(
    base,
    logger,
    {
      scenario: 'return-surge',
      phases,
      channels,
      hotSkus,
      hotStock: 1_000_000,
      settings: { durationSeconds: duration, baseRate, surgeAtSecond: surgeAt, promotionOrders },
      async prepare(context) {
        const { api, running, sandboxUrls } = context;
        for (const store of stores) {
          const made = await api('POST', '/v1/locations', { code: store, name: `Returns store ${store}`, kind: 'store' }, { 'idempotency-key': `${runId}-${store}` });
          if (made.status !== 201) throw new Error(`creating store ${store}: ${made.status} ${JSON.stringify(made.body)}`);
        }
        // The WMS ships what it is sent shortly after, and tells Syncline by its signed webhook.
        await sandboxAdmin(sandboxUrls.wms).call('PUT', '/_sandbox/config', { callbackUrl: `${running.url}/webhooks/wms/default`, autoShipDelayMs: 200, webhookRetryDelayMs: 100 });
        const now = () => 0;
        for (let i = 0; i < promotionOrders; i += 1) promotion.push({ ...newSubmission(channels, hotSkus, i, 0), channelOrderId: `PROMO-${runId}-${i}` });
        for (let i = 0; i < promotion.length; i += 10) await Promise.all(promotion.slice(i, i + 10).map((s) => submit(api, s, now)));
        const ids = promotion.flatMap((s) => (s.id ? [s.id] : []));
        const deadline = Date.now() + (options.drainTimeoutSeconds ?? 300) * 1000;
        let completed = new Set<string>();
        while (Date.now() < deadline) {
          completed = new Set((await running.db.query<{ id: string }>(`SELECT id FROM sales_order WHERE id = ANY($1) AND status = 'completed'`, [ids])).rows.map((r) => r.id));
          options.onProgress?.(`promotion: ${completed.size} of ${promotion.length} orders shipped and completed`);
          if (completed.size === ids.length) break;
          await sleep(1000);
        }
        shipped.push(...promotion.filter((s) => completed.has(s.id ?? '')));
        returns = planReturns(runId, shipped, stores);
      },
      onTick: async (t, context) => {
        if (surge.startedAt === undefined && t >= surgeAt) {
          surge.startedAt = t;
          surge.running = Promise.all(returns.map((r, n) => sendReturn(r, n, context))).then(() => {
            surge.answeredAt = context.now();
          });
        }
        if (surge.startedAt !== undefined && (backlog.length === 0 || Math.floor(t) > backlog.at(-1)!.t)) {
          const left = returns.filter((r) => r.answeredAt === undefined).length + (await unfinished(context));
          backlog.push({ t: Math.floor(t), value: left });
          if (left === 0) surge.finishedAt ??= context.now();
        }
      },
      describe: (t) => (surge.startedAt !== undefined && surge.answeredAt === undefined ? `${phases.find((p) => t < p.until)?.name ?? 'drain'}, surging` : undefined),
      async pending(context) {
        if (surge.startedAt === undefined) return returns.length;
        const left = returns.filter((r) => r.answeredAt === undefined).length + (await unfinished(context));
        if (left === 0) surge.finishedAt ??= context.now();
        return left;
      },
      findings: async (context, run) => {
        await surge.running;
        return findings(context, run, { promotion, shipped, returns, stores, surge, backlog });
      },
    },
    options,
  );
}

interface Outcome {
  promotion: Submission[];
  shipped: Submission[];
  returns: PlannedReturn[];
  stores: string[];
  surge: { startedAt?: number; answeredAt?: number; finishedAt?: number };
  backlog: Series;
}

/** Reads back every return over the API and the payment and ERP sandboxes' own records, and states the checks. */
async function findings({ api, running, sandboxUrls }: RehearsalContext, run: FinishedRun, o: Outcome): Promise<ScenarioFindings> {
  const sends = o.returns.flatMap((r) => r.sends);
  const attempts = sends.flatMap((s) => s.attempts);
  // One return per key: every accepted send of a key names the same return, and the orders hold no other.
  const splitKeys = o.returns.filter((r) => new Set(r.sends.filter((s) => s.status === 202).map((s) => s.body?.id)).size > 1).length;
  const unanswered = o.returns.filter((r) => !r.id);
  const ids = o.returns.flatMap((r) => (r.id ? [r.id] : []));
  const stored = (await running.db.query<{ n: string }>('SELECT count(*) AS n FROM order_return WHERE order_id = ANY($1)', [o.shipped.map((s) => s.id)])).rows[0]?.n;
  const extraReturns = Number(stored ?? 0) - ids.length;

  const read = await Promise.all(ids.map(async (id) => (await api('GET', `/v1/returns/${id}`)).body as { id: string; status: string; refundAmount: string; createdAt: string; completedAt: string | null; exception: unknown }));
  const notCompleted = read.filter((r) => r.status !== 'completed');
  const toCompleted = read.filter((r) => r.completedAt).map((r) => Date.parse(r.completedAt!) - Date.parse(r.createdAt));

  // Refunds by the payment sandbox's own records, keyed by the return id.
  const payment = await sandboxAdmin(sandboxUrls.payment).call<{ refunds: { amount: number; metadata: Record<string, string> }[] }>('GET', '/_sandbox/state');
  const refunds = new Map<string, number[]>();
  for (const refund of payment.refunds) {
    const key = refund.metadata.refund_key;
    if (key) refunds.set(key, [...(refunds.get(key) ?? []), refund.amount]);
  }
  const wrongRefunds = o.returns.filter((r) => r.id && (refunds.get(r.id)?.length !== 1 || refunds.get(r.id)![0] !== r.expectedRefund)).length;
  const refunded = o.returns.reduce((n, r) => n + (r.id ? (refunds.get(r.id) ?? []).reduce((a, b) => a + b, 0) : 0), 0);
  const expectedRefunds = o.returns.filter((r) => r.id).reduce((n, r) => n + r.expectedRefund, 0);

  // Credit notes by the ERP's own records: one return sale per return, its invoice a credit.
  const erp = await sandboxAdmin(sandboxUrls.erp).call<{ sales: { reference: string; invoices: number[] }[]; invoices: { id: number; totalAmount: string }[] }>('GET', '/_sandbox/state');
  const credits = new Map(erp.invoices.map((i) => [i.id, i.totalAmount]));
  const wrongCredits = ids.filter((id) => {
    const sales = erp.sales.filter((s) => s.reference === id);
    return sales.length !== 1 || !sales[0]!.invoices.some((invoice) => credits.get(invoice)?.startsWith('-'));
  }).length;

  // Restocked: every store holds exactly the resellable units returned to it.
  const restock = new Map<string, number>();
  for (const r of o.returns.filter((x) => x.id)) {
    for (const l of r.lines.filter((x) => x.condition === 'resellable')) {
      const key = `${r.location}\n${r.order.lines[l.lineNumber - 1]!.sku}`;
      restock.set(key, (restock.get(key) ?? 0) + l.quantity);
    }
  }
  let wrongStock = 0;
  let restocked = 0;
  for (const [key, units] of restock) {
    const [store, sku] = key.split('\n') as [string, string];
    const onHand = ((await api('GET', `/v1/inventory/availability?sku=${sku}&location=${store}`)).body as { onHand: number }).onHand;
    restocked += onHand;
    if (onHand !== units) wrongStock += 1;
  }
  const expectedRestock = [...restock.values()].reduce((a, b) => a + b, 0);

  // The surge lasts until every return is completed: refunds and credit notes share the workers with new orders.
  const inSurge = (t: number) => o.surge.startedAt !== undefined && t >= o.surge.startedAt && t < (o.surge.finishedAt ?? Infinity);
  const web = allocationInWindow(run, inSurge, (t) => o.surge.startedAt === undefined || t < o.surge.startedAt);
  const acceptLatency = attempts.filter((a) => a.status === 202).map((a) => a.ms);

  const checks: RehearsalCheck[] = [
    { name: 'promotion orders shipped before the surge', ok: o.shipped.length === o.promotion.length && o.shipped.length > 0, value: o.shipped.length, expected: `${o.promotion.length} (every promotion order completed)` },
    { name: 'returns lost', ok: unanswered.length === 0 && notCompleted.length === 0, value: unanswered.length + notCompleted.length, expected: `0 (of ${o.returns.length}: ${unanswered.length} never accepted, ${notCompleted.length} not completed)` },
    { name: 'returns not processed exactly once', ok: splitKeys === 0 && extraReturns === 0, value: splitKeys + extraReturns, expected: '0 (one return per Idempotency-Key, no other return on the orders)' },
    { name: 'refunds off the expected amount', ok: wrongRefunds === 0, value: wrongRefunds, expected: `0 returns (one refund each, of its lines' price; ${refunded} of ${expectedRefunds} minor units refunded)` },
    { name: 'returns not credited once by the ERP', ok: wrongCredits === 0, value: wrongCredits, expected: '0 (one return sale with a credit note each, by the ERP sandbox)' },
    { name: 'restocked units off', ok: wrongStock === 0, value: wrongStock, expected: `0 store/SKU pairs (${restocked} on hand of ${expectedRestock} resellable units returned)` },
    {
      name: 'time to allocated p99 during the surge (ms)',
      ok: web.during.length > 0 && web.p99During <= web.p99Allowed,
      value: web.during.length > 0 ? web.p99During : -1,
      expected: `<= ${web.p99Allowed} (${run.p99Bound}, or 1.25 × the p99 before the surge if higher), over new orders submitted during the surge`,
    },
  ];
  return {
    checks,
    series: { returnsUnfinished: o.backlog },
    figures: {
      promotionOrders: o.promotion.length,
      promotionOrdersShipped: o.shipped.length,
      returns: o.returns.length,
      partialReturns: o.returns.filter((r) => r.lines.some((l) => l.quantity < r.order.lines[l.lineNumber - 1]!.quantity) || r.lines.length < r.order.lines.length).length,
      sends: sends.length,
      duplicateSends: sends.length - o.returns.length,
      attempts: attempts.length,
      answeredByStatus: Object.fromEntries([...new Set(attempts.map((a) => a.status))].map((s) => [String(s), attempts.filter((a) => a.status === s).length])),
      replays: attempts.filter((a) => a.replayed).length,
      refundedMinorUnits: refunded,
      restockedUnits: restocked,
      surgeFinishedAfterSeconds: o.surge.startedAt !== undefined && o.surge.finishedAt !== undefined ? Number((o.surge.finishedAt - o.surge.startedAt).toFixed(1)) : null,
      surgeAnsweredAfterSeconds: o.surge.startedAt !== undefined && o.surge.answeredAt !== undefined ? Number((o.surge.answeredAt - o.surge.startedAt).toFixed(1)) : null,
      returnAcceptanceMs: { p50: percentile(acceptLatency, 50), p99: percentile(acceptLatency, 99), count: acceptLatency.length },
      returnToCompletedMs: { p50: percentile(toCompleted, 50), p99: percentile(toCompleted, 99), max: Math.max(0, ...toCompleted), count: toCompleted.length },
      newOrdersDuringSurge: web.submittedInside,
      timeToAllocatedDuringSurgeMs: { p50: percentile(web.during, 50), p99: web.p99During, count: web.during.length },
      timeToAllocatedBeforeSurgeMs: { p50: percentile(web.outside, 50), p99: percentile(web.outside, 99), count: web.outside.length },
    },
  };
}
