import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connectionTarget } from '../src/connectors/kit/channel-connector.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { ShopifyClient } from '../src/connectors/shopify/outbound/shopify.client.ts';
import type { RunningShopifySandbox } from '../src/connectors/shopify/sandbox/shopify.sandbox.ts';
import { SHOPIFY_API_VERSION } from '../src/connectors/shopify/shopify-wire.ts';
import type { RunningWooSandbox } from '../src/connectors/woocommerce/sandbox/woocommerce.sandbox.ts';
import type { WireOrder } from '../src/connectors/woocommerce/woocommerce-wire.ts';
import { enqueue } from '../src/runtime/queue.ts';
import { startChannelRig, type ChannelRig, type StoreSecrets } from './support/channel-rig.ts';
import { postDelivery, shopifyDelivery, wooDelivery, type ConnectionsRig } from './support/connections.ts';
import type { flowApi } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Refunds between the channels and Syncline, end to end over HTTP on the real PostgreSQL
 * (docs/adr/0024). Inbound: a refund taken in Shopify (refunds/create, sent signed by the Shopify
 * sandbox) becomes one return through the return flow — restock, ERP credit note, no second
 * payment refund. Outbound: a return made with POST /v1/returns appears once as a refund in the
 * Shopify sandbox (refundCreate) and in the WooCommerce sandbox (orders/<id>/refunds), also when
 * the job runs again; the channel's echo of it makes no second return.
 */

const SHOP = 'refunds.myshopify.com';
const SHOPIFY = 'shop-refunds';
const WOO = 'woo-refunds';
const address = { firstName: 'Ada', lastName: 'Lovelace', address1: '12 Analytical Row', city: 'Louisville', province: 'Kentucky', provinceCode: 'KY', zip: '40202', countryCode: 'US' };
const REFUND_FIXTURE = new URL('../src/connectors/shopify/fixtures/trigger.dev_Refund.json', import.meta.url);

describe('refunds between the channels and Syncline', () => {
  let channels: ChannelRig;
  let SECRET: string, TOKEN: string, wooSecrets: Required<StoreSecrets>;
  let shop: RunningShopifySandbox;
  let woo: RunningWooSandbox;
  let rig: ConnectionsRig;
  let f: ReturnType<typeof flowApi>;
  const shopAdmin = () => sandboxAdmin(shop.url);
  const store = () => sandboxAdmin(woo.url);

  const syncedOrder = (channel: string, channelOrderId: string | number) => channels.syncedOrder(channel, channelOrderId);
  /** Ships the whole order through the WMS and waits until Syncline has the shipment. */
  const shipAll = async (orderId: string) => {
    await f.waitForStatus(orderId, 'released');
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, ['shipped', 'completed']);
  };
  const returnsOf = async (orderId: string) =>
    (await rig.database.db.query<{ id: string }>('SELECT id FROM order_return WHERE order_id = $1 ORDER BY created_at', [orderId])).rows.map((r) => r.id);
  const completedReturn = async (returnId: string) => {
    await waitFor(`return ${returnId} completed`, async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.status === 'completed', 30_000, 100);
    return (await f.api('GET', `/v1/returns/${returnId}`)).body;
  };
  const onHand = async (sku: string) => (await f.api('GET', `/v1/inventory/availability?sku=${sku}&location=WH-EAST`)).body.onHand as number;
  const eventsOf = async (orderId: string) =>
    (await rig.database.db.query<{ type: string; data: any }>('SELECT type, data FROM outbox_event WHERE subject = $1 ORDER BY id', [orderId])).rows;
  const deliveryResult = async (deliveryId: string) =>
    (await rig.database.db.query<{ status: string; result: any }>('SELECT status, result FROM channel_delivery WHERE delivery_id = $1', [deliveryId])).rows[0];
  const waitForDelivery = async (deliveryId: string, status = 'applied') => {
    await waitFor(`delivery ${deliveryId} ${status}`, async () => (await deliveryResult(deliveryId))?.status === status, 30_000, 100);
    return (await deliveryResult(deliveryId))!;
  };
  /**
   * The delivery that took a Shopify refund in: its webhook, or — when the reconciliation poll read
   * the refund first and the webhook found it taken — the poll's `refund:<id>` delivery.
   */
  const takenIn = async (webhookId: string, refundId: string) => {
    const webhook = await waitForDelivery(webhookId);
    return webhook.result.outcome === 'duplicate' ? waitForDelivery(`refund:${refundId}`) : webhook;
  };
  /** Runs the outbound refund job of a return again, as a retry after a lost answer would (the pairing not recorded). */
  const rerunRefundJob = async (connector: string, connectionId: string, orderId: string, returnId: string) => {
    await rig.database.db.query('UPDATE order_return SET channel = NULL, channel_refund_id = NULL, channel_refund_source = NULL WHERE id = $1', [returnId]);
    await enqueue(rig.database.db, {
      type: 'channel.refund',
      payload: { connectionId, orderId, returnId },
      lane: 'normal',
      target: connectionTarget(connector, connectionId),
      jobKey: `channel-refund-rerun:${returnId}`,
      correlationId: randomUUID(),
    });
    await waitFor('the rerun paired the return again', async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund !== null, 30_000, 100);
  };

  before(async () => {
    channels = await startChannelRig({
      skus: ['TEE-M', 'MUG', 'CAP'],
      stock: 30,
      shopify: [
        {
          connection: SHOPIFY,
          shopDomain: SHOP,
          products: [
            { sku: 'TEE-M', price: '19.99', available: 50 },
            { sku: 'MUG', price: '8.50', available: 50 },
          ],
          yaml: ['reconcile: { everySeconds: 10 }'],
        },
      ],
      woocommerce: [
        {
          connection: WOO,
          products: [
            { sku: 'TEE-M', name: 'Tee M', price: '10.00', stock: 20 },
            { sku: 'CAP', name: 'Cap', price: '10.00', stock: 20 },
          ],
        },
      ],
    });
    ({ rig, f } = channels);
    shop = channels.shops.get(SHOPIFY)!;
    woo = channels.woos.get(WOO)!;
    ({ webhookSecret: SECRET, accessToken: TOKEN } = channels.secrets.get(SHOPIFY) as Required<StoreSecrets>);
    wooSecrets = channels.secrets.get(WOO) as Required<StoreSecrets>;
  });
  after(() => channels?.close());

  /** A paid Shopify order of two shirts and a mug (tax inside the prices), taken in and shipped. */
  const shippedShopifyOrder = async () => {
    const created = await shopAdmin().call<{ order: { id: string; line_items: { id: string; sku: string }[] } }>('POST', '/_sandbox/orders', {
      email: 'ada@example.com',
      shippingAddress: address,
      lines: [
        { sku: 'TEE-M', quantity: 2 },
        { sku: 'MUG', quantity: 1 },
      ],
      shippingPrice: '5.00',
      taxesIncluded: true,
      tax: '2.00',
    });
    const orderId = await syncedOrder(SHOPIFY, created.order.id);
    await shipAll(orderId);
    const lineId = (sku: string) => created.order.line_items.find((l) => l.sku === sku)!.id;
    return { orderId, channelOrderId: created.order.id, lineId };
  };

  test('Shopify refunds/create with a restock becomes one return: stock back, ERP credit note, no second payment refund, events out; the same refund again makes no second return', async () => {
    const { orderId, channelOrderId, lineId } = await shippedShopifyOrder();
    const paymentRefundsBefore = (await f.paymentState()).refunds.length;
    const teeBefore = await onHand('TEE-M');
    const mugBefore = await onHand('MUG');

    // The merchant refunds one shirt (returned: restock) and the mug (kept by the customer: no restock) in Shopify.
    const refunded = await shopAdmin().call<{ refund: { id: string }; webhookId: string }>('POST', `/_sandbox/orders/${channelOrderId}/refunds`, {
      note: 'shirt too small, mug chipped',
      lines: [
        { lineItemId: lineId('TEE-M'), quantity: 1, restockType: 'return' },
        { lineItemId: lineId('MUG'), quantity: 1, restockType: 'no_restock' },
      ],
    });
    const delivery = await takenIn(refunded.webhookId, refunded.refund.id);
    assert.equal(delivery.result.outcome, 'return', JSON.stringify(delivery.result));
    const returnId = delivery.result.returnId as string;
    const ret = await completedReturn(returnId);
    assert.deepEqual(ret.channelRefund, { channel: SHOPIFY, refundId: refunded.refund.id, source: 'channel' });
    assert.equal(ret.refundAmount, '28.49', 'what Shopify refunded: 19.99 + 8.50');
    assert.equal(ret.refundId, null, 'no payment refund of its own');
    assert.deepEqual(ret.lines.map((l: any) => [l.sku, l.quantity, l.condition]), [
      ['TEE-M', 1, 'resellable'],
      ['MUG', 1, 'damaged'],
    ]);
    assert.equal(ret.locationCode, 'WH-EAST', 'the goods come back where they shipped from');

    // The channel moved the money: the payment connector refunded nothing.
    assert.equal((await f.paymentState()).refunds.length, paymentRefundsBefore);
    const lifecycle = await f.timeline(orderId);
    assert.ok(lifecycle.some((e) => e.action === 'payment.refund' && e.detail?.skipped === 'refunded in the channel'), 'the payment step was skipped');
    // The ERP got its credit note, as for any return.
    const erp = await f.erpState();
    const returnSale = erp.sales.find((x: any) => x.reference === returnId);
    assert.ok(returnSale, 'the ERP has the return');
    assert.ok(erp.invoices.some((i: any) => returnSale.invoices.includes(i.id) && i.totalAmount.startsWith('-')), 'a credit note');
    assert.equal(ret.creditNote?.state, 'posted');
    // Stock: the returned shirt is back, the kept mug is not.
    assert.equal(await onHand('TEE-M'), teeBefore + 1);
    assert.equal(await onHand('MUG'), mugBefore);
    // Announced: the channel's refund and the completed return.
    const events = await eventsOf(orderId);
    assert.equal(events.filter((e) => e.type === 'order.channel_refunded' && e.data.returnId === returnId).length, 1);
    assert.equal(events.filter((e) => e.type === 'order.returned' && e.data.returnId === returnId).length, 1);

    // The same delivery again (same webhook id), and the same refund under another delivery id (as the poll or a re-sent webhook would): one return.
    const resent = await shopAdmin().call<{ lastResponseStatus: number }>('POST', `/_sandbox/webhooks/${refunded.webhookId}/resend`);
    assert.equal(resent.lastResponseStatus, 200);
    const { refunds } = await shopAdmin().call<{ refunds: unknown[] }>('GET', `/_sandbox/orders/${channelOrderId}/refunds`);
    const again = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'refunds/create', payload: refunds[0] });
    assert.equal((await postDelivery(rig.baseUrl, 'shopify', SHOPIFY, again)).status, 200);
    const second = await waitForDelivery(again.headers['x-shopify-webhook-id']!);
    assert.equal(second.result.outcome, 'duplicate');
    assert.equal(second.result.returnId, returnId);
    assert.deepEqual(await returnsOf(orderId), [returnId]);
    // Not sent back to Shopify: it has the one refund the merchant made.
    assert.equal((await shopAdmin().call<{ refunds: unknown[] }>('GET', `/_sandbox/orders/${channelOrderId}/refunds`)).refunds.length, 1);
    assert.ok(!(await f.timeline(orderId)).some((e) => e.action === 'channel.refund.sent'));
  });

  test("a refund of an order Syncline does not know (Shopify's published sample) is a dead letter holding the payload, not lost", async () => {
    const body = readFileSync(REFUND_FIXTURE);
    const delivery = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'refunds/create', payload: body.toString('utf8') });
    assert.equal((await postDelivery(rig.baseUrl, 'shopify', SHOPIFY, delivery)).status, 200);
    const failed = await waitForDelivery(delivery.headers['x-shopify-webhook-id']!, 'failed');
    assert.equal(failed.result.code, 'channel.refund_order_unknown');
    const deadLetter = (await f.api('GET', `/v1/ops/dead-letters/${failed.result.deadLetterId}`)).body;
    assert.equal(deadLetter.errorCode ?? deadLetter.code, 'channel.refund_order_unknown', JSON.stringify(deadLetter));
    assert.match(JSON.stringify(deadLetter), /890088186047892319/, 'the dead letter holds the refund');
  });

  test('a refunds/create Shopify drops is recovered by the reconciliation poll: one return, and the late webhook makes none', async () => {
    const { orderId, channelOrderId, lineId } = await shippedShopifyOrder();
    // The refund's own webhook: the order's other traffic (its fulfilment's updates) may still be under way.
    await shopAdmin().call('POST', '/_sandbox/webhooks/drop', { count: 1, topic: 'refunds/create' });
    const refunded = await shopAdmin().call<{ refund: { id: string }; webhookId: string; webhookStatus: string }>('POST', `/_sandbox/orders/${channelOrderId}/refunds`, {
      lines: [{ lineItemId: lineId('TEE-M'), quantity: 2, restockType: 'return' }],
    });
    assert.equal(refunded.webhookStatus, 'dropped');
    // The poll finds the order updated, lists its refund, reads it with its lines at Shopify and takes it in once.
    const delivery = await waitForDelivery(`refund:${refunded.refund.id}`);
    assert.equal(delivery.result.outcome, 'return', JSON.stringify(delivery.result));
    const ret = await completedReturn(delivery.result.returnId);
    assert.deepEqual(ret.lines.map((l: any) => [l.sku, l.quantity, l.condition]), [['TEE-M', 2, 'resellable']]);
    assert.equal(ret.refundAmount, '39.98');
    // Shopify retries the webhook after all: the same refund, no second return.
    const resent = await shopAdmin().call<{ lastResponseStatus: number }>('POST', `/_sandbox/webhooks/${refunded.webhookId}/resend`);
    assert.equal(resent.lastResponseStatus, 200);
    assert.equal((await waitForDelivery(refunded.webhookId)).result.outcome, 'duplicate');
    assert.deepEqual(await returnsOf(orderId), [ret.id]);
  });

  test('a Shopify refund of units not shipped yet makes no return: reported for review, announced, and taken in once', async () => {
    const created = await shopAdmin().call<{ order: { id: string; line_items: { id: string; sku: string }[] } }>('POST', '/_sandbox/orders', {
      email: 'ada@example.com',
      shippingAddress: address,
      lines: [{ sku: 'MUG', quantity: 2 }],
      shippingPrice: '5.00',
      taxesIncluded: true,
      tax: '1.00',
    });
    const orderId = await syncedOrder(SHOPIFY, created.order.id);
    await f.waitForStatus(orderId, 'released');
    // Cancelled and refunded in Shopify before fulfilment (restock type cancel).
    const refunded = await shopAdmin().call<{ refund: { id: string }; webhookId: string }>('POST', `/_sandbox/orders/${created.order.id}/refunds`, {
      lines: [{ lineItemId: created.order.line_items[0]!.id, quantity: 1, restockType: 'cancel' }],
    });
    const delivery = await takenIn(refunded.webhookId, refunded.refund.id);
    assert.equal(delivery.result.outcome, 'recorded', JSON.stringify(delivery.result));
    assert.deepEqual(delivery.result.unshipped, [{ lineNumber: 1, quantity: 1 }]);
    assert.deepEqual(await returnsOf(orderId), []);
    const entry = (await f.timeline(orderId)).find((e) => e.action === 'channel.refund');
    assert.equal(entry?.outcome, 'pending', 'an operator decides: the order may still ship the unit');
    const announced = (await eventsOf(orderId)).filter((e) => e.type === 'order.channel_refunded');
    assert.equal(announced.length, 1);
    assert.equal(announced[0]!.data.returnId, null);
    // The same refund read again (the poll's path): nothing more.
    const { refunds } = await shopAdmin().call<{ refunds: unknown[] }>('GET', `/_sandbox/orders/${created.order.id}/refunds`);
    const again = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'refunds/create', payload: refunds[0] });
    assert.equal((await postDelivery(rig.baseUrl, 'shopify', SHOPIFY, again)).status, 200);
    assert.equal((await waitForDelivery(again.headers['x-shopify-webhook-id']!)).result.outcome, 'duplicate');
    assert.equal((await eventsOf(orderId)).filter((e) => e.type === 'order.channel_refunded').length, 1);
  });

  test('a return made in Syncline of a Shopify order becomes one refund in Shopify, also when the job runs again; its echo makes no second return', async () => {
    const { orderId, channelOrderId } = await shippedShopifyOrder();
    const accepted = await f.api('POST', '/v1/returns', { orderId, location: 'WH-EAST', reason: 'wrong size', lines: [{ lineNumber: 1, quantity: 1, condition: 'resellable' }] }, { 'idempotency-key': randomUUID() });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const returnId = accepted.body.id as string;
    const ret = await completedReturn(returnId);
    assert.ok(ret.refundId, "Syncline's payment connector refunded");

    type ShopRefund = { id: string; note: string; refund_line_items: { line_item_id: string; quantity: number; restock_type: string }[]; transactions: { kind: string; amount: string }[] };
    const shopRefunds = async () => (await shopAdmin().call<{ refunds: ShopRefund[]; financialStatus: string }>('GET', `/_sandbox/orders/${channelOrderId}/refunds`));
    await waitFor('the refund in Shopify', async () => (await shopRefunds()).refunds.length > 0, 30_000, 100);
    await waitFor('the return paired with it', async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund !== null, 30_000, 100);
    const { refunds, financialStatus } = await shopRefunds();
    assert.equal(refunds.length, 1);
    assert.match(refunds[0]!.note, new RegExp(`\\[Syncline return ${returnId}\\]`));
    assert.deepEqual(refunds[0]!.refund_line_items.map((l) => [l.quantity, l.restock_type]), [[1, 'no_restock']]);
    // Syncline's payment connector moved the money: Shopify records the refunded lines, no second money movement.
    assert.deepEqual(refunds[0]!.transactions, []);
    assert.equal(financialStatus, 'paid');
    const paired = (await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund;
    assert.deepEqual(paired, { channel: SHOPIFY, refundId: refunds[0]!.id, source: 'syncline' });

    // Shopify sends refunds/create for it: recognised as Syncline's own, no second return.
    await waitFor('the echo taken in', async () => {
      const { rows } = await rig.database.db.query<{ result: any }>("SELECT result FROM channel_delivery WHERE topic = 'refunds/create' AND result->>'returnId' = $1", [returnId]);
      return rows.some((r) => r.result.outcome === 'echo' || r.result.outcome === 'duplicate');
    }, 30_000, 100);
    assert.deepEqual(await returnsOf(orderId), [returnId]);

    // The job again, as after an answer lost on the way back: Shopify has the refund already, none is added.
    await rerunRefundJob('shopify', SHOPIFY, orderId, returnId);
    assert.equal((await shopRefunds()).refunds.length, 1);
    assert.deepEqual((await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund, paired);
    // And the same mutation with the same idempotency key straight at Shopify: the first refund is answered again.
    const client = new ShopifyClient({ shopDomain: SHOP, accessToken: TOKEN, adminUrl: shop.url, apiVersion: SHOPIFY_API_VERSION });
    const again = await client.refund({ channelOrderId, returnId, amount: '19.99', currency: 'USD', lines: [], refundedBySyncline: true }, {});
    assert.deepEqual(again, { channelRefundId: refunds[0]!.id, created: false });
    assert.equal((await shopRefunds()).refunds.length, 1);
    assert.ok((await f.timeline(orderId)).some((e) => e.action === 'channel.refund.sent' && e.outcome === 'succeeded'));
  });

  test('WooCommerce: a return made in Syncline becomes one refund in the store with api_refund false, also when the job runs again', async () => {
    const { order } = await store().call<{ order: WireOrder }>('POST', '/_sandbox/orders', { lines: [{ sku: 'TEE-M', quantity: 2 }, { sku: 'CAP', quantity: 1 }], taxRate: '0.10', shippingTotal: '0.00' });
    const orderId = await syncedOrder(WOO, order.id);
    await shipAll(orderId);
    const stockBefore = (await store().call<{ data: { sku: string; stock_quantity: number | null }[] }>('GET', '/_sandbox/products')).data.find((p) => p.sku === 'CAP')!.stock_quantity;
    const accepted = await f.api('POST', '/v1/returns', { orderId, location: 'WH-EAST', lines: [{ lineNumber: 2, quantity: 1, condition: 'resellable' }] }, { 'idempotency-key': randomUUID() });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const returnId = accepted.body.id as string;
    const ret = await completedReturn(returnId);
    assert.ok(ret.refundId, "Syncline's payment connector refunded");

    await waitFor('the refund in the store', async () => (await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund !== null, 30_000, 100);
    const refunds = woo.state.refunds.get(order.id) ?? [];
    assert.equal(refunds.length, 1);
    assert.equal(refunds[0]!.amount, ret.refundAmount);
    assert.equal(refunds[0]!.refunded_payment, false, 'api_refund false: the gateway did not pay the customer a second time');
    assert.match(refunds[0]!.reason, new RegExp(`\\[Syncline return ${returnId}\\]`));
    assert.deepEqual(refunds[0]!.line_items.map((l) => [l.sku, l.quantity]), [['CAP', -1]]);
    assert.deepEqual((await f.api('GET', `/v1/returns/${returnId}`)).body.channelRefund, { channel: WOO, refundId: String(refunds[0]!.id), source: 'syncline' });

    // The store sends order.updated listing the refund; read at the store, it is recognised as Syncline's own.
    await waitFor('the echo taken in', async () => {
      const { rows } = await rig.database.db.query<{ result: any }>('SELECT result FROM channel_delivery WHERE delivery_id = $1', [`refund:${refunds[0]!.id}`]);
      return rows[0]?.result?.outcome === 'echo' || rows[0]?.result?.outcome === 'duplicate';
    }, 30_000, 100);
    assert.deepEqual(await returnsOf(orderId), [returnId]);

    await rerunRefundJob('woocommerce', WOO, orderId, returnId);
    assert.equal((woo.state.refunds.get(order.id) ?? []).length, 1, 'the retry found the refund made before');
    // api_restock false: the store's stock is Syncline's availability, not a second restock.
    const stockAfter = (await store().call<{ data: { sku: string; stock_quantity: number | null }[] }>('GET', '/_sandbox/products')).data.find((p) => p.sku === 'CAP')!.stock_quantity;
    assert.ok(stockAfter === stockBefore || stockAfter === (await f.api('GET', `/v1/inventory/availability?sku=CAP&channel=${WOO}`)).body.available, `stock ${stockBefore} → ${stockAfter}`);
  });

  test('WooCommerce: a refund made in the store (order.updated lists it) becomes one return, read once at the store; no second payment refund', async () => {
    const { order } = await store().call<{ order: WireOrder }>('POST', '/_sandbox/orders', { lines: [{ sku: 'TEE-M', quantity: 1 }, { sku: 'CAP', quantity: 2 }], taxRate: '0.10', shippingTotal: '0.00' });
    const orderId = await syncedOrder(WOO, order.id);
    await shipAll(orderId);
    const paymentRefundsBefore = (await f.paymentState()).refunds.length;
    const capBefore = await onHand('CAP');
    const capLine = order.line_items.find((l) => l.sku === 'CAP')!;
    // The shop manager refunds one cap through WooCommerce's REST API (the store's gateway pays it back).
    const made = await fetch(`${woo.url}/wp-json/wc/v3/orders/${order.id}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${wooSecrets.consumerKey}:${wooSecrets.consumerSecret}`).toString('base64')}` },
      body: JSON.stringify({ amount: '11.00', reason: 'arrived crushed', line_items: [{ id: capLine.id, quantity: 1, refund_total: '10.00' }] }),
    });
    assert.equal(made.status, 201);
    const refund = (await made.json()) as { id: number };
    const delivery = await waitForDelivery(`refund:${refund.id}`);
    assert.equal(delivery.result.outcome, 'return', JSON.stringify(delivery.result));
    const ret = await completedReturn(delivery.result.returnId);
    assert.deepEqual(ret.channelRefund, { channel: WOO, refundId: String(refund.id), source: 'channel' });
    assert.equal(ret.refundAmount, '11.00');
    assert.deepEqual(ret.lines.map((l: any) => [l.sku, l.quantity, l.condition]), [['CAP', 1, 'resellable']]);
    assert.equal((await f.paymentState()).refunds.length, paymentRefundsBefore, 'the store moved the money');
    assert.equal(await onHand('CAP'), capBefore + 1);
    // Every later order.updated lists the refund again: it is not read again, and still one return.
    const current = (await store().call<{ order: WireOrder }>('GET', `/_sandbox/orders/${order.id}`)).order;
    assert.equal(current.refunds.length, 1);
    const readsAtStore = () => woo.state.requests.filter((r) => r.method === 'GET' && r.url.includes(`/orders/${order.id}/refunds`)).length;
    const readsBefore = readsAtStore();
    assert.ok(readsBefore >= 1, 'the refund was read at the store');
    const later = wooDelivery({ secret: wooSecrets.webhookSecret, topic: 'order.updated', payload: current });
    assert.equal((await postDelivery(rig.baseUrl, 'woocommerce', WOO, later)).status, 200);
    // Stored under WooCommerce's delivery id and the body's digest.
    const laterId = `${later.headers['x-wc-webhook-delivery-id']}.${createHash('sha256').update(later.body).digest('hex').slice(0, 24)}`;
    await waitForDelivery(laterId);
    const reads = await rig.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM runtime_job WHERE type = 'channel.refunds-read' AND payload->>'channelOrderId' = $1", [String(order.id)]);
    assert.equal(reads.rows[0]!.n, 0, 'no second read of a refund taken in');
    assert.equal(readsAtStore(), readsBefore);
    assert.deepEqual(await returnsOf(orderId), [ret.id]);
    const { rows } = await rig.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM channel_delivery WHERE connection_id = $1 AND delivery_id = $2", [WOO, `refund:${refund.id}`]);
    assert.equal(rows[0]!.n, 1);
  });
});
