import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimalPlaces, fromScaled, minorUnits, toScaled } from './money.ts';

test('minor units follow ISO 4217', () => {
  assert.equal(minorUnits('USD'), 2);
  assert.equal(minorUnits('JPY'), 0);
  assert.equal(minorUnits('KWD'), 3);
});

test('scaled arithmetic is exact where floats are not', () => {
  const sum = toScaled('0.1', 2) + toScaled('0.2', 2);
  assert.equal(fromScaled(sum, 2), '0.30');
  assert.equal(fromScaled(toScaled('19.99', 2) * 3n, 2), '59.97');
  assert.equal(fromScaled(toScaled('-1.5', 2), 2), '-1.50');
  assert.equal(fromScaled(5n, 2), '0.05');
  assert.equal(fromScaled(1200n, 0), '1200');
});

test('more places than the scale is refused, not rounded', () => {
  assert.throws(() => toScaled('1.234', 2), RangeError);
  assert.equal(decimalPlaces('1.234'), 3);
  assert.equal(decimalPlaces('12'), 0);
});
