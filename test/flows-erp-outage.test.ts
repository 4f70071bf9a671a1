import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { flowApi, flowEnvironment, startFlowRig, type FlowRig } from './support/flows.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './support/runtime.ts';

/**
 * The ERP is down for a minute while 1,000 orders arrive over HTTP. Every order is
 * accepted, none is lost, each is posted to the ERP exactly once when it comes back, and
 * the ERP never receives more requests in a second than its quota (counted by the ERP
 * sandbox itself, refused requests included). FLOW_OUTAGE_ORDERS / FLOW_OUTAGE_MS shrink
 * it for a quick local run.
 */
const ORDERS = Number(process.env.FLOW_OUTAGE_ORDERS ?? 1000);
const OUTAGE_MS = Number(process.env.FLOW_OUTAGE_MS ?? 60_000);
/** Requests per second the ERP serves (its quota, enforced by the sandbox: 429 above it). */
const QUOTA = 100;
/** Statuses an order reaches once it was posted and released to the warehouse. */
const RELEASED_OR_BEYOND = ['released', 'partially_shipped', 'shipped', 'completed'];

describe('ERP outage', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let worker: WorkerProcess | undefined;
  before(async () => {
    // The API and the sandboxes run here, the flows in a worker process of their own: two cores, two processes.
    rig = await startFlowRig({ inProcess: false, env: { LOG_LEVEL: 'error' } });
    f = flowApi(rig);
    await f.location('WH-BULK', 'warehouse');
    await f.stock([{ type: 'receipt', sku: 'TEE-M', location: 'WH-BULK', quantity: ORDERS + 10 }]);
  });
  after(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker?.exited;
    await rig?.close();
  });

  test(`${ORDERS} orders while the ERP is down for ${OUTAGE_MS / 1000} s: all accepted, none lost, each posted once, never above the ERP's quota`, async () => {
    const { db } = rig.database;
    const count = async (sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);
    // Syncline's own limit is the ERP's quota, per HTTP request (a posting is about ten JSON-RPC requests).
    worker = await spawnWorker(
      flowEnvironment(rig.database, rig.sandboxes, {
        SYNCLINE_TARGET_POLICIES: JSON.stringify({ erp: { ratePerSecond: QUOTA, maxConcurrency: 8, breaker: { failureThreshold: 5, cooldownMs: 5000 } } }),
        SYNCLINE_WORKER_CONCURRENCY: '32',
      }),
    );
    const erp = sandboxAdmin(rig.sandboxes.urls.erp);
    await erp.setFaults({ down: true, quotaPerSecond: QUOTA });
    await erp.resetStats();
    const downAt = Date.now();

    // Orders arrive over most of the outage, ten at a time.
    const ids: string[] = [];
    const refused: number[] = [];
    const spreadMs = OUTAGE_MS * 0.75;
    for (let i = 0; i < ORDERS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, ORDERS - i) }, () =>
          submitOrder(rig.baseUrl, rig.token, sampleOrder({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] })),
        ),
      );
      for (const response of batch) {
        if (response.status === 201) ids.push(response.body.id as string);
        else refused.push(response.status);
      }
      const due = downAt + (spreadMs * (i + 10)) / ORDERS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    assert.deepEqual(refused, [], 'every order accepted with 201');
    assert.equal(new Set(ids).size, ORDERS);
    const submittedMs = Date.now() - downAt;
    assert.ok(submittedMs < OUTAGE_MS, `all orders arrived during the outage (${submittedMs} ms)`);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    // While it was down, the ERP recorded nothing and no order went past it.
    assert.equal((await f.erpState()).sales.length, 0);
    assert.equal(await count('SELECT count(*) AS n FROM sales_order WHERE status = ANY($1)', [RELEASED_OR_BEYOND]), 0);
    const waiting = await count("SELECT count(*) AS n FROM sales_order WHERE status = 'allocated'");
    await erp.setFaults({ quotaPerSecond: QUOTA });
    const upAt = Date.now();

    await waitFor(
      'every order to be released',
      async () => (await count('SELECT count(*) AS n FROM sales_order WHERE status = ANY($1)', [RELEASED_OR_BEYOND])) === ORDERS,
      Math.max(60_000, ORDERS * 300),
      500,
    );
    const drainSeconds = (Date.now() - upAt) / 1000;

    // Exactly once, by the ERP's own records: one sale per order, its external reference the order id.
    const state = await f.erpState();
    const perReference = new Map<string, number>();
    for (const sale of state.sales) perReference.set(sale.reference, (perReference.get(sale.reference) ?? 0) + 1);
    const notOnce = ids.filter((id) => perReference.get(id) !== 1);
    assert.deepEqual(notOnce.slice(0, 10), [], `${notOnce.length} orders not posted exactly once`);
    assert.equal(state.sales.length, ORDERS, 'no stray or duplicate sales');
    assert.ok(state.sales.every((s: any) => s.state === 'processing'), 'every sale confirmed and processing');

    // The quota, counted where it matters: every request the ERP received, refused ones included, per second.
    const stats = await erp.stats();
    const busiest = stats.perSecond.reduce((max, s) => Math.max(max, s.accepted + s.throttled + s.failed), 0);
    assert.ok(busiest <= QUOTA, `the ERP received ${busiest} requests in one second; its quota is ${QUOTA}`);
    assert.equal(stats.totals.throttled, 0, 'Syncline kept to the quota itself: the ERP never had to refuse a request');
    assert.ok(stats.totals.accepted >= ORDERS * 6, `each posting took its own requests (${stats.totals.accepted} in all)`);
    assert.equal(await count('SELECT count(*) AS n FROM runtime_dead_letter'), 0, 'nothing dead-lettered');
    console.log(
      JSON.stringify({
        orders: ORDERS,
        outageMs: OUTAGE_MS,
        submittedMs,
        waitingAtRecovery: waiting,
        drainSeconds,
        erpRequests: stats.totals,
        busiestSecond: busiest,
        maxAcceptedPerSecond: stats.maxAcceptedPerSecond,
        quota: QUOTA,
      }),
    );
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
  });
});
