import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { wmsSignatureHeader } from '../src/connectors/wms/wms-wire.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

/** The order lifecycle end to end over HTTP: real PostgreSQL, the sandboxes as real HTTP servers. */
describe('order lifecycle', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    rig = await startFlowRig();
    f = flowApi(rig);
    await f.location('WH-EAST', 'warehouse');
    await f.location('STORE-SOHO', 'store');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'CAP', location: 'STORE-SOHO', quantity: 5 },
      { type: 'count', sku: 'SOCKS', location: 'WH-EAST', quantity: 0 },
    ]);
  });
  after(async () => {
    await rig?.close();
  });

  test('happy path: placed, released to the warehouse, shipped through the WMS, invoiced by the ERP, completed', async () => {
    const correlationId = `corr-happy-${Date.now()}`;
    const submitted = await submitOrder(rig.baseUrl, rig.token, sampleOrder(), undefined, { 'x-correlation-id': correlationId });
    assert.equal(submitted.status, 201);
    const orderId = submitted.body.id as string;
    await f.waitForStatus(orderId, 'released');

    const [fulfilment, ...others] = await f.fulfilments(orderId);
    assert.equal(others.length, 0, 'one location ships everything');
    assert.equal(fulfilment.locationId, 'WH-EAST');
    assert.deepEqual(
      fulfilment.lines.map((l: any) => [l.lineNumber, l.sku, l.quantity]),
      [
        [1, 'TEE-M', 2],
        [2, 'MUG', 1],
      ],
    );
    await f.ship(fulfilment.id, { trackingNumbers: ['1ZHAPPY001'] });
    await f.waitForStatus(orderId, 'completed');

    const life = await f.lifecycle(orderId);
    assert.deepEqual(life.shipments[0].trackingNumbers, ['1ZHAPPY001']);
    assert.ok(life.invoices.length >= 1 && life.invoices[0].state === 'posted', 'the ERP invoice is recorded on the order');
    assert.deepEqual(
      life.lines.map((l: any) => [l.shipped, l.cancelled]),
      [
        [2, 0],
        [1, 0],
      ],
    );

    const erp = await f.erpState();
    const sales = erp.sales.filter((s: any) => s.reference === orderId);
    assert.equal(sales.length, 1, 'posted once');
    assert.equal(sales[0].shipmentState, 'sent');
    const invoices = erp.invoices.filter((i: any) => sales[0].invoices.includes(i.id));
    assert.equal(invoices[0].state, 'posted');
    const payments = (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
    assert.equal(payments.length, 1);
    assert.equal(payments[0].status, 'succeeded', 'captured');

    // The reservation became sales: on hand went down at the warehouse.
    const availability = (await f.api('GET', '/v1/inventory/availability?sku=TEE-M&location=WH-EAST')).body;
    assert.equal(availability.onHand, 18);
    assert.equal(availability.reserved, 0);

    const timeline = await f.timeline(orderId);
    const actions = timeline.map((e) => `${e.action}:${e.outcome}`);
    for (const step of ['order.received', 'order.validate', 'fraud.screen', 'payment.authorize', 'inventory.allocate', 'erp.post', 'payment.capture', 'wms.fulfil', 'inventory.consume', 'erp.shipment', 'shipment.record', 'erp.invoice']) {
      assert.ok(actions.includes(`${step}:succeeded`), `timeline has ${step}: ${actions.join(', ')}`);
    }
    const post = timeline.find((e) => e.action === 'erp.post')!;
    assert.equal(post.system, 'erp');
    assert.equal(post.attempt, 1);
    assert.ok(typeof post.durationMs === 'number');
    // Every entry says which system did what, with what outcome, on which attempt, how long it took, under which correlation id.
    for (const e of timeline) {
      assert.ok(e.system && e.action && ['succeeded', 'failed', 'skipped', 'pending'].includes(e.outcome), JSON.stringify(e));
      assert.ok(Number.isInteger(e.attempt) && e.attempt >= 1, JSON.stringify(e));
      assert.ok(e.durationMs === null || (Number.isInteger(e.durationMs) && e.durationMs >= 0), JSON.stringify(e));
      assert.ok(e.correlationId.length > 0, JSON.stringify(e));
    }
    const placed = timeline.filter((e) => ['order.received', 'order.validate', 'fraud.screen', 'payment.authorize', 'inventory.allocate', 'erp.post', 'payment.capture', 'wms.fulfil'].includes(e.action));
    assert.equal(placed.length, 8);
    assert.ok(placed.every((e) => e.correlationId === correlationId), 'the caller\'s X-Correlation-Id follows the order through its flow');
    assert.ok(placed.slice(1).every((e) => typeof e.durationMs === 'number'), 'each step records its duration');
    await waitFor('loyalty points', async () => (await f.timeline(orderId)).some((e) => e.action === 'loyalty.award' && e.outcome === 'succeeded'), 10_000);
  });

  test('cancel after shipment is refused with a problem that points to returns', async () => {
    const orderId = await f.submit({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] });
    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed');
    const refused = await f.api('POST', `/v1/orders/${orderId}/cancel`, { reason: 'changed my mind' });
    assert.equal(refused.status, 409);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(refused.body.type, '/problems/order-shipped');
    assert.equal(refused.body.createReturn, '/v1/returns');
    assert.match(refused.body.detail, /POST \/v1\/returns/);
  });

  test('split shipment: a warehouse and a store each ship their part; partially shipped, then shipped and completed', async () => {
    const orderId = await f.submit({
      lines: [
        { sku: 'TEE-M', quantity: 1, unitPrice: '19.99' },
        { sku: 'CAP', quantity: 2, unitPrice: '5.00' },
      ],
      payments: [],
    });
    await f.waitForStatus(orderId, 'released');
    const fulfilments = await f.fulfilments(orderId);
    assert.deepEqual(fulfilments.map((x) => x.locationId).sort(), ['STORE-SOHO', 'WH-EAST'], 'no single location has both: split, ship-from-store allowed');
    const warehouse = fulfilments.find((x) => x.locationId === 'WH-EAST')!;
    const store = fulfilments.find((x) => x.locationId === 'STORE-SOHO')!;
    assert.deepEqual(store.lines.map((l: any) => [l.lineNumber, l.sku, l.quantity]), [[2, 'CAP', 2]]);

    await f.ship(warehouse.id, { trackingNumbers: ['1ZWH0001'] });
    await f.waitForStatus(orderId, 'partially_shipped');
    // The store ships its two caps in two parcels.
    await f.ship(store.id, { lines: [{ lineNumber: 2, quantity: 1 }], trackingNumbers: ['STORE-PARCEL-1'] });
    await waitFor('two shipments', async () => (await f.lifecycle(orderId)).shipments.length === 2, 10_000);
    assert.equal(await f.status(orderId), 'partially_shipped');
    await f.ship(store.id, { trackingNumbers: ['STORE-PARCEL-2'] });
    await f.waitForStatus(orderId, 'completed');

    const life = await f.lifecycle(orderId);
    assert.deepEqual(life.shipments.flatMap((x: any) => x.trackingNumbers).sort(), ['1ZWH0001', 'STORE-PARCEL-1', 'STORE-PARCEL-2']);
    assert.deepEqual(life.fulfilments.map((x: any) => x.status), ['shipped', 'shipped']);
    const store2 = (await f.api('GET', '/v1/inventory/availability?sku=CAP&location=STORE-SOHO')).body;
    assert.equal(store2.onHand, 3, 'the store sold two caps');

    const events = (await f.api('GET', '/v1/events?limit=1000')).body.events.filter((e: any) => e.subject === orderId).map((e: any) => e.type);
    assert.deepEqual(
      events.filter((t: string) => t.startsWith('order.')),
      ['order.created', 'order.released', 'order.partially_shipped', 'order.partially_shipped', 'order.shipped', 'order.invoiced', 'order.completed'],
    );
    const erp = (await f.erpState()).sales.filter((x: any) => x.reference === orderId);
    assert.equal(erp.length, 1);
    assert.equal(erp[0].shipmentState, 'sent', 'both partial shipments reached the ERP');
  });

  test('return in store of an online order: refund, ERP credit note, resellable units restocked at the store, customer timeline', async () => {
    const email = `returner-${Date.now()}@example.com`;
    const orderId = await f.submit({
      customer: { email, name: 'Grace Hopper' },
      lines: [
        { sku: 'TEE-M', quantity: 2, unitPrice: '19.99' },
        { sku: 'MUG', quantity: 1, unitPrice: '8.50' },
      ],
    });
    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed');
    const storeBefore = (await f.api('GET', '/v1/inventory/availability?sku=TEE-M&location=STORE-SOHO')).body.onHand;

    const tooMany = await f.api('POST', '/v1/returns', { orderId, location: 'STORE-SOHO', lines: [{ lineNumber: 1, quantity: 3, condition: 'resellable' }] }, { 'idempotency-key': `r-${orderId}-x` });
    assert.equal(tooMany.status, 422);
    assert.equal(tooMany.body.type, '/problems/return-not-eligible');
    assert.equal(tooMany.body.errors[0].pointer, '/lines/0/quantity');

    const accepted = await f.api(
      'POST',
      '/v1/returns',
      {
        orderId,
        location: 'STORE-SOHO',
        reason: 'too small',
        lines: [
          { lineNumber: 1, quantity: 1, condition: 'resellable' },
          { lineNumber: 2, quantity: 1, condition: 'damaged' },
        ],
      },
      { 'idempotency-key': `r-${orderId}` },
    );
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(accepted.body.refundAmount, '28.49');
    const returnId = accepted.body.id as string;
    await waitFor('the return to complete', async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.status === 'completed', 20_000, 100);
    const ret = (await f.api('GET', `/v1/returns/${returnId}`)).body;

    const payment = (await f.paymentState()).refunds.filter((r: any) => r.id === ret.refundId);
    assert.equal(payment.length, 1);
    assert.equal(payment[0].amount, 2849, 'refunded in minor units');
    const erp = await f.erpState();
    const returnSale = erp.sales.find((x: any) => x.reference === returnId);
    assert.ok(returnSale, 'the ERP has a return sale');
    const credit = erp.invoices.filter((i: any) => returnSale.invoices.includes(i.id));
    assert.equal(credit[0].totalAmount.startsWith('-'), true, 'a credit note');
    assert.equal(credit[0].state, 'posted');
    assert.equal(ret.creditNote.number, credit[0].number);

    const storeAfter = (await f.api('GET', '/v1/inventory/availability?sku=TEE-M&location=STORE-SOHO')).body.onHand;
    assert.equal(storeAfter, storeBefore + 1, 'the resellable shirt went back on the store shelf');
    const mugAtStore = (await f.api('GET', '/v1/inventory/availability?sku=MUG&location=STORE-SOHO')).body.onHand;
    assert.equal(mugAtStore, 0, 'the damaged mug was not restocked');

    const customer = (await f.api('GET', `/v1/customers/${encodeURIComponent(email)}/timeline`)).body;
    assert.equal(customer.entries.length, 1);
    assert.equal(customer.entries[0].action, 'order.returned');
    assert.equal(customer.entries[0].detail.returnId, returnId);
    const lines = (await f.lifecycle(orderId)).lines.map((l: any) => l.returned);
    assert.deepEqual(lines, [1, 1]);
  });

  test('WMS webhook: verified on the raw bytes; a redelivered shipment is recorded once; tampered bodies are refused', async () => {
    const orderId = await f.submit({ lines: [{ sku: 'MUG', quantity: 2, unitPrice: '8.50' }], payments: [] });
    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    const shipped = await f.ship(fulfilment.id, { lines: [{ lineNumber: 1, quantity: 1 }], trackingNumbers: ['1ZDUP'] });
    await f.waitForStatus(orderId, 'partially_shipped');
    const body = JSON.stringify({ id: 'whd_replayed', topic: 'shipment.created', createdAt: new Date().toISOString(), data: { shipment: shipped.shipment, fulfillmentOrder: shipped.fulfillmentOrder } });
    const send = (raw: string, signature = wmsSignatureHeader(rig.sandboxes.settings.wms.webhookSecret, Math.floor(Date.now() / 1000), raw)) =>
      fetch(`${rig.baseUrl}/webhooks/wms/default`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'wms-signature': signature, 'wms-topic': 'shipment.created', 'wms-delivery-id': 'whd_replayed' },
        body: raw,
      });
    assert.equal((await send(body)).status, 202);
    assert.equal((await send(body)).status, 202);
    const tampered = await send(body.replace('"quantity":1', '"quantity":2'), wmsSignatureHeader(rig.sandboxes.settings.wms.webhookSecret, Math.floor(Date.now() / 1000), body));
    assert.equal(tampered.status, 401);
    assert.equal(((await tampered.json()) as any).type, '/problems/webhook-rejected');
    const unsigned = await fetch(`${rig.baseUrl}/webhooks/wms/default`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(unsigned.status, 401);
    // Let the redeliveries run through the queue, then check nothing doubled.
    await waitFor('the queue to settle', async () => Number((await rig.database.db.query<{ n: string }>("SELECT count(*) AS n FROM runtime_job WHERE type = 'flow.shipment'")).rows[0]!.n) === 0, 10_000);
    const life = await f.lifecycle(orderId);
    assert.equal(life.shipments.length, 1, 'one shipment for three deliveries');
    assert.deepEqual(life.lines.map((l: any) => l.shipped), [1]);
    assert.equal(await f.status(orderId), 'partially_shipped');
  });
});
