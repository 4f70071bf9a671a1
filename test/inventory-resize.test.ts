import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { createLogger } from '../src/observability/logger.ts';
import { InventoryService, type WriteContext } from '../src/domain/inventory/inventory.service.ts';

/** Resizing a hold (an order amended before release) on the real PostgreSQL: only the difference must be free; never an oversell. */

let database: TestDatabase;
let inventory: InventoryService;
const ctx = (): WriteContext => ({ correlationId: `test-${Math.random().toString(36).slice(2)}` });
const availableOf = async (sku: string) => {
  const a = await inventory.getAvailability({ sku, channel: 'shop' });
  assert.ok(!('kind' in a));
  return a.available;
};
const reserve = async (reference: string, sku: string, quantity: number) => {
  const outcome = await inventory.reserve({ reference, channel: 'shop', lines: [{ sku, quantity, location: 'WH-EAST' }] }, ctx());
  assert.ok(outcome.kind === 'done' && outcome.result.kind === 'reserved', JSON.stringify(outcome));
  return outcome.result.reservation.id;
};

before(async () => {
  database = await createTestDatabase();
  inventory = new InventoryService(database.db, createLogger('silent'));
  assert.equal((await inventory.createLocation({ code: 'WH-EAST', name: 'East', kind: 'warehouse' }, ctx())).kind, 'done');
  const receipt = await inventory.recordMovements({ movements: [{ type: 'receipt', sku: 'RS-1', location: 'WH-EAST', quantity: 5 }, { type: 'receipt', sku: 'RS-2', location: 'WH-EAST', quantity: 2 }] } as never, ctx());
  assert.equal(receipt.kind, 'done');
});
after(async () => {
  await inventory?.stop();
  await database?.drop();
});

test('a hold grows by what is free, shrinks, takes a new SKU, and refuses more than is there leaving the hold as it was', async () => {
  const id = await reserve('ord_resize_1', 'RS-1', 2);
  await reserve('ord_other', 'RS-1', 2);
  assert.equal(await availableOf('RS-1'), 1);
  // 2 -> 3: one more unit, exactly what is free.
  const grown = await inventory.resize(id, [{ sku: 'RS-1', quantity: 3 }]);
  assert.equal(grown.kind, 'resized', JSON.stringify(grown));
  assert.equal(await availableOf('RS-1'), 0);
  // 3 -> 4: nothing free; the hold keeps its 3.
  const refused = await inventory.resize(id, [{ sku: 'RS-1', quantity: 4 }]);
  assert.equal(refused.kind, 'insufficient-stock');
  assert.deepEqual((await inventory.getReservation(id))!.lines.map((l) => [l.sku, l.quantity]), [['RS-1', 3]]);
  assert.equal(await availableOf('RS-1'), 0);
  // 3 -> 1 and a new SKU: two units back, two units of RS-2 held.
  const changed = await inventory.resize(id, [{ sku: 'RS-1', quantity: 1 }, { sku: 'RS-2', quantity: 2 }]);
  assert.equal(changed.kind, 'resized');
  assert.deepEqual((await inventory.getReservation(id))!.lines.map((l) => [l.sku, l.quantity]), [['RS-1', 1], ['RS-2', 2]]);
  assert.deepEqual([await availableOf('RS-1'), await availableOf('RS-2')], [2, 0]);
  // Resizing to the same quantities again holds the same units (a retried amendment).
  assert.equal((await inventory.resize(id, [{ sku: 'RS-1', quantity: 1 }, { sku: 'RS-2', quantity: 2 }])).kind, 'resized');
  assert.deepEqual([await availableOf('RS-1'), await availableOf('RS-2')], [2, 0]);
  assert.deepEqual((await inventory.verify()).drift, []);
});

test('two holds racing for the last units: never more held than there is', async () => {
  const a = await reserve('ord_race_a', 'RS-1', 1);
  const b = await reserve('ord_race_b', 'RS-1', 1);
  assert.equal((await inventory.recordMovements({ movements: [{ type: 'receipt', sku: 'RS-1', location: 'WH-EAST', quantity: 1 }] } as never, ctx())).kind, 'done');
  const free = await availableOf('RS-1');
  assert.equal(free, 1);
  const results = await Promise.all([inventory.resize(a, [{ sku: 'RS-1', quantity: 1 + free }]), inventory.resize(b, [{ sku: 'RS-1', quantity: 1 + free }])]);
  assert.deepEqual(results.map((r) => r.kind).sort(), ['insufficient-stock', 'resized']);
  assert.equal(await availableOf('RS-1'), 0);
});

test('a closed hold is not resized', async () => {
  assert.equal((await inventory.recordMovements({ movements: [{ type: 'receipt', sku: 'RS-3', location: 'WH-EAST', quantity: 1 }] } as never, ctx())).kind, 'done');
  const id = await reserve('ord_closed', 'RS-3', 1);
  await inventory.release(id, ctx());
  const outcome = await inventory.resize(id, [{ sku: 'RS-3', quantity: 1 }]);
  assert.deepEqual(outcome, { kind: 'not-resizable', reason: 'the reservation is released' });
  assert.equal(await availableOf('RS-3'), 1);
});
