import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import type { RunningShopifySandbox } from '../src/connectors/shopify/sandbox/shopify.sandbox.ts';
import { startChannelRig, type ChannelRig, type StoreSecrets } from './support/channel-rig.ts';
import { postDelivery, shopifyDelivery, shopifyOrder, type ConnectionsRig } from './support/connections.ts';
import type { flowApi } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Shopify end to end over HTTP on the real PostgreSQL: the Shopify sandbox sends signed webhooks
 * to Syncline's route and answers its GraphQL Admin calls; the five system sandboxes run the
 * order flows. One connection, `acme-us`, configured in a syncline.yaml.
 */

const SHOP = 'acme-us.myshopify.com';
const CONNECTION = 'acme-us';
const SHOP_EU = 'acme-eu.myshopify.com';
const address = { firstName: 'Ada', lastName: 'Lovelace', address1: '12 Analytical Row', city: 'Louisville', province: 'Kentucky', provinceCode: 'KY', zip: '40202', countryCode: 'US' };

describe('Shopify connection end to end', () => {
  let channels: ChannelRig;
  let SECRET: string, TOKEN: string, SECRET_EU: string;
  let shop: RunningShopifySandbox;
  let shopEu: RunningShopifySandbox;
  let rig: ConnectionsRig;
  let f: ReturnType<typeof flowApi>;
  const shopAdmin = () => sandboxAdmin(shop.url);

  /** Places an order in the Shopify sandbox (which sends orders/create unless told to drop it). */
  const placeInShopify = async (lines: { sku: string; quantity: number; price?: string }[], extra: Record<string, unknown> = {}) => {
    const created = await shopAdmin().call<{ order: { id: string; line_items: { id: string; sku: string }[] }; webhookId: string }>('POST', '/_sandbox/orders', {
      email: 'ada@example.com',
      shippingAddress: address,
      lines,
      shippingPrice: '5.00',
      // Prices include tax, as in most stores outside North America: the ERP sandbox's own 10 % rule
      // then gives the same total (an ERP total that differs from what the customer paid is an exception).
      taxesIncluded: true,
      tax: '2.00',
      ...extra,
    });
    return { channelOrderId: created.order.id, webhookId: created.webhookId, lineIds: created.order.line_items.map((l) => l.id) };
  };
  /** Syncline's orders for a Shopify order id (by channel and channel order id). */
  const ordersOf = async (channelOrderId: string): Promise<{ id: string; status: string }[]> =>
    (await f.api('GET', `/v1/orders?channel=${CONNECTION}&channelOrderId=${channelOrderId}`)).body.data;
  const syncedOrder = (channelOrderId: string, timeoutMs?: number) => channels.syncedOrder(CONNECTION, channelOrderId, timeoutMs);
  /** Stored deliveries with this webhook id (the reconciliation poll stores deliveries of its own at any time). */
  const stored = async (webhookId: string) =>
    (await rig.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM channel_delivery WHERE delivery_id = $1', [webhookId])).rows[0]!.n;
  const shopifyLevel = async (sku: string) =>
    (await shopAdmin().call<{ levels: { sku: string; available: number }[] }>('GET', '/_sandbox/inventory')).levels.find((l) => l.sku === sku)?.available;
  const synclineAvailable = async (sku: string): Promise<number> => (await f.api('GET', `/v1/inventory/availability?sku=${sku}&channel=${CONNECTION}`)).body.available;

  before(async () => {
    channels = await startChannelRig({
      skus: ['TEE-M', 'MUG', 'CAP'],
      stock: 20,
      shopify: [
        {
          connection: CONNECTION,
          shopDomain: SHOP,
          products: [
            { sku: 'TEE-M', price: '19.99', available: 7 },
            { sku: 'MUG', price: '8.50', available: 7 },
            { sku: 'CAP', price: '12.00', available: 7 },
          ],
          yaml: ['reconcile: { everySeconds: 10 }'],
        },
        // A second store of the same retailer, with its own secret, token, target and limits.
        { connection: 'acme-eu', shopDomain: SHOP_EU, products: [{ sku: 'MUG', price: '9.00', available: 4 }], yaml: ['limits: { ratePerSecond: 2, maxConcurrency: 1 }'] },
      ],
    });
    ({ rig, f } = channels);
    shop = channels.shops.get(CONNECTION)!;
    shopEu = channels.shops.get('acme-eu')!;
    ({ webhookSecret: SECRET, accessToken: TOKEN } = channels.secrets.get(CONNECTION) as Required<StoreSecrets>);
    SECRET_EU = channels.secrets.get('acme-eu')!.webhookSecret;
  });
  after(() => channels?.close());

  test('a signed orders/create becomes one order, released on the sandboxes; the WMS ships it and the fulfilment with its tracking number appears in Shopify', async () => {
    const placed = await placeInShopify([
      { sku: 'TEE-M', quantity: 2 },
      { sku: 'MUG', quantity: 1 },
    ]);
    const orderId = await syncedOrder(placed.channelOrderId);
    await f.waitForStatus(orderId, 'released');
    const order = (await f.api('GET', `/v1/orders/${orderId}`)).body;
    assert.equal(order.channel, CONNECTION);
    // 2 × 19.99 + 8.50 + 5.00 shipping: tax is inside the prices, not added.
    assert.equal(order.totals.grandTotal, '53.48');
    assert.equal(order.totals.tax, '0.00');
    assert.deepEqual(order.lines.map((l: { channelLineId: string }) => l.channelLineId), placed.lineIds);

    // The same delivery again, and a second delivery of the same order (orders/updated): still one order.
    const resent = await shopAdmin().call<{ lastResponseStatus: number }>('POST', `/_sandbox/webhooks/${placed.webhookId}/resend`);
    assert.equal(resent.lastResponseStatus, 200);
    const touched = await shopAdmin().call<{ webhookId: string }>('POST', `/_sandbox/orders/${placed.channelOrderId}/touch`, { note: 'gift wrap' });
    await waitFor('the orders/updated delivery applied', async () => {
      const { rows } = await rig.database.db.query<{ status: string }>('SELECT status FROM channel_delivery WHERE delivery_id = $1', [touched.webhookId]);
      return rows[0]?.status === 'applied';
    }, 20_000, 100);
    assert.equal((await ordersOf(placed.channelOrderId)).length, 1);

    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id, { carrier: 'UPS', trackingNumbers: ['1ZE2E0000000001'] });
    // Shipped, then completed as soon as the ERP's invoice is posted: either may be seen.
    await f.waitForStatus(orderId, ['shipped', 'completed']);
    let fulfilments: { tracking: { company: string; number: string }[] }[] = [];
    await waitFor('the fulfilment in Shopify', async () => {
      fulfilments = (await shopAdmin().call<{ fulfillments: typeof fulfilments }>('GET', `/_sandbox/orders/${placed.channelOrderId}/fulfillments`)).fulfillments;
      return fulfilments.length > 0;
    }, 30_000, 100);
    assert.equal(fulfilments.length, 1);
    assert.deepEqual(fulfilments[0]!.tracking.map((t) => [t.company, t.number]), [['UPS', '1ZE2E0000000001']]);
    // The timeline entry is written once Shopify has answered: it may come a moment after the fulfilment exists there.
    await waitFor('channel.fulfil on the timeline', async () => (await f.timeline(orderId)).some((e) => e.action === 'channel.fulfil' && e.outcome === 'succeeded'), 10_000, 100);
  });

  test('a tampered delivery gets 401 and nothing is stored', async () => {
    const channelOrderId = '7046999999999999001';
    const delivery = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'orders/create', payload: shopifyOrder(channelOrderId, 'TEE-M') });
    const webhookId = delivery.headers['x-shopify-webhook-id']!;
    const tampered = Buffer.from(delivery.body);
    const middle = Math.floor(tampered.length / 2);
    tampered[middle] = tampered[middle]! ^ 0x01;
    const refused = await postDelivery(rig.baseUrl, 'shopify', CONNECTION, { ...delivery, body: tampered });
    assert.equal(refused.status, 401);
    assert.equal(await stored(webhookId), 0);
    assert.deepEqual(await ordersOf(channelOrderId), []);
    // The same bytes untampered are taken in: the refusal was the signature's.
    const sent = Date.now();
    const accepted = await postDelivery(rig.baseUrl, 'shopify', CONNECTION, delivery);
    assert.equal(accepted.status, 200);
    assert.equal(await stored(webhookId), 1);
    // The same delivery sent several times at once (they may share one commit): stored once, one intake.
    const again = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'orders/create', payload: shopifyOrder('7046999999999999002', 'MUG') });
    const answers = await Promise.all(Array.from({ length: 6 }, () => postDelivery(rig.baseUrl, 'shopify', CONNECTION, again)));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(answers.filter((a) => a.body.duplicate === false).length, 1, JSON.stringify(answers.map((a) => a.body)));
    assert.equal(await stored(again.headers['x-shopify-webhook-id']!), 1);
    // The connection shows the delivery as its last inbound activity, and no secret.
    const connection = (await f.api('GET', `/v1/connections/${CONNECTION}`)).body;
    assert.ok(Date.parse(connection.lastInboundAt) >= sent - 1000, JSON.stringify(connection));
    assert.ok(!JSON.stringify(connection).includes(SECRET) && !JSON.stringify(connection).includes(TOKEN));
  });

  test('availability reaches Shopify through compare-and-set, and a quantity changed in Shopify meanwhile is re-read and set', async () => {
    await waitFor('CAP availability in Shopify', async () => (await shopifyLevel('CAP')) === (await synclineAvailable('CAP')), 30_000, 200);
    // A merchant edits the quantity in Shopify; then Syncline's availability changes.
    await shopAdmin().call('PUT', '/_sandbox/inventory', { sku: 'CAP', available: 3 });
    await f.stock([{ type: 'receipt', sku: 'CAP', location: 'WH-EAST', quantity: 5 }]);
    const target = await synclineAvailable('CAP');
    assert.equal(target, 25);
    await waitFor('the new CAP availability in Shopify', async () => (await shopifyLevel('CAP')) === target, 30_000, 200);
    // Logged once Shopify has answered the second set.
    await waitFor(
      'the stale quantity re-read and set again',
      async () => rig.logs.some((line) => line.includes('availability sent to the channel') && line.includes('"sku":"CAP"') && line.includes('"retriedStale":1')),
      10_000,
      100,
    );
  });

  test('a webhook the sandbox drops is recovered by the reconciliation poll', async () => {
    await shopAdmin().call('POST', '/_sandbox/webhooks/drop', { count: 1, topic: 'orders/create' });
    const placed = await placeInShopify([{ sku: 'MUG', quantity: 1 }]);
    const hooks = await shopAdmin().call<{ data: { id: string; status: string }[] }>('GET', '/_sandbox/webhooks');
    assert.equal(hooks.data.find((d) => d.id === placed.webhookId)?.status, 'dropped');
    const orderId = await syncedOrder(placed.channelOrderId, 45_000);
    const { rows } = await rig.database.db.query<{ topic: string }>("SELECT topic FROM channel_delivery WHERE result->>'orderId' = $1", [orderId]);
    assert.ok(rows.length > 0 && rows.every((r) => r.topic !== 'orders/create'), `taken in by the poll, not a webhook: ${JSON.stringify(rows)}`);
    await f.waitForStatus(orderId, 'released');
  });

  test('orders/cancelled cancels the order in Syncline with every compensation, and is not echoed back to Shopify', async () => {
    const placed = await placeInShopify([{ sku: 'TEE-M', quantity: 1 }]);
    const orderId = await syncedOrder(placed.channelOrderId);
    await f.waitForStatus(orderId, 'released');
    const cancelled = await shopAdmin().call<{ webhookId: string }>('POST', `/_sandbox/orders/${placed.channelOrderId}/cancel`, { reason: 'customer' });
    await f.waitForStatus(orderId, 'cancelled');
    const { rows } = await rig.database.db.query<{ result: { cancellationId?: string } }>('SELECT result FROM channel_delivery WHERE delivery_id = $1', [cancelled.webhookId]);
    const cancellationId = rows[0]?.result?.cancellationId;
    assert.ok(cancellationId, JSON.stringify(rows));
    let cancellation: { status: string; report: { compensated: { step: string }[] } } | undefined;
    await waitFor('the cancellation finished', async () => {
      cancellation = (await f.api('GET', `/v1/orders/${orderId}/cancellations/${cancellationId}`)).body;
      return cancellation?.status === 'completed';
    }, 30_000, 100);
    assert.deepEqual(
      cancellation!.report.compensated.map((c) => c.step),
      ['wms.fulfil', 'payment.capture', 'erp.post', 'inventory.allocate', 'payment.authorize'],
    );
    assert.deepEqual((await f.fulfilments(orderId)).map((x) => x.status), ['cancelled']);
    assert.ok(!(await f.timeline(orderId)).some((e) => e.action === 'channel.cancel'), 'a cancel the channel asked for is not sent back to it');
  });

  test('a cancel made in Syncline is reflected in Shopify', async () => {
    const placed = await placeInShopify([{ sku: 'MUG', quantity: 1 }]);
    const orderId = await syncedOrder(placed.channelOrderId);
    await f.waitForStatus(orderId, 'released');
    await f.cancelAndWait(orderId, { reason: 'customer changed their mind' });
    await waitFor('the order cancelled in Shopify', async () => {
      const view = await shopAdmin().call<{ order: { cancelled_at: string | null } }>('GET', `/_sandbox/orders/${placed.channelOrderId}`);
      return view.order.cancelled_at !== null;
    }, 30_000, 100);
    await waitFor('channel.cancel on the timeline', async () => (await f.timeline(orderId)).some((e) => e.action === 'channel.cancel' && e.outcome === 'succeeded'), 10_000, 100);
  });

  test('two Shopify stores at once: each its own connection, target and limits; one store\'s delivery is refused by the other', async () => {
    const created = await sandboxAdmin(shopEu.url).call<{ order: { id: string } }>('POST', '/_sandbox/orders', { email: 'eu@example.com', shippingAddress: address, lines: [{ sku: 'MUG', quantity: 1 }], currency: 'EUR' });
    let orders: { id: string; channel: string }[] = [];
    await waitFor('the EU order in Syncline', async () => {
      orders = (await f.api('GET', `/v1/orders?channel=acme-eu&channelOrderId=${created.order.id}`)).body.data;
      return orders.length === 1;
    }, 30_000, 100);
    assert.equal(orders[0]!.channel, 'acme-eu');
    assert.deepEqual(await ordersOf(created.order.id), [], 'not an order of the US store');
    // Signed by the US store (its secret, its shop domain): refused at the EU store's URL, and the other way round.
    const us = shopifyDelivery({ secret: SECRET, shopDomain: SHOP, topic: 'orders/create', payload: shopifyOrder('7046999999999999101', 'MUG') });
    assert.equal((await postDelivery(rig.baseUrl, 'shopify', 'acme-eu', us)).status, 401);
    const euSecretUsShop = shopifyDelivery({ secret: SECRET_EU, shopDomain: SHOP, topic: 'orders/create', payload: shopifyOrder('7046999999999999102', 'MUG') });
    assert.equal((await postDelivery(rig.baseUrl, 'shopify', 'acme-eu', euSecretUsShop)).status, 401);
    const connections = (await f.api('GET', '/v1/connections')).body.items as { id: string; target: { name: string } }[];
    assert.deepEqual(
      connections.filter((c) => c.id.startsWith('acme-')).map((c) => [c.id, c.target.name]).sort(),
      [
        ['acme-eu', 'shopify:acme-eu'],
        ['acme-us', 'shopify:acme-us'],
      ],
    );
    const euLimits = rig.config.connections.connections.find((c) => c.id === 'acme-eu')!.limits;
    assert.deepEqual(euLimits, { ratePerSecond: 2, maxConcurrency: 1 });
  });
});
