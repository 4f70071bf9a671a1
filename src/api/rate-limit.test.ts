import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../observability/logger.ts';
import type { Database } from '../store/database.ts';
import { rateLimitHeaders, SharedWindowCounter, takeFromWindow } from './rate-limit.ts';

// Counting and deciding need no database; only sync() would use it.
const counter = () => new SharedWindowCounter(undefined as unknown as Database, createLogger('silent'), { syncMs: 200 });

test('a window admits up to its limit, then refuses; refused requests are not counted', () => {
  const shared = counter();
  const policy = { name: 'client', limit: 3, windowSeconds: 10 };
  const start = 1_700_000_000_000; // a window boundary (divisible by 10 s)
  const decisions = [0, 1, 2, 3, 4].map((i) => takeFromWindow(shared, 'client:a', policy, start + i * 1000));
  assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false, false]);
  assert.deepEqual(decisions.map((d) => d.remaining), [2, 1, 0, 0, 0]);
  assert.equal(shared.current('client:a', 10, start + 4000).count, 3);
  assert.equal(takeFromWindow(shared, 'client:b', policy, start + 4000).allowed, true, 'buckets are separate');
});

test('no burst of twice the limit across a window boundary: the previous window counts by the share of it the sliding span still covers', () => {
  const shared = counter();
  const policy = { name: 'client', limit: 3, windowSeconds: 10 };
  const start = 1_700_000_000_000;
  // A client asking every 100 ms from 7 s to 37 s. Fixed windows alone would admit 7.0, 7.1, 7.2 and
  // again 10.0, 10.1, 10.2: six requests within 3.2 s.
  const admitted: number[] = [];
  for (let at = 7000; at <= 37_000; at += 100) if (takeFromWindow(shared, 'client:a', policy, start + at).allowed) admitted.push(at);
  assert.deepEqual(admitted.slice(0, 4), [7000, 7100, 7200, 13_400], 'at 10 s the full previous window still counts; at 13.4 s it weighs 1.98');
  const most = (span: number) => Math.max(...admitted.map((from) => admitted.filter((at) => at >= from && at < from + span).length));
  assert.equal(most(5000), 3, 'never more than the limit within half a window');
  assert.ok(most(10_000) < 2 * policy.limit, `within one window ${most(10_000)}`);
  assert.equal(admitted.length, 9, "the limit's rate over 30 s: three windows of three");
  // The refused request says when one more fits.
  const shared2 = counter();
  for (const at of [7000, 8000, 9000]) takeFromWindow(shared2, 'client:a', policy, start + at);
  assert.equal(takeFromWindow(shared2, 'client:a', policy, start + 9500).resetSeconds, 4, 'one more fits at 13.33 s');
});

test('a full window is refused until the next window has faded it enough', () => {
  const shared = counter();
  const policy = { name: 'client', limit: 3, windowSeconds: 10 };
  const start = 1_700_000_000_000;
  for (const at of [0, 1000, 2000]) takeFromWindow(shared, 'client:a', policy, start + at);
  const refused = takeFromWindow(shared, 'client:a', policy, start + 3000);
  assert.equal(refused.allowed, false);
  assert.equal(refused.resetSeconds, 11, '7 s left in this window and 3.33 s into the next');
  assert.equal(takeFromWindow(shared, 'client:a', policy, start + 10_000 + 3300).allowed, false);
  assert.equal(takeFromWindow(shared, 'client:a', policy, start + 10_000 + 3400).allowed, true);
});

test('RateLimit header fields follow draft-ietf-httpapi-ratelimit-headers', () => {
  const decision = takeFromWindow(counter(), 'client:a', { name: 'default', limit: 100, windowSeconds: 60 }, 1_700_000_040_000 + 15_500);
  assert.deepEqual(rateLimitHeaders(decision), { 'RateLimit-Policy': '"default";q=100;w=60', RateLimit: '"default";r=99;t=45' });
});
