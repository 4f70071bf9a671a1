import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';
import { createBusinessCentralClient, type BusinessCentralClient } from '../src/connectors/business-central/outbound/business-central.client.ts';
import { startBusinessCentralSandbox, type RunningBusinessCentralSandbox } from '../src/connectors/business-central/sandbox/business-central.sandbox.ts';
import type { BcSalesDocument } from '../src/connectors/business-central/business-central-wire.ts';
import { createTrytonClient, type TrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { writeConnectionsFile } from './support/connections.ts';
import { FLOW_SKUS, flowApi, flowEnvironment } from './support/flows.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';
import { ADMIN_CLIENT, fetchToken } from './support/server.ts';
import { startTryton, trytonUnavailable, type RunningTryton } from './support/tryton-server.ts';

/**
 * Routing between ERPs end to end (docs/connections.md, ADR 0029): the real Tryton 6.0 as the
 * `legacy` connection, the Business Central sandbox as `cloud`, the other systems' sandboxes,
 * real PostgreSQL. One business unit moved to BC; a shadow rule that posts to both; the rules
 * changed and Syncline restarted while an order is under way.
 */
const unavailable = await trytonUnavailable();

describe('routing orders between the real Tryton and Business Central', { skip: unavailable ?? false }, () => {
  let tryton: RunningTryton;
  let database: TestDatabase;
  let sandboxes: RunningSandboxes;
  let bc: RunningBusinessCentralSandbox;
  let running: RunningSyncline | undefined;
  let f: ReturnType<typeof flowApi>;
  let trytonReader: TrytonClient;
  let bcReader: BusinessCentralClient;

  const connectionsYaml = (routing: string) => `
connections:
  - id: legacy
    connector: tryton
    options: { url: ${tryton.url}, database: ${tryton.database}, login: ${tryton.login}, password: "\${TRYTON_SECRET}" }
  - id: cloud
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
erpRouting:
${routing}
`;
  const FIRST_RULES = `  rules:
    - when: { businessUnit: outdoor }
      erp: cloud
    - when: { shipToCountry: CA }
      erp: legacy
      shadow: cloud
  default: legacy`;

  /** Starts Syncline on the test database with these rules (the sandboxes and Tryton stay up). */
  async function start(routing: string): Promise<void> {
    await running?.close();
    const path = writeConnectionsFile(connectionsYaml(routing));
    const env = Object.fromEntries(
      Object.entries(flowEnvironment(database, sandboxes, { SYNCLINE_CONFIG: path, BC_SECRET: bc.clientSecret, TRYTON_SECRET: tryton.password })).filter(([key]) => !key.startsWith('SYNCLINE_ERP_')),
    );
    const config = loadConfig(env);
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true });
    const baseUrl = running.url!;
    await fetch(`${sandboxes.urls.wms}/_sandbox/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callbackUrl: `${baseUrl}/webhooks/wms/default`, webhookRetryDelayMs: 100 }),
    });
    f = flowApi({ baseUrl, token: await fetchToken(baseUrl, ADMIN_CLIENT), sandboxes });
  }

  const trytonSales = (reference: string) => trytonReader.rpc.call<{ id: number; state: string }[]>('model.sale.sale.search_read', [[['reference', '=', reference]], 0, null, null, ['state']]);
  const bcShipments = (orderId: string) => bcReader.odata.list<BcSalesDocument>(`salesShipments?$filter=${encodeURIComponent(`externalDocumentNumber eq '${orderId}'`)}`);
  // A customer per order: Tryton's party code is unique, and two first orders of one new customer posted at once collide.
  let customers = 0;
  const order = (over: Record<string, unknown> = {}) => ({
    customer: { email: `routing-${++customers}@example.com`, name: `Routing Customer ${customers}` },
    lines: [{ sku: 'TEE-M', quantity: 2, unitPrice: '19.99' }],
    payments: [{ method: 'card', amount: '39.98', status: 'authorized', reference: 'pi_routing' }],
    ...over,
  });

  before(async () => {
    tryton = await startTryton();
    database = await createTestDatabase();
    sandboxes = await startSandboxes({ products: FLOW_SKUS.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1000 })) });
    // BC's tax group carries 20 % where Tryton's rule is 10 %: the shadow report must show it.
    bc = await startBusinessCentralSandbox({ items: FLOW_SKUS.map((number) => ({ number, displayName: number, unitPrice: '10.00', inventory: 1000, taxPercent: 20 })) });
    trytonReader = createTrytonClient({ url: tryton.url, database: tryton.database, login: tryton.login, password: tryton.password });
    bcReader = createBusinessCentralClient({ tenantId: bc.tenantId, environment: bc.environment, companyId: bc.companyId, clientId: bc.clientId, clientSecret: bc.clientSecret, baseUrl: bc.url, tokenUrl: bc.tokenUrl });
    await start(FIRST_RULES);
    await f.location('WH-EAST', 'warehouse');
    await f.stock([{ type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 50 }]);
  });
  after(async () => {
    await running?.close().catch(() => {});
    await bc?.close().catch(() => {});
    await sandboxes?.close();
    await database?.drop();
    await tryton?.stop();
  });

  test('one business unit goes to Business Central, the others to Tryton; the choice is on the timeline; shipment and invoice follow it', async () => {
    const moved = [await f.submit(order({ metadata: { businessUnit: 'outdoor' } })), await f.submit(order({ metadata: { businessUnit: 'outdoor' } }))];
    // One Tryton order at a time: Tryton 6.0 gives two parties created at once the same code.
    const kept: string[] = [];
    for (const over of [{ metadata: { businessUnit: 'indoor' } }, {}]) {
      kept.push(await f.submit(order(over)));
      await f.waitForStatus(kept.at(-1)!, 'released', 120_000);
    }
    for (const id of moved) await f.waitForStatus(id, 'released', 120_000);
    for (const id of moved) {
      assert.ok(await bcReader.getSale(id), `${id}: a BC sales order`);
      assert.equal((await trytonSales(id)).length, 0, `${id}: no Tryton sale`);
      const routed = (await f.timeline(id)).find((e) => e.action === 'order.erp-routed');
      assert.deepEqual(routed?.detail, { erp: 'cloud', shadow: null, rule: 0, target: 'business-central:cloud' });
    }
    for (const id of kept) {
      assert.equal((await trytonSales(id)).length, 1, `${id}: one Tryton sale`);
      assert.equal(await bcReader.getSale(id), undefined, `${id}: nothing in BC`);
      assert.equal((await f.timeline(id)).find((e) => e.action === 'order.erp-routed')?.detail.erp, 'legacy');
    }
    const connections = (await f.api('GET', '/v1/connections')).body.items.filter((c: { kind: string }) => c.kind === 'erp');
    assert.deepEqual(connections.map((c: { id: string; target: { name: string } }) => [c.id, c.target.name]), [['legacy', 'tryton:legacy'], ['cloud', 'business-central:cloud']]);
    // The shipment and the invoice go to the order's ERP.
    const [fulfilment] = await f.fulfilments(moved[0]!);
    await f.ship(fulfilment.id);
    await f.waitForStatus(moved[0]!, 'completed', 120_000);
    assert.equal((await bcShipments(moved[0]!)).length, 1, 'BC recorded the shipment');
    assert.equal((await bcReader.getSale(moved[0]!))?.state, 'done', 'BC closed the order once shipped and invoiced');
  });

  const TORONTO = { name: 'Ada Lovelace', line1: '1 King St', city: 'Toronto', region: 'ON', postalCode: 'M5H 1A1', country: 'CA' };

  /** Waits for the order's shadow report (matched or different). */
  async function shadowReport(orderId: string): Promise<any> {
    let report: any;
    await waitFor('the shadow report', async () => {
      const page = await f.api('GET', '/v1/ops/erp-shadow?limit=5');
      report = page.body.items?.find((r: { orderId: string }) => r.orderId === orderId);
      return Boolean(report);
    }, 120_000, 200);
    return report;
  }

  test('shadow mode: posted to both, Tryton stays the system of record, the report holds the tax, line and customer differences', async () => {
    // The cloud ERP already knows this customer, under the name a data migration gave it.
    const customer = { email: `shadow-${Date.now()}@example.com`, name: 'Grace Hopper' };
    await bcReader.odata.create('customers', { displayName: 'G. Hopper (migrated)', type: 'Person', email: customer.email, currencyCode: 'USD' });
    const orderId = await f.submit(order({ customer, shippingAddress: TORONTO }));
    await f.waitForStatus(orderId, 'released', 120_000);
    assert.equal((await trytonSales(orderId)).length, 1, 'one Tryton sale');
    const report = await shadowReport(orderId);
    const [primary, shadow] = [(await trytonReader.getSale(orderId))!, (await bcReader.getSale(orderId))!];
    assert.ok(shadow, 'the shadow sale is in BC');
    assert.equal(report.primaryErp, 'legacy');
    assert.equal(report.shadowErp, 'cloud');
    assert.equal(report.outcome, 'different');
    const fields = report.differences.map((d: { field: string }) => d.field);
    assert.ok(fields.includes('taxAmount'), `a tax difference (${JSON.stringify(report.differences)})`);
    const tax = report.differences.find((d: { field: string }) => d.field === 'taxAmount');
    assert.deepEqual([tax.primary, tax.shadow], [primary.taxAmount, shadow.taxAmount], 'the report says what each ERP computed');
    assert.notEqual(primary.taxAmount, shadow.taxAmount);
    assert.ok((await f.timeline(orderId)).some((e) => e.action === 'erp.shadow-posted'));
    // Lines: same SKU and quantity; Tryton's 10 % and BC's 20 % give other net prices from the same tax-included 19.99.
    assert.deepEqual(report.primarySale.lines, [{ sku: 'TEE-M', quantity: '2', unitPrice: '18.1727', amount: '36.35', taxPercent: '10.00' }]);
    assert.deepEqual(report.shadowSale.lines, [{ sku: 'TEE-M', quantity: '2', unitPrice: '16.6583', amount: '33.32', taxPercent: '20.00' }]);
    const byField = new Map(report.differences.map((d: { field: string; primary: unknown; shadow: unknown }) => [d.field, [d.primary, d.shadow]]));
    assert.deepEqual(byField.get('lines[TEE-M].taxPercent'), ['10.00', '20.00']);
    assert.deepEqual(byField.get('lines[TEE-M].unitPrice'), ['18.1727', '16.6583']);
    assert.ok(!byField.has('lines[TEE-M].quantity'), 'the same quantity');
    // Customer: each ERP matched the person by e-mail; BC's record carries another name.
    assert.equal(report.primarySale.customer.email, customer.email);
    assert.equal(report.shadowSale.customer.email, customer.email);
    assert.deepEqual(byField.get('customer.name'), ['Grace Hopper', 'G. Hopper (migrated)']);
    assert.ok(!byField.has('customer.email'));

    const bad = await f.api('GET', '/v1/ops/erp-shadow?outcome=odd');
    assert.equal(bad.status, 400);
    assert.match(String(bad.headers.get('content-type')), /application\/problem\+json/);
  });

  test('a cancelled order has its shadow sale cancelled too: no live sale left in either ERP', async () => {
    const orderId = await f.submit(order({ shippingAddress: TORONTO }));
    await f.waitForStatus(orderId, 'released', 120_000);
    await shadowReport(orderId);
    assert.ok(await bcReader.getSale(orderId), 'the shadow sales order exists');
    const cancellation = await f.cancelAndWait(orderId);
    assert.equal(cancellation.status, 'completed', JSON.stringify(cancellation));
    let report: any;
    await waitFor('the shadow cancel', async () => {
      report = (await f.api('GET', '/v1/ops/erp-shadow?limit=10')).body.items.find((r: { orderId: string }) => r.orderId === orderId);
      return Boolean(report?.shadowSale?.cancel);
    }, 120_000, 200);
    assert.equal(report.shadowSale.cancel.outcome, 'cancelled');
    assert.equal(report.shadowSale.state, 'cancelled');
    assert.equal(await bcReader.getSale(orderId), undefined, 'BC deleted the sales order (how it cancels one that shipped nothing)');
    assert.deepEqual((await trytonSales(orderId)).map((s) => s.state), ['processing'], "Tryton's confirmed sale stays, its documents cancelled");
    assert.equal((await trytonReader.getSale(orderId))?.shipmentState, 'exception');
    const entry = (await f.timeline(orderId)).find((e) => e.action === 'erp.shadow-cancelled');
    assert.deepEqual(entry?.detail, { erp: 'cloud', outcome: 'cancelled', state: 'cancelled' });
  });

  test('rules changed and Syncline restarted: an order routed before keeps its ERP for its later steps; the change is audited', async () => {
    const orderId = await f.submit(order({ metadata: { businessUnit: 'outdoor' } }));
    await f.waitForStatus(orderId, 'released', 120_000);
    assert.ok(await bcReader.getSale(orderId));
    // Everything now goes to Tryton; the order routed to BC must not follow.
    await start(`  rules: []\n  default: legacy`);
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed', 120_000);
    assert.equal((await bcShipments(orderId)).length, 1, 'BC recorded the shipment after the restart');
    assert.equal((await trytonSales(orderId)).length, 0, 'nothing went to Tryton');
    const fresh = await f.submit(order({ metadata: { businessUnit: 'outdoor' } }));
    await f.waitForStatus(fresh, 'released', 120_000);
    assert.equal((await trytonSales(fresh)).length, 1, 'a new order follows the new rules');
    const audit = await f.api('GET', '/v1/admin/audit?action=erp_routing.changed');
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    assert.equal(audit.body.items.length, 2, 'the first rules and their change');
    assert.deepEqual(audit.body.items[0].details.routing, { rules: [], default: 'legacy' });
    assert.equal(audit.body.items[0].details.previous.rules[0].erp, 'cloud');
  });
  test('a shadow ERP that is down never fails nor delays the order: released, shipped, completed; the report says failed', async () => {
    await start(FIRST_RULES);
    await bc.close();
    const orderId = await f.submit(order({ shippingAddress: { name: 'Ada Lovelace', line1: '1 King St', city: 'Toronto', region: 'ON', postalCode: 'M5H 1A1', country: 'CA' } }));
    await f.waitForStatus(orderId, 'released', 120_000);
    const [fulfilment] = await f.fulfilments(orderId);
    await f.ship(fulfilment.id);
    await f.waitForStatus(orderId, 'completed', 120_000);
    assert.equal((await trytonSales(orderId)).length, 1);
    let report: any;
    await waitFor('the failed shadow report', async () => {
      report = (await f.api('GET', '/v1/ops/erp-shadow?outcome=failed')).body.items.find((r: { orderId: string }) => r.orderId === orderId);
      return Boolean(report);
    }, 180_000, 500);
    assert.equal(report.shadowErp, 'cloud');
    assert.equal(report.shadowSale, null);
    assert.ok(report.error.code, 'the error code of the last attempt');
  });
});
