import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startWooSandbox, type RunningWooSandbox } from '../src/connectors/woocommerce/sandbox/woocommerce.sandbox.ts';
import type { WireOrder, WireOrderNote } from '../src/connectors/woocommerce/woocommerce-wire.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * The WooCommerce path end to end, over HTTP on the real PostgreSQL: the store sandbox sends
 * signed webhooks to Syncline's /webhooks/woocommerce/{connection}; Syncline releases the order
 * on the other sandboxes, the WMS ships it, and the status, tracking note and stock reach the
 * store through its REST API.
 */

const CONNECTION = 'woo-shop';
const SECRET = 'woo-e2e-webhook-secret';

describe('WooCommerce connection end to end', () => {
  let woo: RunningWooSandbox;
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  let store: ReturnType<typeof sandboxAdmin>;
  let configDir: string;

  before(async () => {
    woo = await startWooSandbox({
      webhookSecret: SECRET,
      consumerKey: 'ck_e2e',
      consumerSecret: 'cs_e2e',
      products: [
        { sku: 'TEE-M', name: 'Tee M', price: '10.00', stock: 3 },
        { sku: 'MUG', name: 'Mug', price: '10.00', stock: 3 },
        { sku: 'CAPS', name: 'Cap', price: '10.00', variations: [{ sku: 'CAP', stock: 1 }] },
      ],
    });
    store = sandboxAdmin(woo.url);
    configDir = mkdtempSync(join(tmpdir(), 'syncline-woo-'));
    const configPath = join(configDir, 'syncline.yaml');
    writeFileSync(
      configPath,
      [
        'connections:',
        `  - id: ${CONNECTION}`,
        '    connector: woocommerce',
        '    options:',
        `      siteUrl: ${woo.url}`,
        '      consumerKey: ck_e2e',
        '      consumerSecret: ${WOO_E2E_CONSUMER_SECRET}',
        '      webhookSecret: ${WOO_E2E_WEBHOOK_SECRET}',
        '    reconcile:',
        '      everySeconds: 10',
        '',
      ].join('\n'),
    );
    rig = await startFlowRig({ env: { SYNCLINE_CONFIG: configPath, WOO_E2E_CONSUMER_SECRET: 'cs_e2e', WOO_E2E_WEBHOOK_SECRET: SECRET } });
    f = flowApi(rig);
    await store.call('PUT', '/_sandbox/webhooks', { url: `${rig.baseUrl}/webhooks/woocommerce/${CONNECTION}` });
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'CAP', location: 'WH-EAST', quantity: 10 },
    ]);
  });
  after(async () => {
    await rig?.close();
    await woo?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  const storeOrder = (body: Record<string, unknown>) => store.call<{ order: WireOrder; delivery: { index: number; status: string; responseStatus: number | null } | null }>('POST', '/_sandbox/orders', body);
  const ordersOf = async (channelOrderId: number | string): Promise<any[]> =>
    (await f.api('GET', `/v1/orders?channel=${CONNECTION}&channelOrderId=${channelOrderId}`)).body.data;
  const syncedOrder = async (channelOrderId: number | string, timeoutMs = 20_000): Promise<string> => {
    await waitFor(`WooCommerce order ${channelOrderId} in Syncline`, async () => (await ordersOf(channelOrderId)).length > 0, timeoutMs, 100);
    return (await ordersOf(channelOrderId))[0].id as string;
  };
  const storeView = (id: number) => store.call<{ order: WireOrder; notes: WireOrderNote[] }>('GET', `/_sandbox/orders/${id}`);
  const storeStock = async () => {
    const products = (await store.call<{ data: { sku: string; stock_quantity: number | null; variations: { sku: string; stock_quantity: number | null }[] }[] }>('GET', '/_sandbox/products')).data;
    return new Map(products.flatMap((p) => [[p.sku, p.stock_quantity] as const, ...p.variations.map((v) => [v.sku, v.stock_quantity] as const)]));
  };
  const available = async (sku: string) => (await f.api('GET', `/v1/inventory/availability?sku=${sku}&channel=${CONNECTION}`)).body.available as number;

  test('a signed order.created becomes one order, released, shipped by the WMS; status, tracking note and stock reach the store', async () => {
    // The store charges the ERP sandbox's own 10 % rate (the ERP taxes shipping too, the store does not: none here): an ERP total that differs from what the customer paid is an exception.
    const { order, delivery } = await storeOrder({ lines: [{ sku: 'TEE-M', quantity: 2 }, { sku: 'CAP', quantity: 1 }], taxRate: '0.10', shippingTotal: '0.00' });
    assert.equal(delivery?.responseStatus, 200, 'Syncline answers the delivery with 200');
    const orderId = await syncedOrder(order.id);
    const synced = (await f.api('GET', `/v1/orders/${orderId}`)).body;
    assert.equal(synced.channel, CONNECTION);
    assert.equal(synced.totals.grandTotal, order.total);
    assert.deepEqual(synced.lines.map((l: any) => [l.sku, l.quantity]), [
      ['TEE-M', 2],
      ['CAP', 1],
    ]);
    await f.waitForStatus(orderId, 'released');

    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id, { carrier: 'UPS', trackingNumbers: ['1ZWOOE2E0001'] });
    await waitFor(
      'the store order completed with its tracking note',
      async () => {
        const view = await storeView(order.id);
        return view.order.status === 'completed' && view.notes.some((n) => n.customer_note && n.note.includes('1ZWOOE2E0001'));
      },
      30_000,
      200,
    );
    const notes = (await storeView(order.id)).notes.filter((n) => n.note.includes('1ZWOOE2E0001'));
    assert.equal(notes.length, 1, 'one tracking note');

    // Syncline's availability for the channel reaches the store, through the batch endpoints.
    await waitFor(
      'store stock to match Syncline',
      async () => {
        const stock = await storeStock();
        return stock.get('TEE-M') === (await available('TEE-M')) && stock.get('CAP') === (await available('CAP'));
      },
      30_000,
      200,
    );
    const writes = woo.state.requests.filter((r) => r.method === 'POST').map((r) => r.url.replace(/\d+/g, 'N'));
    assert.ok(writes.includes('/products/batch'), 'simple products through products/batch');
    assert.ok(writes.includes('/products/N/variations/batch'), 'variations through variations/batch');
  });

  test('the same delivery twice makes one order; a tampered delivery gets 401 and stores nothing', async () => {
    const { order, delivery } = await storeOrder({ lines: [{ sku: 'MUG', quantity: 1 }] });
    const again = await store.call<{ responseStatus: number }>('POST', `/_sandbox/webhooks/${delivery!.index}/redeliver`);
    assert.equal(again.responseStatus, 200);
    const orderId = await syncedOrder(order.id);
    await f.waitForStatus(orderId, 'released');
    assert.equal((await ordersOf(order.id)).length, 1);

    const logged = woo.state.deliveries[delivery!.index]!;
    const tampered = logged.body.replace('"quantity":1', '"quantity":9');
    const refused = await fetch(`${rig.baseUrl}/webhooks/woocommerce/${CONNECTION}`, { method: 'POST', headers: logged.headers, body: tampered });
    assert.equal(refused.status, 401);
    const ping = await store.call<{ status: number }>('POST', '/_sandbox/ping');
    assert.equal(ping.status, 200, 'the creation ping is answered 200');
    assert.equal((await ordersOf(order.id)).length, 1);
  });

  test('a webhook the store drops is recovered by the modified_after reconciliation poll', async () => {
    await store.call('PUT', '/_sandbox/webhooks', { dropNext: 1 });
    const { order, delivery } = await storeOrder({ lines: [{ sku: 'MUG', quantity: 1 }] });
    assert.equal(delivery?.status, 'dropped');
    const orderId = await syncedOrder(order.id, 45_000);
    await f.waitForStatus(orderId, 'released');
    assert.ok(
      woo.state.requests.some((r) => r.method === 'GET' && r.url.startsWith('/orders?') && r.url.includes('modified_after=') && r.url.includes('dates_are_gmt=true')),
      'found by the poll',
    );
  });

  test('an order.updated with status cancelled cancels the order', async () => {
    const { order } = await storeOrder({ lines: [{ sku: 'TEE-M', quantity: 1 }] });
    const orderId = await syncedOrder(order.id);
    await f.waitForStatus(orderId, 'released');
    const { delivery } = await store.call<{ delivery: { responseStatus: number } }>('POST', `/_sandbox/orders/${order.id}`, { status: 'cancelled' });
    assert.equal(delivery.responseStatus, 200);
    await f.waitForStatus(orderId, 'cancelled');
    assert.equal((await ordersOf(order.id)).length, 1);
  });

  test('the connection shows healthy on its own target, with its listings and poll cursor, and no secret', async () => {
    const response = await f.api('GET', `/v1/connections/${CONNECTION}`);
    assert.equal(response.status, 200);
    const connection = response.body;
    assert.equal(connection.connector, 'woocommerce');
    assert.equal(connection.health, 'ok');
    assert.equal(connection.lastOutboundError, null);
    assert.equal(connection.target.name, `woocommerce:${CONNECTION}`);
    assert.ok(connection.listings >= 3, `listings discovered (${connection.listings})`);
    assert.match(connection.reconcile.cursor, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\|\d+)?$/);
    assert.deepEqual(connection.options.consumerSecret, '********');
    const shown = JSON.stringify(connection);
    for (const secret of ['cs_e2e', SECRET]) assert.ok(!shown.includes(secret), 'no secret shown');
  });
});
