import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';
import { startWooSandbox, type RunningWooSandbox } from '../src/connectors/woocommerce/sandbox/woocommerce.sandbox.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { flowApi, flowEnvironment, FLOW_SKUS } from './support/flows.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';
import { ADMIN_CLIENT, fetchToken } from './support/server.ts';
import { writeConnectionsFile } from './support/connections.ts';

/**
 * A WooCommerce store end to end over HTTP: its sandbox sends signed webhooks to Syncline,
 * the five system sandboxes run the order flows, and Syncline's outbound jobs (on the target
 * woocommerce:woo-main) reach the store: stock levels, the shipment, a cancel. A webhook the
 * store drops is recovered by the reconciliation poll.
 */

const WEBHOOK_SECRET = 'woo-e2e-webhook-secret';
let database: TestDatabase;
let sandboxes: RunningSandboxes;
let woo: RunningWooSandbox;
let running: RunningSyncline;
let f: ReturnType<typeof flowApi>;

before(async () => {
  database = await createTestDatabase();
  sandboxes = await startSandboxes({ products: FLOW_SKUS.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1000 })) });
  woo = await startWooSandbox({ port: 0, webhookSecret: WEBHOOK_SECRET, products: [{ sku: 'TEE-M', price: '10.00', stock: 3 }, { sku: 'MUG', price: '10.00', stock: 3 }] });
  const yaml = `
connections:
  - id: woo-main
    connector: woocommerce
    options: { siteUrl: "${woo.url}", consumerKey: ck_sandbox, consumerSecret: "\${WOO_CONSUMER_SECRET}", webhookSecret: "\${WOO_WEBHOOK_SECRET}" }
    reconcile: { everySeconds: 10 }
`;
  const config = loadConfig(flowEnvironment(database, sandboxes, { SYNCLINE_CONFIG: writeConnectionsFile(yaml), WOO_CONSUMER_SECRET: 'cs_sandbox', WOO_WEBHOOK_SECRET: WEBHOOK_SECRET }));
  running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true });
  await sandboxAdmin(sandboxes.urls.wms).call('PUT', '/_sandbox/config', { callbackUrl: `${running.url}/webhooks/wms/default`, webhookRetryDelayMs: 100 });
  await sandboxAdmin(woo.url).call('PUT', '/_sandbox/webhooks', { url: `${running.url}/webhooks/woocommerce/woo-main` });
  f = flowApi({ baseUrl: running.url!, token: await fetchToken(running.url!, ADMIN_CLIENT), sandboxes });
  await f.location('WH-EAST', 'warehouse');
  await f.stock([
    { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 40 },
    { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 25 },
  ]);
});
after(async () => {
  await running?.close();
  await woo?.close();
  await sandboxes?.close();
  await database?.drop();
});

const wooStock = async (sku: string) => ((await sandboxAdmin(woo.url).call<any>('GET', '/_sandbox/products')).data as any[]).find((p) => p.sku === sku)?.stock_quantity;
const wooOrderOf = async (id: number) => sandboxAdmin(woo.url).call<any>('GET', `/_sandbox/orders/${id}`);
const syncOrder = async (wooId: number) => ((await f.api('GET', `/v1/orders?channel=woo-main&channelOrderId=${wooId}`)).body.data as any[])[0];
const shopperOrder = async (sku: string, extra: Record<string, unknown> = {}) =>
  (await sandboxAdmin(woo.url).call<any>('POST', '/_sandbox/orders', { lines: [{ sku, quantity: 1, price: '10.00' }], ...extra })).order.id as number;

test("Syncline's availability reaches the store: each SKU is discovered by its SKU, then its stock set", async () => {
  await waitFor('the store to show Syncline stock', async () => (await wooStock('TEE-M')) === 40 && (await wooStock('MUG')) === 25, 30_000, 200);
  const listings = (await database.db.query('SELECT sku, source FROM channel_listing WHERE connection_id = $1 ORDER BY sku', ['woo-main'])).rows;
  assert.deepEqual(listings, [
    { sku: 'MUG', source: 'discovered' },
    { sku: 'TEE-M', source: 'discovered' },
  ]);
  const connection = (await f.api('GET', '/v1/connections/woo-main')).body;
  assert.equal(connection.health, 'ok');
  assert.equal(connection.listings, 2);
  assert.ok(connection.lastOutboundAt);
});

test('an order placed in the store is released, shipped by the WMS, and the shipment reaches the store', async () => {
  const wooId = await shopperOrder('TEE-M');
  await waitFor('the order in Syncline', async () => (await syncOrder(wooId)) !== undefined, 20_000, 100);
  const order = await syncOrder(wooId);
  await f.waitForStatus(order.id, 'released');
  const [fulfilment] = await f.fulfilments(order.id);
  await f.ship(fulfilment.id, { trackingNumbers: ['1ZWOO0001'] });
  // Shipped, then completed as soon as the ERP's invoice is posted: either may be seen.
  await f.waitForStatus(order.id, ['shipped', 'completed']);
  // The store gets the shipment as its status and a note with the tracking number.
  await waitFor('the tracking note in the store', async () => ((await wooOrderOf(wooId)).notes as any[]).some((n) => String(n.note).includes('1ZWOO0001')), 20_000, 200);
  assert.equal((await wooOrderOf(wooId)).order.status, 'completed');
  // Written once the store has answered the last call of the fulfilment.
  await waitFor('the fulfilment on the order timeline', async () => (await f.timeline(order.id)).some((e) => e.action === 'channel.fulfil' && e.system === 'woo-main' && e.outcome === 'succeeded'), 10_000, 100);
});

test('a cancel made in Syncline is reflected in the store; a cancel made in the store runs the cancel flow', async () => {
  const first = await shopperOrder('MUG');
  await waitFor('order', async () => (await syncOrder(first)) !== undefined, 20_000, 100);
  const ours = await syncOrder(first);
  await f.waitForStatus(ours.id, 'released');
  await f.cancelAndWait(ours.id, { reason: 'customer called' });
  await waitFor('the store order to be cancelled', async () => (await wooOrderOf(first)).order.status === 'cancelled', 20_000, 200);
  const second = await shopperOrder('MUG');
  await waitFor('order', async () => (await syncOrder(second)) !== undefined, 20_000, 100);
  const theirs = await syncOrder(second);
  await f.waitForStatus(theirs.id, 'released');
  await sandboxAdmin(woo.url).call('POST', `/_sandbox/orders/${second}`, { status: 'cancelled' });
  await f.waitForStatus(theirs.id, 'cancelled');
  const cancellation = (await database.db.query('SELECT requested_by FROM order_cancellation WHERE order_id = $1', [theirs.id])).rows[0];
  assert.equal(cancellation?.requested_by, 'channel:woo-main');
});

test('an order whose webhook the store dropped is taken in by the reconciliation poll', async () => {
  await sandboxAdmin(woo.url).call('PUT', '/_sandbox/webhooks', { dropNext: 1 });
  const wooId = await shopperOrder('TEE-M');
  const log = await sandboxAdmin(woo.url).call<any>('GET', '/_sandbox/webhooks');
  assert.equal(log.data.at(-1).status, 'dropped');
  // The poll runs every 10 s here.
  await waitFor('the poll to find the order', async () => (await syncOrder(wooId)) !== undefined, 40_000, 250);
  const deliveries = (await database.db.query("SELECT topic, status FROM channel_delivery WHERE connection_id = 'woo-main' AND delivery_id LIKE 'reconcile:%' AND payload->>'id' = $1", [String(wooId)])).rows;
  assert.ok(deliveries.length >= 1 && deliveries.every((d) => d.topic === 'syncline/reconcile'), JSON.stringify(deliveries));
  // Orders the poll sees again unchanged make no second order.
  const all = (await f.api('GET', `/v1/orders?channel=woo-main&channelOrderId=${wooId}`)).body.data as any[];
  assert.equal(all.length, 1);
});
