import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createClient } from '../src/domain/clients/client.service.ts';
import { buildServer } from '../src/api/server.ts';
import { createApiContext } from '../src/syncline.ts';
import { operation, specOf } from '../src/api/route-kit.ts';
import { authorize } from '../src/api/auth/authorize.ts';
import type { TokenService } from '../src/api/auth/tokens.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, startTestServer, testEnvironment, type TestServer } from './support/server.ts';

/**
 * The contract matches the code: the routes a server serves and the operations of
 * its /openapi.json are the same set, every operation is complete, the scope each
 * route enforces is the one documented, and a standard OpenAPI 3.1 linter finds
 * nothing. The served routes are collected independently of the document
 * generator: every fastify instance announces itself on the `fastify.initialization`
 * diagnostics channel before any route is added, and an onRoute hook records them.
 */

interface Served {
  method: string;
  url: string;
  schema: FastifySchema | undefined;
}

const servedBy = new Map<FastifyInstance, Served[]>();
const recordRoutes = (message: unknown) => {
  const { fastify } = message as { fastify: FastifyInstance };
  const routes: Served[] = [];
  servedBy.set(fastify, routes);
  fastify.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) routes.push({ method: String(method).toUpperCase(), url: route.url, schema: route.schema });
  });
};
diagnostics.subscribe('fastify.initialization', recordRoutes);

// The reference itself (document and UI) is not part of the API it describes.
const REFERENCE_ROUTES = new Set(['/openapi.json', '/asyncapi.json', '/docs', '/docs/assets/:file']);
// Nor is the operations console (its page and its session-cookie JSON routes, ADR 0025): a client of Syncline, like the CLI.
const isConsoleRoute = (url: string) => url === '/console' || url.startsWith('/console/');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/** `/v1/orders/:id` as an OpenAPI path template: `/v1/orders/{id}`. */
const template = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function servedOperations(app: FastifyInstance): Set<string> {
  const routes = servedBy.get(app);
  assert.ok(routes, 'the server was not announced on the diagnostics channel');
  return new Set(routes.filter((r) => r.method !== 'HEAD' && !REFERENCE_ROUTES.has(r.url) && !isConsoleRoute(r.url)).map((r) => `${r.method} ${template(r.url)}`));
}

type Json = Record<string, any>;

function documentedOperations(doc: Json): Map<string, Json> {
  const operations = new Map<string, Json>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) if (item[method]) operations.set(`${method.toUpperCase()} ${path}`, item[method]);
  }
  return operations;
}

const isOauth = (op: Json) => Array.isArray(op.security) && op.security.some((s: Json) => 'oauth2' in s);
const PROBLEM_REF = '#/components/schemas/Problem';

/**
 * Everything that separates the document from the served routes, one line each,
 * naming the operation and what it lacks. `scopes`: the scope each served route
 * enforces (learned by calling it), by operation key.
 */
function contractFindings(doc: Json, served: Set<string>, scopes: Map<string, string | undefined>): string[] {
  const findings: string[] = [];
  const documented = documentedOperations(doc);
  for (const key of served) if (!documented.has(key)) findings.push(`${key}: served but has no operation in the document`);
  for (const key of documented.keys()) if (!served.has(key)) findings.push(`${key}: documented but not served`);
  for (const [key, op] of documented) {
    if (!served.has(key)) continue;
    const lacks = (what: string) => findings.push(`${key}: lacks ${what}`);
    if (!op.operationId) lacks('an operationId');
    if (!Array.isArray(op.tags) || op.tags.length === 0) lacks('tags');
    if (!op.summary) lacks('a summary');
    if (!Array.isArray(op.security)) lacks('security (use [] for a public operation)');
    const scope = scopes.get(key);
    const documentedScopes = (op.security ?? []).flatMap((s: Json) => s.oauth2 ?? []);
    if (scope && !(isOauth(op) && documentedScopes.includes(scope))) lacks(`security [{ oauth2: ["${scope}"] }]: the route requires that scope`);
    if (!scope && isOauth(op)) findings.push(`${key}: documents oauth2 security but the route answers without a token scope check`);
    const responses: Json = op.responses ?? {};
    const success = Object.keys(responses).filter((s) => /^2\d\d$/.test(s)).sort()[0];
    if (!success) lacks('a success (2xx) response');
    else if (responses[success].content && !Object.values(responses[success].content as Json).some((m: Json) => m.example !== undefined || m.examples)) {
      lacks(`an example of its ${success} response`);
    }
    for (const [mediaType, media] of Object.entries((op.requestBody?.content ?? {}) as Json)) {
      if (media.example === undefined && !media.examples) lacks(`a request example (${mediaType})`);
    }
    const needed: Array<[string, string[]]> = [
      ['429', ['Retry-After', 'RateLimit-Policy', 'RateLimit']],
      ['503', ['Retry-After']],
      ...(isOauth(op) ? ([['401', []], ['403', []]] as Array<[string, string[]]>) : []),
    ];
    for (const [status, headers] of needed) {
      const response = responses[status];
      if (!response) {
        lacks(`a ${status} response`);
        continue;
      }
      for (const header of headers) if (!response.headers?.[header]) lacks(`the ${header} header on its ${status} response`);
      if (response.content?.['application/problem+json']?.schema?.$ref !== PROBLEM_REF) lacks(`application/problem+json with the Problem schema on its ${status} response`);
    }
    for (const [status, response] of Object.entries(responses) as Array<[string, Json]>) {
      const problem = response.content?.['application/problem+json'];
      if (problem && problem.schema?.$ref !== PROBLEM_REF) lacks(`the Problem schema on its ${status} problem+json response`);
    }
  }
  return findings;
}

/** The scope each served route enforces: called with a token that has no scope, it names the one it needs. */
async function enforcedScopes(baseUrl: string, token: string, served: Set<string>): Promise<Map<string, string | undefined>> {
  const scopes = new Map<string, string | undefined>();
  for (const key of served) {
    const [method, path] = key.split(' ') as [string, string];
    const url = baseUrl + path.replace(/\{[^}]+\}/g, 'probe');
    const hasBody = ['POST', 'PUT', 'PATCH'].includes(method);
    const send = () =>
      fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        body: hasBody ? '{}' : undefined,
      });
    let response = await send();
    // The probe client may meet its rate limit: wait as told, within a deadline.
    for (const deadline = Date.now() + 30_000; response.status === 429 && Date.now() < deadline; response = await send()) {
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, Number(response.headers.get('retry-after')) || 1) * 1000));
    }
    await response.arrayBuffer();
    const challenge = response.headers.get('www-authenticate') ?? '';
    scopes.set(key, response.status === 403 && challenge.includes('insufficient_scope') ? /scope="([^"]+)"/.exec(challenge)?.[1] : undefined);
  }
  return scopes;
}

/** The document's lint problems under Redocly's recommended rules, with examples checked against their schemas. */
async function lint(doc: Json) {
  const config = await createConfig({ extends: ['recommended'], rules: { 'no-invalid-media-type-examples': 'error' } });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
  return problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
}

let database: TestDatabase;
let server: TestServer;
let doc: Json;

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url);
  const response = await fetch(`${server.baseUrl}/openapi.json`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  doc = JSON.parse(text) as Json;
});

after(async () => {
  diagnostics.unsubscribe('fastify.initialization', recordRoutes);
  await server?.close();
  await database?.drop();
});

describe('the OpenAPI document of the running server', () => {
  test('has an operation for every served route and no other, each complete, with the scope the route enforces', async () => {
    const served = servedOperations(server.running.server!);
    assert.ok(served.size >= 40, `only ${served.size} routes were collected`);
    for (const key of ['GET /v1/ops/queues', 'GET /v1/ops/targets', 'GET /v1/ops/dead-letters', 'POST /v1/ops/dead-letters/{id}/discard']) {
      assert.ok(served.has(key), `${key} is served`);
    }
    const probe = await createClient(server.running.db, { name: 'contract probe (no scopes)', scopes: [] });
    const token = await fetchToken(server.baseUrl, { id: probe.clientId, secret: probe.clientSecret });
    const scopes = await enforcedScopes(server.baseUrl, token, served);
    assert.equal(scopes.get('POST /v1/orders'), 'orders:write', 'the probe learns scopes from 403 challenges');
    assert.equal(scopes.get('GET /healthz'), undefined);
    assert.deepEqual(contractFindings(doc, served, scopes), []);
  });

  test('every request example is accepted by the zod schema its route validates with', () => {
    const checked: string[] = [];
    for (const route of servedBy.get(server.running.server!)!) {
      const body = specOf(route.schema)?.body;
      if (!body) continue;
      const parsed = body.schema.safeParse(body.example);
      assert.ok(parsed.success, `${route.method} ${route.url}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
      checked.push(`${route.method} ${route.url}`);
    }
    assert.ok(checked.length >= 15, `only ${checked.length} request examples were checked`);
  });

  test('passes a standard OpenAPI 3.1 linter (Redocly recommended) with no errors and no warnings', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(await lint(doc), []);
  });

  test('problem responses carry an example of each problem type they name', () => {
    const reserve = doc.paths['/v1/inventory/reservations'].post;
    const conflict = reserve.responses['409'].content['application/problem+json'];
    assert.deepEqual(Object.keys(conflict.examples).sort(), ['idempotency-key-in-flight', 'insufficient-stock']);
    assert.equal(conflict.examples['insufficient-stock'].value.type, '/problems/insufficient-stock');
    assert.equal(reserve.requestBody.content['application/json'].schema.$ref, '#/components/schemas/ReservationRequest');
    assert.ok(doc.components.schemas.ReservationRequest, 'named model schemas become components');
  });

  test('a 503 problem carries Retry-After, as the document promises', async () => {
    const { sendProblem } = await import('../src/api/problem.ts');
    const app = (await import('fastify')).default();
    app.get('/unavailable', async (_request, reply) => sendProblem(reply, 'service-unavailable', 'A dependency is unavailable.'));
    const response = await app.inject({ method: 'GET', url: '/unavailable' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.headers['retry-after'], '1');
  });
});

describe('routes added through the kit', () => {
  /** A server built as startSyncline builds it, so that the test can add its own routes before it starts. */
  /** The token service of the last app built. */
  let tokens: TokenService;
  async function buildTestApp(): Promise<FastifyInstance> {
    const config = loadConfig(testEnvironment(database.url));
    const context = await createApiContext(config, database.db, createLogger(config.logLevel));
    tokens = context.tokens;
    const app = await buildServer(context);
    // The registry and the shared counters keep a listener and a timer: stop them with the app.
    app.addHook('onClose', async () => {
      await context.counters.stop();
      await context.access.stop();
    });
    return app;
  }

  test('a deprecated operation answers with Deprecation and Sunset headers and is marked deprecated in the document', async () => {
    const app = await buildTestApp();
    try {
      const legacy = operation({
        operationId: 'legacyPing',
        tags: ['Health'],
        summary: 'Test-only: an old ping',
        auth: 'none',
        responses: { 200: { description: 'Pong.', example: { pong: true } } },
        deprecated: { since: '2026-01-01T00:00:00Z', sunset: '2027-06-30T00:00:00Z', link: '/docs#/Health/health' },
      });
      app.get('/v1/test/legacy-ping', { schema: legacy }, async () => ({ pong: true }));
      await app.ready();
      const response = await app.inject({ method: 'GET', url: '/v1/test/legacy-ping' });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers.deprecation, `@${Date.parse('2026-01-01T00:00:00Z') / 1000}`);
      assert.equal(response.headers.sunset, 'Wed, 30 Jun 2027 00:00:00 GMT');
      assert.equal(response.headers.link, '</docs#/Health/health>; rel="deprecation"');
      const notDeprecated = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(notDeprecated.headers.deprecation, undefined);

      const document = app.swagger() as Json;
      const op = document.paths['/v1/test/legacy-ping'].get;
      assert.equal(op.deprecated, true);
      assert.match(op.description, /Deprecated.*2026-01-01.*2027-06-30/);
      assert.ok(op.responses['200'].headers.Deprecation && op.responses['200'].headers.Sunset, 'the headers are documented');
      assert.equal(document.paths['/healthz'].get.deprecated, undefined);
    } finally {
      await app.close();
    }
  });

  test('a deprecated route without dates, or a route that hands fastify a schema to compile, fails at start-up', async () => {
    const undated = await buildTestApp();
    try {
      assert.throws(() => undated.get('/v1/test/undated', { schema: { deprecated: true } }, async () => ({})), /names no since and sunset dates/);
    } finally {
      await undated.close();
    }
    const compiled = await buildTestApp();
    try {
      compiled.post('/v1/test/ajv', { schema: { body: { type: 'object' } } }, async () => ({}));
      await assert.rejects(async () => {
        await compiled.ready();
      }, /declare request schemas in operation/);
    } finally {
      await compiled.close();
    }
  });

  test('a request arriving while close() drains a slow request gets a service-unavailable problem with Retry-After', async () => {
    const app = await buildTestApp();
    let entered!: () => void;
    const slowEntered = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const slowMayFinish = new Promise<void>((resolve) => (finish = resolve));
    app.get('/v1/test/slow', { schema: { hide: true } }, async () => {
      entered();
      await slowMayFinish;
      return { done: true };
    });
    let closing!: () => void;
    const closeStarted = new Promise<void>((resolve) => (closing = resolve));
    app.addHook('preClose', async () => closing());
    await app.listen({ port: 0, host: '127.0.0.1' });
    // One kept-alive connection: the second request arrives on it while the first is still being answered.
    const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    let closed: Promise<void> | undefined;
    const deadline = <T>(promise: Promise<T>, what: string) =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000).unref())]);
    try {
      socket.write('GET /v1/test/slow HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
      await deadline(slowEntered, 'the slow request to start');
      closed = app.close();
      await deadline(closeStarted, 'close() to start');
      // The turned-away request is answered only after the one in flight (HTTP/1.1 answers in order): wait until the server has read it.
      const secondArrived = new Promise<void>((resolve) => app.server.once('request', () => resolve()));
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
      await deadline(secondArrived, 'the second request to reach the server');
      finish();
      await deadline(ended, 'the server to close the connection');
      await deadline(closed, 'close() to finish');
      const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
      assert.match(first ?? '', /^HTTP\/1\.1 200 /, received);
      assert.match(second ?? '', /^HTTP\/1\.1 503 /, received);
      const [head, body] = second!.split('\r\n\r\n') as [string, string];
      assert.match(head, /^content-type: application\/problem\+json/im);
      assert.match(head, /^retry-after: 1\r?$/im);
      assert.match(head, /^connection: close\r?$/im);
      const problem = JSON.parse(body) as Json;
      assert.equal(problem.type, '/problems/service-unavailable');
      assert.equal(problem.status, 503);
    } finally {
      finish();
      socket.destroy();
      await (closed ?? app.close());
    }
  });

  test('a route is served behind the scope its operation declares, and one that adds authorize() itself is refused at start', async () => {
    const app = await buildTestApp();
    try {
      const spec = (operationId: string) =>
        operation({ operationId, tags: ['Admin'], summary: 'Test-only', auth: 'admin', responses: { 200: { description: 'ok', example: {} } } });
      app.get('/v1/test/declared', { schema: spec('declaredScope') }, async () => ({ reached: true }));
      assert.throws(
        () => app.get('/v1/test/twice', { schema: spec('twiceScope'), preHandler: authorize(tokens, 'admin') }, async () => ({})),
        /GET \/v1\/test\/twice adds authorize\(\) itself/,
      );
      const answer = await app.inject({ method: 'GET', url: '/v1/test/declared' });
      assert.equal(answer.statusCode, 401, 'no token, no answer: the scope came from the operation alone');
    } finally {
      await app.close();
    }
  });

  test('a route declared with bare schema fields appears in the document, and the findings name exactly what it lacks', async () => {
    const app = await buildTestApp();
    try {
      // The shape other modules may use before their routes get a full operation().
      app.get('/v1/test/bare', { schema: { operationId: 'bareRoute', tags: ['Admin'], summary: 'Test-only: a bare route', security: [{ oauth2: ['admin'] }] } }, async () => ({}));
      app.get('/v1/test/undocumented', async () => ({}));
      app.get('/v1/test/hidden', { schema: { hide: true } }, async () => ({}));
      await app.ready();
      const document = app.swagger() as Json;
      const bare = document.paths['/v1/test/bare'].get;
      assert.deepEqual([bare.operationId, bare.tags, bare.summary, bare.security], ['bareRoute', ['Admin'], 'Test-only: a bare route', [{ oauth2: ['admin'] }]]);
      assert.ok(bare.responses['429'] && bare.responses['503'] && bare.responses['401'], 'standard responses are added to bare routes too');

      const served = servedOperations(app);
      const scopes = new Map([...served].map((key) => [key, documentedOperations(document).get(key)?.security?.[0]?.oauth2?.[0] as string | undefined]));
      scopes.set('GET /v1/test/bare', 'admin');
      const findings = contractFindings(document, served, scopes).filter((f) => f.includes('/v1/test/'));
      assert.deepEqual(findings.sort(), [
        'GET /v1/test/bare: lacks a success (2xx) response',
        'GET /v1/test/hidden: served but has no operation in the document',
        'GET /v1/test/undocumented: lacks a summary',
        'GET /v1/test/undocumented: lacks a success (2xx) response',
        'GET /v1/test/undocumented: lacks an operationId',
        'GET /v1/test/undocumented: lacks security (use [] for a public operation)',
        'GET /v1/test/undocumented: lacks tags',
      ].sort());
    } finally {
      await app.close();
    }
  });
});
