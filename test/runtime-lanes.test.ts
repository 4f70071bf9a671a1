import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enqueue } from '../src/runtime/queue.ts';
import { testEnvironment } from './support/server.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { workerTestBed } from './support/runtime-workers.ts';

/**
 * Lanes: a flood of bulk work never delays critical work. Measured on the database clock,
 * from just before the critical job is enqueued to the moment its handler starts in a real
 * `syncline worker` process (test.effect records its start in test_execution).
 */
describe('priority lanes', () => {
  const bed = workerTestBed(RUNTIME_TEST_TABLES);
  const { workers, count } = bed;

  test('a backlog of 10,000 bulk jobs does not delay a critical job by more than a second', async (t) => {
    const { db, url } = bed.database;
    const backlog = 10_000;
    const bulk = Array.from({ length: backlog }, (_, i) => ({
      type: 'test.effect',
      lane: 'bulk' as const,
      payload: { sleepMs: 50 },
      jobKey: `bulk-${i}`,
      correlationId: `corr-bulk-${i}`,
    }));
    for (let i = 0; i < backlog; i += 1000) await enqueue(db, bulk.slice(i, i + 1000));

    // The fallback poll is far above the bound, so only the enqueue's notification can wake
    // a worker in time: the test fails if critical work waits for a poll or behind bulk work.
    const env = testEnvironment(url, { SYNCLINE_WORKER_CONCURRENCY: '10', SYNCLINE_WORKER_POLL_MS: '5000' });
    workers.push(...(await Promise.all([spawnWorker(env), spawnWorker(env)])));
    await waitFor('the workers to be busy with bulk work', async () => (await count("SELECT count(*) AS n FROM test_execution WHERE job_key LIKE 'bulk-%'")) >= 100, 30_000);

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const key = `critical-${i}`;
      const { rows } = await db.query<{ at: Date }>('SELECT clock_timestamp() AS at');
      await enqueue(db, { type: 'test.effect', lane: 'critical', payload: {}, jobKey: key, correlationId: `corr-${key}` });
      await waitFor(`${key} to start`, async () => (await count('SELECT count(*) AS n FROM test_execution WHERE job_key = $1', [key])) === 1, 10_000, 10);
      const started = await db.query<{ at: Date }>('SELECT at FROM test_execution WHERE job_key = $1', [key]);
      latencies.push(started.rows[0]!.at.getTime() - rows[0]!.at.getTime());
      // The bulk backlog is still there: the critical job did not merely find an idle worker.
      const waiting = await count("SELECT count(*) AS n FROM runtime_job WHERE job_key LIKE 'bulk-%' AND locked_by IS NULL");
      assert.ok(waiting > backlog / 2, `bulk jobs still waiting when ${key} started: ${waiting}`);
      await sleep(200);
    }
    t.diagnostic(`enqueue-to-start of the critical jobs: ${latencies.join(', ')} ms`);
    for (const [i, ms] of latencies.entries()) assert.ok(ms < 1000, `critical-${i} started ${ms} ms after it was enqueued (all: ${latencies.join(', ')} ms)`);
    // Bulk work kept running meanwhile, within its share of the slots.
    assert.ok((await count("SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'bulk-%'")) > 100);
    assert.equal(await count("SELECT count(*) AS n FROM test_effect WHERE job_key LIKE 'critical-%'"), 5, 'every critical job finished');
    assert.equal(await count('SELECT count(*) AS n FROM runtime_dead_letter'), 0);
    for (const w of workers.splice(0)) {
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0);
    }
  });
});
