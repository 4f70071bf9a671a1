import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment, type ChildServer } from './support/server.ts';
import { call } from './support/orders.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './support/runtime.ts';

/**
 * A permanent failure, end to end across processes: a `syncline worker` dead-letters it at
 * once, an operator reads it and replays it through a separate `syncline api` process, and
 * after the fix is deployed the replay completes. test.needs-fix fails with MAPPING_FAILED
 * (permanent) until test_fix holds 'mapping'.
 */
describe('dead letters across processes', () => {
  let database: TestDatabase;
  let api: ChildServer;
  let worker: WorkerProcess;
  let token: string;
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
    const env = testEnvironment(database.url, { SYNCLINE_WORKER_POLL_MS: '200' });
    [api, worker] = await Promise.all([spawnSyncline(['api'], env), spawnWorker(env)]);
    token = await fetchToken(api.baseUrl, undefined, 'ops:read ops:write');
  });
  after(async () => {
    for (const child of [api?.child, worker?.child]) if (child && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([api?.exited, worker?.exited]);
    await database?.drop();
  });

  const open = async (jobKey: string) =>
    (await database.db.query<{ id: string }>("SELECT id FROM runtime_dead_letter WHERE job_key = $1 AND status = 'open'", [jobKey])).rows.map((r) => r.id);
  const effects = async (keys: string[]) => (await database.db.query('SELECT 1 FROM test_effect WHERE job_key = ANY($1::text[])', [keys])).rowCount;

  test('a permanent error dead-letters on attempt 1 with its reason; after the fix, replays over the ops API complete it', async () => {
    const keys = ['order-1', 'order-2', 'order-3'];
    await enqueue(
      database.db,
      keys.map((key) => ({ type: 'test.needs-fix', payload: { sku: 'X-1' }, jobKey: key, correlationId: `corr-${key}`, orderingKey: `ord:${key}` })),
    );
    await waitFor('three dead letters', async () => (await database.db.query("SELECT 1 FROM runtime_dead_letter WHERE status = 'open'")).rowCount === 3, 15_000);
    assert.equal((await database.db.query('SELECT 1 FROM runtime_job')).rowCount, 0, 'no retry was scheduled');

    const [first] = await open('order-1');
    const shown = await call(api.baseUrl, 'GET', `/v1/ops/dead-letters/${first}`, { token });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.attempts, 1, 'dead-lettered at once, not after retries');
    assert.equal(shown.body.errorClass, 'permanent');
    assert.equal(shown.body.errorCode, 'MAPPING_FAILED');
    assert.equal(shown.body.reason, 'Permanent failure on attempt 1: SKU "X-1" has no ERP item mapping');
    assert.equal(shown.body.remediation, 'Add the ERP item mapping for SKU X-1, then replay.');
    assert.equal(shown.body.correlationId, 'corr-order-1');
    assert.equal(shown.body.orderingKey, 'ord:order-1');
    // The worker's log line ties the dead letter to the correlation id.
    const logged = worker.output().split('\n').find((line) => line.includes(`"deadLetterId":"${first}"`));
    assert.ok(logged, 'the worker logged the dead letter');
    assert.match(logged, /"correlationId":"corr-order-1"/);
    assert.match(logged, /"msg":"job dead-lettered"/);

    // A replay runs the code deployed now: before the fix it fails again, as a new dead letter.
    const early = await call(api.baseUrl, 'POST', `/v1/ops/dead-letters/${first}/replay`, { token });
    assert.equal(early.status, 202, JSON.stringify(early.body));
    await waitFor('the early replay to fail again', async () => (await open('order-1')).length === 1, 15_000);
    const [second] = await open('order-1');
    assert.notEqual(second, first);
    assert.equal(await effects(keys), 0);

    // Deploy the fix, then replay one by id and the rest by filter.
    await database.db.query("INSERT INTO test_fix (name) VALUES ('mapping')");
    const one = await call(api.baseUrl, 'POST', `/v1/ops/dead-letters/${second}/replay`, { token });
    assert.equal(one.status, 202);
    await waitFor('the replay to complete', async () => (await effects(['order-1'])) === 1, 15_000);
    const many = await call(api.baseUrl, 'POST', '/v1/ops/dead-letters/replay', { token, body: { type: 'test.needs-fix', reason: 'X-1' } });
    assert.equal(many.status, 200, JSON.stringify(many.body));
    assert.equal(many.body.replayed, 2);
    await waitFor('the filtered replays to complete', async () => (await effects(keys)) === 3, 15_000);
    // A job's completion (its row deleted) commits just after its effects: completions are batched (ADR 18).
    await waitFor('the completed jobs to leave the queue', async () => (await database.db.query('SELECT 1 FROM runtime_job')).rowCount === 0, 15_000);
    const letters = await database.db.query<{ job_key: string; status: string; resolved_by: string }>(
      'SELECT job_key, status, resolved_by FROM runtime_dead_letter ORDER BY id',
    );
    assert.equal(letters.rows.length, 4, 'the fix produced no new dead letters');
    assert.ok(letters.rows.every((r) => r.status === 'replayed' && r.resolved_by === 'client:test-admin'), JSON.stringify(letters.rows));
    const audit = await database.db.query<{ action: string; actor: string }>('SELECT action, actor FROM runtime_ops_audit ORDER BY id');
    assert.deepEqual(audit.rows.map((a) => `${a.actor} ${a.action}`), Array(4).fill('client:test-admin replay'));

    worker.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([worker.exited, api.exited]), [0, 0]);
  });
});
