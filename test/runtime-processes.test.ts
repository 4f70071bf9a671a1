import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { testEnvironment } from './support/server.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { workerTestBed } from './support/runtime-workers.ts';

/** Real `syncline worker` processes on the real PostgreSQL: crash safety and graceful drain. */
describe('worker processes', () => {
  const bed = workerTestBed(RUNTIME_TEST_TABLES);
  const { workers, count } = bed;

  test('three workers, one killed with SIGKILL mid-batch: every job has its effect exactly once, none lost', async () => {
    const { db } = bed.database;
    const total = 3000;
    const jobs = Array.from({ length: total }, (_, i) => ({
      type: 'test.effect',
      payload: { sleepMs: 5 },
      jobKey: `kill-${i}`,
      correlationId: `corr-kill-${i}`,
      // Some jobs share ordering keys, so a crash also has to keep their order going.
      orderingKey: i % 10 === 0 ? `order-${i % 7}` : undefined,
    }));
    for (let i = 0; i < total; i += 500) await enqueue(db, jobs.slice(i, i + 500));

    const env = testEnvironment(bed.database.url, { SYNCLINE_WORKER_CONCURRENCY: '8', SYNCLINE_WORKER_LEASE_MS: '2000', SYNCLINE_WORKER_POLL_MS: '200' });
    const started = await Promise.all([spawnWorker(env), spawnWorker(env), spawnWorker(env)]);
    workers.push(...started);
    const [victim] = started;

    // Kill while the victim holds leases on jobs it has started: mid-batch.
    await waitFor('the victim to be working', async () => (await count('SELECT count(*) AS n FROM test_effect WHERE worker = $1', [`pid-${victim!.child.pid}`])) > 50, 30_000);
    await waitFor('the victim to hold leases', async () => (await count('SELECT count(*) AS n FROM runtime_job WHERE locked_by = $1', [victim!.workerId])) > 0, 10_000, 5);
    victim!.child.kill('SIGKILL');
    assert.equal(await victim!.exited, null, 'the victim was killed, not stopped');
    const heldByVictim = await count('SELECT count(*) AS n FROM runtime_job WHERE locked_by = $1', [victim!.workerId]);
    assert.ok(heldByVictim > 0, 'the victim died holding jobs');

    await waitFor('the queue to drain', async () => (await count('SELECT count(*) AS n FROM runtime_job')) === 0, 90_000, 200);

    assert.equal(await count('SELECT count(*) AS n FROM test_effect'), total, 'every job has its effect');
    assert.equal(await count('SELECT count(DISTINCT job_key) AS n FROM test_effect'), total);
    assert.equal(await count("SELECT count(*) AS n FROM test_effect WHERE job_key NOT LIKE 'kill-%'"), 0);
    assert.equal(await count('SELECT count(*) AS n FROM runtime_dead_letter'), 0, 'nothing dead-lettered');
    // The victim's interrupted jobs ran again elsewhere (at-least-once); their effects did not double.
    const reruns = await count('SELECT count(*) AS n FROM (SELECT job_key FROM test_execution GROUP BY job_key HAVING count(*) > 1) x');
    assert.ok(reruns > 0, 'some interrupted jobs were run again by the survivors');
    const survivors = started.slice(1);
    for (const w of survivors) {
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0);
    }
  });

  test('SIGTERM stops claiming, lets running jobs finish within the grace period, and exits 0', async () => {
    const { db } = bed.database;
    await enqueue(
      db,
      Array.from({ length: 40 }, (_, i) => ({ type: 'test.effect', payload: { sleepMs: 600 }, jobKey: `drain-${i}`, correlationId: `corr-drain-${i}` })),
    );
    const worker = await spawnWorker(testEnvironment(bed.database.url, { SYNCLINE_WORKER_CONCURRENCY: '4', SYNCLINE_SHUTDOWN_GRACE_MS: '5000' }));
    workers.push(worker);
    // Normal jobs may fill 3 of the 4 slots (the fourth stays free for critical work); more are
    // claimed ahead into the buffer, leased but not started.
    const startedJobs = async () =>
      (await db.query<{ job_key: string }>("SELECT job_key FROM test_execution WHERE job_key LIKE 'drain-%' AND worker = $1", [`pid-${worker.child.pid}`])).rows.map((r) => r.job_key);
    await waitFor('jobs to be running', async () => (await startedJobs()).length === 3, 30_000, 10);
    const running = await startedJobs();
    const startedAt = Date.now();
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
    assert.ok(Date.now() - startedAt < 5000, 'exited within the grace period');
    const done = (await db.query<{ job_key: string }>("SELECT job_key FROM test_effect WHERE job_key LIKE 'drain-%'")).rows.map((r) => r.job_key);
    for (const key of running) assert.ok(done.includes(key), `in-flight job ${key} finished before exit: ${JSON.stringify({ running, done })}`);
    assert.deepEqual((await startedJobs()).sort(), [...running].sort(), 'no job started after SIGTERM');
    assert.equal(await count('SELECT count(*) AS n FROM runtime_job WHERE locked_by IS NOT NULL'), 0, 'no job is left leased');
    assert.equal(await count("SELECT count(*) AS n FROM runtime_job WHERE job_key LIKE 'drain-%'") + done.length, 40, 'the rest wait in the queue');
    assert.match(worker.output(), /"msg":"stopped"/);
  });
});
