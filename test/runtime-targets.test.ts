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
  const servers: CountingServer[] = [];
  const workers: WorkerProcess[] = [];
  const startTarget = async () => {
    const server = await startCountingServer();
    servers.push(server);
    return server;
  };
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(servers.map((s) => s.close()));
    await database?.drop();
  });
  const count = async (db: Database, sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);

  test('three worker processes never send a target more than its limit in any one-second window', async () => {
    const target = await startTarget();
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
  });

  test('a failing target opens its breaker, the backlog waits, and after recovery everything drains with nothing dead-lettered', async () => {
    const target = await startTarget();
    target.respondWith(503);
    const registry = new RuntimeRegistry();
    const db = openPostgres({ connectionString: database.url, poolSize: 6 });
    register(registry, { db, config: undefined as never, logger: createLogger('silent') });
    registry.defineTarget('erp:flaky', { breaker: { failureThreshold: 3, cooldownMs: 1000 }, timeoutMs: 2000 });
    registry.defineTarget('wms:healthy', {});
    const healthy = await startTarget();
    const worker = new Worker(db, registry, createLogger('silent'), { concurrency: 4, pollMs: 100, relay: false });
    await worker.start();
    try {
      const total = 40;
      await enqueue(database.db, [
        ...Array.from({ length: total }, (_, i) => ({ type: 'test.http', payload: { url: target.url }, target: 'erp:flaky', jobKey: `flaky-${i}`, correlationId: `corr-flaky-${i}` })),
        ...Array.from({ length: 10 }, (_, i) => ({ type: 'test.http', payload: { url: healthy.url }, target: 'wms:healthy', jobKey: `healthy-${i}`, correlationId: `corr-healthy-${i}` })),
      ]);
      await waitFor('the breaker to open', async () => (await db.query<{ breaker_state: string }>("SELECT breaker_state FROM runtime_target WHERE name = 'erp:flaky'")).rows[0]?.breaker_state === 'open', 10_000);
      // The target stays down a few seconds more. Without a breaker, 40 jobs retrying every
      // 100 ms to 1 s would send it hundreds of requests; with one it sees the failures that
      // open the breaker (the threshold, plus calls already in flight), then one probe per cool-down.
      await new Promise((r) => setTimeout(r, 3000));
      const outageMs = Date.now() - target.arrivals[0]!;
      const outageCalls = target.arrivals.length;
      const bound = 3 + 4 + Math.ceil(outageMs / 1000) + 1;
      assert.ok(outageCalls <= bound, `the failing target saw ${outageCalls} requests in ${outageMs} ms; at most ${bound} expected`);
      const probes = target.arrivals.filter((at) => at > target.arrivals[0]! + 1000).length;
      assert.ok(probes >= 1, 'the breaker half-opened and probed during the outage');
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
    }
  });
});
