import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import type { CloudEvent } from '../src/model/cloud-event.ts';
import { createLogger } from '../src/observability/logger.ts';
import { appendEvents } from '../src/runtime/outbox/outbox.ts';
import { enqueue } from '../src/runtime/queue.ts';
import { RuntimeRegistry } from '../src/runtime/registry.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import type { Database } from '../src/store/database.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, testEnvironment } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

/**
 * `syncline start` runs the API and a worker in one process. The API's requests must not be able
 * to hold every database connection the worker needs, nor the one order intake writes on
 * (docs/runtime.md), and the relay makes no job for an event a subscription does not accept.
 */
describe('one process, two roles: the worker and order intake have connections of their own; subscriptions choose their events', () => {
  let database: TestDatabase;
  let running: RunningSyncline;
  let outside: Database;
  const ran: string[] = [];
  const seen: string[] = [];

  before(async () => {
    database = await createTestDatabase();
    // Three connections per role; the API's notifications keep one of its three.
    const config = loadConfig(testEnvironment(database.url, { SYNCLINE_DB_POOL_SIZE: '3', SYNCLINE_WORKER_POLL_MS: '200' }));
    const registry = new RuntimeRegistry();
    registry.register<{ n: string }>('test.bulkhead', async (payload) => {
      ran.push(payload.n);
    });
    registry.subscribe({
      name: 'test-accepts',
      types: ['test.happened'],
      lane: 'critical',
      accepts: (event: CloudEvent) => (event.data as { wanted?: boolean } | undefined)?.wanted === true,
      handle: async (event) => {
        seen.push(event.id);
      },
    });
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: true, registry });
    outside = openPostgres({ connectionString: database.url, poolSize: 2 });
  });
  after(async () => {
    await running?.close();
    await outside?.close();
    await database?.drop();
  });

  /** Runs `work` while API work holds every connection of the API pool (and more wait for one). */
  async function withApiPoolExhausted(work: () => Promise<void>): Promise<void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let open = 0;
    // As many long transactions as the pool has connections: those that get one hold it, the others wait.
    const holders = [0, 1, 2].map(() =>
      running.db.transaction(async () => {
        open += 1;
        await held;
      }),
    );
    try {
      await waitFor('the API pool to be exhausted', async () => open >= 1 && (running.db.pool?.().waiting ?? 0) >= 1, 10_000, 10);
      await work();
      assert.ok((running.db.pool?.().waiting ?? 0) >= 1, 'the API pool was still exhausted when the work was done');
    } finally {
      release();
      await Promise.all(holders);
    }
  }

  test('a critical job runs while API work holds every connection of the API pool', async () => {
    await withApiPoolExhausted(async () => {
      const n = randomUUID();
      await outside.transaction((tx) => enqueue(tx, { type: 'test.bulkhead', payload: { n }, lane: 'critical', correlationId: n }));
      await waitFor('the worker to run the job on its own connections', async () => ran.includes(n), 15_000, 20);
    });
  });

  test('an order is accepted while API work holds every connection of the API pool', { timeout: 30_000 }, async () => {
    const token = await fetchToken(running.url!, undefined, 'orders:write');
    await withApiPoolExhausted(async () => {
      const accepted = await submitOrder(running.url!, token, sampleOrder({ channelOrderId: `BULKHEAD-${randomUUID()}` }));
      assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
      const stored = await outside.query<{ n: string }>('SELECT count(*) AS n FROM sales_order WHERE id = $1', [(accepted.body as { id: string }).id]);
      assert.equal(Number(stored.rows[0]!.n), 1, 'the order is committed');
    });
  });

  test('stock movements run on a few connections of their own: while a flush waits, orders and reads are answered', { timeout: 60_000 }, async () => {
    const token = await fetchToken(running.url!, undefined, 'inventory:write inventory:read orders:write');
    const api = (method: string, path: string, body?: unknown) => call(running.url!, method, path, { token, body, headers: { 'idempotency-key': randomUUID() } });
    const sku = `FLUSH-${randomUUID().slice(0, 8)}`;
    assert.equal((await api('POST', '/v1/locations', { code: 'STORE-BULKHEAD', name: 'Store', kind: 'store' })).status, 201);
    assert.equal((await api('POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku, location: 'STORE-BULKHEAD', quantity: 100 }] })).status, 201);
    // The SKU's stock row is locked from outside: every movement of it waits until the lock goes.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = outside.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM inventory_balance WHERE sku = $1 FOR UPDATE', [sku]);
      locked();
      await held;
    });
    await isLocked;
    const sales = Array.from({ length: 8 }, (_, i) => api('POST', '/v1/inventory/movements', { movements: [{ type: 'adjustment', sku, location: 'STORE-BULKHEAD', quantity: -1, reason: `sale ${i}` }] }));
    try {
      const movementBackends = async () =>
        (await outside.query<{ waiting: boolean }>(
          "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'syncline-movements' AND state = 'active'",
        )).rows;
      // Two writers (the default) wait on the lock; the other six wait for one of them, in the process.
      await waitFor('both movement writers to wait on the lock', async () => (await movementBackends()).filter((r) => r.waiting).length === 2, 10_000, 20);
      const order = await submitOrder(running.url!, token, sampleOrder({ channelOrderId: `FLUSH-${randomUUID()}` }));
      assert.equal(order.status, 201, JSON.stringify(order.body));
      const availability = await api('GET', `/v1/inventory/availability?sku=${sku}`);
      assert.equal(availability.status, 200);
      assert.equal(availability.body.onHand, 100, 'read while the movements wait');
      assert.equal((await movementBackends()).length, 2, 'never more than the movement writers at once');
      assert.equal(running.db.pool?.().waiting ?? 0, 0, "nothing waits for the API's pool");
    } finally {
      release();
      await holder;
    }
    const answers = await Promise.all(sales);
    assert.deepEqual(answers.map((a) => a.status), Array(8).fill(201));
    assert.equal((await api('GET', `/v1/inventory/availability?sku=${sku}`)).body.onHand, 92, 'every queued movement applied once');
  });

  test('the relay makes no job for an event the subscription does not accept', async () => {
    const skipped = `evt_${randomUUID()}`;
    const wanted = `evt_${randomUUID()}`;
    const event = (id: string, isWanted: boolean) => ({
      id,
      type: 'test.happened',
      source: '/test',
      subject: 'one-subject',
      time: new Date().toISOString(),
      correlationId: id,
      data: { wanted: isWanted },
    });
    // The refused event first, in its own transaction: when the wanted one is handled, the refused one was relayed.
    await outside.transaction((tx) => appendEvents(tx, [event(skipped, false)]));
    await outside.transaction((tx) => appendEvents(tx, [event(wanted, true)]));
    await waitFor('the accepted event to reach its subscriber', async () => seen.includes(wanted), 15_000, 20);
    assert.deepEqual(seen, [wanted]);
    const jobs = await outside.query<{ n: string }>(`SELECT count(*) AS n FROM runtime_job WHERE job_key = $1`, [`test-accepts:${skipped}`]);
    assert.equal(Number(jobs.rows[0]!.n), 0);
  });
});
