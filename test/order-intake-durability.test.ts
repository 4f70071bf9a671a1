import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { ADMIN_CLIENT, fetchToken, spawnSyncline, testEnvironment, type ChildServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

let database: TestDatabase;
let server: ChildServer | undefined;

before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  server?.child.kill('SIGKILL');
  await database?.drop();
});

interface Attempt {
  key: string;
  order: Record<string, unknown>;
  status: number | 'cut';
  orderId?: string;
}

test('SIGKILL mid-load: every 201 order is stored exactly once with exactly one order.created event', async () => {
  const env = testEnvironment(database.url);
  server = await spawnSyncline(['api'], env);
  const token = await fetchToken(server.baseUrl);
  const attempts: Attempt[] = [];
  let stop = false;

  const client = async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const attempt: Attempt = { key: randomUUID(), order: sampleOrder(), status: 'cut' };
      attempts.push(attempt);
      try {
        const response = await submitOrder(server!.baseUrl, token, attempt.order, attempt.key);
        attempt.status = response.status;
        attempt.orderId = response.body?.id;
      } catch {
        return; // the server died under us
      }
    }
  };
  const clients = Array.from({ length: 24 }, client);
  // Let the load build up (a loaded machine takes longer), then kill the server without warning.
  await waitFor('150 orders accepted under load', async () => attempts.filter((a) => a.status === 201).length >= 150, 60_000);
  server.child.kill('SIGKILL');
  await server.exited;
  stop = true;
  await Promise.all(clients);

  const accepted = attempts.filter((a) => a.status === 201);
  const cut = attempts.filter((a) => a.status === 'cut');
  assert.ok(accepted.length >= 100, `only ${accepted.length} orders were accepted before the kill`);
  assert.ok(attempts.every((a) => a.status === 201 || a.status === 'cut'), 'only 201s or cut connections expected');

  server = await spawnSyncline(['api'], env);
  const after = await fetchToken(server.baseUrl, ADMIN_CLIENT);
  const opsToken = await fetchToken(server.baseUrl, ADMIN_CLIENT, 'events:read');

  // Every acknowledged order is there, once, under its channel order id.
  const rows = await database.db.query<{ id: string; channel_order_id: string }>('SELECT id, channel_order_id FROM sales_order');
  const byChannelOrder = new Map<string, string[]>();
  for (const row of rows.rows) byChannelOrder.set(row.channel_order_id, [...(byChannelOrder.get(row.channel_order_id) ?? []), row.id]);
  for (const attempt of accepted) {
    assert.deepEqual(byChannelOrder.get(attempt.order.channelOrderId as string), [attempt.orderId]);
  }

  // Its order.created event is in the feed exactly once.
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const response = await call(server.baseUrl, 'GET', `/v1/events?limit=1000${cursor ? `&after=${cursor}` : ''}`, { token: opsToken });
    assert.equal(response.status, 200);
    for (const event of response.body.events) if (event.type === 'order.created') counts.set(event.subject, (counts.get(event.subject) ?? 0) + 1);
    if (response.body.events.length === 0) break;
    cursor = response.body.nextCursor;
  }
  for (const attempt of accepted) assert.equal(counts.get(attempt.orderId!), 1, `order ${attempt.orderId} has ${counts.get(attempt.orderId!) ?? 0} events`);
  assert.equal(counts.size, rows.rows.length, 'an event for every stored order and no other');

  // A client whose request was cut off retries with the same key: it gets its order, never a second one.
  for (const attempt of cut.slice(0, 30)) {
    const retry = await submitOrder(server.baseUrl, after, attempt.order, attempt.key);
    assert.equal(retry.status, 201);
    const matches = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sales_order WHERE channel_order_id = $1', [attempt.order.channelOrderId]);
    assert.equal(matches.rows[0]!.n, 1);
  }

  // Logs carry no secrets, tokens or customer emails.
  const logs = server.output();
  assert.ok(!logs.includes(ADMIN_CLIENT.secret));
  assert.ok(!logs.includes(after));
  assert.ok(!logs.includes('ada@example.com'));
});
