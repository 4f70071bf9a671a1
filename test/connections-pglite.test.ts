import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline } from '../src/syncline.ts';
import { call } from './support/orders.ts';
import { fetchToken, testEnvironment } from './support/server.ts';
import { postDelivery, shopifyDelivery, shopifyOrder, writeConnectionsFile } from './support/connections.ts';
import { waitFor } from './support/runtime.ts';

/** The embedded PGlite start-up (no DATABASE_URL) with a syncline.yaml: the same connections, intake and API. */

test('on PGlite, a connection of syncline.yaml takes its webhooks in and is listed', async () => {
  const yaml = 'connections:\n  - { id: corner-shop, connector: shopify, options: { shopDomain: corner.myshopify.com, webhookSecret: "${CORNER_SECRET}" } }\n';
  const config = loadConfig(testEnvironment(undefined, { SYNCLINE_CONFIG: writeConnectionsFile(yaml), CORNER_SECRET: 'corner-webhook-secret', SYNCLINE_WORKER_POLL_MS: '100' }));
  const running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true });
  try {
    assert.equal(running.db.kind, 'pglite');
    const token = await fetchToken(running.url!);
    const delivery = shopifyDelivery({ secret: 'corner-webhook-secret', shopDomain: 'corner.myshopify.com', topic: 'orders/create', payload: shopifyOrder('7100000000000000001', 'CORNER-SKU') });
    const first = await postDelivery(running.url!, 'shopify', 'corner-shop', delivery);
    assert.deepEqual([first.status, first.body.duplicate], [200, false]);
    assert.equal((await postDelivery(running.url!, 'shopify', 'corner-shop', delivery)).body.duplicate, true);
    await waitFor(
      'the order',
      async () => ((await call(running.url!, 'GET', '/v1/orders?channel=corner-shop', { token })).body.data as unknown[]).length === 1,
      30_000,
      100,
    );
    const connection = (await call(running.url!, 'GET', '/v1/connections/corner-shop', { token })).body;
    assert.equal(connection.target.name, 'shopify:corner-shop');
    assert.ok(connection.lastInboundAt);
    assert.ok(!JSON.stringify(connection).includes('corner-webhook-secret'));
  } finally {
    await running.close();
  }
});
