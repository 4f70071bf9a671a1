import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonNestsDeeperThan, RouteTable } from './request-guards.ts';

test('JSON depth is measured without parsing; brackets inside strings do not count', () => {
  assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":2}]}', 3), false);
  assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":[2]}]}', 3), true);
  assert.equal(jsonNestsDeeperThan(`{"a":"${'['.repeat(1000)}"}`, 2), false);
  assert.equal(jsonNestsDeeperThan(`{"a":"\\"${'{'.repeat(10)}"}`, 2), false);
  assert.equal(jsonNestsDeeperThan('['.repeat(100_000), 64), true);
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
