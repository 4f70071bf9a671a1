import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { createLoyaltyClient } from '../src/connectors/loyalty/outbound/loyalty.client.ts';
import { createPaymentClient } from '../src/connectors/payment/outbound/payment.client.ts';
import { createWmsClient } from '../src/connectors/wms/outbound/wms.client.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * No order is stuck silently, after release too: a shipment, invoice or return job that
 * becomes a dead letter shows its exception on the order (status kept) or on the return;
 * replay (or a hold release) clears it and the flow goes on. And a cancel undoes what it
 * cannot see recorded: an authorisation or a fulfilment request whose answer was lost is
 * looked up at the gateway or the WMS and undone; a partial cancel takes back the points
 * the cancelled part earned.
 *
 * A system that answers too late for the client (the sandboxes' answer delays) fails a step
 * transiently on every attempt. To see the dead letter in seconds rather than after 30
 * attempts, a test makes the job's next attempt its last (runtime_job.max_attempts, the
 * per-job attempt budget the runtime honours); the dead-lettering itself is the runtime's.
 */
describe('order lifecycle: exceptions after release, and cancels that look up lost answers', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    // Short timeouts, so a late answer is a failed attempt in a second.
    rig = await startFlowRig({
      env: {
        SYNCLINE_TARGET_POLICIES: JSON.stringify({
          erp: { timeoutMs: 1000, breaker: { cooldownMs: 500 } },
          payment: { timeoutMs: 1000 },
          wms: { timeoutMs: 1000 },
        }),
      },
    });
    f = flowApi(rig);
    await f.location('WH-PR', 'warehouse');
    await f.location('WH-PR2', 'warehouse');
    await erp().call('PUT', '/_sandbox/products', [
      { code: 'PR-MUG', name: 'Mug', listPrice: '10.00', quantity: 500 },
      { code: 'PR-CAP', name: 'Cap', listPrice: '30.00', quantity: 500 },
    ]);
    await f.stock([
      ...['TEE-M', 'MUG', 'CAP', 'SOCKS', 'PR-MUG'].map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-PR', quantity: 100 })),
      { type: 'receipt' as const, sku: 'PR-CAP', location: 'WH-PR2', quantity: 100 },
    ]);
  });
  after(async () => {
    await rig?.close();
  });

  const erp = () => sandboxAdmin(rig.sandboxes.urls.erp);
  const payment = () => sandboxAdmin(rig.sandboxes.urls.payment);
  const actions = async (orderId: string) => (await f.timeline(orderId)).map((e) => `${e.action}:${e.outcome}`);
  const events = async (orderId: string) => ((await f.api('GET', '/v1/events?limit=1000')).body.events as any[]).filter((e) => e.subject === orderId);
  const order = async (orderId: string) => (await f.api('GET', `/v1/orders/${orderId}`)).body;

  /** Makes the next attempt of a job its last: the runtime dead-letters it if that attempt fails too. */
  async function lastAttempt(jobKey: string): Promise<void> {
    await waitFor(`job ${jobKey} to have failed once`, async () => {
      const result = await rig.database.db.query<{ attempts: number }>('SELECT attempts FROM runtime_job WHERE job_key = $1', [jobKey]);
      return (result.rows[0]?.attempts ?? 0) >= 1;
    }, 30_000, 50);
    await rig.database.db.query('UPDATE runtime_job SET max_attempts = attempts + 1 WHERE job_key = $1', [jobKey]);
  }

  /** A released order at WH-PR and its fulfilment at the WMS. */
  async function releasedOrder(lines = [{ sku: 'SOCKS', quantity: 1, unitPrice: '10.00' }]): Promise<{ orderId: string; fulfilmentId: string }> {
    const orderId = await f.submit({ lines, payments: [] });
    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    return { orderId, fulfilmentId: fulfilment.id };
  }

  /** Replays a dead letter over the API. */
  async function replay(deadLetterId: string): Promise<void> {
    const replayed = await f.api('POST', `/v1/ops/dead-letters/${deadLetterId}/replay`);
    assert.equal(replayed.status, 202, JSON.stringify(replayed.body));
  }

  test('a dead-lettered shipment record leaves the order released and shows the exception on it; replay records the shipment and clears it', async () => {
    const { orderId, fulfilmentId } = await releasedOrder();
    // The ERP answers its shipment search too late: erp.shipment fails on every attempt.
    await erp().call('PUT', '/_sandbox/delays', { 'model.stock.shipment.out.search_read': 2500 });
    let hold: any;
    try {
      const shipped = await f.ship(fulfilmentId);
      await lastAttempt(`shipment:wms:${shipped.shipment.id}`);
      await waitFor('the exception on the order', async () => (hold = (await order(orderId)).hold)?.kind === 'exception', 30_000, 100);
      assert.equal((await order(orderId)).status, 'released', 'the status is kept');
      assert.equal(hold.flow, 'shipment');
      assert.equal(hold.key, `wms:${shipped.shipment.id}`);
      assert.equal(hold.step, 'erp.shipment');
      assert.equal(hold.system, 'erp');
      assert.equal(hold.retry, 'transient');
      assert.equal(hold.statusKept, true);
      assert.equal((await f.api('GET', `/v1/ops/dead-letters/${hold.deadLetterId}`)).body.type, 'flow.shipment');

      const event = (await events(orderId)).find((e) => e.type === 'order.exception');
      assert.ok(event, 'order.exception was published');
      assert.equal(event.data.exception.deadLetterId, hold.deadLetterId);
      assert.equal(event.data.exception.status, 'released');
      assert.ok(!(await events(orderId)).some((e) => e.type === 'order.on_hold'), 'the order was not put on hold');
      const entry = (await f.timeline(orderId)).find((e) => e.action === 'order.exception')!;
      assert.equal(entry.system, 'erp');
      assert.equal(entry.outcome, 'pending');
    } finally {
      await erp().call('PUT', '/_sandbox/delays', {});
    }

    // The ERP answers in time again: replay records the shipment, the order ships and completes.
    await replay(hold.deadLetterId);
    await f.waitForStatus(orderId, 'completed');
    assert.equal((await order(orderId)).hold, undefined, 'the exception is cleared');
    const resumed = (await f.timeline(orderId)).find((e) => e.action === 'order.exception.resumed')!;
    assert.equal(resumed.detail.flow, 'shipment');
    assert.equal(resumed.detail.deadLetterId, hold.deadLetterId);
    assert.equal((await actions(orderId)).filter((a) => a === 'inventory.consume:succeeded').length, 1, 'the done step is not repeated');
  });

  test('a dead-lettered invoice leaves the order shipped with the exception; a hold release replays it and the order completes', async () => {
    const { orderId, fulfilmentId } = await releasedOrder();
    // The ERP answers invoice reads too late: erp.invoice fails on every attempt (the shipment does not read invoices).
    await erp().call('PUT', '/_sandbox/delays', { 'model.account.invoice.read': 2500 });
    let hold: any;
    try {
      await f.ship(fulfilmentId);
      await f.waitForStatus(orderId, 'shipped');
      await lastAttempt(`invoice:${orderId}`);
      await waitFor('the exception on the order', async () => (hold = (await order(orderId)).hold)?.kind === 'exception', 30_000, 100);
      assert.equal((await order(orderId)).status, 'shipped', 'a shipped order stays shipped');
      assert.equal(hold.flow, 'invoice');
      assert.equal(hold.step, 'erp.invoice');
      assert.equal(hold.system, 'erp');
      assert.equal(hold.statusKept, true);
      assert.equal((await f.lifecycle(orderId)).hold.kind, 'exception');
      assert.ok((await events(orderId)).some((e) => e.type === 'order.exception' && e.data.exception.flow === 'invoice'));
    } finally {
      await erp().call('PUT', '/_sandbox/delays', {});
    }

    const release = await f.api('POST', `/v1/orders/${orderId}/hold/release`, { note: 'ERP is back' });
    assert.equal(release.status, 202, JSON.stringify(release.body));
    await f.waitForStatus(orderId, 'completed');
    assert.equal((await order(orderId)).hold, undefined);
    assert.equal((await f.api('GET', `/v1/ops/dead-letters/${hold.deadLetterId}`)).body.status, 'replayed', 'the release replayed the dead letter');
    const released = (await f.timeline(orderId)).find((e) => e.action === 'hold.released')!;
    assert.equal(released.system, 'operator');
    assert.equal(released.detail.replayed, hold.deadLetterId);
    assert.ok((await actions(orderId)).includes('order.exception.resumed:succeeded'));
  });

  test('a dead-lettered return shows the exception on the return, the order keeps its status; replay refunds once and completes it', async () => {
    const { orderId, fulfilmentId } = await releasedOrder([{ sku: 'SOCKS', quantity: 2, unitPrice: '10.00' }]);
    await f.ship(fulfilmentId);
    await f.waitForStatus(orderId, 'completed');
    // The gateway answers refunds too late (the refund is made; its answer is lost): payment.refund fails on every attempt.
    await payment().call('PUT', '/_sandbox/delays', { 'POST /v1/refunds': 2500 });
    let returnId = '';
    let exception: any;
    try {
      const created = await f.api('POST', '/v1/returns', { orderId, location: 'WH-PR', lines: [{ lineNumber: 1, quantity: 1, condition: 'resellable' }] }, { 'idempotency-key': `ret-${orderId}` });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      returnId = created.body.id;
      await lastAttempt(`return:${returnId}`);
      await waitFor('the exception on the return', async () => (exception = (await f.api('GET', `/v1/returns/${returnId}`)).body.exception) != null, 30_000, 100);
      assert.equal(exception.flow, 'return');
      assert.equal(exception.key, returnId);
      assert.equal(exception.step, 'payment.refund');
      assert.equal(exception.system, 'payment');
      assert.equal((await f.api('GET', `/v1/returns/${returnId}`)).body.status, 'requested');
      assert.equal((await order(orderId)).status, 'completed', 'the order keeps its status');
      assert.equal((await order(orderId)).hold, undefined, "the return's exception is on the return");
      const event = (await events(orderId)).find((e) => e.type === 'order.exception');
      assert.equal(event?.data.returnId, returnId);
      const entry = (await f.timeline(orderId)).find((e) => e.action === 'order.exception')!;
      assert.equal(entry.detail.returnId, returnId);
      assert.equal(entry.system, 'payment');
    } finally {
      await payment().call('PUT', '/_sandbox/delays', {});
    }

    await replay(exception.deadLetterId);
    await waitFor('the return to complete', async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.status === 'completed', 30_000, 100);
    const done = (await f.api('GET', `/v1/returns/${returnId}`)).body;
    assert.equal(done.exception, null, 'the exception is cleared');
    const refunds = (await f.paymentState()).refunds.filter((r: any) => r.metadata.refund_key === returnId);
    assert.equal(refunds.length, 1, 'the refund whose answer was lost was not made twice');
    assert.ok((await actions(orderId)).includes('return.exception.resumed:succeeded'));
  });

  test('cancel after an interrupted payment authorisation finds the authorisation at the gateway by the order id and voids it', async () => {
    // The gateway authorises, then answers after the client gave up: the step's outcome is unknown.
    await payment().call('PUT', '/_sandbox/delays', { 'POST /v1/payment_intents': 2500 });
    try {
      const orderId = await f.submit({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [] });
      const intents = async () => (await f.paymentState()).paymentIntents.filter((p: any) => p.metadata.order_id === orderId);
      await waitFor('an authorisation cut off after the gateway made it', async () => (await intents()).length > 0 && (await actions(orderId)).includes('payment.authorize:failed'), 30_000, 100);
      assert.deepEqual((await intents()).map((p: any) => p.status), ['requires_capture']);

      const cancellation = await f.cancelAndWait(orderId, { reason: 'customer changed their mind' });
      const undo = cancellation.report.compensated.find((c: any) => c.step === 'payment.authorize');
      assert.ok(undo, JSON.stringify(cancellation.report));
      assert.equal(undo.detail.unknownOutcome, true);
      assert.equal(undo.detail.voided, true);
      assert.deepEqual((await intents()).map((p: any) => p.status), ['canceled'], 'the authorisation is voided at the gateway');
      assert.ok((await actions(orderId)).includes('payment.authorize.compensate:succeeded'));
    } finally {
      await payment().call('PUT', '/_sandbox/delays', {});
    }
  });

  test('cancel after an interrupted fulfilment request finds the fulfilment order at the WMS by the order id and cancels it', async () => {
    const wms = sandboxAdmin(rig.sandboxes.urls.wms);
    await wms.call('PUT', '/_sandbox/delays', { 'POST /v1/fulfillment-orders': 2500 });
    try {
      const orderId = await f.submit({ lines: [{ sku: 'MUG', quantity: 1, unitPrice: '8.50' }], payments: [] });
      await waitFor('a fulfilment request cut off after the WMS made it', async () => (await f.fulfilments(orderId)).length > 0 && (await actions(orderId)).includes('wms.fulfil:failed'), 30_000, 100);
      assert.equal(await f.status(orderId), 'allocated');

      const cancellation = await f.cancelAndWait(orderId);
      const steps = cancellation.report.compensated.map((c: any) => c.step);
      assert.deepEqual(steps, ['wms.fulfil', 'payment.capture', 'erp.post', 'inventory.allocate', 'payment.authorize'], 'looked up, then everything done undone, last first');
      const undo = cancellation.report.compensated[0].detail;
      assert.equal(undo.unknownOutcome, true);
      assert.deepEqual(undo.fulfilments.map((x: any) => x.outcome), ['cancelled']);
      assert.deepEqual((await f.fulfilments(orderId)).map((x) => x.status), ['cancelled'], 'the fulfilment order is cancelled at the WMS');
    } finally {
      await wms.call('PUT', '/_sandbox/delays', {});
    }
  });

  test('a partial cancel takes back the points the cancelled lines earned, in proportion to the value the award was computed on', async () => {
    const email = `partial-${Date.now()}@example.com`;
    const loyalty = sandboxAdmin(rig.sandboxes.urls.loyalty);
    const balance = async () => (await loyalty.call<{ balance: number }>('GET', `/v1/members/${encodeURIComponent(email)}`)).balance;
    // Split across two warehouses: the mugs ship from WH-PR, the cap (30.00 of 50.00) from WH-PR2.
    const orderId = await f.submit({
      customer: { email, name: 'Part Canceller' },
      lines: [
        { sku: 'PR-MUG', quantity: 2, unitPrice: '10.00' },
        { sku: 'PR-CAP', quantity: 1, unitPrice: '30.00' },
      ],
      payments: [],
    });
    await f.waitForStatus(orderId, 'released');
    await waitFor('the award', async () => (await actions(orderId)).includes('loyalty.award:succeeded'), 20_000, 100);
    assert.equal(await balance(), 50);

    const mugs = (await f.fulfilments(orderId)).find((x) => x.locationId === 'WH-PR')!;
    await f.ship(mugs.id);
    await f.waitForStatus(orderId, 'partially_shipped');
    const cancel = await f.api('POST', `/v1/orders/${orderId}/cancel`, { reason: 'the cap is no longer wanted' });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    let cancellation: any;
    await waitFor('the partial cancel', async () => (cancellation = (await f.api('GET', `/v1/orders/${orderId}/cancellations/${cancel.body.id}`)).body).status === 'partial', 30_000, 100);
    assert.equal(cancellation.report.cancelledValue, '30.00');
    assert.equal(cancellation.report.refund.amount, '30.00');

    await waitFor('the reversal', async () => (await actions(orderId)).includes('loyalty.reverse:succeeded'), 20_000, 100);
    assert.equal(await balance(), 20, 'the 30 points the cap earned are taken back, the 20 of the shipped mugs stay');
    const reversal = (await f.timeline(orderId)).find((e) => e.action === 'loyalty.reverse')!;
    assert.equal(reversal.detail.points, 30);
    assert.equal(reversal.detail.cancellationId, cancel.body.id);
    assert.equal(rig.sandboxes.loyalty.reversals.get(cancel.body.id)?.points, 30);
    await f.waitForStatus(orderId, 'completed');
  });

  test('the clients the lookups use: payments found by order id at the gateway, fulfilment orders by order id at the WMS, partial point reversals once per reference', async () => {
    const settings = rig.sandboxes.settings;
    const gateway = createPaymentClient({ url: settings.payment.url, apiKey: settings.payment.apiKey });
    const authorised = await gateway.authorize({ orderId: "ord_o'brien", amount: '12.34', currency: 'USD' });
    assert.equal(authorised.outcome, 'succeeded');
    const found = await gateway.findPayments("ord_o'brien");
    assert.deepEqual(found.map((p) => [p.orderId, p.state, p.amount]), [["ord_o'brien", 'authorized', '12.34']], 'a quote in the value is escaped');
    assert.deepEqual(await gateway.findPayments('ord_nothing_here'), []);
    // A query the sandbox does not understand is a Stripe-style 400, not a silent empty list.
    const bad = await fetch(`${settings.payment.url}/v1/payment_intents/search?query=amount>10`, { headers: { authorization: `Bearer ${settings.payment.apiKey}` } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.param, 'query');

    const wms = createWmsClient({ url: settings.wms.url });
    assert.deepEqual(await wms.findFulfilments('ord_never_fulfilled'), []);

    const loyalty = createLoyaltyClient({ url: rig.sandboxes.urls.loyalty });
    const email = `parts-${Date.now()}@example.com`;
    await loyalty.awardPoints({ orderId: 'ord_parts', email, amount: '99.99', currency: 'USD' });
    const part = await loyalty.reversePoints({ orderId: 'ord_parts', amount: '33.00', reference: 'can_1' });
    assert.equal(part?.points, 32, '99 points x 33.00 / 99.99 = 32.67, rounded down');
    const again = await loyalty.reversePoints({ orderId: 'ord_parts', amount: '33.00', reference: 'can_1' });
    assert.equal(again?.created, false);
    assert.equal(again?.points, 32);
    const rest = await loyalty.reversePoints({ orderId: 'ord_parts' });
    assert.equal(rest?.points, 67, 'a full reversal takes back what is left');
    assert.equal(rest?.balance, 0);
    const nothingLeft = await loyalty.reversePoints({ orderId: 'ord_parts', amount: '10.00', reference: 'can_2' });
    assert.equal(nothingLeft?.points, 0, 'never more than the award');
    const noReference = await fetch(`${rig.sandboxes.urls.loyalty}/v1/reversals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId: 'ord_parts', amount: '1.00' }) });
    assert.equal(noReference.status, 422);
  });
});
