import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Database } from '../src/store/database.ts';
import { openPglite } from '../src/store/pglite.database.ts';
import { isMigrated, migrate } from '../src/store/migrate.ts';
import { insertOrders, type OrderInsert } from '../src/store/orders/insert-orders.ts';
import { findOrderById, listOrders, readTimeline } from '../src/store/orders/order-queries.ts';
import { saveOrderDocument } from '../src/store/orders/order-amendment-queries.ts';
import { decodeCursor, readFeed } from '../src/runtime/outbox/outbox.ts';
import { buildOrder } from '../src/domain/orders/order-builder.ts';
import { OrderSubmission } from '../src/model/order.ts';
import { newId } from '../src/model/ids.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { sampleOrder } from './support/orders.ts';

/**
 * The same store behaviours, run against the PostgreSQL server and embedded PGlite:
 * one exported-style function per behaviour, applied to each backend.
 */
function insertFor(overrides: Record<string, unknown> = {}, idempotency?: OrderInsert['idempotency']): OrderInsert {
  const order = buildOrder(OrderSubmission.parse(sampleOrder(overrides)), { correlationId: 'c-store', now: new Date() });
  return {
    order,
    idempotency,
    event: { id: newId('event'), type: 'order.created', source: '/syncline/orders', subject: order.id, time: order.createdAt, correlationId: 'c-store' },
  };
}

function storeContract(name: string, open: () => Promise<{ db: Database; close(): Promise<void> }>) {
  describe(`store on ${name}`, () => {
    let handle: { db: Database; close(): Promise<void> };
    after(async () => handle?.close());

    test('migrations apply once and are recorded', async () => {
      handle = await open();
      assert.deepEqual(await migrate(handle.db), []);
      assert.equal(await isMigrated(handle.db), true);
    });

    test('a batch insert reports created, duplicate, replay and key reuse per item', async () => {
      const { db } = handle;
      const first = insertFor({}, { scope: 'cli_a', key: 'k-1', fingerprint: 'f-1' });
      const [created] = await insertOrders(db, [first]);
      assert.equal(created!.kind, 'created');

      const replay = insertFor({ channelOrderId: first.order.channelOrderId }, { scope: 'cli_a', key: 'k-1', fingerprint: 'f-1' });
      const reused = insertFor({}, { scope: 'cli_a', key: 'k-1', fingerprint: 'f-2' });
      const otherClient = insertFor({}, { scope: 'cli_b', key: 'k-1', fingerprint: 'f-9' });
      const duplicate = insertFor({ channelOrderId: first.order.channelOrderId }, { scope: 'cli_a', key: 'k-2', fingerprint: 'f-3' });
      const twinA = insertFor({ channelOrderId: 'twin' });
      const twinB = insertFor({ channelOrderId: 'twin' });
      const sameKeyInBatch = insertFor({}, { scope: 'cli_c', key: 'k-1', fingerprint: 'f-5' });
      const sameKeyInBatchAgain = insertFor({}, { scope: 'cli_c', key: 'k-1', fingerprint: 'f-5' });
      const [reuse] = await insertOrders(db, [reused]);
      assert.equal(reuse!.kind, 'key-reused');
      const outcomes = await insertOrders(db, [replay, otherClient, duplicate, twinA, twinB, sameKeyInBatch, sameKeyInBatchAgain]);
      assert.deepEqual(outcomes.map((o) => o.kind), ['replayed', 'created', 'duplicate', 'created', 'duplicate', 'created', 'key-in-flight']);
      assert.deepEqual(outcomes[0], { kind: 'replayed', orderId: first.order.id, status: 201 });
      assert.deepEqual(outcomes[2], { kind: 'duplicate', existingOrderId: first.order.id });
      assert.deepEqual(outcomes[4], { kind: 'duplicate', existingOrderId: twinA.order.id });
    });

    test('a stored order reads back identically, with lines and its first timeline entry', async () => {
      const { db } = handle;
      const item = insertFor({ shippingTotal: '4.00' });
      await insertOrders(db, [item]);
      const stored = await findOrderById(db, item.order.id);
      assert.equal(JSON.stringify(stored), JSON.stringify(item.order));
      assert.deepEqual(stored!.lines.map((l) => [l.sku, l.lineTotal]), [['TEE-M', '39.98'], ['MUG', '8.50']]);
      const timeline = await readTimeline(db, item.order.id);
      assert.deepEqual(timeline.map((t) => t.action), ['order.received']);
      const listed = await listOrders(db, { channel: 'shopify-us', channelOrderId: item.order.channelOrderId, limit: 10 });
      assert.deepEqual(listed.map((o) => o.id), [item.order.id]);
    });

    test('an order.created event carries the order as accepted, also after an amendment rewrote it', async () => {
      const { db } = handle;
      const item = insertFor();
      await insertOrders(db, [item]);
      const stored = await db.query<{ data: unknown }>("SELECT data FROM outbox_event WHERE subject = $1 AND type = 'order.created'", [item.order.id]);
      assert.equal(stored.rows[0]!.data, null, 'intake does not copy the order into the outbox');
      const created = async () => {
        const events: unknown[] = [];
        for (let cursor, page = 0; page < 1000; page++) {
          const result = await readFeed(db, cursor, 100);
          if (result.events.length === 0) break;
          events.push(...result.events.filter((e) => e.subject === item.order.id).map((e) => e.data));
          cursor = decodeCursor(result.nextCursor!);
        }
        return events;
      };
      const accepted = JSON.parse(JSON.stringify(item.order));
      assert.deepEqual(await created(), [accepted]);
      await db.transaction((tx) => saveOrderDocument(tx, { ...item.order, customer: { ...item.order.customer, email: 'grace@example.com' } }));
      assert.equal((await findOrderById(db, item.order.id))!.customer.email, 'grace@example.com');
      assert.deepEqual(await created(), [accepted]);
      await db.transaction((tx) => saveOrderDocument(tx, { ...item.order, customer: { ...item.order.customer, email: 'alan@example.com' } }));
      assert.deepEqual(await created(), [accepted], 'a second amendment leaves the event as it was');
    });

    test('a rolled-back transaction leaves no order and no event', async () => {
      const { db } = handle;
      const item = insertFor();
      await assert.rejects(
        db.transaction(async (tx) => {
          await insertOrders(tx, [item]);
          throw new Error('caller failed after writing');
        }),
        /caller failed/,
      );
      assert.equal(await findOrderById(db, item.order.id), undefined);
      const events = await db.query('SELECT 1 FROM outbox_event WHERE subject = $1', [item.order.id]);
      assert.equal(events.rowCount, 0);
    });

    test('the feed pages through every event once, in order, with a stable cursor', async () => {
      const { db } = handle;
      const ids: string[] = [];
      let cursor;
      for (let page = 0; page < 100; page++) {
        const result = await readFeed(db, cursor, 2);
        if (result.events.length === 0) {
          assert.deepEqual(result.nextCursor && decodeCursor(result.nextCursor), cursor);
          break;
        }
        ids.push(...result.events.map((e) => e.id));
        cursor = decodeCursor(result.nextCursor!);
      }
      const all = await db.query<{ id: string }>('SELECT id FROM outbox_event ORDER BY tx_id, position');
      assert.deepEqual(ids, all.rows.map((r) => r.id));
      assert.equal(new Set(ids).size, ids.length);
    });
  });
}

storeContract('PostgreSQL', async () => {
  const database: TestDatabase = await createTestDatabase();
  return { db: database.db, close: () => database.drop() };
});

storeContract('PGlite', async () => {
  const db = await openPglite(undefined);
  await migrate(db);
  return { db, close: () => db.close() };
});
