import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './client.service.ts';

test('grace durations: whole numbers with ms, s, m, h or d; anything else is refused', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('24h'), 86_400_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['', '2', '1.5h', '-1h', 'soon', '2 weeks', '1e3s']) assert.equal(parseDuration(bad), undefined, bad);
});
