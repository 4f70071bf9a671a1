import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCountryCode } from './country.ts';

test('assigned ISO 3166-1 alpha-2 codes pass; unknown, reserved and deprecated ones do not', () => {
  for (const code of ['US', 'DE', 'GB', 'JP', 'BR', 'CW', 'SS', 'AQ', 'AX']) assert.ok(isCountryCode(code), code);
  for (const code of ['ZZ', 'XX', 'AA', 'UK', 'SU', 'EU', 'UN', 'XK', 'IC', 'us', 'USA', '']) assert.ok(!isCountryCode(code), code);
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let assigned = 0;
  for (const a of letters) for (const b of letters) if (isCountryCode(a + b)) assigned++;
  assert.equal(assigned, 249);
});
