import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isId, newId } from './ids.ts';

test('ids carry their prefix, are unique and sort by creation', () => {
  const ids = Array.from({ length: 5000 }, () => newId('order'));
  assert.ok(ids.every((id) => isId('order', id)));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(isId('order', newId('event')), false);
});

test('the random part is spread over the whole alphabet', () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 2000; i++) for (const c of newId('event').slice(-10)) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 32);
});
