import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import { wmsSignatureHeader, type WireShipmentEvent } from '../src/connectors/wms/wms-wire.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { HOSTILE_STRINGS, hostileRawBody, mutations, SchemaArbitraries, type JsonSchema } from './support/json-schema-arbitrary.ts';

// A configured WMS (never reached): its webhooks are verified with this secret.
const WMS = { SYNCLINE_WMS_URL: 'http://127.0.0.1:9', SYNCLINE_WMS_WEBHOOK_SECRET: 'bad-input-wms-webhook-secret' };

/**
 * Property-based fuzzing of every write route the server serves (taken from the
 * server's own route table, so a new route is fuzzed without touching this file),
 * with bodies generated from the route's schema in /openapi.json and then mutated,
 * generic hostile bodies where a route has no schema, and hostile headers, on the
 * real PostgreSQL. Every answer must be below 500 and reveal no stack trace, SQL
 * or file path. FUZZ_SEED reproduces a run; FUZZ_RUNS sets the runs per route.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 50);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let database: TestDatabase;
let server: TestServer;
let adminToken: string;
let readOnlyToken: string;
let openapi: { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>; components: { schemas: Record<string, JsonSchema> } };
const seeded: string[] = ['WH-EAST', 'TEE-M-BLK', 'web', 'default', 'shopify-us'];

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url, WMS);
  adminToken = await server.token();
  readOnlyToken = await server.token('orders:read');
  openapi = (await call(server.baseUrl, 'GET', '/openapi.json')).body;
  // Real rows for the routes that act on one: an order, a location with stock, a reservation, a snapshot.
  // The location code and SKU are the schemas' examples, so generated bodies find them.
  const key = () => ({ 'idempotency-key': randomUUID() });
  const order = await submitOrder(server.baseUrl, adminToken, sampleOrder());
  await call(server.baseUrl, 'POST', '/v1/locations', { token: adminToken, body: { code: 'WH-EAST', name: 'Fuzz', kind: 'warehouse' }, headers: key() });
  await call(server.baseUrl, 'POST', '/v1/inventory/movements', { token: adminToken, body: { movements: [{ type: 'receipt', sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 1000 }] }, headers: key() });
  const reservation = await call(server.baseUrl, 'POST', '/v1/inventory/reservations', { token: adminToken, body: { reference: 'fuzz', channel: 'web', lines: [{ sku: 'TEE-M-BLK', quantity: 1 }] }, headers: key() });
  const snapshot = await call(server.baseUrl, 'POST', '/v1/inventory/snapshots', { token: adminToken, body: { source: 'erp', lines: [{ sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 999 }] }, headers: key() });
  for (const created of [order, reservation, snapshot]) {
    assert.ok(created.status < 300, JSON.stringify(created.body));
    seeded.push(created.body.id);
  }
});
after(async () => {
  await server?.close();
  await database?.drop();
});

/** What no answer may contain: stack frames, SQL or its errors, source paths. */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\bat [^\n"]*:\d+:\d+/],
  ['SQL', /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/],
  ['a database error', /\brelation "|syntax error|violates (unique|foreign key|check|not-null) constraint|invalid byte sequence|unsupported Unicode escape/i],
  ['a source path', /node_modules|\.ts:\d+|\/src\/(api|domain|store)\//],
];

interface Plan {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

async function send(plan: Plan): Promise<{ status: number; text: string }> {
  const response = await request(server.baseUrl + plan.path, { method: plan.method as 'POST', headers: plan.headers, body: plan.body, headersTimeout: 30_000, bodyTimeout: 30_000 });
  return { status: response.statusCode, text: await response.body.text() };
}

function check(plan: Plan, answer: { status: number; text: string }): void {
  const shown = () => `${plan.method} ${plan.path.slice(0, 200)} headers=${JSON.stringify(plan.headers).slice(0, 300)} body=${JSON.stringify((plan.body ?? '').slice(0, 300))} -> ${answer.status} ${answer.text.slice(0, 500)}`;
  assert.ok(answer.status < 500, `5xx: ${shown()}`);
  for (const [what, pattern] of LEAKS) assert.ok(!pattern.test(answer.text), `the answer reveals ${what}: ${shown()}`);
}

/** Known-good values per path parameter name (ids of the rows made in before()); others get every seeded value. */
const goodParams = (): Record<string, string[]> => ({
  id: seeded.slice(5),
  connection: ['default'],
  channel: ['web', 'shopify-us'],
  sku: ['TEE-M-BLK'],
  ref: ['WH-EAST'],
  email: ['ada@example.com'],
});

/** A path parameter: mostly a value that finds something, so the request gets past the lookup. */
function param(name: string): fc.Arbitrary<string> {
  const good = goodParams()[name] ?? seeded;
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.constantFrom(...good) },
      { weight: 1, arbitrary: fc.constantFrom(...seeded) },
      { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length > 0)) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }) },
    )
    .map((value) => encodeURIComponent(value.isWellFormed() ? value : value.toWellFormed()));
}

/** Header values must be sendable at all (undici refuses CR, LF and NUL): hostile within that. */
const hostileHeader = fc.constantFrom('', ' ', 'a'.repeat(300), 'a'.repeat(8000), '../../x', '%00', '0', '-1', 'null', '{}', '\t', 'é'.normalize('NFD').replace(/[^\x20-\x7e]/g, '?'));
const headers = (kind: 'json' | 'form') =>
  fc.record(
    {
      authorization: fc.oneof(
        { weight: 8, arbitrary: fc.constant('admin') },
        { weight: 1, arbitrary: fc.constant('read-only') },
        { weight: 1, arbitrary: fc.constant('none') },
        { weight: 1, arbitrary: fc.constantFrom('Bearer x.y.z', 'Bearer ', 'Basic Og==', 'Bearer ' + 'a'.repeat(5000), 'bearer\tx', 'Digest x') },
      ),
      'content-type': fc.oneof(
        { weight: 8, arbitrary: fc.constant(kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded') },
        { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-16', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json', '', 'none') },
      ),
      'idempotency-key': fc.oneof({ weight: 8, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: hostileHeader }),
      'x-correlation-id': fc.oneof({ weight: 6, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: hostileHeader }),
      traceparent: fc.oneof(
        { weight: 6, arbitrary: fc.constant('none') },
        { weight: 1, arbitrary: fc.constantFrom('00-zz-zz-01', 'ff-' + '0'.repeat(32) + '-' + '0'.repeat(16) + '-01', '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01', 'a'.repeat(500)) },
      ),
    },
    { requiredKeys: ['authorization', 'content-type', 'idempotency-key', 'x-correlation-id', 'traceparent'] },
  );

function headerValues(chosen: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(chosen)) {
    if (value === 'none') continue;
    if (name === 'authorization') {
      if (value === 'admin') out.authorization = `Bearer ${adminToken}`;
      else if (value === 'read-only') out.authorization = `Bearer ${readOnlyToken}`;
      else out.authorization = value;
    } else out[name] = value;
  }
  return out;
}

/**
 * Known-good payloads for routes whose document declares no body schema (payloads an
 * external system sends): mutated like schema-generated bodies. Other such routes get
 * only the generic hostile bodies.
 */
function examplePayloads(): Record<string, unknown> {
  const shipment: WireShipmentEvent = {
    id: 'whd_1',
    topic: 'shipment.created',
    createdAt: new Date().toISOString(),
    data: {
      shipment: { id: 'shp_1', fulfillmentOrderId: 'fo_1', orderId: seeded[5]!, locationId: 'WH-EAST', carrier: 'ups', trackingNumbers: ['1Z'], lines: [{ lineNumber: 1, sku: 'TEE-M', quantity: 1 }], shippedAt: new Date().toISOString() },
      fulfillmentOrder: { id: 'fo_1', orderId: seeded[5]!, locationId: 'WH-EAST', status: 'shipped', shipTo: {}, customer: null, lines: [], shipmentIds: ['shp_1'], createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() },
    },
  };
  return { 'POST /webhooks/wms/:connection': shipment };
}

/** The route's body arbitrary: from its schema when the document has one, else generic. */
function bodies(route: string, method: string, arbitraries: SchemaArbitraries): { kind: 'json' | 'form'; fromSchema: boolean; body: fc.Arbitrary<string> } {
  const operation = openapi.paths[route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[method.toLowerCase()];
  const content = operation?.requestBody?.content ?? {};
  const json = content['application/json']?.schema;
  const form = content['application/x-www-form-urlencoded']?.schema;
  if (form && !json) {
    const encode = (value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? new URLSearchParams(Object.entries(value).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')])).toString()
        : String(value);
    return { kind: 'form', fromSchema: true, body: fc.oneof(arbitraries.valid(form).map(encode), arbitraries.mutated(form).map(encode), hostileRawBody) };
  }
  // A free-form object schema says nothing about fields: the generic generator does better.
  const freeForm = json && json.$ref === undefined && json.properties === undefined && json.oneOf === undefined && json.anyOf === undefined;
  if (json && !freeForm) {
    return {
      kind: 'json',
      fromSchema: true,
      body: fc.oneof(
        { weight: 1, arbitrary: arbitraries.valid(json).map((v) => JSON.stringify(v) ?? 'null') },
        { weight: 4, arbitrary: arbitraries.mutated(json).map((v) => JSON.stringify(v) ?? 'null') },
        { weight: 1, arbitrary: hostileRawBody },
      ),
    };
  }
  const example = examplePayloads()[`${method} ${route}`];
  if (example !== undefined) {
    return { kind: 'json', fromSchema: false, body: fc.oneof({ weight: 4, arbitrary: mutations(fc.constant(example)).map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: hostileRawBody }) };
  }
  return { kind: 'json', fromSchema: false, body: hostileRawBody };
}

test('every write route answers hostile requests with a 4xx (or success), never a 5xx, a stack trace or SQL', { timeout: 240_000 }, async (t) => {
  t.diagnostic(`fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED}), ${RUNS_PER_ROUTE} runs per route`);
  const arbitraries = new SchemaArbitraries(openapi.components.schemas);
  const routes = server.running.server!.routeTable.list().flatMap((r) => r.methods.filter((m) => WRITE_METHODS.has(m)).map((method) => ({ url: r.url, method })));
  assert.ok(routes.length >= 10, `expected the server's write routes, found ${routes.length}`);
  const withSchema = routes.filter((r) => bodies(r.url, r.method, arbitraries).fromSchema);
  t.diagnostic(`${routes.length} write routes, ${withSchema.length} with a request body schema`);
  const statuses = new Map<string, Set<number>>();

  for (const route of routes) {
    const { kind, fromSchema, body } = bodies(route.url, route.method, arbitraries);
    const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    const plan = fc.record({ params: fc.tuple(...names.map(param)), headers: headers(kind), body, sign: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) });
    await fc.assert(
      fc.asyncProperty(plan, async ({ params, headers: chosen, body: text, sign }) => {
        let i = 0;
        const path = route.url.replace(/:([A-Za-z0-9_]+)/g, () => params[i++]!);
        const sent = headerValues(chosen);
        // Webhooks are verified before parsing: sign most of them so bodies reach the mapping.
        if (sign && route.url.startsWith('/webhooks/wms/')) {
          sent['wms-signature'] = wmsSignatureHeader(WMS.SYNCLINE_WMS_WEBHOOK_SECRET, Math.floor(Date.now() / 1000), text);
          sent['wms-topic'] = 'shipment.created';
        }
        const request: Plan = { method: route.method, path, headers: sent, body: route.method === 'DELETE' && text === '' ? undefined : text };
        const answer = await send(request);
        check(request, answer);
        const key = `${route.method} ${route.url}`;
        statuses.set(key, (statuses.get(key) ?? new Set()).add(answer.status));
      }),
      // Routes without a schema answer fast and hide more: they get more runs.
      { seed: SEED, numRuns: fromSchema ? RUNS_PER_ROUTE : RUNS_PER_ROUTE * 3, endOnFailure: true },
    );
  }
  // Every route was driven, and bodies did reach past authentication for each of them.
  for (const route of routes) {
    const seen = statuses.get(`${route.method} ${route.url}`);
    assert.ok(seen && seen.size > 0, `${route.method} ${route.url} was not exercised`);
  }
  t.diagnostic([...statuses].map(([route, seen]) => `${route}: ${[...seen].sort().join(',')}`).join('\n'));
});
