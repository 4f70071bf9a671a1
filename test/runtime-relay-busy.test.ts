import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../src/observability/logger.ts';
import { appendEvents } from '../src/runtime/outbox/outbox.ts';
import { OutboxRelay } from '../src/runtime/outbox/relay.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * While events keep coming, the relay looks again soon after a round that found some, not after
 * its idle pause: a store flush's stream of events must not hold an order's event for the pause.
 */
let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.drop();
});

/** Writes `count` events `gapMs` apart with a relay idling 2 s; the delays of those written after it found the stream. */
async function relayDelays(name: string, count: number, gapMs: number): Promise<number[]> {
  const registry = new RuntimeRegistry();
  registry.subscribe({ name, types: [`test.${name}`], lane: 'critical', handle: async () => {} });
  // An idle pause of 2 s: a relay that waited for it after a round would leave events 1-2 s old.
  const relay = new OutboxRelay(database.db, registry, createLogger('silent'), { name, pollMs: 2000, busyPollMs: 20 });
  relay.start();
  try {
    // About 4 s of events: the relay's first look after the stream began may come a whole idle pause late.
    for (let i = 0; i < count; i++) {
      await database.db.transaction((tx) =>
        appendEvents(tx, [{ id: `evt-${name}-${i}`, type: `test.${name}`, source: '/test', subject: `s${i % 5}`, time: new Date().toISOString(), correlationId: `c${i}`, data: { i } }]),
      );
      await sleep(gapMs);
    }
    const delays = async () =>
      (await database.db.query<{ i: number; written: Date; relayed: Date }>(
        `SELECT (j.payload->'data'->>'i')::int AS i, (j.payload->>'time')::timestamptz AS written, j.created_at AS relayed
           FROM runtime_job j WHERE j.type = $1 ORDER BY 1`,
        [`event:${name}`],
      )).rows;
    const deadline = Date.now() + 10_000;
    while ((await delays()).length < count && Date.now() < deadline) await sleep(50);
    const rows = await delays();
    assert.equal(rows.length, count, 'every event relayed once');
    // Once the relay has found the stream, every later event comes while it is busy.
    const found = Math.min(...rows.map((r) => r.relayed.getTime()));
    const later = rows.filter((r) => r.written.getTime() > found).map((r) => r.relayed.getTime() - r.written.getTime()).sort((a, b) => a - b);
    assert.ok(later.length >= count / 4, `events written after the relay found the stream: ${later.length}`);
    return later;
  } finally {
    await relay.stop();
  }
}

const p90 = (sorted: number[]) => sorted[Math.floor(sorted.length * 0.9)]!;

test('events written every 20 ms are relayed within a fraction of the idle pause', { timeout: 60_000 }, async () => {
  const later = await relayDelays('busy', 160, 20);
  assert.ok(p90(later) < 500, `90 % of them relayed within 500 ms (idle pause 2,000 ms); p90 ${p90(later)} ms, slowest ${later.at(-1)} ms`);
});

test('events 60 ms apart (gaps longer than the busy poll) are relayed within a fraction of the idle pause', { timeout: 60_000 }, async () => {
  // Every other look of the relay finds nothing new: one empty look must not send it back to its idle pause.
  const later = await relayDelays('gaps', 70, 60);
  assert.ok(p90(later) < 500, `90 % of them relayed within 500 ms (idle pause 2,000 ms); p90 ${p90(later)} ms, slowest ${later.at(-1)} ms`);
});
