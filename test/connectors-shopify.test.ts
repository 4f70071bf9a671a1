import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SynclineError } from '../src/domain/errors.ts';
import { computeTotals } from '../src/domain/orders/order-builder.ts';
import { OrderSubmission } from '../src/model/order.ts';
import type { ChannelCommand, VerifiedDelivery } from '../src/connectors/kit/channel-connector.ts';
import { expectSynclineError } from '../src/connectors/kit/contract-fixtures.ts';
import { FAULT_CONTRACT } from '../src/connectors/kit/fault-contract.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { mapShopifyDelivery, shopifySignatureMatches, SUPPORTED_TOPICS, verifyShopifyWebhook } from '../src/connectors/shopify/inbound/shopify.inbound.ts';
import { parseShopifyJson } from '../src/connectors/shopify/inbound/shopify-json.ts';
import { ShopifyClient } from '../src/connectors/shopify/outbound/shopify.client.ts';
import { startShopifySandbox, type RunningShopifySandbox } from '../src/connectors/shopify/sandbox/shopify.sandbox.ts';
import { shopifyConnector, type ShopifyOptions } from '../src/connectors/shopify/shopify.connector.ts';
import { SHOPIFY_API_VERSION, signShopifyWebhook } from '../src/connectors/shopify/shopify-wire.ts';

const FIXTURES = new URL('../src/connectors/shopify/fixtures/', import.meta.url);
const fixtureText = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const SECRET = 'shopify-test-secret-0123456789';
const SHOP = 'syncline-test.myshopify.com';
const NOW = Date.parse('2026-11-30T12:00:00Z');
const options: ShopifyOptions = shopifyConnector.options.parse({ shopDomain: SHOP, webhookSecret: SECRET });

/** The headers Shopify sends with a delivery of body, signed with secret. */
function shopifyHeaders(body: string | Buffer, topic: string, overrides: Record<string, string | undefined> = {}, secret = SECRET): Record<string, string | undefined> {
  return {
    'x-shopify-hmac-sha256': signShopifyWebhook(secret, body),
    'x-shopify-topic': topic,
    'x-shopify-shop-domain': SHOP,
    'x-shopify-api-version': SHOPIFY_API_VERSION,
    'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
    'x-shopify-event-id': '7b8c9d0a-1234-5678-90ab-cdef12345678',
    'x-shopify-triggered-at': new Date(NOW - 5000).toISOString(),
    ...overrides,
  };
}

/** Verifies and maps a body as Syncline's intake would. */
function deliver(body: string, topic: string): ChannelCommand {
  const result = verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, topic), options, NOW, 300);
  assert.equal(result.kind, 'delivery');
  return shopifyConnector.inbound.map((result as { delivery: VerifiedDelivery }).delivery, 'shopify-us');
}

function refused(run: () => unknown, code: string) {
  assert.throws(run, (error: unknown) => error instanceof SynclineError && error.code === code && error.retry === 'permanent', code);
}

describe('Shopify inbound: signature and headers', () => {
  test("the SDK's published HMAC test vector verifies, and one changed byte does not", () => {
    const vector = JSON.parse(fixtureText('hmac_test_vector.json')) as { secret: string; raw_body: string; expected_hmac_base64: string };
    assert.equal(signShopifyWebhook(vector.secret, vector.raw_body), vector.expected_hmac_base64);
    const body = Buffer.from(vector.raw_body);
    assert.equal(shopifySignatureMatches(body, vector.expected_hmac_base64, [vector.secret]), true);
    const sdkHeaders = { ...shopifyHeaders(body, 'products/create'), 'x-shopify-hmac-sha256': vector.expected_hmac_base64 };
    const verified = verifyShopifyWebhook(body, sdkHeaders, { shopDomain: SHOP, webhookSecret: vector.secret }, NOW, 300);
    assert.equal(verified.kind, 'delivery');
    for (let i = 0; i < body.length; i++) {
      const tampered = Buffer.from(body);
      tampered[i] = tampered[i]! ^ 0x01;
      refused(() => verifyShopifyWebhook(tampered, sdkHeaders, { shopDomain: SHOP, webhookSecret: vector.secret }, NOW, 300), 'webhook.signature_invalid');
    }
  });

  test('a wrong secret, a missing or malformed signature are refused; during a rotation either secret verifies', () => {
    const body = '{"id":1}';
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', {}, 'another-secret-0123'), options, NOW, 300), 'webhook.signature_invalid');
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', { 'x-shopify-hmac-sha256': undefined }), options, NOW, 300), 'webhook.signature_missing');
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', { 'x-shopify-hmac-sha256': 'not-base64!' }), options, NOW, 300), 'webhook.signature_malformed');
    const rotating = { ...options, webhookSecret: ['old-secret-0123456', SECRET] };
    assert.equal(verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create'), rotating, NOW, 300).kind, 'delivery');
    assert.equal(verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', {}, 'old-secret-0123456'), rotating, NOW, 300).kind, 'delivery');
  });

  test('stale and far-future deliveries, missing headers and another shop are refused; the webhook id is the delivery id', () => {
    const body = '{"id":1}';
    const at = (ms: number) => ({ 'x-shopify-triggered-at': new Date(NOW - ms).toISOString() });
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', at(301_000)), options, NOW, 300), 'webhook.timestamp_stale');
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', at(-120_000)), options, NOW, 300), 'webhook.timestamp_stale');
    // The connection's own maximum age wins over the caller's default.
    const strict = { ...options, maxWebhookAgeSeconds: 60 };
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', at(90_000)), strict, NOW, 300), 'webhook.timestamp_stale');
    assert.equal(verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', at(290_000)), options, NOW, 300).kind, 'delivery');
    for (const name of ['x-shopify-topic', 'x-shopify-webhook-id', 'x-shopify-triggered-at']) {
      refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', { [name]: undefined }), options, NOW, 300), 'webhook.header_missing');
    }
    refused(() => verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create', { 'x-shopify-shop-domain': 'other.myshopify.com' }), options, NOW, 300), 'webhook.shop_mismatch');
    refused(() => verifyShopifyWebhook(Buffer.from('not json'), shopifyHeaders('not json', 'orders/create'), options, NOW, 300), 'webhook.body_invalid');
    const ok = verifyShopifyWebhook(Buffer.from(body), shopifyHeaders(body, 'orders/create'), options, NOW, 300);
    assert.ok(ok.kind === 'delivery');
    assert.equal(ok.delivery.deliveryId, 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043');
    assert.equal(ok.delivery.topic, 'orders/create');
    assert.equal(ok.delivery.triggeredAt, new Date(NOW - 5000).toISOString());
  });

  test('64-bit ids keep every digit (JSON.parse would round them)', () => {
    const text = '{"id":820982911946154508,"line_items":[{"id":866550311766439020,"quantity":1}],"small":450789469,"price":41.94}';
    assert.notEqual(String((JSON.parse(text) as { id: number }).id), '820982911946154508');
    const parsed = parseShopifyJson(text) as { id: string; line_items: { id: string }[]; small: number; price: number };
    assert.equal(parsed.id, '820982911946154508');
    assert.equal(parsed.line_items[0]!.id, '866550311766439020');
    assert.equal(parsed.small, 450789469);
    assert.equal(parsed.price, 41.94);
  });
});

describe('Shopify inbound: mapping the published sample payloads', () => {
  const sampleOrder = fixtureText('trigger.dev_Order.json');

  for (const topic of ['orders/create', 'orders/updated']) {
    test(`${topic}: the sample order maps to a valid canonical order whose totals are Shopify's`, () => {
      const command = deliver(sampleOrder, topic);
      assert.equal(command.kind, 'order.upsert');
      if (command.kind !== 'order.upsert') return;
      const submission = OrderSubmission.parse(command.submission);
      // The sample's "id" went through a JS number (…500); admin_graphql_api_id kept the exact id.
      assert.equal(submission.channelOrderId, '820982911946154508');
      assert.equal(submission.channel, 'shopify-us');
      assert.deepEqual(
        submission.lines.map((l) => [l.sku, l.quantity, l.unitPrice, l.channelLineId]),
        [
          ['IPOD2008PINK', 1, '199.00', '866550311766439020'],
          ['IPOD2008PINK', 1, '199.00', '141249953214522974'],
        ],
      );
      assert.equal(submission.shippingAddress.country, 'US');
      assert.equal(submission.shippingAddress.region, 'KY');
      assert.equal(submission.customer.email, 'jon@example.com');
      const { totals } = computeTotals(submission);
      assert.equal(totals.grandTotal, '388.00');
      assert.equal(submission.metadata?.['shopify.totalPrice'], '388.00');
      // A voided order carries no payment.
      assert.deepEqual(submission.payments, []);
      assert.deepEqual(command.lines.map((l) => l.variantId), ['808950810', '808950810']);
      assert.equal(command.channelUpdatedAt, '2022-01-01T00:00:00.000Z');
    });
  }

  test("orders/cancelled: the sample maps to a cancel of the order, with Shopify's reason and time", () => {
    assert.deepEqual(deliver(sampleOrder, 'orders/cancelled'), { kind: 'order.cancel', channelOrderId: '820982911946154508', reason: 'customer', cancelledAt: '2022-01-01T00:00:00.000Z' });
  });

  test('refunds/create: the sample refund maps to a canonical refund of its lines', () => {
    const command = deliver(fixtureText('trigger.dev_Refund.json'), 'refunds/create');
    assert.equal(command.kind, 'order.refund');
    if (command.kind !== 'order.refund') return;
    assert.equal(command.channelRefundId, '890088186047892319');
    assert.equal(command.amount, '398.00');
    assert.equal(command.currency, 'USD');
    assert.deepEqual(command.lines, [
      { channelLineId: '866550311766439020', quantity: 1, restock: false },
      { channelLineId: '141249953214522974', quantity: 1, restock: false },
    ]);
    assert.equal(command.note, 'Things were damaged');
  });

  test("the SDK's recorded REST orders and refunds map (or are refused with the reason)", () => {
    const order = (JSON.parse(fixtureText('official-sdk-rest-fixtures/order__test_8__GET_orders_450789469.json')) as { order: unknown }).order;
    const command = deliver(JSON.stringify(order), 'orders/updated');
    assert.equal(command.kind, 'order.upsert');
    if (command.kind === 'order.upsert') {
      const submission = OrderSubmission.parse(command.submission);
      const { totals } = computeTotals(submission);
      assert.equal(totals.grandTotal, '598.94');
      assert.deepEqual(submission.payments.map((p) => [p.status, p.amount]), [['captured', '598.94']]);
      assert.equal(totals.paid, totals.grandTotal);
    }
    // An order created by the API with no email and no address cannot become a canonical order: refused, with the reasons.
    const bare = (JSON.parse(fixtureText('official-sdk-rest-fixtures/order__test_16__POST_orders.json')) as { order: unknown }).order;
    assert.throws(
      () => deliver(JSON.stringify(bare), 'orders/create'),
      (e: unknown) => e instanceof SynclineError && e.code === 'shopify.payload_unmappable' && e.retry === 'permanent' && JSON.stringify(e.details).includes('shippingAddress'),
    );
    const refund = (JSON.parse(fixtureText('official-sdk-rest-fixtures/refund__test_4__GET_orders_450789469_refunds_509562969.json')) as { refund: unknown }).refund;
    assert.deepEqual(deliver(JSON.stringify(refund), 'refunds/create'), {
      kind: 'order.refund',
      channelOrderId: '450789469',
      channelRefundId: '509562969',
      amount: '209.00',
      currency: 'USD',
      lines: [
        // The location Shopify restocked at: where the goods come back.
        { channelLineId: '703073504', quantity: 1, restock: true, channelLocationId: '487838322' },
        { channelLineId: '466157049', quantity: 1, restock: true, channelLocationId: '487838322' },
      ],
      note: 'it broke during shipping',
    });
  });

  test('every sample payload maps or is explicitly unsupported; app/uninstalled stops the connection', () => {
    const samples: [string, string, ChannelCommand['kind']][] = [
      ['trigger.dev_Order.json', 'orders/create', 'order.upsert'],
      ['trigger.dev_Order.json', 'orders/paid', 'unsupported'],
      ['trigger.dev_Refund.json', 'refunds/create', 'order.refund'],
      ['trigger.dev_Fulfillment.json', 'fulfillments/create', 'unsupported'],
      ['trigger.dev_InventoryLevel.json', 'inventory_levels/update', 'unsupported'],
    ];
    for (const [file, topic, kind] of samples) assert.equal(deliver(fixtureText(file), topic).kind, kind, `${file} as ${topic}`);
    assert.deepEqual(deliver('{"id":548380009,"domain":"syncline-test.myshopify.com"}', 'app/uninstalled'), { kind: 'connection.uninstalled' });
    assert.deepEqual(SUPPORTED_TOPICS, ['orders/create', 'orders/updated', 'orders/cancelled', 'refunds/create', 'app/uninstalled']);
  });

  test('a payload that cannot be mapped throws a permanent error with a stable code', () => {
    for (const body of ['[]', '{"admin_graphql_api_id":"gid://shopify/Order/1"}', '{"id":5,"email":"a@example.com","line_items":[]}']) {
      assert.throws(
        () => mapShopifyDelivery({ deliveryId: 'd', topic: 'orders/create', payload: parseShopifyJson(body) }, 'shopify-us'),
        (e: unknown) => e instanceof SynclineError && e.code === 'shopify.payload_unmappable' && e.retry === 'permanent',
        body,
      );
    }
  });
});

// ---- the client against the sandbox ------------------------------------------------------------

interface Received {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
}

/** A stand-in for Syncline's webhook route: keeps the raw bytes and headers of each delivery. */
async function startReceiver() {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ rawBody: Buffer.concat(chunks), headers: request.headers });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/shopify/shopify-us`,
    received,
    async waitFor(count: number) {
      for (let i = 0; i < 300 && received.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(received.length >= count, `expected ${count} webhook(s), got ${received.length}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const address = { firstName: 'Ada', lastName: 'Lovelace', address1: '12 Analytical Row', city: 'Louisville', provinceCode: 'KY', province: 'Kentucky', zip: '40202', countryCode: 'US' };

describe('Shopify client against the sandbox', () => {
  let shop: RunningShopifySandbox;
  let admin: ReturnType<typeof sandboxAdmin>;
  let client: ShopifyClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const shopOptions = () => shopifyConnector.options.parse({ shopDomain: SHOP, webhookSecret: SECRET, accessToken: 'shpat_test', adminUrl: shop.url });
  const createOrder = (body: Record<string, unknown>) =>
    admin.call<{ order: { id: string; admin_graphql_api_id: string; updated_at: string }; webhookId: string }>('POST', '/_sandbox/orders', { email: 'ada@example.com', shippingAddress: address, ...body });

  before(async () => {
    receiver = await startReceiver();
    shop = await startShopifySandbox({
      webhookSecret: SECRET,
      shopDomain: SHOP,
      accessToken: 'shpat_test',
      webhookUrl: receiver.url,
      locations: ['Main warehouse', 'Store 2'],
      products: [
        { sku: 'TEE-RED', price: '25.00', available: 10 },
        { sku: 'TEE-BLUE', price: '20.00', quantities: { 'Main warehouse': 4, 'Store 2': 7 } },
        { sku: 'MUG', price: '8.50', available: 100 },
      ],
    });
    admin = sandboxAdmin(shop.url);
    client = shopifyConnector.client(shopOptions()) as ShopifyClient;
  });
  after(async () => {
    await shop?.close();
    await receiver?.close();
  });

  test('without an access token there is no client; a wrong token gets 401 with Shopify\'s error body', async () => {
    assert.equal(shopifyConnector.client(shopifyConnector.options.parse({ shopDomain: SHOP, webhookSecret: SECRET })), null);
    const wrong = shopifyConnector.client({ ...shopOptions(), accessToken: 'shpat_wrong' })!;
    const error = await expectSynclineError(wrong.listLocations({}));
    assert.equal(error.code, 'connector.unauthorized');
    assert.equal(error.retry, 'permanent');
    assert.match(JSON.stringify(error.details?.body), /Invalid API key or access token/);
  });

  test('listings by SKU and locations, with Shopify ids', async () => {
    const locations = await client.listLocations({});
    assert.deepEqual(locations.map((l) => l.name), ['Main warehouse', 'Store 2']);
    assert.ok(locations.every((l) => /^\d+$/.test(l.id) && BigInt(l.id) > 2n ** 53n));
    const listings = await client.findListings(['TEE-RED', 'TEE-BLUE', 'NOT-SOLD'], {});
    assert.deepEqual(listings.map((l) => l.sku).sort(), ['TEE-BLUE', 'TEE-RED']);
    for (const l of listings) assert.ok(/^\d+$/.test(l.productId) && /^\d+$/.test(l.variantId!) && /^\d+$/.test(l.inventoryItemId!));
  });

  test('availability is set with compare-and-set; a quantity changed in Shopify meanwhile is re-read and set again', async () => {
    const [listing] = await client.findListings(['TEE-BLUE'], {});
    const [main, store2] = await client.listLocations({});
    const first = await client.setAvailability([{ listing: listing!, channelLocationId: main!.id, available: 3 }, { listing: listing!, channelLocationId: store2!.id, available: 6 }], {});
    assert.deepEqual(first, { updated: 2, retriedStale: 0 });
    // A merchant edits the quantity in Shopify: Syncline's expected value is now stale.
    await admin.call('PUT', '/_sandbox/inventory', { sku: 'TEE-BLUE', location: 'Main warehouse', available: 9 });
    const second = await client.setAvailability([{ listing: listing!, channelLocationId: main!.id, available: 2 }, { listing: listing!, channelLocationId: store2!.id, available: 5 }], {});
    assert.deepEqual(second, { updated: 2, retriedStale: 1 });
    const { levels } = await admin.call<{ levels: { sku: string; location: string; available: number }[] }>('GET', '/_sandbox/inventory');
    assert.deepEqual(levels.filter((l) => l.sku === 'TEE-BLUE').map((l) => [l.location, l.available]), [['Main warehouse', 2], ['Store 2', 5]]);
  });

  test('a shipment becomes a fulfilment with its tracking; the same shipment again changes nothing', async () => {
    const { order } = await createOrder({ lines: [{ sku: 'TEE-RED', quantity: 2 }, { sku: 'MUG', quantity: 1 }], shippingPrice: '5.00' });
    const channelOrderId = order.admin_graphql_api_id.split('/').pop()!;
    const lines = (order as unknown as { line_items: { id: string; sku: string; quantity: number }[] }).line_items.map((l) => ({ channelLineId: l.id, sku: l.sku, quantity: l.quantity }));
    const shipment = { channelOrderId, lines, carrier: 'UPS', trackingNumber: '1Z999AA10123456784', trackingUrl: 'https://track.example/1Z999AA10123456784', shipmentId: 'shp_1' };
    const created = await client.fulfil(shipment, {});
    const again = await client.fulfil(shipment, {});
    assert.equal(again.channelFulfilmentId, created.channelFulfilmentId);
    const view = await admin.call<{ fulfillments: { id: string; tracking: { company: string; number: string; url: string }[] }[]; fulfillmentOrders: { status: string }[] }>(
      'GET',
      `/_sandbox/orders/${channelOrderId}/fulfillments`,
    );
    assert.equal(view.fulfillments.length, 1);
    assert.equal(view.fulfillments[0]!.id, created.channelFulfilmentId);
    assert.deepEqual(view.fulfillments[0]!.tracking, [{ company: 'UPS', number: '1Z999AA10123456784', url: 'https://track.example/1Z999AA10123456784' }]);
    assert.deepEqual(view.fulfillmentOrders.map((f) => f.status), ['CLOSED']);
    // A fulfilled order cannot be cancelled in Shopify: reported, not thrown.
    assert.equal(await client.cancelOrder(channelOrderId, 'customer changed their mind', {}), false);
  });

  test('a cancel in Syncline cancels the Shopify order and restocks; cancelling again is a no-op', async () => {
    const before = await admin.call<{ levels: { sku: string; location: string; available: number }[] }>('GET', '/_sandbox/inventory');
    const { order } = await createOrder({ lines: [{ sku: 'MUG', quantity: 3 }] });
    const channelOrderId = order.admin_graphql_api_id.split('/').pop()!;
    assert.equal(await client.cancelOrder(channelOrderId, 'customer', {}), true);
    assert.equal(await client.cancelOrder(channelOrderId, 'customer', {}), true);
    const view = await admin.call<{ order: { cancelled_at: string | null; cancel_reason: string; financial_status: string } }>('GET', `/_sandbox/orders/${channelOrderId}`);
    assert.ok(view.order.cancelled_at);
    assert.equal(view.order.cancel_reason, 'customer');
    const after = await admin.call<{ levels: { sku: string; location: string; available: number }[] }>('GET', '/_sandbox/inventory');
    assert.deepEqual(after.levels.find((l) => l.sku === 'MUG'), before.levels.find((l) => l.sku === 'MUG'));
    await assert.rejects(client.cancelOrder('123', 'x', {}), (e: unknown) => e instanceof SynclineError && e.code === 'shopify.order_not_found');
  });

  test('orders updated since a cursor come in pages, oldest first, and map to the same command as their webhook', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    await admin.call('PUT', '/_sandbox/config', { webhookUrl: null });
    const created: string[] = [];
    for (let i = 0; i < 20; i++) created.push((await createOrder({ lines: [{ sku: 'MUG', quantity: 1 }] })).order.admin_graphql_api_id.split('/').pop()!);
    await admin.call('PUT', '/_sandbox/config', { webhookUrl: receiver.url });
    const seen: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await client.ordersUpdatedSince(cursor, since, {});
      pages += 1;
      seen.push(...page.orders);
      cursor = page.nextCursor;
      if (!page.more) break;
    }
    assert.ok(pages >= 3, `${pages} pages of at most 8 orders`);
    const ids = seen.map((o) => (o as { id: string }).id.split('/').pop()!);
    for (const id of created) assert.ok(ids.includes(id), `order ${id} found by the poll`);
    const updated = seen.map((o) => Date.parse((o as { updatedAt: string }).updatedAt));
    assert.deepEqual(updated, [...updated].sort((a, b) => a - b));
    // The next poll from the stored cursor finds nothing older than the cursor.
    const next = await client.ordersUpdatedSince(cursor, since, {});
    assert.ok(next.orders.every((o) => Date.parse((o as { updatedAt: string }).updatedAt) >= Date.parse(cursor!)));

    // The poll's GraphQL order and the webhook's REST order are one canonical command.
    const { order, webhookId } = await createOrder({ lines: [{ sku: 'TEE-RED', quantity: 1 }, { sku: 'MUG', quantity: 2, price: '7.25' }], shippingPrice: '4.99', tax: '3.10', discount: '1.00' });
    const delivery = await admin.call<{ body: string; headers: Record<string, string> }>('GET', `/_sandbox/webhooks/${webhookId}`);
    const verified = verifyShopifyWebhook(Buffer.from(delivery.body), delivery.headers, { shopDomain: SHOP, webhookSecret: SECRET }, Date.now(), 300);
    assert.ok(verified.kind === 'delivery');
    const fromWebhook = shopifyConnector.inbound.map(verified.delivery, 'shopify-us');
    const page = await client.ordersUpdatedSince(new Date(Date.parse(order.updated_at) - 1000).toISOString(), since, {});
    const polled = page.orders.find((o) => (o as { id: string }).id === order.admin_graphql_api_id);
    assert.ok(polled);
    assert.deepEqual(shopifyConnector.inbound.mapOrder(polled, 'shopify-us'), fromWebhook);
    assert.equal(fromWebhook.kind, 'order.upsert');
    if (fromWebhook.kind === 'order.upsert') assert.equal(computeTotals(OrderSubmission.parse(fromWebhook.submission)).totals.grandTotal, '46.59');
  });

  test('refundCreate: the @idempotent directive is required, the same key answers the first refund, over-refunds are refused, and refunds/create is sent', async () => {
    const { order } = await createOrder({ lines: [{ sku: 'MUG', quantity: 2 }], shippingPrice: '0.00' });
    const channelOrderId = order.admin_graphql_api_id.split('/').pop()!;
    const lineId = (order as unknown as { line_items: { id: string }[] }).line_items[0]!.id;
    const returnId = 'ret_01jd5q8x7m2v3k4n5p6r7s8ta5';
    const graphql = (body: unknown) =>
      fetch(`${shop.url}/admin/api/${SHOPIFY_API_VERSION}/graphql.json`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': 'shpat_test' }, body: JSON.stringify(body) }).then(
        (r) => r.json() as Promise<any>,
      );
    const input = { orderId: order.admin_graphql_api_id, refundLineItems: [{ lineItemId: `gid://shopify/LineItem/${lineId}`, quantity: 1, restockType: 'NO_RESTOCK' }] };
    const withoutKey = await graphql({ query: 'mutation R($input: RefundInput!) { refundCreate(input: $input) { refund { id } userErrors { message } } }', variables: { input } });
    assert.match(withoutKey.errors[0].message, /@idempotent/);
    assert.equal(withoutKey.data.refundCreate, null);

    const count = receiver.received.length;
    const first = await client.refund({ channelOrderId, returnId, amount: '8.50', currency: 'USD', lines: [{ channelLineId: lineId, sku: 'MUG', quantity: 1 }], refundedBySyncline: false }, {});
    assert.equal(first.created, true);
    // Again: the refund with the return's mark in its note is found, nothing is added.
    assert.deepEqual(await client.refund({ channelOrderId, returnId, amount: '8.50', currency: 'USD', lines: [{ channelLineId: lineId, sku: 'MUG', quantity: 1 }], refundedBySyncline: false }, {}), { channelRefundId: first.channelRefundId, created: false });
    // The same idempotency key straight at the API: the first refund is answered, with its cost.
    const replay = await graphql({ query: 'mutation R($input: RefundInput!, $key: String!) { refundCreate(input: $input) @idempotent(key: $key) { refund { id } userErrors { message } } }', variables: { input, key: `syncline-${returnId}` } });
    assert.equal(replay.data.refundCreate.refund.id, `gid://shopify/Refund/${first.channelRefundId}`);
    assert.equal(replay.extensions.cost.requestedQueryCost, 10);
    const { refunds, financialStatus } = await admin.call<{ refunds: { id: string; transactions: { amount: string }[] }[]; financialStatus: string }>('GET', `/_sandbox/orders/${channelOrderId}/refunds`);
    assert.deepEqual(refunds.map((r) => [r.id, r.transactions.map((t) => t.amount)]), [[first.channelRefundId, ['8.50']]]);
    assert.equal(financialStatus, 'partially_refunded');
    // More than was paid, or more units than were bought: Shopify's user errors, a permanent failure.
    const tooMuch = await expectSynclineError(client.refund({ channelOrderId, returnId: 'ret_01jd5q8x7m2v3k4n5p6r7s8tb6', amount: '9.00', currency: 'USD', lines: [{ channelLineId: lineId, sku: 'MUG', quantity: 2 }], refundedBySyncline: false }, {}));
    assert.equal(tooMuch.code, 'shopify.refund_rejected');
    assert.equal(tooMuch.retry, 'permanent');
    // Shopify announces every refund, whoever made it.
    await receiver.waitFor(count + 1);
    const sent = receiver.received.slice(count).find((r) => r.headers['x-shopify-topic'] === 'refunds/create');
    assert.ok(sent, 'refunds/create sent');
    const verified = verifyShopifyWebhook(sent.rawBody, sent.headers, { shopDomain: SHOP, webhookSecret: SECRET }, Date.now(), 300);
    assert.ok(verified.kind === 'delivery');
    const command = shopifyConnector.inbound.map(verified.delivery, 'shopify-us');
    assert.ok(command.kind === 'order.refund');
    assert.deepEqual([command.channelRefundId, command.amount, command.lines], [first.channelRefundId, '8.50', [{ channelLineId: lineId, quantity: 1, restock: false }]]);
    assert.match(command.note ?? '', new RegExp(returnId));
  });

  test('signed webhooks: every Shopify header, a verifiable signature over the raw bytes, exact 64-bit ids', async () => {
    const count = receiver.received.length;
    const { order, webhookId } = await createOrder({ lines: [{ sku: 'TEE-RED', quantity: 1 }] });
    await receiver.waitFor(count + 1);
    const delivery = receiver.received.find((r) => r.headers['x-shopify-webhook-id'] === webhookId)!;
    for (const name of ['x-shopify-hmac-sha256', 'x-shopify-topic', 'x-shopify-shop-domain', 'x-shopify-api-version', 'x-shopify-webhook-id', 'x-shopify-event-id', 'x-shopify-triggered-at']) {
      assert.ok(delivery.headers[name], name);
    }
    assert.equal(delivery.headers['x-shopify-topic'], 'orders/create');
    assert.equal(delivery.headers['x-shopify-api-version'], SHOPIFY_API_VERSION);
    assert.match(delivery.rawBody.toString('utf8'), new RegExp(`"id":${order.admin_graphql_api_id.split('/').pop()},`));
    const verified = verifyShopifyWebhook(delivery.rawBody, delivery.headers, { shopDomain: SHOP, webhookSecret: SECRET }, Date.now(), 300);
    assert.ok(verified.kind === 'delivery');
    const command = shopifyConnector.inbound.map(verified.delivery, 'shopify-us');
    assert.ok(command.kind === 'order.upsert');
    assert.equal(command.submission.channelOrderId, order.admin_graphql_api_id.split('/').pop());
    // Dropped webhooks are recorded and never sent.
    await admin.call('POST', '/_sandbox/webhooks/drop', { count: 1 });
    const dropped = await createOrder({ lines: [{ sku: 'MUG', quantity: 1 }] });
    assert.equal(dropped.webhookId !== undefined, true);
    const list = await admin.call<{ data: { id: string; status: string }[] }>('GET', '/_sandbox/webhooks');
    assert.equal(list.data.find((d) => d.id === dropped.webhookId)?.status, 'dropped');
    // A drop aimed at one topic spares the others: this order's orders/create goes out, the next refunds/create would not.
    await admin.call('POST', '/_sandbox/webhooks/drop', { count: 1, topic: 'refunds/create' });
    const spared = await createOrder({ lines: [{ sku: 'MUG', quantity: 1 }] });
    const after = await admin.call<{ data: { id: string; status: string }[] }>('GET', '/_sandbox/webhooks');
    assert.notEqual(after.data.find((d) => d.id === spared.webhookId)?.status, 'dropped');
    await admin.call('POST', '/_sandbox/webhooks/drop', { count: 0 });
  });

  test("cost-based throttling: many calls on a small bucket wait for the restore rate instead of looping on THROTTLED", async () => {
    await admin.call('PUT', '/_sandbox/config', { bucket: { maximumAvailable: 200, restoreRate: 100 } });
    const before = await admin.call<{ throttled: number }>('GET', '/_sandbox/throttle');
    const listings = await client.findListings(['TEE-RED', 'MUG', 'TEE-BLUE'], {});
    const bySku = (sku: string) => listings.find((l) => l.sku === sku)!;
    const [main, store2] = await client.listLocations({});
    // One (item, location) per worker, so that the workers do not make each other's quantities stale.
    const targets = [
      { listing: bySku('TEE-RED'), channelLocationId: main!.id },
      { listing: bySku('MUG'), channelLocationId: main!.id },
      { listing: bySku('TEE-BLUE'), channelLocationId: main!.id },
      { listing: bySku('TEE-BLUE'), channelLocationId: store2!.id },
    ];
    await client.setAvailability(targets.map((t) => ({ ...t, available: 50 })), {});
    const started = performance.now();
    // 40 mutations of 10 points: 400 points through a bucket of 200 restoring 100/s takes about 2 s.
    const worker = async (target: (typeof targets)[number]) => {
      for (let i = 1; i <= 10; i++) await client.setAvailability([{ ...target, available: 50 + i }], {});
    };
    await Promise.all(targets.map(worker));
    const elapsed = performance.now() - started;
    const after = await admin.call<{ throttled: number; currentlyAvailable: number }>('GET', '/_sandbox/throttle');
    const throttled = after.throttled - before.throttled;
    assert.ok(throttled <= 4, `THROTTLED answers: ${throttled} (at most the first burst, before the client had seen the bucket)`);
    assert.ok(elapsed >= 1200, `the calls waited for the restore rate (${Math.round(elapsed)} ms)`);
    await admin.call('PUT', '/_sandbox/config', { bucket: { maximumAvailable: 1000, restoreRate: 50 } });
  });
});

describe('Shopify sandbox: fault controls contract', () => {
  let shop: RunningShopifySandbox;
  let client: ShopifyClient;
  before(async () => {
    shop = await startShopifySandbox({ webhookSecret: SECRET, shopDomain: 'faults.myshopify.com', accessToken: 'shpat_faults' });
    client = new ShopifyClient({ shopDomain: 'faults.myshopify.com', accessToken: 'shpat_faults', apiVersion: SHOPIFY_API_VERSION, adminUrl: shop.url });
  });
  after(async () => shop?.close());
  for (const [behaviour, check] of Object.entries(FAULT_CONTRACT)) {
    test(behaviour, () => check({ system: 'shopify', url: shop.url, call: () => client.listLocations({}) }));
  }
});
