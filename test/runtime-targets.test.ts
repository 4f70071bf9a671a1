import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { Worker } from '../src/runtime/worker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { testEnvironment } from './support/server.ts';
import { RUNTIME_TEST_TABLES, register } from './support/runtime-handlers.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './support/runtime.ts';
import { startCountingServer, type CountingServer } from './support/counting-server.ts';
import type { Database } from '../src/store/database.ts';

/** Targets protect external systems: a shared rate limit and a circuit breaker, measured at the target. */
describe('targets', () => {
  let database: TestDatabase;
  let target: CountingServer;
  const workers: WorkerProcess[] = [];
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await target?.close();
    await database?.drop();
  });
  const count = async (db: Database, sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);

  test('three worker processes never send a target more than its limit in any one-second window', async () => {
    target = await startCountingServer();
    const limit = 20;
    const total = 120;
    const env = testEnvironment(database.url, {
      SYNCLINE_WORKER_CONCURRENCY: '10',
      SYNCLINE_WORKER_POLL_MS: '100',
      TEST_TARGETS: JSON.stringify({ 'erp:limited': { ratePerSecond: limit, burst: 5, maxWaitMs: 500 } }),
    });
    workers.push(...(await Promise.all([spawnWorker(env), spawnWorker(env), spawnWorker(env)])));
    await enqueue(
      database.db,
      Array.from({ length: total }, (_, i) => ({ type: 'test.http', payload: { url: target.url }, target: 'erp:limited', jobKey: `rate-${i}`, correlationId: `corr-rate-${i}` })),
    );
    await waitFor('every job to finish', async () => (await count(database.db, "SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'rate-%'")) === total, 60_000, 100);

    assert.equal(target.arrivals.length, total, 'each job called the target once');
    const busiest = target.maxInAnyWindow(1000);
    assert.ok(busiest <= limit, `at most ${limit} requests in any second at the target; saw ${busiest}`);
    // Fixed one-second windows, as a target's own counter would see them.
    const perSecond = new Map<number, number>();
    for (const at of target.arrivals) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    assert.ok(Math.max(...perSecond.values()) <= limit);
    // The limit is used, not merely respected: the run takes about total/limit seconds.
    const span = (Math.max(...target.arrivals) - Math.min(...target.arrivals)) / 1000;
    assert.ok(span < (total / limit) * 1.6 + 1, `took ${span.toFixed(1)} s for ${total} calls at ${limit}/s`);
    // Several processes shared the work (the limit held across processes, not within one).
    const senders = await count(database.db, "SELECT count(DISTINCT worker) AS n FROM test_effect WHERE job_key LIKE 'rate-%'");
    assert.ok(senders >= 2, `calls came from ${senders} processes`);
    assert.equal(await count(database.db, 'SELECT count(*) AS n FROM runtime_dead_letter'), 0);
    for (const w of workers.splice(0)) {
      w.child.kill('SIGTERM');
      await w.exited;
    }
    await target.close();
  });

  test('a failing target opens its breaker, the backlog waits, and after recovery everything drains with nothing dead-lettered', async () => {
    target = await startCountingServer();
    target.respondWith(503);
    const registry = new RuntimeRegistry();
    const db = openPostgres({ connectionString: database.url, poolSize: 6 });
    register(registry, { db, config: undefined as never, logger: createLogger('silent') });
    registry.defineTarget('erp:flaky', { breaker: { failureThreshold: 3, cooldownMs: 1000 }, timeoutMs: 2000 });
    registry.defineTarget('wms:healthy', {});
    const healthy = await startCountingServer();
    const worker = new Worker(db, registry, createLogger('silent'), { concurrency: 4, pollMs: 100, relay: false });
    await worker.start();
    try {
      const total = 40;
      await enqueue(database.db, [
        ...Array.from({ length: total }, (_, i) => ({ type: 'test.http', payload: { url: target.url }, target: 'erp:flaky', jobKey: `flaky-${i}`, correlationId: `corr-flaky-${i}` })),
        ...Array.from({ length: 10 }, (_, i) => ({ type: 'test.http', payload: { url: healthy.url }, target: 'wms:healthy', jobKey: `healthy-${i}`, correlationId: `corr-healthy-${i}` })),
      ]);
      await waitFor('the breaker to open', async () => (await db.query<{ breaker_state: string }>("SELECT breaker_state FROM runtime_target WHERE name = 'erp:flaky'")).rows[0]?.breaker_state === 'open', 10_000);
      // While the target is down for 3 s, it sees a probe per cool-down, not a retry storm.
      const atOpen = target.arrivals.length;
      await new Promise((r) => setTimeout(r, 3000));
      const duringOutage = target.arrivals.length - atOpen;
      assert.ok(atOpen <= 8, `requests before the breaker opened: ${atOpen}`);
      assert.ok(duringOutage <= 5, `requests while open: ${duringOutage}`);
      assert.equal(await count(db, "SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'flaky-%'"), 0);
      assert.equal(await count(db, 'SELECT count(*) AS n FROM runtime_dead_letter'), 0, 'waiting jobs are not failed');
      // Other targets are unaffected.
      assert.equal(await count(db, "SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'healthy-%'"), 10);

      target.respondWith(200);
      await waitFor('the backlog to drain', async () => (await count(db, "SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'flaky-%'")) === total, 20_000, 100);
      assert.equal(await count(db, 'SELECT count(*) AS n FROM runtime_dead_letter'), 0, 'nothing dead-lettered');
      assert.equal((await db.query<{ breaker_state: string }>("SELECT breaker_state FROM runtime_target WHERE name = 'erp:flaky'")).rows[0]!.breaker_state, 'closed');
    } finally {
      await worker.stop(2000);
      await db.close();
      await healthy.close();
    }
  });
});
