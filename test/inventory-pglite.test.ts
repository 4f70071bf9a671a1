import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPglite } from '../src/store/pglite.database.ts';
import { migrate } from '../src/store/migrate.ts';
import type { Database } from '../src/store/database.ts';
import { createLogger } from '../src/observability/logger.ts';
import { InventoryService } from '../src/domain/inventory/inventory.service.ts';

/** The same inventory code on embedded PGlite (no DATABASE_URL): same SQL, same migrations. */
let db: Database;
let inventory: InventoryService;
const ctx = { correlationId: 'pglite' };

before(async () => {
  db = await openPglite(undefined);
  await migrate(db);
  inventory = new InventoryService(db, createLogger('silent'));
});
after(async () => {
  await inventory?.stop();
  await db?.close();
});

test('reserve, release, consume, expire, publish and reconcile on PGlite', async () => {
  assert.equal((await inventory.createLocation({ code: 'WH', name: 'Warehouse', kind: 'warehouse' }, ctx)).kind, 'done');
  const receipt = await inventory.recordMovements({ movements: [{ type: 'receipt', sku: 'LITE', location: 'WH', quantity: 10 }] }, ctx);
  assert.equal(receipt.kind === 'done' && receipt.result.kind, 'recorded');

  const results = await Promise.all(
    Array.from({ length: 15 }, (_, i) => inventory.reserve({ reference: `lite-${i}`, channel: 'web', lines: [{ sku: 'LITE', quantity: 1 }] }, { ...ctx, idempotency: { scope: 'c', key: `k-${i}`, fingerprint: 'f' } })),
  );
  const reserved = results.filter((r) => r.kind === 'done' && r.result.kind === 'reserved');
  assert.equal(reserved.length, 10);
  const ids = reserved.map((r) => (r as { result: { reservation: { id: string } } }).result.reservation.id);
  const replay = await inventory.reserve({ reference: 'lite-0', channel: 'web', lines: [{ sku: 'LITE', quantity: 1 }] }, { ...ctx, idempotency: { scope: 'c', key: 'k-0', fingerprint: 'f' } });
  assert.equal(replay.kind === 'done' && replay.replayed, true);

  assert.equal((await inventory.release(ids[0]!, ctx)).kind, 'done');
  const consumed = await inventory.consume(ids[1]!, {}, ctx);
  assert.equal(consumed.kind === 'done' && consumed.result.kind, 'consumed');
  const hold = await inventory.reserve({ reference: 'cart', channel: 'web', lines: [{ sku: 'LITE', quantity: 1 }], expiresAt: new Date(Date.now() + 20).toISOString() }, ctx);
  assert.equal(hold.kind === 'done' && hold.result.kind, 'reserved');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await inventory.expireDueHolds(), 1);
  assert.ok((await inventory.publishAvailability()) >= 1);

  const availability = await inventory.getAvailability({ sku: 'LITE' });
  assert.ok(!('kind' in availability));
  assert.deepEqual([availability.onHand, availability.reserved, availability.available], [9, 8, 1]);

  const report = await inventory.reconcile({ source: 'wms', complete: false, apply: true, lines: [{ sku: 'LITE', location: 'WH', quantity: 12 }] }, ctx);
  assert.equal(report.kind === 'done' && report.result.kind, 'reported');
  assert.deepEqual((await inventory.verify()).drift, []);
});
