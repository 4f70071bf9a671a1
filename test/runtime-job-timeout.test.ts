import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { Worker } from '../src/runtime/worker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';

/**
 * A job's timeout counts from its own start, whatever ran in the slot before it: the worker
 * re-arms one timer per slot instead of making one per job, so a timer left armed by a job
 * that finished early, or one that has already fired, must time the next job afresh.
 */
describe('job timeouts', () => {
  const TIMEOUT_MS = 300;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  test('a job that outlives its timeout is abandoned that long after its own start, its signal aborted with JOB_TIMEOUT', async () => {
    const db = database.db;
    const registry = new RuntimeRegistry();
    const fastDone: number[] = [];
    const timedOut: { key: string; afterMs: number; code: unknown }[] = [];
    registry.register<{ n: number; slow?: boolean }>(
      'test.timed',
      async (payload, ctx) => {
        if (!payload.slow) {
          fastDone.push(payload.n);
          return;
        }
        const started = performance.now();
        // Never finishes on its own: only the timeout ends it.
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            timedOut.push({ key: ctx.job.jobKey!, afterMs: performance.now() - started, code: (ctx.signal.reason as { code?: unknown }).code });
            resolve();
          }),
        );
      },
      { timeoutMs: TIMEOUT_MS, maxAttempts: 1 },
    );
    const worker = new Worker(db, registry, createLogger('silent'), { concurrency: 2, pollMs: 50, relay: false });
    await worker.start();
    const deadLetters = async () => (await db.query<{ job_key: string; error_code: string }>('SELECT job_key, error_code FROM runtime_dead_letter ORDER BY job_key')).rows;
    try {
      // Fast jobs first: they leave their slots' timers armed, about TIMEOUT_MS from firing.
      await enqueue(db, Array.from({ length: 20 }, (_, n) => ({ type: 'test.timed', payload: { n }, correlationId: `c-fast-${n}` })));
      await waitFor('the fast jobs', async () => fastDone.length === 20, 10_000, 10);
      // Then a slow one, in a slot whose timer was armed by a fast job.
      await enqueue(db, { type: 'test.timed', payload: { n: 100, slow: true }, jobKey: 'slow-1', correlationId: 'c-slow-1' });
      await waitFor('the first slow job to be dead-lettered', async () => (await deadLetters()).length === 1, 10_000, 10);
      // And another, after that timer has fired.
      await enqueue(db, { type: 'test.timed', payload: { n: 101, slow: true }, jobKey: 'slow-2', correlationId: 'c-slow-2' });
      await waitFor('the second slow job to be dead-lettered', async () => (await deadLetters()).length === 2, 10_000, 10);

      assert.deepEqual(await deadLetters(), [
        { job_key: 'slow-1', error_code: 'JOB_TIMEOUT' },
        { job_key: 'slow-2', error_code: 'JOB_TIMEOUT' },
      ]);
      assert.deepEqual(timedOut.map((t) => [t.key, t.code]), [
        ['slow-1', 'JOB_TIMEOUT'],
        ['slow-2', 'JOB_TIMEOUT'],
      ]);
      // Timers run on the event loop's millisecond clock: a little slack below, a busy host's above.
      for (const t of timedOut) assert.ok(t.afterMs >= TIMEOUT_MS - 5 && t.afterMs < TIMEOUT_MS + 5000, `${t.key} was abandoned ${t.afterMs.toFixed(0)} ms after it started (timeout ${TIMEOUT_MS} ms)`);
      assert.equal(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM runtime_job WHERE type = 'test.timed'")).rows[0]!.n), 0, 'the fast jobs completed');
    } finally {
      await worker.stop(2000);
    }
  });
});
