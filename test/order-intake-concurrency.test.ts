import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment, type ChildServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';

let database: TestDatabase;
let servers: ChildServer[] = [];

before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const server of servers) server.child.kill('SIGKILL');
  await database?.drop();
});

test('50 concurrent identical requests with one key, spread over two processes, create one order', async () => {
  servers = [await spawnSyncline(['api'], testEnvironment(database.url)), await spawnSyncline(['api'], testEnvironment(database.url))];
  const token = await fetchToken(servers[0]!.baseUrl);
  const order = sampleOrder();
  const key = randomUUID();
  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => submitOrder(servers[i % 2]!.baseUrl, token, order, key)),
  );
  const statuses = responses.map((r) => r.status);
  for (const status of statuses) assert.ok(status === 201 || status === 409, `unexpected status ${status}`);
  const created = responses.filter((r) => r.status === 201);
  assert.ok(created.length >= 1);
  assert.equal(new Set(created.map((r) => r.body.id)).size, 1, 'every 201 names the same order');
  assert.equal(created.filter((r) => r.headers.get('idempotent-replayed') !== 'true').length, 1, 'exactly one original 201');
  for (const conflict of responses.filter((r) => r.status === 409)) assert.match(conflict.body.type, /idempotency-key-in-flight$/);

  const stored = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sales_order WHERE channel_order_id = $1', [order.channelOrderId]);
  assert.equal(stored.rows[0]!.n, 1);
  const events = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_event WHERE type = 'order.created' AND subject = $1", [created[0]!.body.id]);
  assert.equal(events.rows[0]!.n, 1);

  // After the dust settles, the same request replays the original.
  const later = await submitOrder(servers[1]!.baseUrl, token, order, key);
  assert.equal(later.status, 201);
  assert.equal(later.headers.get('idempotent-replayed'), 'true');
  assert.equal(later.body.id, created[0]!.body.id);

  // And 50 different keys for the same channel order: one order, the rest duplicates.
  const sameOrder = sampleOrder();
  const racing = await Promise.all(Array.from({ length: 50 }, (_, i) => submitOrder(servers[i % 2]!.baseUrl, token, sameOrder)));
  assert.equal(racing.filter((r) => r.status === 201).length, 1);
  const duplicates = racing.filter((r) => r.status === 409);
  assert.equal(duplicates.length, 49);
  const winner = racing.find((r) => r.status === 201)!.body.id;
  for (const duplicate of duplicates) assert.equal(duplicate.body.existingOrderId, winner);
  const list = await call(servers[0]!.baseUrl, 'GET', `/v1/orders?channel=shopify-us&channelOrderId=${sameOrder.channelOrderId}`, { token });
  assert.equal(list.body.data.length, 1);
});
