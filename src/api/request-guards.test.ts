import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonNestsDeeperThan, RouteTable, scanJson } from './request-guards.ts';

test('JSON depth is measured without parsing; brackets inside strings do not count', () => {
  assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":2}]}', 3), false);
  assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":[2]}]}', 3), true);
  assert.equal(jsonNestsDeeperThan(`{"a":"${'['.repeat(1000)}"}`, 2), false);
  assert.equal(jsonNestsDeeperThan(`{"a":"\\"${'{'.repeat(10)}"}`, 2), false);
  assert.equal(jsonNestsDeeperThan('['.repeat(100_000), 64), true);
});

test('the scan notes every escape that can give text the database cannot store, and no other', () => {
  const escapes = (text: string) => scanJson(text, 64).unstorableEscape;
  // Plain text, other escapes, and an escaped backslash before "u0000" are storable.
  assert.equal(escapes('{"a":"caf\\u00e9 \\n \\" \\\\u0000"}'), false);
  assert.equal(escapes(`{"a":"${'x'.repeat(10_000)}","\u00e9":1}`), false);
  // NUL and any surrogate (paired or not, either case, in a key or a value) make the walk happen.
  for (const text of ['{"a":"x\\u0000"}', '{"\\uD800":1}', '["\\udfff"]', '{"a":"\\ud83d\\ude00"}', '{"a":"\\uDbFF"}']) {
    assert.equal(escapes(text), true, text);
    assert.ok(JSON.parse(text) !== undefined);
  }
  // Every string the scan calls storable parses to text the database can store.
  for (let code = 0; code <= 0xffff; code += 0x101) {
    const text = JSON.stringify({ v: `a\\u${code.toString(16).padStart(4, '0')}` }).replaceAll('\\\\', '\\');
    const value = JSON.parse(text).v as string;
    const storable = !value.includes('\u0000') && value.isWellFormed();
    if (!escapes(text)) assert.ok(storable, text);
  }
});

test('the route table finds the methods served at a concrete path', () => {
  const table = new RouteTable();
  table.add({ method: ['GET', 'HEAD'], url: '/v1/orders/:id' });
  table.add({ method: 'POST', url: '/v1/orders/:id/cancel' });
  table.add({ method: 'POST', url: '/v1/orders' });
  table.add({ method: 'GET', url: '/v1/orders' });
  assert.deepEqual(table.methodsAt('/v1/orders'), ['GET', 'POST']);
  assert.deepEqual(table.methodsAt('/v1/orders/ord_1/'), ['GET', 'HEAD']);
  assert.deepEqual(table.methodsAt('/v1/orders/ord_1/cancel'), ['POST']);
  assert.deepEqual(table.methodsAt('/v1/orders/ord_1/nothing'), []);
  assert.deepEqual(table.list().map((r) => r.url), ['/v1/orders/:id', '/v1/orders/:id/cancel', '/v1/orders']);
});
