import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/** Orders that do not go straight through: cancels, payment failure, fraud holds, backorders, a failing non-critical system. */
describe('order lifecycle: compensations, holds and backorders', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    // A short loyalty cool-down, so that its award reaches its dead letter in seconds.
    rig = await startFlowRig({ env: { SYNCLINE_TARGET_POLICIES: JSON.stringify({ loyalty: { breaker: { cooldownMs: 500 } } }) } });
    f = flowApi(rig);
    await f.location('WH-WEST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-WEST', quantity: 30 },
      { type: 'receipt', sku: 'MUG', location: 'WH-WEST', quantity: 30 },
      { type: 'count', sku: 'SOCKS', location: 'WH-WEST', quantity: 0 },
    ]);
  });
  after(async () => {
    await rig?.close();
  });

  const reserved = async (sku: string) => (await f.api('GET', `/v1/inventory/availability?sku=${sku}&location=WH-WEST`)).body.reserved as number;
  const actions = async (orderId: string) => (await f.timeline(orderId)).map((e) => `${e.action}:${e.outcome}`);

  test('cancel before release compensates in reverse: ERP order cancelled, reservation released, authorisation voided', async () => {
    const erp = sandboxAdmin(rig.sandboxes.urls.erp);
    const payment = sandboxAdmin(rig.sandboxes.urls.payment);
    // A slow ERP keeps the order between authorisation and capture long enough to stop the gateway.
    await erp.setFaults({ latencyMs: 250 });
    const orderId = await f.submit();
    await waitFor('the authorisation', async () => (await actions(orderId)).includes('payment.authorize:succeeded'), 20_000, 20);
    await payment.setFaults({ down: true });
    await f.waitForStatus(orderId, 'allocated');
    assert.equal(await reserved('TEE-M'), 2);

    const cancel = await f.api('POST', `/v1/orders/${orderId}/cancel`, { reason: 'customer called' });
    assert.equal(cancel.status, 202);
    assert.equal(cancel.body.status, 'requested');
    const again = await f.api('POST', `/v1/orders/${orderId}/cancel`, { reason: 'customer called' });
    assert.equal(again.body.id, cancel.body.id, 'a second request while one is open returns the same cancellation');
    // The order-placed flow stops before its next step instead of waiting for the gateway.
    await waitFor('the flow to stop for the cancel', async () => (await actions(orderId)).includes('order-placed.interrupted:skipped'), 20_000, 50);
    await payment.clearFaults();
    await erp.clearFaults();
    await f.waitForStatus(orderId, 'cancelled');

    const cancellation = (await f.api('GET', `/v1/orders/${orderId}/cancellations/${cancel.body.id}`)).body;
    assert.equal(cancellation.status, 'completed');
    // A capture tried while the gateway was down has an unknown outcome: it is looked up (nothing found).
    const capture = cancellation.report.compensated.find((c: any) => c.step === 'payment.capture');
    if (capture) assert.deepEqual(capture.detail, { unknownOutcome: true, found: false });
    assert.deepEqual(
      cancellation.report.compensated.map((c: any) => c.step).filter((s: string) => s !== 'payment.capture'),
      ['erp.post', 'inventory.allocate', 'payment.authorize'],
      'undone last first',
    );
    // Every compensation, in each system's own state:
    const state = await f.erpState();
    const sale = state.sales.find((s: any) => s.reference === orderId);
    // A confirmed Tryton sale cannot itself be cancelled: its shipments and invoices are, which is what undoes it.
    const erpUndo = cancellation.report.compensated.find((c: any) => c.step === 'erp.post').detail;
    assert.ok(['cancelled', 'cancelled_documents'].includes(erpUndo.outcome), JSON.stringify(erpUndo));
    assert.ok(sale.shipments.length > 0 && sale.invoices.length > 0, 'the sale had documents to cancel');
    assert.ok(sale.shipments.every((id: number) => state.shipments.find((s: any) => s.id === id).state === 'cancelled'), 'ERP shipments cancelled');
    assert.ok(sale.invoices.every((id: number) => state.invoices.find((i: any) => i.id === id).state === 'cancelled'), 'ERP invoice cancelled');
    const intents = (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
    assert.equal(intents.length, 1);
    assert.equal(intents[0].status, 'canceled', 'authorisation voided at the gateway');
    assert.equal(intents[0].amount_received, 0, 'nothing was captured');
    assert.equal(await reserved('TEE-M'), 0, 'reservation released');
    assert.deepEqual(await f.fulfilments(orderId), [], 'nothing reached the warehouse');
    const done = await actions(orderId);
    for (const a of ['erp.post.compensate:succeeded', 'inventory.allocate.compensate:succeeded', 'payment.authorize.compensate:succeeded', 'order.cancelled:succeeded']) {
      assert.ok(done.includes(a), `timeline has ${a}`);
    }
  });

  test('cancel after release asks the WMS to cancel; the order is cancelled when nothing had shipped', async () => {
    const orderId = await f.submit({ lines: [{ sku: 'MUG', quantity: 3, unitPrice: '8.50' }], payments: [] });
    await f.waitForStatus(orderId, 'released');
    const cancel = await f.api('POST', `/v1/orders/${orderId}/cancel`, {});
    assert.equal(cancel.status, 202);
    await f.waitForStatus(orderId, 'cancelled');
    const [fulfilment] = await f.fulfilments(orderId);
    assert.equal(fulfilment.status, 'cancelled', 'the WMS cancelled its fulfilment order');
    const intents = (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
    assert.equal(intents[0].amount_refunded, intents[0].amount_received, 'the captured payment was refunded');
    assert.equal(await reserved('MUG'), 0);
  });

  test('a cancel retried part-way (the ERP failed its cancellation once) reports every compensation, those of the first attempt included', async () => {
    const orderId = await f.submit({ lines: [{ sku: 'MUG', quantity: 1, unitPrice: '8.50' }], payments: [] });
    await f.waitForStatus(orderId, 'released');
    const erp = sandboxAdmin(rig.sandboxes.urls.erp);
    await erp.setFaults({ down: true });
    const cancel = await f.api('POST', `/v1/orders/${orderId}/cancel`, {});
    assert.equal(cancel.status, 202);
    // The first attempt undoes the fulfilment and the capture, then fails on the ERP.
    await waitFor('the ERP cancellation to fail', async () => (await actions(orderId)).includes('erp.post.compensate:failed'), 20_000, 50);
    assert.ok((await actions(orderId)).includes('payment.capture.compensate:succeeded'));
    await erp.clearFaults();
    await f.waitForStatus(orderId, 'cancelled');
    const cancellation = (await f.api('GET', `/v1/orders/${orderId}/cancellations/${cancel.body.id}`)).body;
    assert.deepEqual(
      cancellation.report.compensated.map((c: any) => c.step),
      ['wms.fulfil', 'payment.capture', 'erp.post', 'inventory.allocate', 'payment.authorize'],
    );
    const refund = cancellation.report.compensated.find((c: any) => c.step === 'payment.capture').detail;
    assert.ok(refund.refundId, JSON.stringify(refund));
    // Undone once each: one refund at the gateway, one compensation entry per step on the timeline.
    const intents = (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
    assert.equal(intents[0].amount_refunded, intents[0].amount_received);
    const undone = (await actions(orderId)).filter((a) => a.endsWith('.compensate:succeeded'));
    assert.equal(undone.length, 5, JSON.stringify(undone));
  });

  test('payment failure at capture compensates like a cancel and ends in payment_failed', async () => {
    const payment = sandboxAdmin(rig.sandboxes.urls.payment);
    await payment.call('PUT', '/_sandbox/config', { failCapturesFor: ['*'] });
    try {
      const orderId = await f.submit();
      await f.waitForStatus(orderId, 'payment_failed');
      const state = await f.erpState();
      const sale = state.sales.find((s: any) => s.reference === orderId);
      assert.ok(sale.invoices.length > 0 && sale.invoices.every((id: number) => state.invoices.find((i: any) => i.id === id).state === 'cancelled'), 'ERP documents cancelled');
      assert.equal(await reserved('TEE-M'), 0, 'reservation released');
      const intents = (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
      assert.deepEqual(intents.map((p: any) => [p.status, p.amount_received]), [['canceled', 0]], 'the authorisation was voided at the gateway');
      assert.deepEqual(await f.fulfilments(orderId), []);
      const done = await actions(orderId);
      assert.ok(done.includes('payment.capture:failed'));
      assert.ok(done.includes('erp.post.compensate:succeeded'));
      assert.ok(done.includes('inventory.allocate.compensate:succeeded'));
      assert.ok(done.includes('order.payment_failed:succeeded'));
      const cancel = await f.api('POST', `/v1/orders/${orderId}/cancel`, {});
      assert.equal(cancel.status, 409);
      assert.equal(cancel.body.type, '/problems/order-not-cancellable');
    } finally {
      await payment.call('PUT', '/_sandbox/config', { failCapturesFor: [] });
    }
  });

  test('fraud hold: on_hold with the reason until an operator releases it; then it goes on to released', async () => {
    await sandboxAdmin(rig.sandboxes.urls.fraud).call('PUT', '/_sandbox/rules', { holdEmails: ['mallory@example.com'] });
    const orderId = await f.submit({ customer: { email: 'mallory@example.com', name: 'Mallory' } });
    await f.waitForStatus(orderId, 'on_hold');
    const life = await f.lifecycle(orderId);
    assert.equal(life.hold.kind, 'fraud');
    assert.equal(life.hold.reasons[0].code, 'email_on_watchlist');
    assert.equal(await reserved('TEE-M'), 0, 'nothing reserved while on hold');
    const notHeld = await f.api('POST', `/v1/orders/${await f.submit()}/hold/release`, {});
    assert.equal(notHeld.status, 409, 'an order that is not on hold cannot be released');

    const release = await f.api('POST', `/v1/orders/${orderId}/hold/release`, { note: 'called the customer; genuine' });
    assert.equal(release.status, 202);
    await f.waitForStatus(orderId, 'released');
    const entries = await f.timeline(orderId);
    const released = entries.find((e) => e.action === 'hold.released')!;
    assert.equal(released.system, 'operator');
    assert.equal(released.detail.note, 'called the customer; genuine');
    const twice = await f.api('POST', `/v1/orders/${orderId}/hold/release`, {});
    assert.equal(twice.status, 409);
    assert.equal(twice.body.type, '/problems/order-not-on-hold');
  });

  test('backorder: pending_allocation with the reason, released when a receipt arrives (no polling in between)', async () => {
    const orderId = await f.submit({ lines: [{ sku: 'SOCKS', quantity: 2, unitPrice: '4.00' }], payments: [] });
    await f.waitForStatus(orderId, 'pending_allocation');
    const life = await f.lifecycle(orderId);
    assert.equal(life.hold.kind, 'backorder');
    assert.equal(life.hold.lines[0].sku, 'SOCKS');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const tries = (await f.timeline(orderId)).filter((e) => e.action === 'inventory.allocate').length;
    assert.equal(tries, 1, 'waiting, not polling');
    const events = (await f.api('GET', '/v1/events?limit=1000')).body.events.filter((e: any) => e.subject === orderId).map((e: any) => e.type);
    assert.ok(events.includes('order.backordered'), 'the channel is told');

    await f.stock([{ type: 'receipt', sku: 'SOCKS', location: 'WH-WEST', quantity: 5 }]);
    await f.waitForStatus(orderId, 'released');
    assert.equal((await f.lifecycle(orderId)).hold, null);
    assert.equal(await reserved('SOCKS'), 2);
  });

  test('partial failure isolation: with loyalty down the order is posted, released, shipped and completed; the award retries on its own, then waits as a dead letter', async () => {
    const loyalty = sandboxAdmin(rig.sandboxes.urls.loyalty);
    await loyalty.setFaults({ down: true });
    let deadLetterId: string | undefined;
    const email = `loyal-${Date.now()}@example.com`;
    const balance = async () => (await loyalty.call<{ balance: number }>('GET', `/v1/members/${encodeURIComponent(email)}`)).balance;
    try {
      const orderId = await f.submit({ customer: { email, name: 'Loyal Customer' }, lines: [{ sku: 'MUG', quantity: 1, unitPrice: '8.50' }], payments: [] });
      await f.waitForStatus(orderId, 'released');
      assert.equal((await f.erpState()).sales.filter((s: any) => s.reference === orderId).length, 1, 'posted to the ERP');
      const [fulfilment] = await f.fulfilments(orderId);
      await f.ship(fulfilment.id);
      await f.waitForStatus(orderId, 'completed');

      const jobKey = `loyalty:${orderId}`;
      await waitFor(
        'the award to become a dead letter',
        async () => {
          const items = (await f.api('GET', '/v1/ops/dead-letters?type=flow.loyalty-award&limit=500')).body.items as any[];
          deadLetterId = items.find((d) => d.jobKey === jobKey)?.id;
          return deadLetterId !== undefined;
        },
        60_000,
        200,
      );
      const failed = (await f.timeline(orderId)).filter((e) => e.action === 'loyalty.award');
      assert.ok(failed.length >= 2, `the award was retried (${failed.length} attempts on the timeline)`);
      assert.ok(failed.every((e) => e.system === 'loyalty' && e.outcome === 'failed' && e.detail.blocking === false));
      assert.deepEqual(
        failed.map((e) => e.attempt),
        [...failed.keys()].map((i) => i + 1),
        'one attempt after another, each on the timeline',
      );
      assert.equal(await f.status(orderId), 'completed', 'the failing award changed nothing on the order');

      // Loyalty is back; an operator replays the dead letter and the points arrive, once.
      await loyalty.clearFaults();
      const replay = await f.api('POST', `/v1/ops/dead-letters/${deadLetterId}/replay`);
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      await waitFor('the points', async () => (await f.timeline(orderId)).some((e) => e.action === 'loyalty.award' && e.outcome === 'succeeded'), 20_000, 100);
      const award = (await f.timeline(orderId)).find((e) => e.action === 'loyalty.award' && e.outcome === 'succeeded')!;
      assert.ok(award.detail.points > 0);
      assert.equal(await balance(), award.detail.points, 'the loyalty system holds the points of this order, once');
    } finally {
      await loyalty.clearFaults();
    }
  });
});
