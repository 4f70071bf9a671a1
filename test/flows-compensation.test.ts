import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/** Orders that do not go straight through: cancels, payment failure, fraud holds, backorders. */
describe('order lifecycle: compensations, holds and backorders', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    rig = await startFlowRig();
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
    assert.deepEqual(
      cancellation.report.compensated.map((c: any) => c.step),
      ['erp.post', 'inventory.allocate', 'payment.authorize'],
      'undone last first',
    );
    // Every compensation, in each system's own state:
    const state = await f.erpState();
    const sale = state.sales.find((s: any) => s.reference === orderId);
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

  test('payment failure at capture compensates like a cancel and ends in payment_failed', async () => {
    const payment = sandboxAdmin(rig.sandboxes.urls.payment);
    await payment.call('PUT', '/_sandbox/config', { failCapturesFor: ['*'] });
    try {
      const orderId = await f.submit();
      await f.waitForStatus(orderId, 'payment_failed');
      const state = await f.erpState();
      const sale = state.sales.find((s: any) => s.reference === orderId);
      assert.ok(sale.invoices.every((id: number) => state.invoices.find((i: any) => i.id === id).state === 'cancelled'), 'ERP documents cancelled');
      assert.equal(await reserved('TEE-M'), 0, 'reservation released');
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
});
