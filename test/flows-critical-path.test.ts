import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * The critical path never waits on the ERP (ADR 0019). The ERP serves QUOTA requests a second
 * (enforced by its sandbox, and Syncline's own limit for it); BACKLOG orders are allocated and
 * queued for it. A new order is still validated, screened, authorised and reserved within a
 * bound, its availability is announced before its ERP posting, and the backlog drains at the
 * quota meanwhile, every order posted once.
 */
const QUOTA = 20;
const BACKLOG = Number(process.env.FLOW_BACKLOG_ORDERS ?? 60);
const ALLOCATED_WITHIN_MS = 2000;

describe('the critical path never waits on the ERP', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    rig = await startFlowRig({
      env: {
        LOG_LEVEL: 'error',
        SYNCLINE_TARGET_POLICIES: JSON.stringify({ erp: { ratePerSecond: QUOTA } }),
      },
    });
    f = flowApi(rig);
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: BACKLOG + 10 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 5 },
    ]);
  });
  after(async () => {
    await rig?.close();
  });

  test(`with ${BACKLOG} orders queued for an ERP at ${QUOTA} requests/s, a new order is allocated within ${ALLOCATED_WITHIN_MS} ms and announced before its posting`, async () => {
    const { db } = rig.database;
    const erp = sandboxAdmin(rig.sandboxes.urls.erp);
    await erp.setFaults({ quotaPerSecond: QUOTA });
    await erp.resetStats();
    const statuses = async (ids: string[]) => {
      const rows = (await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM sales_order WHERE id = ANY($1) GROUP BY status', [ids])).rows;
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    };

    const backlog: string[] = [];
    for (let i = 0; i < BACKLOG; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, BACKLOG - i) }, () =>
          submitOrder(rig.baseUrl, rig.token, sampleOrder({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] })),
        ),
      );
      for (const r of batch) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        backlog.push(r.body.id as string);
      }
    }
    // The customer-facing part does not wait for the ERP: the whole backlog is allocated while most of it waits for its posting.
    await waitFor('the backlog to be allocated', async () => ((await statuses(backlog)).received ?? 0) + ((await statuses(backlog)).validated ?? 0) === 0, 30_000, 50);
    const before = await statuses(backlog);
    assert.ok((before.allocated ?? 0) >= BACKLOG / 2, `the backlog waits for the ERP: ${JSON.stringify(before)}`);

    const submittedAt = Date.now();
    const probe = await submitOrder(rig.baseUrl, rig.token, sampleOrder({ lines: [{ sku: 'MUG', quantity: 1, unitPrice: '12.50' }], payments: [] }));
    assert.equal(probe.status, 201);
    const probeId = probe.body.id as string;
    await waitFor('the new order to be allocated', async () => ['allocated', 'released'].includes(await f.status(probeId)), 10_000, 20);
    const allocatedAfterMs = Date.now() - submittedAt;
    const during = await statuses(backlog);
    const steps = async () =>
      (await f.timeline(probeId)).map((e) => `${e.action} +${Date.parse((e as unknown as { at: string }).at) - submittedAt} ms (${e.durationMs ?? '-'} ms)`).join(', ');
    assert.ok(allocatedAfterMs < ALLOCATED_WITHIN_MS, `allocated ${allocatedAfterMs} ms after it was submitted: ${await steps()}`);
    assert.ok((during.allocated ?? 0) > 0, `the backlog was still draining when the new order was allocated: ${JSON.stringify(during)}`);

    // An order cancelled while it waits for the back office: its back-office job stops before the ERP, and the customer-facing part is undone.
    const waiting = (await db.query<{ id: string }>("SELECT id FROM sales_order WHERE id = ANY($1) AND status = 'allocated' ORDER BY id DESC LIMIT 1", [backlog])).rows[0]!.id;
    const cancellation = await f.cancelAndWait(waiting);
    assert.equal(cancellation.status, 'completed');
    const undone = cancellation.report.compensated.map((c: { step: string }) => c.step);
    assert.deepEqual(undone, ['inventory.allocate', 'payment.authorize'], `compensated: ${JSON.stringify(cancellation.report)}`);
    backlog.splice(backlog.indexOf(waiting), 1);

    // Its reservation is announced to the channels before the ERP hears of it.
    let announced: Date | undefined;
    await waitFor(
      "the new order's availability event",
      async () => {
        const sql = "SELECT time FROM outbox_event WHERE type = 'inventory.availability.changed' AND subject = 'MUG' AND (data->>'reserved')::int >= 1 ORDER BY position LIMIT 1";
        announced = (await db.query<{ time: Date }>(sql)).rows[0]?.time;
        return announced !== undefined;
      },
      5000,
      50,
    );
    await waitFor('every order to be released', async () => ((await statuses([...backlog, probeId])).released ?? 0) === backlog.length + 1, BACKLOG * 2000, 250);
    const drainedAfterMs = Date.now() - submittedAt;
    const timeline = await f.timeline(probeId);
    const at = (action: string) => {
      const entry = (timeline as { action: string; outcome: string; at?: string }[]).find((e) => e.action === action && e.outcome === 'succeeded');
      assert.ok(entry, `timeline has ${action}: ${timeline.map((e) => e.action).join(', ')}`);
      return entry as unknown as { at: string; detail: any };
    };
    const received = Date.parse(at('order.received').at);
    const allocated = Date.parse(at('inventory.allocate').at);
    const posted = Date.parse(at('erp.post').at);
    const waited = at('order.back-office');
    assert.ok(allocated - received < ALLOCATED_WITHIN_MS, `received to allocated: ${allocated - received} ms`);
    assert.ok(new Date(announced!).getTime() < posted, 'the availability event was published before the ERP posting');
    assert.ok(Number.isInteger(waited.detail.waitedMs) && waited.detail.waitedMs >= 0, 'the timeline shows how long the order waited for the back office');

    // The ERP's side: every order posted once, never above its quota, and the quota was used.
    const state = await f.erpState();
    const perReference = new Map<string, number>();
    for (const sale of state.sales) perReference.set(sale.reference, (perReference.get(sale.reference) ?? 0) + 1);
    assert.deepEqual([...backlog, probeId].filter((id) => perReference.get(id) !== 1), [], 'each order posted exactly once');
    assert.equal(perReference.get(waiting), undefined, 'the order cancelled while it waited never reached the ERP');
    const stats = await erp.stats();
    const busiest = stats.perSecond.reduce((max, s) => Math.max(max, s.accepted + s.throttled + s.failed), 0);
    assert.ok(busiest <= QUOTA, `the ERP received ${busiest} requests in one second; its quota is ${QUOTA}`);
    assert.equal(stats.totals.throttled, 0, 'Syncline kept to the quota: the ERP never refused a request');
    // Seconds strictly inside the drain (the first and last are partial).
    const inner = stats.perSecond.slice(1, -1);
    const drainRatio = inner.reduce((n, s) => n + s.accepted, 0) / (inner.length * QUOTA);
    assert.ok(drainRatio >= 0.6, `the backlog drained at ${(drainRatio * 100).toFixed(0)}% of the quota`);
    assert.equal(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime_dead_letter')).rows[0]!.n), 0);
    console.log(JSON.stringify({ backlog: BACKLOG, quota: QUOTA, allocatedAfterMs, receivedToAllocatedMs: allocated - received, waitedMs: waited.detail.waitedMs, drainedAfterMs, erpRequests: stats.totals, busiestSecond: busiest, drainRatio: Number(drainRatio.toFixed(2)) }));
  });
});
