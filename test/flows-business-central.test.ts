import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';
import { createBusinessCentralClient, type BusinessCentralClient } from '../src/connectors/business-central/outbound/business-central.client.ts';
import { startBusinessCentralSandbox, type RunningBusinessCentralSandbox } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import type { BcSalesDocument } from '../src/connectors/business-central/business-central-wire.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { FLOW_SKUS, flowApi, flowEnvironment } from './support/flows.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { ADMIN_CLIENT, fetchToken } from './support/server.ts';

/**
 * The order lifecycle end to end with Business Central as the ERP: a `business-central`
 * connection in syncline.yaml, its sandbox over HTTP, the other systems' sandboxes, real
 * PostgreSQL. The flows are unchanged: they call the ERP port.
 */
describe('order lifecycle with Business Central as the ERP', () => {
  let database: TestDatabase;
  let sandboxes: RunningSandboxes;
  let bc: RunningBusinessCentralSandbox;
  let running: RunningSyncline | undefined;
  let f: ReturnType<typeof flowApi>;
  let reader: BusinessCentralClient;

  before(async () => {
    database = await createTestDatabase();
    sandboxes = await startSandboxes({ products: FLOW_SKUS.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1000 })) });
    bc = await startBusinessCentralSandbox({ items: FLOW_SKUS.map((number) => ({ number, displayName: number, unitPrice: '10.00', inventory: 1000 })) });
    const path = writeConnectionsFile(`
connections:
  - id: bc-main
    connector: business-central
    options:
      tenantId: ${bc.tenantId}
      environment: ${bc.environment}
      companyId: ${bc.companyId}
      clientId: ${bc.clientId}
      clientSecret: "\${BC_SECRET}"
      baseUrl: ${bc.url}
      tokenUrl: ${bc.tokenUrl}
      chargeItems: { shipping: null }
`);
    // The file's ERP stands where the SYNCLINE_ERP_* variables would.
    const env = Object.fromEntries(Object.entries(flowEnvironment(database, sandboxes, { SYNCLINE_CONFIG: path, BC_SECRET: bc.clientSecret })).filter(([key]) => !key.startsWith('SYNCLINE_ERP_')));
    const config = loadConfig(env);
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true });
    const baseUrl = running.url!;
    await fetch(`${sandboxes.urls.wms}/_sandbox/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callbackUrl: `${baseUrl}/webhooks/wms/default`, webhookRetryDelayMs: 100 }),
    });
    f = flowApi({ baseUrl, token: await fetchToken(baseUrl, ADMIN_CLIENT), sandboxes });
    reader = createBusinessCentralClient({ tenantId: bc.tenantId, environment: bc.environment, companyId: bc.companyId, clientId: bc.clientId, clientSecret: bc.clientSecret, baseUrl: bc.url, tokenUrl: bc.tokenUrl });
    await f.location('WH-EAST', 'warehouse');
    await f.stock([
      { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 20 },
      { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 20 },
    ]);
  });
  after(async () => {
    await running?.close().catch(() => {});
    await bc?.close();
    await sandboxes?.close();
    await database?.drop();
  });

  test('placed, posted to Business Central once, shipped through the WMS, shipped and invoiced in BC, completed', async () => {
    const orderId = await f.submit();
    await f.waitForStatus(orderId, 'released');
    const posted = await reader.getSale(orderId);
    assert.ok(posted, 'a sales order with the order id as externalDocumentNumber');
    assert.equal(posted.totalAmount, '48.48', 'BC computed what the customer paid');
    assert.equal((await f.erpState()).sales.filter((s: { reference: string }) => s.reference === orderId).length, 0, 'nothing went to Tryton');

    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id, { trackingNumbers: ['1ZBC00001'] });
    await f.waitForStatus(orderId, 'completed');

    const invoices = await reader.odata.list<BcSalesDocument>(`salesInvoices?$filter=${encodeURIComponent(`externalDocumentNumber eq '${orderId}'`)}`);
    assert.equal(invoices.length, 1);
    assert.equal(invoices[0]!.totalAmountIncludingTax, 48.48);
    const shipments = await reader.odata.list<BcSalesDocument>(`salesShipments?$filter=${encodeURIComponent(`externalDocumentNumber eq '${orderId}'`)}`);
    assert.equal(shipments.length, 1);
    const closed = await reader.getSale(orderId);
    assert.equal(closed?.state, 'done', 'BC closed the order once shipped and invoiced in full');

    const life = await f.lifecycle(orderId);
    assert.equal(life.invoices.length, 1);
    assert.equal(life.invoices[0].state, 'posted');
    assert.equal(life.invoices[0].number, invoices[0]!.number);
    const timeline = await f.timeline(orderId);
    const actions = timeline.map((e) => `${e.action}:${e.outcome}`);
    for (const step of ['erp.post', 'erp.shipment', 'erp.invoice']) assert.ok(actions.includes(`${step}:succeeded`), `timeline has ${step}: ${actions.join(', ')}`);
  });
});
