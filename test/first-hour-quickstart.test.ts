import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncline } from './support/cli.ts';
import { readmeQuickStart, startEmbedded, type EmbeddedSyncline } from './support/first-hour.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';
import { wmsSignatureHeader } from '../src/connectors/wms/wms-wire.ts';

const GRACE_MS = 3000;
// The process may take the grace period plus the backstop of main.ts (5 s) plus start-up noise.
const EXIT_MARGIN_MS = 6000;

describe('the README quick start on a fresh data folder (npm start, embedded PGlite, sandboxes in process)', () => {
  let syncline: EmbeddedSyncline;
  let token: string;
  let orderId: string;
  const quick = readmeQuickStart();
  const [location, receipt, order, ship] = quick.bodies;
  const status = async (id: string) => (await call(syncline.baseUrl, 'GET', `/v1/orders/${id}`, { token })).body.status as string;

  before(async () => {
    syncline = await startEmbedded({ SYNCLINE_SHUTDOWN_GRACE_MS: String(GRACE_MS) });
  });
  after(async () => {
    if (syncline?.child.exitCode === null) syncline.child.kill('SIGKILL');
  });

  test('the log names every sandbox with its URL', () => {
    assert.equal(quick.bodies.length, 4, 'location, receipt, order and shipment bodies');
    assert.deepEqual(Object.keys(syncline.sandboxes).sort(), ['crm', 'erp', 'fraud', 'loyalty', 'payment', 'wms']);
    for (const [name, url] of Object.entries(syncline.sandboxes)) {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(syncline.output(), new RegExp(`${name} sandbox listening at ${url.replaceAll('.', '\\.')}`));
    }
  });

  test('the first order reaches released, then completed once the WMS sandbox ships it', async () => {
    token = await syncline.token(quick.scopes);
    const post = (path: string, key: string, body: unknown) => call(syncline.baseUrl, 'POST', path, { token, body, headers: { 'idempotency-key': key } });
    assert.equal((await post('/v1/locations', 'quickstart-location', location)).status, 201);
    assert.equal((await post('/v1/inventory/movements', 'quickstart-receipt', receipt)).status, 201);
    const created = await post('/v1/orders', 'quickstart-order-1001', order);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    orderId = created.body.id;
    await waitFor('the order to be released', async () => (await status(orderId)) === 'released', 60_000, 200);

    const wms = syncline.sandboxes.wms!;
    const listed = (await (await fetch(`${wms}/v1/fulfillment-orders?orderId=${orderId}`)).json()) as { data: { id: string }[] };
    assert.equal(listed.data.length, 1);
    const shipped = await fetch(`${wms}/v1/fulfillment-orders/${listed.data[0]!.id}/ship`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ship),
    });
    assert.equal(shipped.status, 201);
    await waitFor('the order to be completed', async () => (await status(orderId)) === 'completed', 60_000, 200);
  });

  test('the WMS webhook route takes only the running sandbox\'s own secret, not the published default', async () => {
    const body = JSON.stringify({ id: 'whd_forged', topic: 'inventory.changed', createdAt: new Date().toISOString(), data: {} });
    const forged = await fetch(`${syncline.baseUrl}/webhooks/wms/default`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'wms-signature': wmsSignatureHeader('wms-sandbox-secret', Math.floor(Date.now() / 1000), body), 'wms-topic': 'inventory.changed', 'wms-delivery-id': 'whd_forged' },
      body,
    });
    assert.equal(forged.status, 401);
  });

  test('a second start and the CLI on the folder in use are refused with exit code 2, and nothing is written', async () => {
    const snapshot = () => ({
      files: readdirSync(syncline.dataDir).sort(),
      lock: readFileSync(join(syncline.dataDir, 'pgdata.lock'), 'utf8'),
      bootstrap: readFileSync(join(syncline.dataDir, 'bootstrap-client.json'), 'utf8'),
    });
    const before = snapshot();
    const holder = JSON.parse(before.lock) as { pid: number; url: string };
    assert.equal(holder.pid, syncline.child.pid);
    assert.equal(holder.url, syncline.baseUrl);
    const env = { SYNCLINE_DATA_DIR: syncline.dataDir, PORT: '0', SYNCLINE_SANDBOX_BASE_PORT: '0' };
    const inUse = new RegExp(`the data folder ${syncline.dataDir.replaceAll('.', '\\.')} is in use by Syncline \\(pid ${holder.pid}\\) at ${syncline.baseUrl.replaceAll('.', '\\.')}`);
    const cases: [string[], RegExp][] = [
      [['start'], /Stop it first/],
      [['migrate'], /Stop it first/],
      [['dlq', 'list'], new RegExp(`use its API instead: ${syncline.baseUrl.replaceAll('.', '\\.')}/v1/ops/dead-letters`)],
      [['inventory', 'verify'], new RegExp(`use its API instead: ${syncline.baseUrl.replaceAll('.', '\\.')}/v1/inventory`)],
      [['clients', 'create', '--scopes', 'orders:read'], /Stop it first/],
    ];
    for (const [args, hint] of cases) {
      const result = await runSyncline(args, env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, inUse, args.join(' '));
      assert.match(result.stderr, hint, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
    }
    assert.deepEqual(snapshot(), before, 'the data folder is as the running server left it');
    // The server is unharmed.
    assert.equal((await call(syncline.baseUrl, 'GET', '/readyz')).status, 200);
  });

  test('after a cancel, SIGTERM ends the process within the grace period and frees the folder', async () => {
    const second = await call(syncline.baseUrl, 'POST', '/v1/orders', {
      token,
      body: { ...order, channelOrderId: '1002' },
      headers: { 'idempotency-key': 'quickstart-order-1002' },
    });
    assert.equal(second.status, 201);
    await waitFor('the second order to be released', async () => (await status(second.body.id)) === 'released', 60_000, 200);
    const cancel = await call(syncline.baseUrl, 'POST', `/v1/orders/${second.body.id}/cancel`, { token, body: { reason: 'customer asked' }, headers: { 'idempotency-key': 'cancel-1002' } });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    await waitFor('the second order to be cancelled', async () => (await status(second.body.id)) === 'cancelled', 60_000, 200);

    const { code, ms } = await syncline.terminate();
    assert.equal(code, 0, syncline.output().slice(-2000));
    assert.ok(ms < GRACE_MS + EXIT_MARGIN_MS, `exited after ${ms} ms`);
    assert.equal(existsSync(join(syncline.dataDir, 'pgdata.lock')), false, 'the lock is released');
  });
});
