import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findUnstorableText, unstorableReason } from './text.ts';

test('NUL and lone surrogates are unstorable; other text is fine', () => {
  assert.equal(unstorableReason('plain ✓ 😀'), undefined);
  assert.match(unstorableReason('a\u0000b')!, /NUL/);
  assert.match(unstorableReason('x\ud800')!, /surrogate/);
  assert.match(unstorableReason('\udc00y')!, /surrogate/);
});

test('findUnstorableText points at values and keys, deep or not', () => {
  const found = findUnstorableText({ a: 'ok', b: [1, 'x\u0000'], c: { 'k\ud800': 'v' }, d: { e: { f: '\udfff' } } });
  assert.deepEqual(found.map((f) => f.path), [['b', 1], ['c', 'k\ud800'], ['d', 'e', 'f']]);
  let deep: unknown = 'bad\u0000';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(findUnstorableText(deep)[0]!.path.length, 100_000);
});
