import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { flowApi, flowEnvironment, startFlowRig, type FlowRig } from './support/flows.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './support/runtime.ts';

/**
 * A real `syncline worker` process is killed with SIGKILL while order flows are mid-way;
 * a new worker resumes them. Every step's effect exists once: one ERP sale, one payment
 * intent captured once, one fulfilment request, one reservation per order.
 */
const ORDERS = 30;

describe('worker killed mid-flow', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  const workers: WorkerProcess[] = [];
  before(async () => {
    // The API runs here; the flows run only in worker processes.
    rig = await startFlowRig({ inProcess: false });
    f = flowApi(rig);
    await f.location('WH-CRASH', 'warehouse');
    await f.stock([{ type: 'receipt', sku: 'MUG', location: 'WH-CRASH', quantity: 100 }]);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await rig?.close();
  });

  test('SIGKILL mid-flow, restart: every flow finishes and no step took effect twice', async () => {
    const { db } = rig.database;
    const env = flowEnvironment(rig.database, rig.sandboxes, { SYNCLINE_WORKER_CONCURRENCY: '6', SYNCLINE_WORKER_LEASE_MS: '2000' });
    // A slow ERP keeps many flows between steps when the worker dies.
    await sandboxAdmin(rig.sandboxes.urls.erp).setFaults({ latencyMs: 60 });
    const ids = await Promise.all(Array.from({ length: ORDERS }, () => f.submit({ lines: [{ sku: 'MUG', quantity: 1, unitPrice: '8.50' }], payments: [] })));

    const first = await spawnWorker(env);
    workers.push(first);
    const count = async (sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);
    await waitFor('some postings to be recorded', async () => (await count("SELECT count(*) AS n FROM flow_step WHERE step = 'erp.post'")) >= 5, 60_000, 20);
    await waitFor('the worker to hold leases', async () => (await count('SELECT count(*) AS n FROM runtime_job WHERE locked_by = $1', [first.workerId])) > 0, 10_000, 5);
    first.child.kill('SIGKILL');
    await first.exited;
    const released = await count("SELECT count(*) AS n FROM sales_order WHERE status = 'released'");
    const held = await count('SELECT count(*) AS n FROM runtime_job WHERE locked_by = $1', [first.workerId]);
    assert.ok(released < ORDERS, `killed mid-way (${released} of ${ORDERS} released)`);
    assert.ok(held > 0, 'the killed worker held jobs');

    const second = await spawnWorker(env);
    workers.push(second);
    await sandboxAdmin(rig.sandboxes.urls.erp).clearFaults();
    await waitFor('every order to be released', async () => (await count("SELECT count(*) AS n FROM sales_order WHERE status = 'released'")) === ORDERS, 90_000, 200);

    // One effect per step, in each system's own state.
    const erp = await f.erpState();
    assert.equal(erp.sales.length, ORDERS, 'one ERP sale per order');
    assert.equal(new Set(erp.sales.map((s: any) => s.reference)).size, ORDERS);
    const intents = (await f.paymentState()).paymentIntents;
    assert.equal(intents.length, ORDERS, 'one authorisation per order');
    assert.ok(intents.every((p: any) => p.status === 'succeeded' && p.amount_received === p.amount && p.amount_refunded === 0), 'each captured once, none refunded');
    for (const id of ids) assert.equal((await f.fulfilments(id)).length, 1, `one fulfilment request for ${id}`);
    assert.equal(rig.sandboxes.fraud.screenings.size, ORDERS, 'one screening per order');
    const reservations = await count("SELECT count(*) AS n FROM inventory_reservation WHERE status = 'active'");
    assert.equal(reservations, ORDERS, 'one reservation per order');
    assert.equal((await f.api('GET', '/v1/inventory/availability?sku=MUG&location=WH-CRASH')).body.reserved, ORDERS);
    // The step records and the timeline agree: each step succeeded once per order.
    assert.equal(await count("SELECT count(*) AS n FROM flow_step WHERE flow = 'order-placed'"), ORDERS * 7);
    const doubled = await count(
      `SELECT count(*) AS n FROM (SELECT order_id, action FROM order_timeline WHERE outcome = 'succeeded' AND action NOT LIKE 'loyalty%'
          GROUP BY order_id, action HAVING count(*) > 1) x`,
    );
    assert.equal(doubled, 0, 'no step succeeded twice');
    assert.equal(await count('SELECT count(*) AS n FROM runtime_dead_letter'), 0);

    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
