import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { enqueue } from '../src/runtime/queue.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { testEnvironment } from './support/server.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './support/runtime.ts';

interface ScriptedTarget {
  url: string;
  /** Arrival times (ms since the epoch) of every request. */
  arrivals: number[];
  close(): Promise<void>;
}

/** A target that answers the n-th request with script[n] (the last entry from then on). */
async function startScriptedTarget(script: { status: number; headers?: Record<string, string> }[]): Promise<ScriptedTarget> {
  const arrivals: number[] = [];
  const server = createServer((request, response) => {
    const answer = script[Math.min(arrivals.length, script.length - 1)]!;
    arrivals.push(performance.timeOrigin + performance.now());
    request.resume();
    request.on('end', () => response.writeHead(answer.status, answer.headers).end(answer.status < 400 ? '{"ok":true}' : '{"error":"try later"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    arrivals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Retries through a real `syncline worker` process: a throttled answer (429 + Retry-After) is
 * retried no sooner than the target asked and does not count as a failed attempt; transient
 * failures back off exponentially until the attempts run out, then dead-letter.
 * (test.http: backoff base 100 ms, cap 1000 ms, 5 attempts.)
 */
describe('retries', () => {
  let database: TestDatabase;
  let worker: WorkerProcess;
  const targets: ScriptedTarget[] = [];
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
    // A high breaker threshold: these tests are about retries, not the breaker.
    const policies = { 'erp:throttling': { breaker: { failureThreshold: 50 } }, 'erp:failing': { breaker: { failureThreshold: 50 } } };
    worker = await spawnWorker(testEnvironment(database.url, { SYNCLINE_WORKER_POLL_MS: '100', TEST_TARGETS: JSON.stringify(policies) }));
  });
  after(async () => {
    if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
    await worker?.exited;
    for (const t of targets) await t.close();
    await database?.drop();
  });

  const job = async (key: string) =>
    (await database.db.query<{ attempts: number; run_at: Date; last_error: { class: string; code: string } | null }>('SELECT attempts, run_at, last_error FROM runtime_job WHERE job_key = $1', [key])).rows[0];
  const gaps = (arrivals: number[]) => arrivals.slice(1).map((at, i) => Math.round(at - arrivals[i]!));

  test('429 with Retry-After: retried after the given time, and throttles do not use up attempts', async () => {
    // Two throttles, one real failure, then success. With maxAttempts 2 the job survives only
    // if the throttles were not counted (counted, the 500 would be attempt 3 of 2).
    const target = await startScriptedTarget([{ status: 429, headers: { 'retry-after': '1' } }, { status: 429, headers: { 'retry-after': '1' } }, { status: 500 }, { status: 200 }]);
    targets.push(target);
    await enqueue(database.db, { type: 'test.http', payload: { url: target.url }, target: 'erp:throttling', jobKey: 'throttled-1', correlationId: 'corr-throttled-1', maxAttempts: 2 });

    await waitFor('the first throttled answer to be recorded', async () => (await job('throttled-1'))?.last_error?.code === 'TARGET_HTTP_429', 10_000, 10);
    const waiting = (await job('throttled-1'))!;
    assert.equal(waiting.attempts, 0, 'the throttled attempt was given back');
    assert.equal(waiting.last_error!.class, 'throttled');
    const asked = waiting.run_at.getTime() - target.arrivals[0]!;
    assert.ok(asked >= 1000 && asked < 1500, `rescheduled ${asked} ms after the request, as Retry-After said`);

    await waitFor('the job to succeed', async () => (await database.db.query("SELECT 1 FROM test_effect WHERE job_key = 'throttled-1'")).rowCount === 1, 15_000);
    assert.equal(target.arrivals.length, 4);
    const [first, second, third] = gaps(target.arrivals);
    assert.ok(first! >= 1000 && second! >= 1000, `each throttled retry waited for Retry-After: ${gaps(target.arrivals).join(', ')} ms`);
    assert.ok(third! < 1000, `the transient retry used the job's own backoff: ${third} ms`);
    assert.equal((await database.db.query('SELECT 1 FROM runtime_dead_letter')).rowCount, 0);
    const breaker = await database.db.query<{ consecutive_failures: number }>("SELECT consecutive_failures FROM runtime_target WHERE name = 'erp:throttling'");
    assert.equal(breaker.rows[0]!.consecutive_failures, 0, 'throttles and the final success leave the breaker closed');
  });

  test('transient failures back off exponentially, then dead-letter when the attempts run out', async () => {
    const target = await startScriptedTarget([{ status: 503 }]);
    targets.push(target);
    await enqueue(database.db, { type: 'test.http', payload: { url: target.url }, target: 'erp:failing', jobKey: 'failing-1', correlationId: 'corr-failing-1' });
    await waitFor('the dead letter', async () => (await database.db.query("SELECT 1 FROM runtime_dead_letter WHERE job_key = 'failing-1'")).rowCount === 1, 20_000);

    assert.equal(target.arrivals.length, 5, 'five attempts, as test.http allows');
    // Equal jitter: retry n waits between half and all of min(cap, base * 2^(n-1)).
    const expected = [100, 200, 400, 800];
    for (const [i, gap] of gaps(target.arrivals).entries()) {
      assert.ok(gap >= expected[i]! / 2, `retry ${i + 1} came ${gap} ms after the failure; at least ${expected[i]! / 2} ms expected (all: ${gaps(target.arrivals).join(', ')})`);
    }
    const letter = await database.db.query<{ error_class: string; error_code: string; attempts: number; reason: string; remediation: string; correlation_id: string }>(
      "SELECT error_class, error_code, attempts, reason, remediation, correlation_id FROM runtime_dead_letter WHERE job_key = 'failing-1'",
    );
    const row = letter.rows[0]!;
    assert.deepEqual({ class: row.error_class, code: row.error_code, attempts: row.attempts, correlation: row.correlation_id }, {
      class: 'transient',
      code: 'TARGET_HTTP_503',
      attempts: 5,
      correlation: 'corr-failing-1',
    });
    assert.match(row.reason, /^Gave up after 5 of 5 attempts; last error: erp:failing answered 503/);
    assert.match(row.remediation, /Check that erp:failing is reachable and healthy; the job failed 5 times in a row/);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
  });
});
