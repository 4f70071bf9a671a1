import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../observability/logger.ts';
import type { Database } from '../store/database.ts';
import { rateLimitHeaders, SharedWindowCounter, takeFromWindow } from './rate-limit.ts';

// Counting and deciding need no database; only sync() would use it.
const counter = () => new SharedWindowCounter(undefined as unknown as Database, createLogger('silent'), { syncMs: 200 });

test('a window admits up to its limit, then refuses until the next window; refused requests are not counted', () => {
  const shared = counter();
  const policy = { name: 'client', limit: 3, windowSeconds: 10 };
  const start = 1_700_000_000_000; // a window boundary (divisible by 10 s)
  const decisions = [0, 1, 2, 3, 4].map((i) => takeFromWindow(shared, 'client:a', policy, start + i * 1000));
  assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false, false]);
  assert.deepEqual(decisions.map((d) => d.remaining), [2, 1, 0, 0, 0]);
  assert.equal(decisions[3]!.resetSeconds, 7);
  assert.equal(shared.current('client:a', 10, start + 4000).count, 3);
  assert.equal(takeFromWindow(shared, 'client:a', policy, start + 10_000).allowed, true, 'a new window starts at 0');
  assert.equal(takeFromWindow(shared, 'client:b', policy, start + 4000).allowed, true, 'buckets are separate');
});

test('RateLimit header fields follow draft-ietf-httpapi-ratelimit-headers', () => {
  const decision = takeFromWindow(counter(), 'client:a', { name: 'default', limit: 100, windowSeconds: 60 }, 1_700_000_040_000 + 15_500);
  assert.deepEqual(rateLimitHeaders(decision), { 'RateLimit-Policy': '"default";q=100;w=60', RateLimit: '"default";r=99;t=45' });
});
