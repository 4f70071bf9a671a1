import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call } from './support/orders.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { runUntilDeadLettered } from './support/runtime-dead-letters.ts';
import { startCountingServer, type CountingServer } from './support/counting-server.ts';

/**
 * The ops API over HTTP: queue depth, target state and dead letters (list with filters,
 * show, replay one, replay by filter, discard), with scopes and problem+json errors.
 * The dead letters are real: jobs run by a worker with the test handlers.
 */
describe('ops API', () => {
  let database: TestDatabase;
  let server: TestServer;
  let erp: CountingServer;
  let read: string;
  let write: string;
  // failed_at of batch one < middle <= failed_at of batch two.
  let middle: string;

  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
    erp = await startCountingServer();
    // A permanent refusal whose response carries a credential, to see the excerpt redacted.
    erp.respondWith(422, { 'set-cookie': 'session=s3cret' });
    await runUntilDeadLettered(
      database.url,
      [
        ...[1, 2, 3].map((n) => ({ type: 'test.needs-fix', payload: { n }, jobKey: `map-${n}`, correlationId: `corr-map-${n}` })),
        ...[1, 2].map((n) => ({ type: 'test.http', payload: { url: erp.url }, target: 'erp:refuses', jobKey: `erp-${n}`, correlationId: `corr-erp-${n}` })),
      ],
      { 'erp:refuses': { ratePerSecond: 5, maxConcurrency: 2 } },
    );
    middle = (await database.db.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]!.at.toISOString();
    await runUntilDeadLettered(database.url, [{ type: 'test.needs-fix', payload: { n: 4 }, jobKey: 'map-4', correlationId: 'corr-map-4', lane: 'critical' }]);
    server = await startTestServer(database.url);
    read = await server.token('ops:read');
    write = await server.token('ops:write');
  });
  after(async () => {
    await server?.close();
    await erp?.close();
    await database?.drop();
  });

  const get = (path: string, token = read) => call(server.baseUrl, 'GET', path, { token });
  const post = (path: string, body?: unknown, token = write) => call(server.baseUrl, 'POST', path, { token, ...(body === undefined ? {} : { body }) });
  const list = async (query: string) => {
    const response = await get(`/v1/ops/dead-letters${query}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as { items: { id: string; jobKey: string; [k: string]: unknown }[]; next: string | null };
  };
  const keysOf = (page: { items: { jobKey: string }[] }) => page.items.map((d) => d.jobKey).sort();
  const idOf = async (jobKey: string) => (await database.db.query<{ id: string }>('SELECT id FROM runtime_dead_letter WHERE job_key = $1', [jobKey])).rows[0]!.id;

  test('scopes: no token is 401, a token without ops:read is 403, reading needs ops:read and changing needs ops:write', async () => {
    const anonymous = await call(server.baseUrl, 'GET', '/v1/ops/queues');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate')!, /^Bearer/);
    const orders = await server.token('orders:read orders:write');
    for (const path of ['/v1/ops/queues', '/v1/ops/targets', '/v1/ops/dead-letters', `/v1/ops/dead-letters/${await idOf('map-1')}`]) {
      const response = await get(path, orders);
      assert.equal(response.status, 403, path);
      assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(response.body.requiredScope, 'ops:read');
    }
    const id = await idOf('map-1');
    for (const [path, body] of [
      [`/v1/ops/dead-letters/${id}/replay`, undefined],
      ['/v1/ops/dead-letters/replay', { type: 'test.needs-fix' }],
      [`/v1/ops/dead-letters/${id}/discard`, { reason: 'not needed' }],
    ] as const) {
      const response = await post(path, body, read);
      assert.equal(response.status, 403, path);
      assert.equal(response.body.requiredScope, 'ops:write');
    }
    assert.equal((await get('/v1/ops/dead-letters', write)).status, 403, 'ops:write does not imply ops:read');
    assert.equal((await database.db.query("SELECT 1 FROM runtime_dead_letter WHERE status <> 'open'")).rowCount, 0, 'refused requests changed nothing');
    assert.equal((await database.db.query('SELECT 1 FROM runtime_ops_audit')).rowCount, 0);
  });

  test('GET /v1/ops/queues: depth and oldest due age per lane, type and target', async () => {
    await enqueue(database.db, [
      { type: 'test.idle', lane: 'bulk', payload: {}, target: 'erp:queued', correlationId: 'corr-q1', runAt: new Date(Date.now() - 60_000) },
      { type: 'test.idle', lane: 'bulk', payload: {}, correlationId: 'corr-q2' },
      { type: 'test.later', lane: 'critical', payload: {}, correlationId: 'corr-q3', runAt: new Date(Date.now() + 3_600_000) },
    ]);
    try {
      const response = await get('/v1/ops/queues');
      assert.equal(response.status, 200);
      const { lanes, types, targets } = response.body;
      assert.deepEqual(lanes.map((l: { key: string }) => l.key), ['critical', 'normal', 'bulk'], 'every lane, empty ones too');
      const lane = (key: string) => lanes.find((l: { key: string }) => l.key === key);
      assert.deepEqual({ ...lane('bulk'), oldestAgeSeconds: undefined }, { key: 'bulk', waiting: 2, running: 0, due: 2, oldestAgeSeconds: undefined });
      assert.ok(lane('bulk').oldestAgeSeconds >= 59 && lane('bulk').oldestAgeSeconds < 120, `oldest bulk job waited ${lane('bulk').oldestAgeSeconds} s`);
      assert.deepEqual(lane('critical'), { key: 'critical', waiting: 1, running: 0, due: 0, oldestAgeSeconds: 0 }, 'a job due later waits but is not due');
      assert.deepEqual(lane('normal'), { key: 'normal', waiting: 0, running: 0, due: 0, oldestAgeSeconds: 0 });
      assert.equal(types.find((t: { key: string }) => t.key === 'test.idle').waiting, 2);
      assert.equal(targets.find((t: { key: string }) => t.key === 'erp:queued').waiting, 1);
      assert.equal(targets.find((t: { key: string }) => t.key === '(none)').waiting, 2);
      assert.equal((await get('/v1/ops/queues?lane=bulk')).status, 400, 'unknown query parameters are refused');
    } finally {
      await database.db.query("DELETE FROM runtime_job WHERE type IN ('test.idle', 'test.later')");
    }
  });

  test('GET /v1/ops/targets: policy, rate-limit usage, concurrency and breaker state', async () => {
    const response = await get('/v1/ops/targets');
    assert.equal(response.status, 200);
    const target = response.body.items.find((t: { name: string }) => t.name === 'erp:refuses');
    assert.ok(target, JSON.stringify(response.body));
    assert.equal(target.breaker.state, 'closed', 'refused payloads prove the target is up: they do not open its breaker');
    assert.equal(target.breaker.consecutiveFailures, 0);
    assert.equal(target.rateLimit.perSecond, 5);
    assert.equal(typeof target.rateLimit.callsLastSecond, 'number');
    assert.deepEqual(target.concurrency, { cap: 2, inFlight: 0 });
    assert.deepEqual(target.jobs, { running: 0, waiting: 0 });
    assert.equal(target.policy.maxConcurrency, 2);
    assert.equal((await get('/v1/ops/targets?x=1')).status, 400);
  });

  test('GET /v1/ops/dead-letters: each filter narrows, newest first, paged', async () => {
    const all = await list('');
    assert.deepEqual(keysOf(all), ['erp-1', 'erp-2', 'map-1', 'map-2', 'map-3', 'map-4']);
    assert.deepEqual(all.items.map((d) => d.id), all.items.map((d) => d.id).sort().reverse(), 'newest first');
    assert.deepEqual(keysOf(await list('?type=test.needs-fix')), ['map-1', 'map-2', 'map-3', 'map-4']);
    assert.deepEqual(keysOf(await list('?target=erp%3Arefuses')), ['erp-1', 'erp-2']);
    assert.deepEqual(keysOf(await list('?reason=no%20erp%20ITEM%20mapping')), ['map-1', 'map-2', 'map-3', 'map-4'], 'reason: case-insensitive substring');
    assert.deepEqual(keysOf(await list('?reason=TARGET_HTTP_422')), ['erp-1', 'erp-2'], 'reason also matches the error code');
    assert.deepEqual(keysOf(await list(`?since=${encodeURIComponent(middle)}`)), ['map-4']);
    assert.deepEqual(keysOf(await list(`?until=${encodeURIComponent(middle)}&type=test.needs-fix`)), ['map-1', 'map-2', 'map-3']);
    assert.deepEqual(keysOf(await list('?status=discarded')), []);
    assert.deepEqual(keysOf(await list('?type=test.needs-fix&target=erp%3Arefuses')), [], 'filters combine');

    const first = await list('?limit=4');
    assert.equal(first.items.length, 4);
    assert.equal(first.next, first.items[3]!.id);
    const second = await list(`?limit=4&before=${first.next}`);
    assert.equal(second.items.length, 2);
    assert.equal(second.next, null);
    assert.deepEqual([...keysOf(first), ...keysOf(second)].sort(), keysOf(all));
  });

  test('bad filters are 400 problem+json naming each parameter', async () => {
    for (const [query, parameter] of [
      ['?since=yesterday', 'since'],
      ['?until=2026-01-01', 'until'],
      ['?status=lost', 'status'],
      ['?limit=0', 'limit'],
      ['?limit=501', 'limit'],
      ['?before=42', 'before'],
      ['?colour=red', 'colour'],
    ]) {
      const response = await get(`/v1/ops/dead-letters${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(response.body.type, /invalid-query$/);
      assert.deepEqual(response.body.errors.map((e: { parameter: string }) => e.parameter), [parameter], query);
    }
  });

  test('GET /v1/ops/dead-letters/{id}: reason, class and code, correlation id, remediation, redacted excerpt; unknown ids are 404', async () => {
    const mapping = (await get(`/v1/ops/dead-letters/${await idOf('map-1')}`)).body;
    assert.equal(mapping.status, 'open');
    assert.equal(mapping.type, 'test.needs-fix');
    assert.equal(mapping.errorClass, 'permanent');
    assert.equal(mapping.errorCode, 'MAPPING_FAILED');
    assert.equal(mapping.reason, 'Permanent failure on attempt 1: SKU "X-1" has no ERP item mapping');
    assert.equal(mapping.remediation, 'Add the ERP item mapping for SKU X-1, then replay.');
    assert.equal(mapping.correlationId, 'corr-map-1');
    assert.equal(mapping.attempts, 1);
    assert.deepEqual(mapping.payload, { n: 1 });
    assert.deepEqual(mapping.audit, []);

    const refused = (await get(`/v1/ops/dead-letters/${await idOf('erp-1')}`)).body;
    assert.equal(refused.target, 'erp:refuses');
    assert.equal(refused.errorCode, 'TARGET_HTTP_422');
    assert.equal(refused.attempts, 1, 'a permanent refusal is not retried');
    assert.match(refused.remediation, /erp:refuses refused the request as invalid/);
    assert.equal(refused.excerpt.response.status, 422);
    assert.equal(refused.excerpt.response.headers['set-cookie'], '[redacted]');
    assert.equal(refused.excerpt.request.url, erp.url);
    assert.ok(!JSON.stringify(refused).includes('s3cret'));

    for (const id of ['dlq_01jd0000000000000000000000', 'not-an-id']) {
      const missing = await get(`/v1/ops/dead-letters/${id}`);
      assert.equal(missing.status, 404, id);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(missing.body.type, /not-found$/);
      assert.match(missing.body.detail, new RegExp(id));
    }
  });

  test('POST replay by id queues the job again once, audited; unknown is 404, already replayed is 409', async () => {
    const id = await idOf('map-1');
    const replayed = await post(`/v1/ops/dead-letters/${id}/replay`);
    assert.equal(replayed.status, 202, JSON.stringify(replayed.body));
    assert.equal(replayed.body.status, 'replayed');
    const job = await database.db.query<{ job_key: string; correlation_id: string; replay_of: string; type: string }>(
      'SELECT job_key, correlation_id, replay_of, type FROM runtime_job WHERE id = $1',
      [replayed.body.jobId],
    );
    assert.deepEqual(job.rows[0], { job_key: 'map-1', correlation_id: 'corr-map-1', replay_of: id, type: 'test.needs-fix' });

    const detail = (await get(`/v1/ops/dead-letters/${id}`)).body;
    assert.equal(detail.status, 'replayed');
    assert.equal(detail.resolvedBy, 'client:test-admin');
    assert.equal(detail.replayJobId, replayed.body.jobId);
    assert.equal(detail.audit.length, 1);
    assert.deepEqual({ actor: detail.audit[0].actor, action: detail.audit[0].action, detail: detail.audit[0].detail }, {
      actor: 'client:test-admin',
      action: 'replay',
      detail: { jobId: replayed.body.jobId },
    });
    assert.ok(Math.abs(Date.parse(detail.audit[0].at) - Date.now()) < 60_000);

    const again = await post(`/v1/ops/dead-letters/${id}/replay`);
    assert.equal(again.status, 409);
    assert.match(again.body.type, /dead-letter-not-open$/);
    assert.equal(again.body.currentStatus, 'replayed');
    assert.equal((await database.db.query('SELECT 1 FROM runtime_job WHERE job_key = $1', ['map-1'])).rowCount, 1, 'still one job');
    assert.equal((await post('/v1/ops/dead-letters/dlq_01jd0000000000000000000000/replay')).status, 404);
    assert.equal((await post(`/v1/ops/dead-letters/${await idOf('map-2')}/replay`, { force: true })).status, 422, 'the body, if any, is empty');
  });

  test('POST replay by filter returns how many it replayed; a filter is required and checked', async () => {
    const empty = await post('/v1/ops/dead-letters/replay', {});
    assert.equal(empty.status, 422);
    assert.match(empty.body.type, /validation-failed$/);
    assert.match(JSON.stringify(empty.body.errors), /name at least one of type, target, reason, since, until/);
    const bad = await post('/v1/ops/dead-letters/replay', { since: 'last week', colour: 'red' });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort(), ['/colour', '/since']);
    assert.equal((await post('/v1/ops/dead-letters/replay', { type: 'test.needs-fix', limit: 0 })).status, 422);

    // map-1 was replayed above: only the open ones before `middle` match.
    const done = await post('/v1/ops/dead-letters/replay', { type: 'test.needs-fix', until: middle });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.replayed, 2);
    assert.deepEqual(done.body.items.map((i: { id: string }) => i.id).sort(), [await idOf('map-2'), await idOf('map-3')].sort());
    assert.deepEqual(keysOf(await list('?status=replayed')), ['map-1', 'map-2', 'map-3']);
    assert.deepEqual(keysOf(await list('?status=open&type=test.needs-fix')), ['map-4'], 'the one after `until` is untouched');
    const nothing = await post('/v1/ops/dead-letters/replay', { type: 'test.needs-fix', until: middle });
    assert.deepEqual(nothing.body, { replayed: 0, items: [] });
  });

  test('POST discard closes a dead letter with a reason, audited who, when and what', async () => {
    const id = await idOf('erp-1');
    assert.equal((await post(`/v1/ops/dead-letters/${id}/discard`, {})).status, 422, 'a reason is required');
    assert.equal((await post(`/v1/ops/dead-letters/${id}/discard`, { reason: 'x' })).status, 422, 'and says something');
    const discarded = await post(`/v1/ops/dead-letters/${id}/discard`, { reason: 'order cancelled in the ERP by hand' });
    assert.equal(discarded.status, 200);
    assert.deepEqual(discarded.body, { id, status: 'discarded' });
    const detail = (await get(`/v1/ops/dead-letters/${id}`)).body;
    assert.equal(detail.status, 'discarded');
    assert.equal(detail.resolvedBy, 'client:test-admin');
    assert.equal(detail.resolutionNote, 'order cancelled in the ERP by hand');
    assert.deepEqual(detail.audit.map((a: { actor: string; action: string; detail: unknown }) => [a.actor, a.action, a.detail]), [
      ['client:test-admin', 'discard', { reason: 'order cancelled in the ERP by hand' }],
    ]);
    assert.equal((await database.db.query('SELECT 1 FROM runtime_job WHERE job_key = $1', ['erp-1'])).rowCount, 0, 'nothing runs');
    assert.equal((await post(`/v1/ops/dead-letters/${id}/discard`, { reason: 'again, twice' })).status, 409);
    assert.equal((await post(`/v1/ops/dead-letters/${id}/replay`)).status, 409, 'a discarded letter cannot be replayed');
    assert.equal((await post('/v1/ops/dead-letters/dlq_01jd0000000000000000000000/discard', { reason: 'no such letter' })).status, 404);
    assert.deepEqual(keysOf(await list('?status=discarded')), ['erp-1']);
  });
});
