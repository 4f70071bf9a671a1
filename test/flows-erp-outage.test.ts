import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * The ERP is down while orders keep arriving. The issue asks for 1,000 orders over a minute;
 * on the 2-core CI host the suite runs ORDERS (default 200) orders over about 10 s with the
 * ERP down for OUTAGE_MS (default 15 s). Set FLOW_OUTAGE_ORDERS / FLOW_OUTAGE_MS for the full size.
 */
const ORDERS = Number(process.env.FLOW_OUTAGE_ORDERS ?? 200);
const OUTAGE_MS = Number(process.env.FLOW_OUTAGE_MS ?? 15_000);
/** Requests per second the ERP accepts (its quota, enforced by the sandbox). */
const QUOTA = 100;
/** Postings per second Syncline allows itself; one posting is about seven JSON-RPC requests. */
const POSTINGS_PER_SECOND = 10;

describe('ERP outage', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    rig = await startFlowRig({
      env: {
        SYNCLINE_TARGET_POLICIES: JSON.stringify({ erp: { ratePerSecond: POSTINGS_PER_SECOND, maxConcurrency: 4, breaker: { failureThreshold: 5, cooldownMs: 2000 } } }),
        SYNCLINE_WORKER_CONCURRENCY: '16',
        LOG_LEVEL: 'error',
      },
    });
    f = flowApi(rig);
    await f.location('WH-BULK', 'warehouse');
    await f.stock([{ type: 'receipt', sku: 'TEE-M', location: 'WH-BULK', quantity: ORDERS + 10 }]);
  });
  after(async () => {
    await rig?.close();
  });

  test(`${ORDERS} orders while the ERP is down: all accepted, none lost, each posted once when it returns, within its quota`, async () => {
    const erp = sandboxAdmin(rig.sandboxes.urls.erp);
    await erp.setFaults({ down: true, quotaPerSecond: QUOTA });
    await erp.resetStats();
    const downAt = Date.now();

    const ids: string[] = [];
    const spread = Math.min(OUTAGE_MS * 0.7, 10_000);
    for (let i = 0; i < ORDERS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, ORDERS - i) }, () => f.submit({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] })),
      );
      ids.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, spread / (ORDERS / 10)));
    }
    assert.equal(new Set(ids).size, ORDERS, 'every order accepted');
    const stuck = await Promise.all(ids.slice(0, 20).map((id) => f.status(id)));
    assert.ok(stuck.every((s) => s === 'allocated'), `orders wait for the ERP after allocation: ${[...new Set(stuck)].join(', ')}`);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await erp.setFaults({ quotaPerSecond: QUOTA });
    const upAt = Date.now();

    const { db } = rig.database;
    await waitFor(
      'every order to be released',
      async () => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM sales_order WHERE status = 'released'")).rows[0]!.n) === ORDERS,
      ORDERS * 1000,
      500,
    );
    const drainSeconds = (Date.now() - upAt) / 1000;

    const state = await f.erpState();
    const perReference = new Map<string, number>();
    for (const sale of state.sales) perReference.set(sale.reference, (perReference.get(sale.reference) ?? 0) + 1);
    assert.equal(ids.filter((id) => perReference.get(id) === 1).length, ORDERS, 'each order posted exactly once');
    assert.equal(state.sales.length, ORDERS, 'no stray sales');

    const stats = await erp.stats();
    assert.ok(stats.maxAcceptedPerSecond <= QUOTA, `the ERP never served more than ${QUOTA} requests in a second (max ${stats.maxAcceptedPerSecond})`);
    // Syncline's own limit kept it under the quota: the sandbox hardly ever had to refuse.
    assert.ok(stats.totals.throttled <= stats.totals.accepted * 0.02, `quota refusals: ${stats.totals.throttled} of ${stats.totals.accepted}`);
    assert.equal(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime_dead_letter')).rows[0]!.n), 0, 'nothing dead-lettered');
    console.log(
      JSON.stringify({
        orders: ORDERS,
        outageMs: OUTAGE_MS,
        drainSeconds,
        erpRequests: stats.totals,
        maxAcceptedPerSecond: stats.maxAcceptedPerSecond,
        quota: QUOTA,
      }),
    );
  });
});
