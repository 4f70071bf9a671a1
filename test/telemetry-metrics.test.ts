import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';

type Scrape = ReturnType<typeof parsePrometheusTextFormat>;

/** The value of one sample, 0 when absent (a gauge with nothing to report). */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = scrape.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample) return 0;
  return Number(sample.value ?? sample.count);
}

describe('GET /metrics: technical metrics and business KPIs move as orders flow', () => {
  let rig: FlowRig;
  let flows: ReturnType<typeof flowApi>;
  const scrape = async (): Promise<{ text: string; parsed: Scrape }> => {
    const response = await fetch(`${rig.baseUrl}/metrics`, { headers: { authorization: `Bearer ${rig.token}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    return { text, parsed: parsePrometheusTextFormat(text) };
  };

  before(async () => {
    rig = await startFlowRig();
    flows = flowApi(rig);
    await flows.location('WH1', 'warehouse');
    await flows.stock(['TEE-M', 'MUG'].map((sku) => ({ type: 'receipt' as const, sku, location: 'WH1', quantity: 50 })));
  });
  after(async () => rig?.close());

  test('needs ops:read unless SYNCLINE_METRICS_PUBLIC is set', async () => {
    assert.equal((await fetch(`${rig.baseUrl}/metrics`)).status, 401);
    const reader = await (await import('./support/server.ts')).fetchToken(rig.baseUrl, undefined, 'orders:read');
    assert.equal((await fetch(`${rig.baseUrl}/metrics`, { headers: { authorization: `Bearer ${reader}` } })).status, 403);
  });

  test('orders placed, released and shipped move the counters, gauges and latency KPIs', async () => {
    const before = (await scrape()).parsed;
    const released = value(before, 'syncline_orders', { status: 'released' });
    const completed = value(before, 'syncline_orders', { status: 'completed' });

    const first = await flows.submit({ lines: [{ sku: 'TEE-M', quantity: 1, unitPrice: '19.99' }], payments: [{ method: 'card', amount: '19.99', status: 'authorized', reference: 'pi_1' }] });
    const second = await flows.submit({ lines: [{ sku: 'MUG', quantity: 1, unitPrice: '8.50' }], payments: [{ method: 'card', amount: '8.50', status: 'authorized', reference: 'pi_2' }] });
    await flows.waitForStatus(first, 'released');
    await flows.waitForStatus(second, 'released');
    const [fulfilment] = await flows.fulfilments(first);
    await flows.ship(fulfilment.id);
    await flows.waitForStatus(first, 'completed');

    const { text, parsed: after } = await scrape();
    assert.equal(value(after, 'syncline_orders', { status: 'released' }), released + 1);
    assert.equal(value(after, 'syncline_orders', { status: 'completed' }), completed + 1);
    assert.ok(value(after, 'syncline_http_requests_total', { method: 'POST', route: '/v1/orders', status_code: '201' }) >= 2);
    const latency = after.find((f) => f.name === 'syncline_http_request_duration_seconds');
    assert.equal(latency?.type, 'HISTOGRAM');
    // The flow's own job: other job types (a scheduled pull at start) may run meanwhile or not.
    assert.ok(value(after, 'syncline_job_runs_total', { type: 'flow.order-placed', outcome: 'succeeded' }) > value(before, 'syncline_job_runs_total', { type: 'flow.order-placed', outcome: 'succeeded' }));
    assert.ok(value(after, 'syncline_order_latency_samples', { kpi: 'erp_posting' }) >= 2);
    assert.ok(value(after, 'syncline_order_latency_samples', { kpi: 'allocation' }) >= 2);
    assert.ok(value(after, 'syncline_order_latency_samples', { kpi: 'shipment_confirmation' }) >= 1);
    const posting = value(after, 'syncline_order_latency_seconds', { kpi: 'erp_posting', quantile: '0.95' });
    assert.ok(posting > 0 && posting < 60, `ERP posting p95 ${posting} s`);
    for (const lane of ['critical', 'normal', 'bulk']) assert.ok(after.find((f) => f.name === 'syncline_queue_oldest_job_age_seconds')?.metrics.some((m) => m.labels?.lane === lane), lane);
    assert.equal(value(after, 'syncline_target_breaker_state', { target: 'erp', state: 'closed' }), 1);
    assert.ok(value(after, 'syncline_api_client_requests_total', { client_id: 'test-admin' }) >= 2);
    // No personal data: the customer's e-mail, name and phone are in the orders, never in a label.
    // The customer's e-mail, name and phone (as given, or its digits: a metric value may hold "555" by chance).
    for (const secret of ['ada@example.com', 'Lovelace', '555 0100', '5550100']) assert.ok(!text.includes(secret), secret);
  });

  test('stock counted below what is reserved shows as oversold', async () => {
    const before = value((await scrape()).parsed, 'syncline_inventory_oversold_balances');
    const order = await flows.submit({ lines: [{ sku: 'MUG', quantity: 3, unitPrice: '8.50' }], payments: [{ method: 'card', amount: '25.50', status: 'authorized', reference: 'pi_3' }] });
    await flows.waitForStatus(order, 'released');
    await flows.stock([{ type: 'count', sku: 'MUG', location: 'WH1', quantity: 1 }]);
    const after = (await scrape()).parsed;
    assert.equal(value(after, 'syncline_inventory_oversold_balances'), before + 1);
    assert.ok(value(after, 'syncline_inventory_oversold_units') >= 2);
  });
});

describe('GET /metrics with SYNCLINE_METRICS_PUBLIC=true', () => {
  let database: TestDatabase;
  let server: TestServer;
  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url, { SYNCLINE_METRICS_PUBLIC: 'true' });
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('answers without a token, in a format a Prometheus parser reads', async () => {
    const response = await fetch(`${server.baseUrl}/metrics`);
    assert.equal(response.status, 200);
    const parsed = parsePrometheusTextFormat(await response.text());
    assert.ok(parsed.some((f) => f.name === 'syncline_orders'));
    for (const family of parsed) assert.match(family.name, /^syncline_[a-z_]+$/);
  });
});
