import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { call } from './support/orders.ts';
import { fetchToken } from './support/server.ts';
import { waitFor } from './support/runtime.ts';
import { postDelivery, shopifyDelivery, shopifyOrder, startWithConnections, wooDelivery, wooOrder, type ConnectionsRig } from './support/connections.ts';

/**
 * Channel connections end to end on the real PostgreSQL: two Shopify stores and one
 * WooCommerce store at once, each with its own target; signed webhooks over HTTP, stored once
 * and applied by the intake job; the connections API and the log never show a secret.
 */

const SECRETS = {
  ACME_US_SECRET: 'acme-us-webhook-secret-7f3a',
  ACME_EU_SECRET: 'acme-eu-webhook-secret-91bc',
  ACME_EU_TOKEN: 'shpat_acme_eu_token_5d2e',
  WOO_SECRET: 'woo-main-webhook-secret-c04d',
};

const YAML = `
connections:
  - id: acme-us
    connector: shopify
    options: { shopDomain: acme-us.myshopify.com, webhookSecret: "\${ACME_US_SECRET}" }
    limits: { ratePerSecond: 3, maxConcurrency: 1 }
  - id: acme-eu
    connector: shopify
    options:
      shopDomain: acme-eu.myshopify.com
      accessToken: \${ACME_EU_TOKEN}
      webhookSecret: \${ACME_EU_SECRET}
      # Nothing listens there: its outbound calls fail, which the connection shows.
      adminUrl: http://127.0.0.1:9
    reconcile: { everySeconds: 30 }
  - id: woo-main
    connector: woocommerce
    options: { webhookSecret: "\${WOO_SECRET}" }
`;

let rig: ConnectionsRig;
before(async () => {
  rig = await startWithConnections(YAML, { env: SECRETS });
});
after(async () => {
  if (process.env.DUMP_LOGS) console.error(rig.logs.filter((l) => /"level":(40|50)|channel/.test(l)).join('').slice(0, 20000));
  await rig?.close();
});

const api = (method: string, path: string, token = rig.token) => call(rig.baseUrl, method, path, { token });
const us = (topic: string, payload: unknown, webhookId?: string) =>
  shopifyDelivery({ secret: SECRETS.ACME_US_SECRET, shopDomain: 'acme-us.myshopify.com', topic, payload, ...(webhookId ? { webhookId } : {}) });
const deliveryCount = async () => Number((await rig.database.db.query<{ n: string }>('SELECT count(*) AS n FROM channel_delivery')).rows[0]!.n);
const ordersOf = async (channel: string, channelOrderId: string) => (await api('GET', `/v1/orders?channel=${channel}&channelOrderId=${channelOrderId}`)).body.data as any[];

/** Waits until the delivery's intake job has run, and returns the stored row. */
async function processed(connection: string, deliveryId: string): Promise<{ status: string; result: any; payload: any }> {
  let row: any;
  const lastError = async () =>
    JSON.stringify((await rig.database.db.query('SELECT last_error FROM runtime_job WHERE job_key = $1', [`channel-intake:${connection}:${deliveryId}`])).rows[0]?.last_error ?? null);
  await waitFor(
    `delivery ${deliveryId} to be processed`,
    async () => {
      row = (await rig.database.db.query('SELECT status, result, payload FROM channel_delivery WHERE connection_id = $1 AND delivery_id = $2', [connection, deliveryId])).rows[0];
      return row !== undefined && row.status !== 'received';
    },
    20_000,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}; the intake job's last error: ${await lastError()}`);
  });
  return row;
}

test('the same delivery twice, and a second delivery of the same order, make one order; an unknown SKU holds it', async () => {
  const order = shopifyOrder('6100000000000000001', 'NOT-IN-SYNCLINE');
  const first = us('orders/create', order, 'wh-create-1');
  const answers = [await postDelivery(rig.baseUrl, 'shopify', 'acme-us', first), await postDelivery(rig.baseUrl, 'shopify', 'acme-us', first)];
  assert.deepEqual(answers.map((a) => [a.status, a.body.accepted, a.body.duplicate]), [
    [200, true, false],
    [200, true, true],
  ]);
  const created = await processed('acme-us', 'wh-create-1');
  assert.equal(created.status, 'applied');
  assert.equal(created.result.outcome, 'created');
  // orders/updated with the same content: a different delivery of the same order.
  const again = await postDelivery(rig.baseUrl, 'shopify', 'acme-us', us('orders/updated', order, 'wh-update-1'));
  assert.equal(again.status, 200);
  assert.deepEqual((await processed('acme-us', 'wh-update-1')).result, { command: 'order.upsert', outcome: 'unchanged', orderId: created.result.orderId });
  const orders = await ordersOf('acme-us', '6100000000000000001');
  assert.equal(orders.length, 1);
  assert.equal(orders[0].id, created.result.orderId);
  assert.equal(orders[0].channel, 'acme-us');
  // Inventory has never heard of the SKU: the order waits for review instead of being dropped.
  await waitFor('the order to be held', async () => (await api('GET', `/v1/orders/${created.result.orderId}`)).body.status === 'on_hold', 20_000);
  const held = (await api('GET', `/v1/orders/${created.result.orderId}`)).body;
  assert.equal(held.hold.kind, 'validation');
  assert.ok(held.hold.problems.includes('SKU NOT-IN-SYNCLINE is not known to inventory'), JSON.stringify(held.hold));
  // The channel's ids of the line are kept as a listing.
  const listing = (await rig.database.db.query('SELECT product_id, variant_id, source FROM channel_listing WHERE connection_id = $1 AND sku = $2', ['acme-us', 'NOT-IN-SYNCLINE'])).rows;
  assert.deepEqual(listing, [{ product_id: '632910392', variant_id: '808950810', source: 'order' }]);
  // A change before release amends the order (no stock is held for it yet); validation runs again and holds it again.
  const changed = structuredClone(order);
  changed.line_items[0].quantity = 3;
  await postDelivery(rig.baseUrl, 'shopify', 'acme-us', us('orders/updated', changed, 'wh-update-2'));
  const amendment = await processed('acme-us', 'wh-update-2');
  assert.deepEqual([amendment.result.outcome, amendment.result.changes], ['amendment', ['lines']]);
  await waitFor('the change applied', async () => ((await api('GET', `/v1/orders/${created.result.orderId}/timeline`)).body.entries as any[]).some((e) => e.action === 'order.amended' && e.detail.amendmentId === amendment.result.amendmentId), 20_000);
  const amended = (await api('GET', `/v1/orders/${created.result.orderId}`)).body;
  assert.equal(amended.lines[0].quantity, 3);
  await waitFor('the order held again', async () => (await api('GET', `/v1/orders/${created.result.orderId}`)).body.status === 'on_hold', 20_000);
  assert.equal((await ordersOf('acme-us', '6100000000000000001')).length, 1);
});

test('a refund taken in Shopify is recorded on the order and announced', async () => {
  const id = '6100000000000000001';
  const orderId = (await ordersOf('acme-us', id))[0].id;
  // Raw text: Shopify's ids are 64-bit, beyond what JSON.parse keeps exactly.
  const refund = readFileSync(new URL('../src/connectors/shopify/fixtures/trigger.dev_Refund.json', import.meta.url), 'utf8').replace(/"order_id": \d+/, `"order_id": ${id}`);
  const answer = await postDelivery(rig.baseUrl, 'shopify', 'acme-us', us('refunds/create', refund, 'wh-refund-1'));
  assert.equal(answer.status, 200);
  const row = await processed('acme-us', 'wh-refund-1');
  assert.deepEqual([row.status, row.result.outcome, row.result.orderId], ['applied', 'recorded', orderId]);
  const timeline = (await api('GET', `/v1/orders/${orderId}/timeline`)).body.entries as any[];
  assert.ok(timeline.some((e) => e.action === 'channel.refund' && e.detail.channelRefundId === row.result.channelRefundId));
  const events = (await api('GET', '/v1/events?limit=1000')).body.events as any[];
  const announced = events.filter((e) => e.type === 'order.channel_refunded' && e.subject === orderId);
  assert.equal(announced.length, 1);
  assert.equal(announced[0].data.channel, 'acme-us');
});

test('a tampered body, a wrong secret or no signature: 401 and nothing stored', async () => {
  const before = await deliveryCount();
  const good = us('orders/create', shopifyOrder('6100000000000000002', 'NOT-IN-SYNCLINE'));
  const tampered = { headers: good.headers, body: Buffer.from(good.body.toString().replace('"quantity":1', '"quantity":9')) };
  assert.notDeepEqual(tampered.body, good.body);
  const wrongSecret = shopifyDelivery({ secret: SECRETS.ACME_EU_SECRET, shopDomain: 'acme-us.myshopify.com', topic: 'orders/create', payload: shopifyOrder('6100000000000000002', 'X') });
  const unsigned = { headers: Object.fromEntries(Object.entries(good.headers).filter(([name]) => name !== 'x-shopify-hmac-sha256')), body: good.body };
  for (const delivery of [tampered, wrongSecret, unsigned]) {
    const answer = await postDelivery(rig.baseUrl, 'shopify', 'acme-us', delivery);
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.type.endsWith('webhook-rejected'), true);
  }
  // A store's delivery sent to another store's connection is refused as well.
  assert.equal((await postDelivery(rig.baseUrl, 'shopify', 'acme-eu', good)).status, 401);
  assert.equal(await deliveryCount(), before);
  assert.equal((await ordersOf('acme-us', '6100000000000000002')).length, 0);
});

test('unknown connection, or a connection of another connector: 404', async () => {
  const delivery = us('orders/create', shopifyOrder('6100000000000000003', 'X'));
  for (const path of [['shopify', 'nope'], ['woocommerce', 'acme-us'], ['magento', 'acme-us']] as const) {
    const answer = await postDelivery(rig.baseUrl, path[0], path[1], delivery);
    assert.equal(answer.status, 404, path.join('/'));
    assert.match(answer.body.type, /not-found$/);
  }
});

test('a delivery that cannot be mapped becomes a dead letter holding its payload; an unknown topic is recorded as not supported', async () => {
  const payload = { id: 6100000000000000004, note: 'not an order Syncline can read' };
  const answer = await postDelivery(rig.baseUrl, 'shopify', 'acme-us', us('orders/create', payload, 'wh-broken-1'));
  assert.equal(answer.status, 200);
  const row = await processed('acme-us', 'wh-broken-1');
  assert.equal(row.status, 'failed');
  const deadLetter = (await api('GET', `/v1/ops/dead-letters/${row.result.deadLetterId}`)).body;
  assert.equal(deadLetter.type, 'channel.intake');
  assert.equal(deadLetter.payload.deliveryId, 'wh-broken-1');
  assert.equal(deadLetter.payload.payload.note, payload.note);
  assert.equal(deadLetter.payload.topic, 'orders/create');
  const unsupported = await postDelivery(rig.baseUrl, 'shopify', 'acme-us', us('products/update', { id: 1 }, 'wh-product-1'));
  assert.equal(unsupported.status, 200);
  const recorded = await processed('acme-us', 'wh-product-1');
  assert.equal(recorded.status, 'unsupported');
});

test('WooCommerce: a signed order.created makes an order of that connection; its ping is answered without effect', async () => {
  const before = await deliveryCount();
  const ping = await fetch(`${rig.baseUrl}/webhooks/woocommerce/woo-main`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'webhook_id=7' });
  assert.equal(ping.status, 200);
  assert.deepEqual(await ping.json(), { accepted: false });
  assert.equal(await deliveryCount(), before);
  const delivery = wooDelivery({ secret: SECRETS.WOO_SECRET, topic: 'order.created', payload: wooOrder(4242, 'NOT-IN-SYNCLINE'), deliveryId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' });
  const stored = await postDelivery(rig.baseUrl, 'woocommerce', 'woo-main', delivery);
  assert.equal(stored.status, 200);
  // The connector's idempotency key: WooCommerce's delivery id and the body's digest.
  assert.match(stored.body.deliveryId, /^a1b2c3d4e5f60718293a4b5c6d7e8f90\./);
  assert.equal((await postDelivery(rig.baseUrl, 'woocommerce', 'woo-main', delivery)).body.duplicate, true);
  const row = await processed('woo-main', stored.body.deliveryId);
  assert.equal(row.result.outcome, 'created');
  assert.equal((await ordersOf('woo-main', '4242')).length, 1);
  // The same order number in another connection is another order.
  assert.equal((await ordersOf('acme-us', '4242')).length, 0);
});

test('GET /v1/connections: each connection with its own target and limits, health, activity; never a secret', async () => {
  // acme-us has no access token: its outbound jobs (listings, reconciliation) wait, visible on the connection.
  let items: any[] = [];
  await waitFor(
    'the connections to show their outbound state',
    async () => {
      items = (await api('GET', '/v1/connections')).body.items;
      const byId = new Map(items.map((c) => [c.id, c]));
      return byId.get('acme-us')?.pendingOutbound >= 2 && byId.get('acme-eu')?.health === 'degraded';
    },
    30_000,
    200,
  );
  const byId = new Map(items.map((c) => [c.id, c]));
  assert.deepEqual(items.map((c) => c.id), ['acme-us', 'acme-eu', 'woo-main', 'erp', 'wms', 'payment', 'fraud', 'loyalty', 'crm']);
  const usConnection = byId.get('acme-us');
  assert.equal(usConnection.health, 'waiting');
  assert.equal(usConnection.target.name, 'shopify:acme-us');
  assert.equal(usConnection.target.policy.ratePerSecond, 3);
  assert.equal(usConnection.target.policy.maxConcurrency, 1);
  assert.equal(usConnection.webhookPath, '/webhooks/shopify/acme-us');
  assert.ok(usConnection.lastInboundAt, 'deliveries were received');
  assert.deepEqual(usConnection.options, { shopDomain: 'acme-us.myshopify.com', webhookSecret: '********', apiVersion: usConnection.options.apiVersion });
  const eu = byId.get('acme-eu');
  assert.equal(eu.target.name, 'shopify:acme-eu');
  // Shopify's default policy: no limits in the file.
  assert.equal(eu.target.policy.ratePerSecond, 20);
  assert.equal(eu.options.accessToken, '********');
  assert.equal(eu.reconcile.everySeconds, 30);
  assert.ok(eu.lastOutboundError.code, JSON.stringify(eu));
  const woo = byId.get('woo-main');
  assert.equal(woo.target.name, 'woocommerce:woo-main');
  assert.equal(woo.target.policy.ratePerSecond, 5);
  assert.deepEqual([byId.get('erp').source, byId.get('erp').target.name, byId.get('erp').connector], ['unset', 'erp', 'tryton']);
  const one = await api('GET', '/v1/connections/woo-main');
  assert.equal(one.status, 200);
  assert.equal(one.body.connector, 'woocommerce');
  assert.equal((await api('GET', '/v1/connections/nope')).status, 404);
  assert.equal((await call(rig.baseUrl, 'GET', '/v1/connections', {})).status, 401);
  assert.equal((await api('GET', '/v1/connections', await fetchToken(rig.baseUrl, undefined, 'orders:read'))).status, 403);
  const text = JSON.stringify(items) + JSON.stringify(one.body);
  for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret), 'a secret in the connections API');
});

test('app/uninstalled marks the connection uninstalled', async () => {
  const delivery = shopifyDelivery({ secret: SECRETS.ACME_EU_SECRET, shopDomain: 'acme-eu.myshopify.com', topic: 'app/uninstalled', payload: { id: 1, domain: 'acme-eu.myshopify.com' }, webhookId: 'wh-uninstall-1' });
  assert.equal((await postDelivery(rig.baseUrl, 'shopify', 'acme-eu', delivery)).status, 200);
  assert.equal((await processed('acme-eu', 'wh-uninstall-1')).result.outcome, 'uninstalled');
  const eu = (await api('GET', '/v1/connections/acme-eu')).body;
  assert.deepEqual([eu.uninstalled, eu.health], [true, 'uninstalled']);
});

test('the log never holds a secret', () => {
  const log = rig.logs.join('');
  assert.ok(log.length > 0);
  for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!log.includes(secret), `${name} is in the log`);
});
