import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FinishedRun } from './rehearsal-harness.ts';
import { backlog, expectedStock, judgeFlush, POS_SKUS, type FlushObservation, type FlushOutcome } from './store-reconnect.ts';

/** The store-reconnect checks judge what Syncline holds: they pass on a faithful result and fail on a doctored one. */

const stores = ['STORE-001', 'STORE-002'];
const batches = stores.flatMap((store) => backlog('t', store, 25, 10));
for (const b of batches) b.sends.push({ status: 201, body: {}, replayed: false, attempts: [{ at: 2, ms: 40, status: 201, replayed: false }] });
const expected = expectedStock(stores, batches);
const pooled = (sku: string) => stores.reduce((n, s) => n + expected.get(`${s}\n${sku}`)!, 0);
const outcome: FlushOutcome = { stores, batches, expected, flush: { startedAt: 2, endedAt: 3 }, published: new Map(POS_SKUS.map((sku) => [sku, pooled(sku)])) };
const run: FinishedRun = {
  submissions: [
    { channel: 'web', channelOrderId: 'a', lines: [], submittedAt: 1, acceptedAt: 1.1, id: 'ord_a' },
    { channel: 'web', channelOrderId: 'b', lines: [], submittedAt: 2.5, acceptedAt: 2.6, id: 'ord_b' },
  ],
  samples: [{ t: 4, erpBacklog: 0, lanes: [0, 0, 0], relay: { behind: 0, lagMs: 0, oldestWriterMs: 0 }, process: { eventLoopDelayP99Ms: 12, cpuPercent: 40, hostCpuPercent: 60, poolWaitingMax: 0 } }],
  toAllocatedMs: new Map([
    ['ord_a', 300],
    ['ord_b', 350],
  ]),
  erpSalesByReference: new Map(),
  status: new Map(),
  quota: 40,
  p99Bound: 2000,
};

/** The ledger and stock a correct Syncline would hold. */
function faithful(): FlushObservation {
  return {
    ledger: new Map(batches.flatMap((b) => b.movements.map((m) => [m.reference, 1] as const))),
    stock: new Map([...expected].map(([pair, onHand]) => [pair, { onHand, available: onHand }])),
  };
}

const failing = (seen: FlushObservation, o = outcome) => judgeFlush(run, o, seen).checks!.filter((c) => !c.ok).map((c) => c.name);

test('a faithful result passes every check; the backlog has sales and returns', () => {
  assert.ok(batches.flatMap((b) => b.movements).some((m) => m.type === 'return'));
  assert.ok(batches.flatMap((b) => b.movements).some((m) => m.type === 'adjustment' && m.quantity < 0));
  assert.deepEqual(failing(faithful()), []);
});

test('a movement applied twice fails the exactly-once and the arithmetic checks', () => {
  const seen = faithful();
  const twice = batches[1]!.movements[0]!;
  seen.ledger.set(twice.reference, 2);
  const pair = `${twice.location}\n${twice.sku}`;
  seen.stock.set(pair, { onHand: expected.get(pair)! + twice.quantity, available: expected.get(pair)! + twice.quantity });
  assert.deepEqual(failing(seen), ['store movements not applied exactly once', 'store stock off the arithmetic']);
});

test('a lost movement, a negative shelf, a stale published figure and an unanswered batch each fail their check', () => {
  const seen = faithful();
  seen.ledger.set(batches[0]!.movements[0]!.reference, 0);
  assert.deepEqual(failing(seen), ['store movements not applied exactly once']);

  const negative = faithful();
  const [pair] = [...expected.keys()];
  negative.stock.set(pair!, { onHand: expected.get(pair!)!, available: -1 });
  assert.deepEqual(failing(negative), ['negative on hand or availability']);

  assert.deepEqual(failing(faithful(), { ...outcome, published: new Map([...outcome.published].map(([sku, n]) => [sku, sku === 'POS-1' ? n + 1 : n])) }), ['availability published after the flush']);

  const unanswered = { ...outcome, batches: batches.map((b, i) => (i === 0 ? { ...b, sends: [{ status: 409, body: {}, replayed: false, attempts: [] }] } : b)) };
  assert.deepEqual(failing(faithful(), unanswered), ['store batches never answered']);
});

test('web orders slowed by the flush beyond 1.25 × the p99 before it fail the critical-lane check', () => {
  const slowed = { ...run, toAllocatedMs: new Map([...run.toAllocatedMs, ['ord_b', 2600]]) };
  assert.deepEqual(
    judgeFlush(slowed, outcome, faithful()).checks!.filter((c) => !c.ok).map((c) => c.name),
    ['time to allocated p99 during the flush (ms)'],
  );
});
