import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { createLoyaltyClient } from '../src/connectors/loyalty/outbound/loyalty.client.ts';
import { runSyncline } from './support/cli.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * No order is stuck silently: a flow that fails for good puts its order in the exception
 * state (on_hold, kind exception); the operator fixes and replays, or cancels. A cancel
 * undoes everything, loyalty points and an ERP posting whose outcome was never known included.
 */
describe('order lifecycle: the exception state and its ways out', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    // A short ERP timeout and breaker cool-down, so an interrupted posting is seen in a second.
    rig = await startFlowRig({ env: { SYNCLINE_TARGET_POLICIES: JSON.stringify({ erp: { timeoutMs: 1000, breaker: { cooldownMs: 500 } } }) } });
    f = flowApi(rig);
    await f.location('WH-EX', 'warehouse');
    // NEW-1 to NEW-4 are sold through Syncline's inventory but not (yet) known to the ERP.
    await f.stock(['TEE-M', 'MUG', 'NEW-1', 'NEW-2', 'NEW-3', 'NEW-4'].map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-EX', quantity: 20 })));
  });
  after(async () => {
    await rig?.close();
  });

  const erp = () => sandboxAdmin(rig.sandboxes.urls.erp);
  const reserved = async (sku: string) => (await f.api('GET', `/v1/inventory/availability?sku=${sku}&location=WH-EX`)).body.reserved as number;
  const actions = async (orderId: string) => (await f.timeline(orderId)).map((e) => `${e.action}:${e.outcome}`);
  const count = (list: string[], item: string) => list.filter((a) => a === item).length;
  const intents = async (orderId: string) => (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
  const events = async (orderId: string) => ((await f.api('GET', '/v1/events?limit=1000')).body.events as any[]).filter((e) => e.subject === orderId);
  const unknownToErp = (sku: string) => ({ lines: [{ sku, quantity: 1, unitPrice: '12.00' }], payments: [] });

  /** Submits an order the ERP rejects and waits for its exception state. */
  async function rejectedOrder(sku: string): Promise<{ orderId: string; hold: any }> {
    const orderId = await f.submit(unknownToErp(sku));
    await f.waitForStatus(orderId, 'on_hold');
    const order = (await f.api('GET', `/v1/orders/${orderId}`)).body;
    return { orderId, hold: order.hold };
  }

  test('a permanent ERP rejection puts the order in the exception state: system, step, reason, dead letter, event and timeline; stock stays reserved', async () => {
    const { orderId, hold } = await rejectedOrder('NEW-1');
    assert.equal(hold.kind, 'exception');
    assert.equal(hold.system, 'erp');
    assert.equal(hold.step, 'erp.post');
    assert.equal(hold.flow, 'order-placed');
    assert.equal(hold.code, 'erp.unknown_product');
    assert.equal(hold.retry, 'permanent');
    assert.match(hold.message, /NEW-1/);
    assert.equal(hold.resumeStatus, 'allocated');
    assert.doesNotMatch(JSON.stringify(hold), /ada@example\.com|Lovelace/, 'no personal data on the hold');

    const deadLetter = await f.api('GET', `/v1/ops/dead-letters/${hold.deadLetterId}`);
    assert.equal(deadLetter.status, 200);
    assert.equal(deadLetter.body.status, 'open');
    // The back-office part of the flow failed: its own job, on the normal lane.
    assert.equal(deadLetter.body.type, 'flow.order-release');
    assert.equal(deadLetter.body.errorCode, 'erp.unknown_product');

    const onHold = (await events(orderId)).find((e) => e.type === 'order.on_hold');
    assert.ok(onHold, 'order.on_hold was published');
    assert.equal(onHold.data.reason, 'exception');
    assert.equal(onHold.data.exception.system, 'erp');
    assert.equal(onHold.data.exception.deadLetterId, hold.deadLetterId);

    const entry = (await f.timeline(orderId)).find((e) => e.action === 'order.exception')!;
    assert.equal(entry.outcome, 'pending');
    assert.equal(entry.system, 'erp');
    assert.equal(entry.detail.deadLetterId, hold.deadLetterId);
    assert.equal((await f.lifecycle(orderId)).hold.kind, 'exception');

    assert.equal(await reserved('NEW-1'), 1, 'the stock stays reserved while an operator decides');
    assert.deepEqual((await intents(orderId)).map((p: any) => p.status), ['requires_capture'], 'the authorisation stays');
    assert.equal((await f.erpState()).sales.filter((s: any) => s.reference === orderId).length, 0);

    // The operator's CLI is the other way to replay: once the ERP knows the product, the order goes on.
    await erp().call('PUT', '/_sandbox/products', [{ code: 'NEW-1', name: 'New one', listPrice: '12.00', quantity: 50 }]);
    const replayed = await runSyncline(['dlq', 'replay', hold.deadLetterId], { DATABASE_URL: rig.database.url, LOG_LEVEL: 'warn' });
    assert.equal(replayed.code, 0, replayed.stderr);
    await f.waitForStatus(orderId, 'released');
  });

  test('fix and replay: the flow resumes where it stopped, nothing done is repeated, and the order is released', async () => {
    const { orderId, hold } = await rejectedOrder('NEW-3');
    const before = await actions(orderId);
    // The operator fixes the cause: the product is created in the ERP.
    await erp().call('PUT', '/_sandbox/products', [{ code: 'NEW-3', name: 'New one', listPrice: '12.00', quantity: 50 }]);
    const replay = await f.api('POST', `/v1/ops/dead-letters/${hold.deadLetterId}/replay`);
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    await f.waitForStatus(orderId, 'released');

    const after = await actions(orderId);
    for (const step of ['order.validate', 'fraud.screen', 'payment.authorize', 'inventory.allocate']) {
      assert.equal(count(after, `${step}:succeeded`), 1, `${step} ran once`);
    }
    assert.ok(before.includes('erp.post:failed'));
    assert.equal(count(after, 'erp.post:succeeded'), 1);
    const resumed = (await f.timeline(orderId)).find((e) => e.action === 'order.exception.resumed')!;
    assert.equal(resumed.outcome, 'succeeded');
    assert.equal(resumed.detail.resumedTo, 'allocated');
    assert.equal(resumed.detail.deadLetterId, hold.deadLetterId);
    assert.ok(after.indexOf('order.exception.resumed:succeeded') < after.indexOf('erp.post:succeeded'), 'resumed, then posted');

    assert.equal((await f.api('GET', `/v1/orders/${orderId}`)).body.hold, undefined, 'the hold is gone');
    assert.equal((await f.api('GET', `/v1/ops/dead-letters/${hold.deadLetterId}`)).body.status, 'replayed');
    assert.equal((await intents(orderId)).length, 1, 'one authorisation, not two');
    assert.equal((await f.erpState()).sales.filter((s: any) => s.reference === orderId).length, 1, 'one ERP sale');
    assert.equal(await reserved('NEW-3'), 1, 'the first reservation was kept, not doubled');
  });

  test('an operator hold release on an exception hold resumes the flow like a replay (no hold is overridden)', async () => {
    const { orderId } = await rejectedOrder('NEW-4');
    await erp().call('PUT', '/_sandbox/products', [{ code: 'NEW-4', name: 'New four', listPrice: '12.00', quantity: 50 }]);
    const release = await f.api('POST', `/v1/orders/${orderId}/hold/release`, { note: 'product created in the ERP' });
    assert.equal(release.status, 202, JSON.stringify(release.body));
    await f.waitForStatus(orderId, 'released');
    const resumed = (await f.timeline(orderId)).find((e) => e.action === 'order.exception.resumed')!;
    assert.equal(resumed.system, 'operator');
    assert.equal(resumed.detail.note, 'product created in the ERP');
    assert.equal((await f.lifecycle(orderId)).hold, null);
    assert.equal(count(await actions(orderId), 'payment.authorize:succeeded'), 1);
  });

  test('cancel from the exception state runs every compensation and ends cancelled', async () => {
    const { orderId, hold } = await rejectedOrder('NEW-2');
    assert.equal(await reserved('NEW-2'), 1);
    const cancellation = await f.cancelAndWait(orderId, { reason: 'the ERP will not take it' });
    assert.equal(cancellation.status, 'completed');
    assert.deepEqual(
      cancellation.report.compensated.map((c: any) => c.step),
      ['erp.post', 'inventory.allocate', 'payment.authorize'],
      'the started posting was looked up, then everything done was undone, last first',
    );
    assert.deepEqual(cancellation.report.compensated[0].detail, { unknownOutcome: true, found: false }, 'no sale existed for the rejected posting');
    assert.equal(cancellation.report.exception.deadLetterId, hold.deadLetterId);
    assert.equal(await reserved('NEW-2'), 0, 'stock back');
    assert.deepEqual((await intents(orderId)).map((p: any) => p.status), ['canceled'], 'authorisation voided');
    assert.equal((await f.api('GET', `/v1/orders/${orderId}`)).body.hold, undefined);
    const deadLetter = (await f.api('GET', `/v1/ops/dead-letters/${hold.deadLetterId}`)).body;
    assert.equal(deadLetter.status, 'discarded', 'nothing is left to replay');
    assert.ok((await events(orderId)).some((e) => e.type === 'order.cancelled'));
    // A replay after the cancel changes nothing.
    assert.equal((await f.api('POST', `/v1/ops/dead-letters/${hold.deadLetterId}/replay`)).status, 409);
  });

  test('cancel after release reverses the loyalty points awarded for the order', async () => {
    const email = `points-${Date.now()}@example.com`;
    const loyalty = sandboxAdmin(rig.sandboxes.urls.loyalty);
    const balance = async () => (await loyalty.call<{ balance: number }>('GET', `/v1/members/${encodeURIComponent(email)}`)).balance;
    const orderId = await f.submit({ customer: { email, name: 'Points Holder' }, lines: [{ sku: 'MUG', quantity: 3, unitPrice: '8.50' }], payments: [] });
    await f.waitForStatus(orderId, 'released');
    await waitFor('the award', async () => (await actions(orderId)).includes('loyalty.award:succeeded'), 20_000, 100);
    assert.equal(await balance(), 25);

    await f.cancelAndWait(orderId);
    await waitFor('the reversal', async () => (await actions(orderId)).includes('loyalty.reverse:succeeded'), 20_000, 100);
    assert.equal(await balance(), 0, 'the loyalty system took the points back');
    const reversal = (await f.timeline(orderId)).find((e) => e.action === 'loyalty.reverse')!;
    assert.equal(reversal.system, 'loyalty');
    assert.equal(reversal.detail.points, 25);
    assert.equal(rig.sandboxes.loyalty.reversals.get(orderId)?.points, 25);

    // The client's contract: a repeat takes nothing more; an order with no award has nothing to reverse.
    const client = createLoyaltyClient({ url: rig.sandboxes.urls.loyalty });
    const again = await client.reversePoints({ orderId });
    assert.equal(again?.created, false);
    assert.equal(again?.balance, 0);
    assert.equal(await client.reversePoints({ orderId: 'ord_never_awarded' }), undefined);
  });

  test('cancel after an interrupted ERP posting finds the sale by its reference and cancels it', async () => {
    // The ERP creates the sale, then answers `quote` after the client gave up: the posting's outcome is unknown.
    await erp().call('PUT', '/_sandbox/delays', { 'model.sale.sale.quote': 2500 });
    try {
      const orderId = await f.submit({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] });
      await waitFor(
        'a posting cut off after the sale was created',
        async () => (await f.erpState()).sales.some((s: any) => s.reference === orderId) && (await actions(orderId)).includes('erp.post:failed'),
        30_000,
        100,
      );
      const failure = (await f.timeline(orderId)).find((e) => e.action === 'erp.post' && e.outcome === 'failed')!;
      assert.equal(failure.detail.retry, 'transient', JSON.stringify(failure.detail));
      assert.equal(await f.status(orderId), 'allocated');

      const cancellation = await f.cancelAndWait(orderId, { reason: 'customer changed their mind' });
      const erpUndo = cancellation.report.compensated.find((c: any) => c.step === 'erp.post');
      assert.ok(erpUndo, JSON.stringify(cancellation.report));
      assert.equal(erpUndo.detail.unknownOutcome, true);
      assert.equal(erpUndo.detail.outcome, 'cancelled');
      const sales = (await f.erpState()).sales.filter((s: any) => s.reference === orderId);
      assert.equal(sales.length, 1);
      assert.equal(sales[0].state, 'cancelled', 'the sale the interrupted posting created is cancelled in the ERP');
      assert.equal(await reserved('TEE-M'), 0);
      assert.deepEqual((await intents(orderId)).map((p: any) => p.status), ['canceled']);
      assert.ok((await actions(orderId)).includes('erp.post.compensate:succeeded'));
    } finally {
      await erp().call('PUT', '/_sandbox/delays', {});
    }
  });
});
