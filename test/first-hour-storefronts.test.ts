import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';
import { fetchToken, testEnvironment } from './support/server.ts';

/**
 * `syncline start` with no channel connection declared runs a Shopify and a WooCommerce sandbox
 * as connections of their own: an order placed in either store reaches Syncline as a signed
 * webhook and goes through the whole flow on the system sandboxes.
 */

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => database?.drop());

async function call(url: string, method: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': randomUUID() }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const ADDRESS = { firstName: 'Ada', lastName: 'Lovelace', address1: '1 Main St', city: 'Springfield', provinceCode: 'IL', zip: '62701', countryCode: 'US' };

test('with no channel declared, orders placed in the Shopify and WooCommerce sandboxes flow through Syncline', async () => {
  const config = loadConfig(testEnvironment(database.url, { SYNCLINE_SANDBOXES: 'on', SYNCLINE_SANDBOX_BASE_PORT: '0', SYNCLINE_WORKER_POLL_MS: '100' }));
  const running = await startSyncline(config, createLogger('silent'), { api: true, workers: true, sandboxes: true });
  try {
    assert.deepEqual(Object.keys(running.channelSandboxes).sort(), ['shopify-sandbox', 'woocommerce-sandbox']);
    const token = await fetchToken(running.url!);
    const api = (method: string, path: string, body?: unknown) => call(`${running.url}${path}`, method, body, token);
    // Orders reserve Syncline's own stock: a warehouse with the SKUs the stores sell, as in the README.
    assert.equal((await api('POST', '/v1/locations', { code: 'WH-EAST', name: 'East warehouse', kind: 'warehouse' })).status, 201);
    const receipts = ['SKU-RED', 'SKU-BLUE'].map((sku) => ({ type: 'receipt', sku, location: 'WH-EAST', quantity: 10 }));
    assert.ok([200, 201].includes((await api('POST', '/v1/inventory/movements', { movements: receipts })).status));

    const connections = await api('GET', '/v1/connections');
    assert.equal(connections.status, 200);
    const listed = connections.body.items.map((c: { id: string; connector: string }) => `${c.id}:${c.connector}`);
    for (const expected of ['shopify-sandbox:shopify', 'woocommerce-sandbox:woocommerce']) assert.ok(listed.includes(expected), `${expected} in ${listed}`);
    // The generated secrets stay inside the process.
    assert.doesNotMatch(JSON.stringify(connections.body), /shpat_|cs_[0-9a-f]{8}/);

    const shop = running.channelSandboxes['shopify-sandbox']!;
    const placed = await call(`${shop}/_sandbox/orders`, 'POST', { email: 'ada@example.com', shippingAddress: ADDRESS, lines: [{ sku: 'SKU-RED', quantity: 2 }] });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const woo = running.channelSandboxes['woocommerce-sandbox']!;
    const wooPlaced = await call(`${woo}/_sandbox/orders`, 'POST', { lines: [{ sku: 'SKU-BLUE', quantity: 1 }] });
    assert.equal(wooPlaced.status, 201, JSON.stringify(wooPlaced.body));

    for (const [channel, channelOrderId] of [
      ['shopify-sandbox', String(placed.body.order.id)],
      ['woocommerce-sandbox', String(wooPlaced.body.order.id)],
    ] as const) {
      let status = '';
      await waitFor(
        `the ${channel} order released`,
        async () => {
          const found = (await api('GET', `/v1/orders?channel=${channel}&channelOrderId=${channelOrderId}`)).body.data as { status: string }[];
          status = found[0]?.status ?? 'absent';
          return found.length === 1 && ['released', 'shipped', 'completed'].includes(status);
        },
        60_000,
        200,
      ).catch(async (error: Error) => {
        const found = (await api('GET', `/v1/orders?channel=${channel}&channelOrderId=${channelOrderId}`)).body.data as { id: string }[];
        const detail = found[0] ? (await api('GET', `/v1/orders/${found[0].id}`)).body : undefined;
        assert.fail(`${error.message} (last status: ${status}; ${JSON.stringify(detail?.exception ?? detail?.hold ?? detail)})`);
      });
    }
  } finally {
    await running.close();
  }
  for (const url of Object.values(running.channelSandboxes)) {
    await assert.rejects(fetch(`${url}/_sandbox/health`), `${url} is closed`);
  }
});

test('a declared channel connection replaces the storefront sandboxes', async () => {
  const file = writeConnectionsFile(
    ['connections:', '  - id: acme', '    connector: shopify', '    options: { shopDomain: acme.myshopify.com, webhookSecret: "0123456789abcdef" }', ''].join('\n'),
  );
  const config = loadConfig(testEnvironment(database.url, { SYNCLINE_SANDBOXES: 'on', SYNCLINE_SANDBOX_BASE_PORT: '0', SYNCLINE_CONFIG: file }));
  let running: RunningSyncline | undefined;
  try {
    running = await startSyncline(config, createLogger('silent'), { api: true, sandboxes: true });
    assert.deepEqual(running.channelSandboxes, {});
    assert.ok(Object.keys(running.sandboxes).length > 0, 'the system sandboxes still run');
  } finally {
    await running?.close();
  }
});
