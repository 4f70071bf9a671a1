import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { startSandboxes } from '../src/connectors/sandboxes.ts';
import { createConnectors, type TrytonErpSettings } from '../src/connectors/connectors.ts';
import { canonicalOrder } from '../src/connectors/kit/contract-fixtures.ts';
import { loadConfig } from '../src/config/config.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

describe('the sandboxes together', () => {
  test('startSandboxes runs all six on their own ports; the connectors built from its settings reach each', async () => {
    const running = await startSandboxes({ products: [{ code: 'SKU-RED', listPrice: '25.00', quantity: 10 }] });
    try {
      const ports = new Set(Object.values(running.urls).map((url) => new URL(url).port));
      assert.equal(ports.size, 6);
      const connectors = createConnectors(running.settings);
      const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
      assert.equal((await connectors.fraud.screen({ orderId: order.id, email: order.customer.email, amount: order.totals.grandTotal, currency: order.currency, shippingCountry: 'US', lineCount: 1 })).decision, 'approve');
      const auth = await connectors.payment.authorize({ orderId: order.id, amount: order.totals.grandTotal, currency: order.currency });
      assert.equal(auth.outcome, 'succeeded');
      assert.equal((await connectors.erp.postOrder(order)).sale.state, 'processing');
      const { fulfilment } = await connectors.wms.createFulfilment({ orderId: order.id, locationId: 'loc_dc', shipTo: order.shippingAddress, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 1 }] });
      assert.equal(fulfilment.status, 'open');
      assert.equal((await connectors.loyalty.awardPoints({ orderId: order.id, email: order.customer.email, amount: order.totals.grandTotal, currency: order.currency })).points, 25);
      running.crm.seedContact({ email: order.customer.email });
      assert.equal((await connectors.crm.listContacts({ limit: 10 })).contacts[0]!.email, order.customer.email);
      for (const [name, url] of Object.entries(running.urls)) {
        const health = (await (await fetch(`${url}/_sandbox/health`)).json()) as { status: string; system: string };
        assert.equal(health.status, 'ok', name);
        const stats = (await (await fetch(`${url}/_sandbox/stats`)).json()) as { totals: { accepted: number } };
        assert.ok(stats.totals.accepted > 0, `${url} saw traffic`);
      }
    } finally {
      await running.close();
    }
  });

  test('the payment, WMS and Tryton sandboxes answer late where PUT /_sandbox/delays says, and refuse keys they do not take', async () => {
    const running = await startSandboxes({ products: [{ code: 'SKU-RED', listPrice: '25.00', quantity: 10 }] });
    try {
      const connectors = createConnectors(running.settings);
      const order = canonicalOrder({ lines: [{ sku: 'SKU-RED', quantity: 1, unitPrice: '25.00' }] });
      const put = (url: string, body: unknown) => fetch(`${url}/_sandbox/delays`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const delayMs = 300;
      const slowCalls: Array<[string, Record<string, number>, () => Promise<unknown>]> = [
        ['payment', { 'POST /v1/payment_intents': delayMs, 'GET /v1/refunds': 0 }, () => connectors.payment.authorize({ orderId: order.id, amount: order.totals.grandTotal, currency: order.currency })],
        ['wms', { 'POST /v1/fulfillment-orders': delayMs }, () => connectors.wms.createFulfilment({ orderId: order.id, locationId: 'loc_dc', shipTo: order.shippingAddress, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 1 }] })],
        ['erp', { 'model.sale.sale.quote': delayMs }, () => connectors.erp.postOrder(order)],
      ];
      for (const [name, delays, call] of slowCalls) {
        const url = running.urls[name as keyof typeof running.urls];
        const set = await put(url, delays);
        assert.equal(set.status, 200, name);
        // A delay of 0 is none: only the positive ones are set.
        assert.deepEqual(await set.json(), Object.fromEntries(Object.entries(delays).filter(([, ms]) => ms > 0)), name);
        const started = performance.now();
        await call();
        assert.ok(performance.now() - started >= delayMs - 5, `${name}: the call answered after ${Math.round(performance.now() - started)} ms`);
        assert.deepEqual(await (await put(url, {})).json(), {}, `${name}: {} clears every delay`);
        for (const refused of [{ 'DELETE /nothing': 10 }, { [Object.keys(delays)[0]!]: -1 }, { [Object.keys(delays)[0]!]: 120_001 }]) {
          const response = await put(url, refused);
          assert.equal(response.status, 400, `${name}: ${JSON.stringify(refused)}`);
          assert.equal(((await response.json()) as { error: { type: string } }).error.type, 'invalid_request');
        }
      }
    } finally {
      await running.close();
    }
  });

  test('`syncline sandboxes` runs them standalone and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN, 'sandboxes', '--base-port', '0'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !stdout.includes('SYNCLINE_LOYALTY_URL'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.match(stdout, /SYNCLINE_ERP_URL=http:\/\/127\.0\.0\.1:\d+/, stderr);
    const { sandboxes } = JSON.parse(stdout.slice(0, stdout.indexOf('# point'))) as { sandboxes: Record<string, string> };
    assert.deepEqual(Object.keys(sandboxes).sort(), ['crm', 'erp', 'fraud', 'loyalty', 'payment', 'wms']);
    const products = (await (await fetch(`${sandboxes.erp}/_sandbox/state`)).json()) as { products: { code: string }[] };
    assert.ok(products.products.some((p) => p.code === 'SKU-RED'), 'demo products are loaded');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('external systems are configured together, or left to the sandboxes', () => {
    assert.deepEqual(loadConfig({}).systems, {});
    const config = loadConfig({
      SYNCLINE_ERP_URL: 'http://erp.internal:8000',
      SYNCLINE_ERP_DATABASE: 'prod',
      SYNCLINE_ERP_LOGIN: 'syncline',
      SYNCLINE_ERP_PASSWORD: 'hunter22',
      SYNCLINE_FRAUD_URL: 'http://fraud.internal',
    });
    assert.equal((config.systems.erp as TrytonErpSettings | undefined)?.database, 'prod');
    assert.equal(config.systems.fraud?.url, 'http://fraud.internal');
    assert.equal(config.systems.wms, undefined);
    assert.throws(() => loadConfig({ SYNCLINE_PAYMENT_URL: 'http://pay.internal' }), /SYNCLINE_PAYMENT_API_KEY/);
    assert.throws(() => loadConfig({ SYNCLINE_PAYMENT_URL: 'http://pay.internal', SYNCLINE_PAYMENT_API_KEY: 'short' }), (error: Error) => !error.message.includes('short'));
  });
});
