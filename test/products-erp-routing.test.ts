import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { ProductService } from '../src/domain/products/product.service.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { runSyncline } from './support/cli.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { flowEnvironment } from './support/flows.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';
import { testEnvironment } from './support/server.ts';

/**
 * The product catalogue with several ERP connections (docs/products.md, "Several ERPs"): it is
 * loaded from the connection that owns the item master (`erpRouting.catalogue`, else the default
 * ERP), by `syncline products sync` and by the scheduled sync, on that connection's own target.
 */
describe('the catalogue with ERP routing', () => {
  let legacy: RunningTrytonSandbox;
  let cloud: RunningTrytonSandbox;
  let database: TestDatabase;
  let running: RunningSyncline | undefined;
  let sandboxes: RunningSandboxes;

  const file = (catalogue: string | null) =>
    writeConnectionsFile(`connections:
  - { id: legacy, connector: tryton, options: { url: "${legacy.url}", database: ${legacy.database}, login: admin, password: admin } }
  - { id: cloud, connector: tryton, options: { url: "${cloud.url}", database: ${cloud.database}, login: admin, password: admin } }
erpRouting:
  rules:
    - { when: { businessUnit: outdoor }, erp: cloud }
  default: legacy
${catalogue ? `  catalogue: ${catalogue}\n` : ''}`);
  const skus = async () => (await database.db.query<{ sku: string }>('SELECT sku FROM product ORDER BY sku')).rows.map((r) => r.sku);

  before(async () => {
    legacy = await startTrytonSandbox({ products: [{ code: 'LEG-ONLY', name: 'Legacy only', listPrice: '5.00', quantity: 10 }] });
    cloud = await startTrytonSandbox({ products: [{ code: 'CLOUD-A', name: 'Cloud A', listPrice: '7.00', quantity: 10 }, { code: 'CLOUD-B', name: 'Cloud B', listPrice: '9.00', quantity: 10 }] });
    database = await createTestDatabase();
  });
  after(async () => {
    await running?.close().catch(() => {});
    await sandboxes?.close();
    await database?.drop();
    await legacy?.close();
    await cloud?.close();
  });

  test('syncline products sync reads the item master of the connection erpRouting.catalogue names, through its own target', async () => {
    const env = testEnvironment(database.url, { SYNCLINE_CONFIG: file('cloud') });
    const result = await runSyncline(['products', 'sync', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { connectionId: string; kind: string };
    assert.deepEqual([report.connectionId, report.kind], ['cloud', 'full']);
    const found = await skus();
    assert.ok(found.includes('CLOUD-A') && found.includes('CLOUD-B'), `the cloud ERP's products (${found})`);
    assert.ok(!found.includes('LEG-ONLY'), 'nothing from the routing default');
    const product = await new ProductService(database.db).get('CLOUD-A');
    assert.deepEqual(Object.keys(product!.connectionIds), ['cloud'], 'known by the owning connection');
    const targets = await database.db.query<{ name: string }>("SELECT name FROM runtime_target WHERE name LIKE 'tryton:%' OR name = 'erp'");
    assert.deepEqual(targets.rows.map((r) => r.name), ['tryton:cloud'], "the owning connection's target, not the single ERP's");
  });

  test('the scheduled sync runs from the owning connection on its target; without catalogue the default ERP owns it', async () => {
    sandboxes = await startSandboxes({ products: [] });
    const env = Object.fromEntries(
      Object.entries(flowEnvironment(database, sandboxes, { SYNCLINE_CONFIG: file('cloud'), SYNCLINE_PRODUCT_SYNC_SECONDS: '3600' })).filter(([key]) => !key.startsWith('SYNCLINE_ERP_')),
    );
    const config = loadConfig(env);
    const started = Date.now();
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true });
    const products = new ProductService(database.db);
    await waitFor('the scheduled sync from cloud', async () => new Date((await products.syncState('cloud'))?.completed_at ?? 0).getTime() >= started, 60_000, 200);
    const next = await database.db.query<{ target: string; payload: { connectionId: string } }>("SELECT target, payload FROM runtime_job WHERE type = 'products.sync' AND run_at > now()");
    assert.deepEqual(next.rows.map((r) => [r.target, r.payload.connectionId]), [['tryton:cloud', 'cloud']], 'the next slot on the owning connection');
    assert.equal(await products.syncState('legacy'), undefined, 'the default ERP was not read');
    await running.close();
    running = undefined;

    // Without `catalogue` the routing default owns the item master.
    const result = await runSyncline(['products', 'sync', '--json'], testEnvironment(database.url, { SYNCLINE_CONFIG: file(null) }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { connectionId: string }).connectionId, 'legacy');
    assert.ok((await skus()).includes('LEG-ONLY'));
  });
});
