import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enqueue } from '../src/runtime/queue.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { Worker } from '../src/runtime/worker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import type { Database } from '../src/store/database.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';

/**
 * Worker slots are never held idle waiting for a rate limit (ADR 0020): a job whose target has
 * no grant free yields its slot at once and is deferred to when the grant is due, without
 * counting an attempt, while jobs for other targets keep every slot busy.
 */
describe('a throttled job yields its slot', () => {
  let database: TestDatabase;
  let db: Database;
  before(async () => {
    database = await createTestDatabase();
    db = openPostgres({ connectionString: database.url, poolSize: 6 });
  });
  after(async () => {
    await db?.close();
    await database?.drop();
  });

  test('while one target is throttled, jobs for another keep every slot busy; the throttled ones run at their rate, attempts not counted', async () => {
    const SLOTS = 4;
    const LIMITED = 12;
    const RATE = 2;
    const BUSY = 32;
    const BUSY_MS = 200;
    const registry = new RuntimeRegistry();
    registry.defineTarget('erp:limited', { ratePerSecond: RATE });
    registry.defineTarget('wms:open', {});
    // What the handlers saw: how long each limited run held its slot, the attempt it ran as, and busy jobs' overlap.
    const limitedRuns: { heldMs: number; attempt: number; called: boolean }[] = [];
    const limitedCalls: number[] = [];
    let busyRunning = 0;
    let busyMax = 0;
    const busyDone: number[] = [];
    registry.register('test.limited', async (_payload, ctx) => {
      const started = performance.now();
      let called = false;
      try {
        await ctx.target('erp:limited').call(async () => {
          called = true;
          limitedCalls.push(Date.now());
        });
      } finally {
        limitedRuns.push({ heldMs: performance.now() - started, attempt: ctx.attempt, called });
      }
    });
    registry.register('test.busy', async (_payload, ctx) => {
      busyRunning += 1;
      busyMax = Math.max(busyMax, busyRunning);
      try {
        await ctx.target('wms:open').call(() => sleep(BUSY_MS));
      } finally {
        busyRunning -= 1;
        busyDone.push(Date.now());
      }
    });
    // The limited jobs come first: a worker that let them wait in their slots would leave the busy ones few.
    await enqueue(db, [
      ...Array.from({ length: LIMITED }, (_, i) => ({ type: 'test.limited', payload: {}, lane: 'critical' as const, jobKey: `limited-${i}`, correlationId: `corr-limited-${i}` })),
      ...Array.from({ length: BUSY }, (_, i) => ({ type: 'test.busy', payload: {}, lane: 'critical' as const, jobKey: `busy-${i}`, correlationId: `corr-busy-${i}` })),
    ]);
    const startedAt = Date.now();
    const worker = new Worker(db, registry, createLogger('silent'), { concurrency: SLOTS, pollMs: 50, relay: false });
    await worker.start();
    try {
      await waitFor('the busy jobs', async () => busyDone.length === BUSY, 30_000, 20);
      const busyMs = Math.max(...busyDone) - startedAt;
      await waitFor('the limited jobs', async () => limitedCalls.length === LIMITED, 30_000, 50);

      // Every slot served the busy jobs while the limited ones waited in the queue.
      assert.equal(busyMax, SLOTS, `busy jobs ran ${busyMax} at a time on ${SLOTS} slots`);
      const ideal = (BUSY / SLOTS) * BUSY_MS;
      assert.ok(busyMs < ideal * 2 + 1000, `${BUSY} busy jobs took ${busyMs} ms on ${SLOTS} slots (${ideal} ms if every slot stayed busy)`);
      // A throttled run gave its slot back at once instead of waiting in it for the grant.
      const throttled = limitedRuns.filter((r) => !r.called);
      assert.ok(throttled.length > 0, 'some limited runs were throttled');
      const longest = Math.max(...throttled.map((r) => r.heldMs));
      // Waiting in the slot would hold it for maxWaitMs (2000 ms) before giving up; yielding costs a few reads, slow only on a busy host.
      assert.ok(longest < 1500, `a throttled run held its slot for ${longest.toFixed(0)} ms`);
      // Deferred, not failed: each job ran its call on attempt 1.
      assert.ok(limitedRuns.every((r) => r.attempt === 1), `attempts: ${limitedRuns.map((r) => r.attempt).join(',')}`);
      // The rate held: never more than RATE calls in any one second.
      const sorted = [...limitedCalls].sort((a, b) => a - b);
      const busiest = Math.max(...sorted.map((t, i) => sorted.filter((u, j) => j >= i && u - t < 1000).length));
      assert.ok(busiest <= RATE, `${busiest} limited calls in one second`);
      const deadLetters = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime_dead_letter')).rows[0]!.n);
      assert.equal(deadLetters, 0);
      console.log(JSON.stringify({ slots: SLOTS, busyMs, idealBusyMs: ideal, throttledRuns: throttled.length, longestThrottledHoldMs: Math.round(longest), limitedSpanMs: sorted.at(-1)! - sorted[0]! }));
    } finally {
      await worker.stop(2000);
    }
  });
  test('jobs waiting for a target lend their slots, and bulk work is claimed behind a normal backlog', async () => {
    const SLOTS = 4; // normal jobs may fill 3 slots, bulk jobs 2
    const POSTINGS = 24;
    const CALLS = 4;
    const CALL_MS = 50;
    const BULK = 4;
    const BULK_MS = 200;
    const registry = new RuntimeRegistry();
    // An ERP that takes one request at a time, at most 8 a second.
    registry.defineTarget('erp:quota', { ratePerSecond: 8, maxConcurrency: 1 });
    const postingsDone: number[] = [];
    const bulkDone: number[] = [];
    let inHandlers = 0;
    let mostInHandlers = 0;
    let bulkRunning = 0;
    let bulkMax = 0;
    const running = async (work: () => Promise<void>) => {
      inHandlers += 1;
      mostInHandlers = Math.max(mostInHandlers, inHandlers);
      try {
        await work();
      } finally {
        inHandlers -= 1;
      }
    };
    // A posting is several requests; the jobs behind the one calling wait for the ERP's slot or grant.
    registry.register('test.posting', (_payload, ctx) =>
      running(async () => {
        const erp = ctx.target('erp:quota');
        for (let i = 0; i < CALLS; i += 1) await erp.call(() => sleep(CALL_MS));
        postingsDone.push(Date.now());
      }),
    );
    registry.register('test.enrich', () =>
      running(async () => {
        bulkRunning += 1;
        bulkMax = Math.max(bulkMax, bulkRunning);
        try {
          await sleep(BULK_MS);
        } finally {
          bulkRunning -= 1;
          bulkDone.push(Date.now());
        }
      }),
    );
    await enqueue(db, Array.from({ length: POSTINGS }, (_, i) => ({ type: 'test.posting', payload: {}, lane: 'normal' as const, jobKey: `posting-${i}`, correlationId: `corr-posting-${i}` })));
    await enqueue(db, Array.from({ length: BULK }, (_, i) => ({ type: 'test.enrich', payload: {}, lane: 'bulk' as const, jobKey: `enrich-${i}`, correlationId: `corr-enrich-${i}` })));
    const worker = new Worker(db, registry, createLogger('silent'), { concurrency: SLOTS, pollMs: 50, relay: false });
    await worker.start();
    try {
      await waitFor('the bulk jobs', async () => bulkDone.length === BULK, 30_000, 20);
      const postingsWhenBulkDone = postingsDone.length;
      await waitFor('the postings', async () => postingsDone.length === POSTINGS, 60_000, 50);
      // The ERP paces the postings (96 requests, 8 a second): the bulk work was claimed and ran
      // at once, not once the normal backlog had shrunk to what the buffer could hold with it.
      assert.ok(postingsWhenBulkDone <= 2, `${postingsWhenBulkDone} of ${POSTINGS} postings were done before the last bulk job`);
      assert.equal(bulkMax, 2, `bulk jobs ran ${bulkMax} at a time (the lane's cap on ${SLOTS} slots is 2)`);
      // Postings waiting for the ERP held no slot: more jobs were in their handlers than the
      // worker has slots, and never more than twice as many.
      assert.ok(mostInHandlers > SLOTS && mostInHandlers <= 2 * SLOTS, `${mostInHandlers} jobs in their handlers at once on ${SLOTS} slots`);
      const deadLetters = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime_dead_letter')).rows[0]!.n);
      assert.equal(deadLetters, 0);
    } finally {
      await worker.stop(2000);
    }
  });
});
