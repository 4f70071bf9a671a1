import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/store/database.ts';
import { openPglite } from '../src/store/pglite.database.ts';
import { migrate } from '../src/store/migrate.ts';
import { enqueue } from '../src/runtime/queue.ts';
import { claimJobs } from '../src/store/runtime/claim-jobs.ts';
import { completeJobs, rescheduleJob } from '../src/store/runtime/finish-jobs.ts';
import { getDeadLetter, listAudit, listDeadLetters, moveToDeadLetter, replayDeadLetters, discardDeadLetter } from '../src/store/runtime/dead-letter-queries.ts';
import { acquireTarget, finishTargetCall, recordTargetOutcome, upsertTarget, takeSlot, releaseSlot } from '../src/store/runtime/target-queries.ts';
import { queueStats } from '../src/store/runtime/queue-stats.ts';
import { newId } from '../src/model/ids.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * The queue's store operations, as one contract run on PostgreSQL and on embedded PGlite:
 * the same SQL must behave the same on both.
 */
function queueContract(name: string, open: () => Promise<{ db: Database; close(): Promise<void> }>): void {
  describe(`runtime queue store on ${name}`, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => {
      ({ db, close } = await open());
    });
    after(async () => close?.());

    const claim = (worker: string, limit = 10, limits: [number, number, number] = [limit, limit, limit], leaseMs = 30_000) =>
      claimJobs(db, worker, { limits, total: limit, leaseMs });
    const reset = () => db.exec('DELETE FROM runtime_job; DELETE FROM runtime_dead_letter; DELETE FROM runtime_ops_audit; DELETE FROM runtime_target');

    test('enqueue, claim in a batch, complete', async () => {
      await reset();
      const ids = await enqueue(db, [1, 2, 3].map((n) => ({ type: 't.basic', payload: { n }, correlationId: `c${n}` })));
      assert.equal(ids.length, 3);
      const claimed = await claim('w1');
      assert.deepEqual(claimed.map((r) => (r.payload as { n: number }).n), [1, 2, 3]);
      assert.ok(claimed.every((r) => r.attempts === 1));
      assert.equal((await claim('w2')).length, 0, 'leased jobs are not claimed twice');
      await completeJobs(db, ids);
      assert.equal((await db.query('SELECT 1 FROM runtime_job')).rowCount, 0);
    });

    test('a job key already queued is not enqueued again', async () => {
      await reset();
      const first = await enqueue(db, { type: 't.key', payload: {}, jobKey: 'k-1', correlationId: 'c' });
      const second = await enqueue(db, { type: 't.key', payload: {}, jobKey: 'k-1', correlationId: 'c' });
      assert.equal(first.length, 1);
      assert.equal(second.length, 0);
    });

    test('critical is claimed before normal before bulk, whatever the enqueue order', async () => {
      await reset();
      await enqueue(db, [
        { type: 't.lane', payload: 'bulk', lane: 'bulk', correlationId: 'c' },
        { type: 't.lane', payload: 'normal', lane: 'normal', correlationId: 'c' },
        { type: 't.lane', payload: 'critical', lane: 'critical', correlationId: 'c' },
      ]);
      assert.deepEqual((await claim('w', 3)).map((r) => r.payload), ['critical', 'normal', 'bulk']);
    });

    test('lane caps: a claim takes at most the given number of each lane', async () => {
      await reset();
      await enqueue(db, [
        ...Array.from({ length: 5 }, () => ({ type: 't.cap', payload: 'bulk', lane: 'bulk' as const, correlationId: 'c' })),
        ...Array.from({ length: 5 }, () => ({ type: 't.cap', payload: 'normal', correlationId: 'c' })),
      ]);
      const rows = await claim('w', 6, [6, 2, 1]);
      assert.deepEqual(rows.map((r) => r.payload), ['normal', 'normal', 'bulk']);
    });

    test('jobs with one ordering key run one at a time in enqueue order; other keys in parallel', async () => {
      await reset();
      await enqueue(db, [
        { type: 't.ord', payload: 'a1', orderingKey: 'A', correlationId: 'c' },
        { type: 't.ord', payload: 'b1', orderingKey: 'B', correlationId: 'c' },
        { type: 't.ord', payload: 'a2', orderingKey: 'A', correlationId: 'c' },
        { type: 't.ord', payload: 'a3', orderingKey: 'A', correlationId: 'c' },
      ]);
      const first = await claim('w');
      assert.deepEqual(first.map((r) => r.payload).sort(), ['a1', 'b1']);
      assert.equal((await claim('w')).length, 0, 'a2 waits while a1 runs');
      // a1 fails and is retried later: a2 still waits behind it.
      const a1 = first.find((r) => r.payload === 'a1')!;
      await rescheduleJob(db, { id: a1.id, worker: 'w', runAt: new Date(Date.now() - 1), uncount: false, error: {} });
      assert.deepEqual((await claim('w')).map((r) => r.payload), ['a1']);
      await completeJobs(db, [a1.id]);
      assert.deepEqual((await claim('w')).map((r) => r.payload), ['a2']);
    });

    test('a crashed worker\'s jobs come back when the lease expires', async () => {
      await reset();
      await enqueue(db, { type: 't.lease', payload: {}, correlationId: 'c' });
      assert.equal((await claim('crashed', 10, [10, 10, 10], 200)).length, 1);
      assert.equal((await claim('other')).length, 0);
      await new Promise((r) => setTimeout(r, 300));
      const again = await claim('other');
      assert.equal(again.length, 1);
      assert.equal(again[0]!.attempts, 2);
    });

    test('a job due later is not claimed before its time', async () => {
      await reset();
      await enqueue(db, { type: 't.later', payload: {}, correlationId: 'c', runAt: new Date(Date.now() + 60_000) });
      assert.equal((await claim('w')).length, 0);
    });

    test('an open breaker keeps its target\'s jobs in the queue; other targets are unaffected', async () => {
      await reset();
      await upsertTarget(db, 'erp:down', {}, 0);
      await upsertTarget(db, 'erp:up', {}, 0);
      await enqueue(db, [
        { type: 't.target', payload: 'down', target: 'erp:down', correlationId: 'c' },
        { type: 't.target', payload: 'up', target: 'erp:up', correlationId: 'c' },
      ]);
      for (let i = 0; i < 3; i++) {
        await recordTargetOutcome(db, 'erp:down', { success: false, probe: false, threshold: 3, ratio: 1, minCalls: 100, cooldownMs: 60_000, failure: { i } });
      }
      assert.deepEqual((await claim('w')).map((r) => r.payload), ['up']);
      const acquire = await acquireTarget(db, 'erp:down', { limit: 0, windowMs: 1000, burst: 0, burstWindowMs: 0, probeMs: 1000, ratioWindowMs: 60_000, holdMs: 1000 });
      assert.equal(acquire.outcome, 'breaker-open');
      assert.ok(acquire.wait_ms > 50_000);
    });

    test('the breaker half-opens after the cool-down with a single probe, and a success closes it', async () => {
      await reset();
      await upsertTarget(db, 'erp:flaky', {}, 0);
      const params = { limit: 0, windowMs: 1000, burst: 0, burstWindowMs: 0, probeMs: 5000, ratioWindowMs: 60_000, holdMs: 1000 };
      await recordTargetOutcome(db, 'erp:flaky', { success: false, probe: false, threshold: 1, ratio: 1, minCalls: 100, cooldownMs: 100, failure: {} });
      assert.equal((await acquireTarget(db, 'erp:flaky', params)).outcome, 'breaker-open');
      await new Promise((r) => setTimeout(r, 150));
      assert.equal((await acquireTarget(db, 'erp:flaky', params)).outcome, 'probe');
      assert.equal((await acquireTarget(db, 'erp:flaky', params)).outcome, 'breaker-open', 'only one probe at a time');
      assert.equal(await recordTargetOutcome(db, 'erp:flaky', { success: true, probe: true, threshold: 1, ratio: 1, minCalls: 100, cooldownMs: 100, failure: null }), 'closed');
      assert.equal((await acquireTarget(db, 'erp:flaky', params)).outcome, 'granted');
    });

    test('the rate limit grants at most the limit per window, and a call counts until a window after it returned', async () => {
      await reset();
      await upsertTarget(db, 'erp:limited', {}, 0);
      const params = { limit: 5, windowMs: 400, burst: 0, burstWindowMs: 0, probeMs: 1000, ratioWindowMs: 60_000, holdMs: 5000 };
      const results = [];
      for (let i = 0; i < 8; i++) results.push(await acquireTarget(db, 'erp:limited', params));
      assert.deepEqual(
        results.map((r) => r.outcome),
        ['granted', 'granted', 'granted', 'granted', 'granted', 'rate-limited', 'rate-limited', 'rate-limited'],
      );
      // The five calls are still running: nothing frees up until one returns, then a full window later.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const whileRunning = await acquireTarget(db, 'erp:limited', params);
      assert.equal(whileRunning.outcome, 'rate-limited', 'calls in flight hold their place past the window of their grant');
      assert.ok(whileRunning.wait_ms >= 399 && whileRunning.wait_ms <= 400, `wait ${whileRunning.wait_ms} ms`);
      const returnedAt = Date.now();
      for (const r of results.slice(0, 5)) await finishTargetCall(db, 'erp:limited', r.reach!);
      const justAfter = await acquireTarget(db, 'erp:limited', params);
      assert.equal(justAfter.outcome, 'rate-limited');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, returnedAt + 450 - Date.now())));
      assert.equal((await acquireTarget(db, 'erp:limited', params)).outcome, 'granted');
    });

    test('concurrency slots: taken until released, and a slot whose lease expired can be taken again', async () => {
      await reset();
      await upsertTarget(db, 'erp:slots', {}, 2);
      const a = await takeSlot(db, 'erp:slots', 'a', 60_000);
      const b = await takeSlot(db, 'erp:slots', 'b', 100);
      assert.deepEqual([a, b].sort(), [1, 2]);
      assert.equal(await takeSlot(db, 'erp:slots', 'c', 60_000), undefined);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(await takeSlot(db, 'erp:slots', 'c', 60_000), b);
      await releaseSlot(db, 'erp:slots', a!, 'a');
      assert.equal(await takeSlot(db, 'erp:slots', 'd', 60_000), a);
    });

    test('dead letter, replay by id and by filter, discard; every action audited', async () => {
      await reset();
      await enqueue(db, [
        { type: 't.dead', payload: { n: 1 }, jobKey: 'dead-1', correlationId: 'c1', target: 'erp:x' },
        { type: 't.dead', payload: { n: 2 }, jobKey: 'dead-2', correlationId: 'c2' },
        { type: 't.other', payload: { n: 3 }, correlationId: 'c3' },
      ]);
      const claimed = await claim('w');
      const ids: string[] = [];
      for (const row of claimed) {
        const id = newId('deadLetter');
        ids.push(id);
        const moved = await moveToDeadLetter(db, { id: row.id, worker: 'w', deadLetterId: id, maxAttempts: 1 }, {
          errorClass: 'permanent',
          errorCode: 'MAPPING_FAILED',
          reason: `Permanent failure: sku unknown ${row.payload && (row.payload as { n: number }).n}`,
          remediation: 'fix it',
          excerpt: { response: { status: 422 } },
        });
        assert.ok(moved);
      }
      assert.equal((await db.query('SELECT 1 FROM runtime_job')).rowCount, 0);
      const open = await listDeadLetters(db, { status: 'open', type: 't.dead' }, { limit: 10 });
      assert.equal(open.length, 2);
      assert.equal((await listDeadLetters(db, { reason: 'UNKNOWN 3' }, { limit: 10 })).length, 1, 'reason filter is a case-insensitive substring');

      const [one] = await db.transaction((tx) => replayDeadLetters(tx, { ids: [ids[0]!] }, 'ops:alice'));
      assert.equal(one!.id, ids[0]);
      const replayed = await getDeadLetter(db, ids[0]!);
      assert.equal(replayed!.status, 'replayed');
      assert.equal(replayed!.resolved_by, 'ops:alice');
      const job = await db.query<{ job_key: string; correlation_id: string; max_attempts: number | null }>('SELECT job_key, correlation_id, max_attempts FROM runtime_job WHERE id = $1', [one!.job_id]);
      assert.deepEqual(job.rows[0], { job_key: 'dead-1', correlation_id: 'c1', max_attempts: null });
      assert.equal((await db.transaction((tx) => replayDeadLetters(tx, { ids: [ids[0]!] }, 'ops:alice'))).length, 0, 'a replayed letter is not replayed twice');

      const byFilter = await db.transaction((tx) => replayDeadLetters(tx, { filter: { type: 't.dead' }, limit: 100 }, 'ops:bob'));
      assert.deepEqual(byFilter.map((r) => r.id), [ids[1]]);

      assert.equal(await db.transaction((tx) => discardDeadLetter(tx, ids[2]!, 'ops:carol', 'test data')), true);
      assert.equal(await db.transaction((tx) => discardDeadLetter(tx, ids[2]!, 'ops:carol', 'again')), false);
      const audit = await listAudit(db, ids[2]!);
      assert.deepEqual(audit.map((a) => [a.actor, a.action]), [['ops:carol', 'discard']]);
      assert.deepEqual((await listAudit(db, ids[0]!)).map((a) => a.action), ['replay']);
    });

    test('queue statistics by lane, type and target', async () => {
      await reset();
      await enqueue(db, [
        { type: 't.s1', payload: {}, lane: 'bulk', correlationId: 'c' },
        { type: 't.s1', payload: {}, lane: 'bulk', correlationId: 'c', target: 'erp:s' },
        { type: 't.s2', payload: {}, lane: 'critical', correlationId: 'c' },
      ]);
      await claim('w', 1);
      const stats = await queueStats(db);
      const find = (d: string, k: string) => stats.find((s) => s.dimension === d && s.key === k);
      assert.equal(find('lane', '2')!.waiting, 2);
      assert.equal(find('lane', '0')!.running, 1);
      assert.equal(find('type', 't.s1')!.waiting, 2);
      assert.equal(find('target', 'erp:s')!.waiting, 1);
    });
  });
}

let pg: TestDatabase;
queueContract('PostgreSQL', async () => {
  pg = await createTestDatabase();
  return { db: pg.db, close: () => pg.drop() };
});
queueContract('PGlite', async () => {
  const db = await openPglite(undefined);
  await migrate(db);
  return { db, close: () => db.close() };
});
