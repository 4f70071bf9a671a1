import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { ProductService } from '../src/domain/products/product.service.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { call } from './support/orders.ts';
import { runSyncline } from './support/cli.ts';
import { fetchToken, ADMIN_CLIENT } from './support/server.ts';

/**
 * The product catalogue (docs/products.md): the sync from the ERP's item master, against the
 * Tryton sandbox and a real Tryton 6.0; the API; and the hold at validation.
 */

type Row = Record<string, unknown> & { id: number };

interface Target {
  url: string;
  database: string;
  login: string;
  password: string;
}

/** The sync's behaviour against one ERP (sandbox or real): the same test body for both. */
function syncContract(name: string, target: () => Target, seededSkus: string[]) {
  describe(`catalogue sync from ${name}`, () => {
    let database: TestDatabase;
    let erp: TrytonClient;
    let products: ProductService;
    before(async () => {
      database = await createTestDatabase();
      const t = target();
      erp = createTrytonClient({ url: t.url, database: t.database, login: t.login, password: t.password });
      products = new ProductService(database.db);
    });
    after(async () => database?.drop());

    test('full load in pages, then incremental changes by the ERP\'s modification time; deactivation holds', async () => {
      assert.deepEqual(await products.holds(['NOPE']), [], 'no catalogue loaded yet: nothing is held');
      const full = await products.sync(erp, 'erp', {}, { pageSize: 3 });
      assert.equal(full.kind, 'full');
      assert.ok(full.pages >= 2, `paged (${full.pages} pages)`);
      for (const sku of seededSkus) assert.ok(await products.get(sku), `${sku} loaded`);
      assert.equal(full.read, full.changed, 'every product read was written');
      assert.ok(full.cursor, 'the cursor is set');
      const red = (await products.get('SKU-RED'))!;
      assert.equal(red.active, true);
      assert.equal(red.unitOfMeasure, 'u');
      assert.equal(red.taxCategory, 'Retail goods');
      assert.match(red.listPrice, /^\d+\.\d+$/);
      assert.match(red.connectionIds.erp!, /^\d+$/);

      // Nothing changed: an incremental run writes nothing (re-read records are left as they were).
      const quiet = await products.sync(erp, 'erp');
      assert.equal(quiet.kind, 'incremental');
      assert.equal(quiet.changed, 0);
      assert.equal(quiet.since, full.cursor, 'it reads from where the full load left the cursor');

      // Change the price on the template and deactivate a variant, through Tryton's own API.
      const [redRow] = await erp.rpc.call<Row[]>('model.product.product.search_read', [[['code', '=', 'SKU-RED']], 0, 1, null, ['template']]);
      const [blueRow] = await erp.rpc.call<Row[]>('model.product.product.search_read', [[['code', '=', 'SKU-BLUE']], 0, 1, null, ['id']]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await erp.rpc.call('model.product.template.write', [[redRow!.template], { list_price: { __class__: 'Decimal', decimal: '31.50' } }]);
      await erp.rpc.call('model.product.product.write', [[blueRow!.id], { active: false }]);
      await erp.rpc.call('model.product.identifier.create', [[{ product: redRow!.id, type: 'ean', code: '4006381333931' }]]);
      const incremental = await products.sync(erp, 'erp');
      assert.equal(incremental.kind, 'incremental');
      assert.equal(incremental.changed, 2);
      const changed = (await products.get('SKU-RED'))!;
      assert.equal(changed.listPrice, '31.50');
      assert.deepEqual(changed.barcodes, ['4006381333931']);
      assert.equal((await products.get('SKU-BLUE'))!.active, false, 'a deactivated product is kept, inactive');
      assert.deepEqual(
        (await products.holds(['SKU-RED', 'SKU-BLUE', 'NOPE'])).map((h) => [h.code, h.sku]),
        [
          ['product.inactive', 'SKU-BLUE'],
          ['product.unknown_sku', 'NOPE'],
        ],
      );
      // Again: idempotent.
      assert.equal((await products.sync(erp, 'erp')).changed, 0);
    });
  });
}

let sandbox: RunningTrytonSandbox;
syncContract(
  'the Tryton sandbox',
  () => ({ url: sandbox.url, database: sandbox.database, login: 'admin', password: 'admin' }),
  ['SKU-RED', 'SKU-BLUE', 'SKU-GREEN', 'SHIP', 'DISC'],
);
before(async () => {
  sandbox = await startTrytonSandbox({
    products: [
      { code: 'SKU-RED', name: 'Red mug', listPrice: '25.00', quantity: 1000 },
      { code: 'SKU-BLUE', name: 'Blue mug', listPrice: '10.00', quantity: 5 },
      { code: 'SKU-GREEN', name: 'Green mug', listPrice: '12.50' },
    ],
  });
});
after(async () => sandbox?.close());

const unavailable = await trytonUnavailable();
describe('against a real Tryton 6.0 server', { skip: unavailable ?? false }, () => {
  let server: RunningTryton;
  before(async () => {
    server = await startTryton();
  });
  after(async () => server?.stop());
  syncContract('a real Tryton 6.0', () => server, ['RP-WIDGET-001', 'SKU-RED', 'SKU-BLUE', 'SKU-GREEN', 'TEE-M', 'MUG', 'CAP', 'SOCKS']);
});

describe('the catalogue in the API and at order validation', () => {
  let rig: FlowRig;
  let f: ReturnType<typeof flowApi>;
  before(async () => {
    // The schedule on: the first sync runs at start, as in `npm start`.
    rig = await startFlowRig({ env: { SYNCLINE_PRODUCT_SYNC_SECONDS: '3600' } });
    f = flowApi(rig);
    await f.location('WH-P', 'warehouse');
    await f.stock(['TEE-M', 'MUG', 'CAP'].map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-P', quantity: 50 })));
    const products = new ProductService(rig.database.db);
    const deadline = Date.now() + 60_000;
    while (!(await products.syncState('erp'))?.completed_at) {
      if (Date.now() > deadline) throw new Error('the scheduled sync did not complete');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  after(async () => rig?.close());

  test('the scheduled sync ran at start on the ERP target and queued the next slot', async () => {
    const next = await rig.database.db.query<{ target: string; lane: number; run_at: Date }>("SELECT target, lane, run_at FROM runtime_job WHERE type = 'products.sync' AND run_at > now()");
    assert.equal(next.rows.length, 1, 'one next run queued');
    assert.equal(next.rows[0]!.target, 'erp');
    const slotMs = 3600 * 1000;
    assert.equal(new Date(next.rows[0]!.run_at).getTime(), (Math.floor(Date.now() / slotMs) + 1) * slotMs);
    const state = await new ProductService(rig.database.db).syncState('erp');
    assert.equal((state!.last_run as { kind: string }).kind, 'full');
  });

  test('GET /v1/products pages and filters; GET /v1/products/{sku} answers 404 problems; products:read is required', async () => {
    const all = await f.api('GET', '/v1/products?limit=2');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.data.map((p: { sku: string }) => p.sku), ['CAP', 'DISC']);
    assert.equal(all.body.nextAfter, 'DISC');
    const next = await f.api('GET', `/v1/products?limit=2&after=${all.body.nextAfter}`);
    assert.deepEqual(next.body.data.map((p: { sku: string }) => p.sku), ['MUG', 'SHIP']);
    const prefixed = await f.api('GET', '/v1/products?skuPrefix=TEE-&active=true');
    assert.deepEqual(prefixed.body.data.map((p: { sku: string }) => p.sku), ['TEE-M']);
    assert.equal((await f.api('GET', '/v1/products?active=false')).body.data.length, 0);
    const one = await f.api('GET', '/v1/products/MUG');
    assert.equal(one.status, 200);
    assert.equal(one.body.listPrice, '10.00');
    const missing = await f.api('GET', '/v1/products/NOPE');
    assert.equal(missing.status, 404);
    assert.match(String(missing.headers.get('content-type')), /^application\/problem\+json/);
    const bad = await f.api('GET', '/v1/products?limit=0');
    assert.equal(bad.status, 400);
    const narrow = await fetchToken(rig.baseUrl, ADMIN_CLIENT, 'orders:read');
    assert.equal((await call(rig.baseUrl, 'GET', '/v1/products', { token: narrow })).status, 403);
    const reader = await fetchToken(rig.baseUrl, ADMIN_CLIENT, 'products:read');
    assert.equal((await call(rig.baseUrl, 'GET', '/v1/products/MUG', { token: reader })).status, 200);
  });

  test('a line whose SKU is unknown or inactive is held at validation: nothing authorised, nothing reserved', async () => {
    // CAP is deactivated in the ERP (its own API), and the catalogue synced on demand.
    const erp = createTrytonClient({ ...rig.sandboxes.settings.erp });
    const [cap] = await erp.rpc.call<Row[]>('model.product.product.search_read', [[['code', '=', 'CAP']], 0, 1, null, ['id']]);
    await erp.rpc.call('model.product.product.write', [[cap!.id], { active: false }]);
    await new ProductService(rig.database.db).sync(erp, 'erp');
    const paymentsBefore = JSON.stringify((await f.paymentState()));
    const orderId = await f.submit({
      channelOrderId: `SO-${randomUUID()}`,
      lines: [
        { sku: 'CAP', quantity: 1, unitPrice: '15.00' },
        { sku: 'GHOST-1', quantity: 1, unitPrice: '5.00' },
      ],
      payments: [{ method: 'card', amount: '20.00', status: 'authorized', reference: 'pi_hold' }],
    });
    await f.waitForStatus(orderId, 'on_hold');
    const lifecycle = await f.lifecycle(orderId);
    const timeline = await f.timeline(orderId);
    const validate = timeline.find((e) => e.action === 'order.validate');
    assert.ok(validate, JSON.stringify(timeline));
    assert.deepEqual(validate!.detail.products, [
      { code: 'product.inactive', sku: 'CAP' },
      { code: 'product.unknown_sku', sku: 'GHOST-1' },
    ]);
    assert.ok(!timeline.some((e) => ['payment.authorize', 'inventory.allocate', 'fraud.screen'].includes(e.action)), `no step after validation ran: ${timeline.map((e) => e.action)}`);
    const payments = (await f.paymentState()) as { paymentIntents: { metadata: Record<string, string> }[] };
    assert.equal(payments.paymentIntents.filter((p) => p.metadata.order_id === orderId).length, 0, 'nothing authorised at the payment sandbox');
    assert.equal(JSON.stringify(payments), paymentsBefore);
    const reservations = await rig.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inventory_reservation WHERE reference = $1', [orderId]);
    assert.equal(reservations.rows[0]!.n, 0, 'no stock reserved');
    assert.equal(lifecycle.status, 'on_hold');

    // An order for active catalogue SKUs goes through.
    const ok = await f.submit({ channelOrderId: `SO-${randomUUID()}` });
    await f.waitForStatus(ok, ['released', 'allocated']);
  });
});

describe('syncline products sync', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  test('a full load, then changes only; a refused login is a clear error with exit code 1; a wrong use exits 2', async () => {
    const env = {
      DATABASE_URL: database.url,
      SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-products-cli-')),
      SYNCLINE_ERP_URL: sandbox.url,
      SYNCLINE_ERP_DATABASE: sandbox.database,
      SYNCLINE_ERP_LOGIN: 'admin',
      SYNCLINE_ERP_PASSWORD: 'admin',
      LOG_LEVEL: 'warn',
    };
    const first = await runSyncline(['products', 'sync'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /products sync from erp \(http:\/\/127\.0\.0\.1:\d+\): full load: \d+ read, \d+ changed, 0 skipped/);
    const second = await runSyncline(['products', 'sync', '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as { kind: string; changed: number };
    assert.equal(report.kind, 'incremental');
    assert.equal(report.changed, 0);
    const full = await runSyncline(['products', 'sync', '--full', '--json'], env);
    assert.equal((JSON.parse(full.stdout) as { kind: string }).kind, 'full');
    // The sync's calls went through the ERP's runtime target.
    const target = await database.db.query<{ name: string }>("SELECT name FROM runtime_target WHERE name = 'erp'");
    assert.equal(target.rows.length, 1);

    const refused = await runSyncline(['products', 'sync'], { ...env, SYNCLINE_ERP_PASSWORD: 'wrong' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /syncline products: the sync from erp at http:\/\/127\.0\.0\.1:\d+ failed \[connector\.unauthorized\]: tryton refused the login/);
    const wrong = await runSyncline(['products', 'resync'], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown subcommand "resync"/);
  });
});
