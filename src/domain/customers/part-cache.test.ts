import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartCache } from './part-cache.ts';

/** The part cache's rules, with a clock the tests move; reads that must be slow wait on a promise the test settles. */

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

test('a read within the TTL is served from cache with its time; after it the system is asked again', async () => {
  let clock = 1_000_000;
  const cache = new PartCache({ ttlMs: 30_000, maxAgeMs: 600_000, now: () => clock });
  let calls = 0;
  const fetch = async () => ++calls;
  assert.deepEqual(await cache.read('k', fetch, 100), { status: 'ok', value: 1, at: 1_000_000 });
  clock += 30_000;
  assert.deepEqual(await cache.read('k', fetch, 100), { status: 'cached', value: 1, at: 1_000_000 });
  clock += 1;
  assert.deepEqual(await cache.read('k', fetch, 100), { status: 'ok', value: 2, at: clock });
  assert.equal(calls, 2);
});

test('a read past the wait: the last copy within the maximum age with the reason, else unavailable; the read fills the cache when it ends', async () => {
  let clock = 0;
  const cache = new PartCache({ ttlMs: 10, maxAgeMs: 1000, now: () => clock });
  assert.equal((await cache.read('k', async () => 'old', 100)).status, 'ok');
  clock = 500;
  const slow = deferred<string>();
  assert.deepEqual(await cache.read('k', () => slow.promise, 5), { status: 'cached', value: 'old', at: 0, error: 'timeout' });
  slow.resolve('new');
  await slow.promise;
  assert.deepEqual(await cache.read('k', async () => 'unused', 5), { status: 'cached', value: 'new', at: 500 });
  clock = 2000;
  const failing = Object.assign(new Error('down'), { code: 'connector.unavailable' });
  assert.deepEqual(await cache.read('k', async () => Promise.reject(failing), 100), { status: 'unavailable', error: 'connector.unavailable' });
});

test('concurrent reads of one part share one call', async () => {
  const cache = new PartCache({ ttlMs: 0 });
  const pending = deferred<number>();
  let calls = 0;
  const fetch = () => (calls++, pending.promise);
  const reads = Promise.all([cache.read('k', fetch, 1000), cache.read('k', fetch, 1000), cache.read('k', fetch, 1000)]);
  pending.resolve(7);
  assert.deepEqual((await reads).map((r) => r.status), ['ok', 'ok', 'ok']);
  assert.equal(calls, 1);
});
