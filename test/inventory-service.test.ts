import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { createLogger } from '../src/observability/logger.ts';
import { InventoryService, type WriteContext } from '../src/domain/inventory/inventory.service.ts';
import type { Availability } from '../src/model/inventory.ts';
import { pruneRecords } from '../src/store/idempotency/idempotency-records.ts';

let database: TestDatabase;
let inventory: InventoryService;
const ctx = (): WriteContext => ({ correlationId: `test-${Math.random().toString(36).slice(2)}` });

async function available(sku: string, channel?: string): Promise<Availability> {
  const result = await inventory.getAvailability({ sku, channel });
  assert.ok(!('kind' in result));
  return result;
}

async function move(movements: unknown[]): Promise<void> {
  const outcome = await inventory.recordMovements({ movements } as never, ctx());
  assert.equal(outcome.kind, 'done', JSON.stringify(outcome));
  if (outcome.kind === 'done') assert.equal(outcome.result.kind, 'recorded', JSON.stringify(outcome.result));
}

async function reserve(reference: string, channel: string, lines: { sku: string; quantity: number; location?: string }[], expiresAt?: string) {
  const outcome = await inventory.reserve({ reference, channel, lines, ...(expiresAt ? { expiresAt } : {}) }, ctx());
  assert.equal(outcome.kind, 'done', JSON.stringify(outcome));
  return (outcome as { result: any }).result;
}

async function assertLedgerMatches(): Promise<void> {
  const report = await inventory.verify();
  assert.deepEqual(report.drift, [], 'balances equal the ledger');
}

before(async () => {
  database = await createTestDatabase();
  inventory = new InventoryService(database.db, createLogger('silent'));
  for (const [code, kind] of [['WH-EAST', 'warehouse'], ['WH-WEST', 'warehouse'], ['STORE-1', 'store']] as const) {
    const created = await inventory.createLocation({ code, name: code, kind }, ctx());
    assert.equal(created.kind, 'done');
  }
});
after(async () => {
  await inventory?.stop();
  await database?.drop();
});

describe('movements and balances', () => {
  test('receipts, adjustments, transfers, counts and returns keep balances equal to the ledger', async () => {
    await move([
      { type: 'receipt', sku: 'MOV-1', location: 'WH-EAST', quantity: 10 },
      { type: 'receipt', sku: 'MOV-1', location: 'WH-WEST', quantity: 5 },
    ]);
    await move([{ type: 'adjustment', sku: 'MOV-1', location: 'WH-EAST', quantity: -2, reason: 'damaged' }]);
    await move([{ type: 'transfer', sku: 'MOV-1', location: 'WH-EAST', toLocation: 'WH-WEST', quantity: 3 }]);
    await move([{ type: 'count', sku: 'MOV-1', location: 'WH-WEST', quantity: 7 }]);
    await move([{ type: 'return', sku: 'MOV-1', location: 'WH-EAST', quantity: 1, reference: 'RMA-1' }]);
    const a = await available('MOV-1');
    assert.deepEqual(
      a.locations.map((l) => [l.location, l.onHand]),
      [['WH-EAST', 6], ['WH-WEST', 7]],
    );
    assert.equal(a.available, 13);
    const ledger = await inventory.readLedger({ sku: 'MOV-1', limit: 100 });
    assert.ok(Array.isArray(ledger));
    assert.deepEqual(
      ledger.map((e) => e.type),
      ['receipt', 'receipt', 'adjustment', 'transfer_out', 'transfer_in', 'count', 'return_restock'],
    );
    assert.equal(ledger.find((e) => e.type === 'count')!.counted, 7);
    await assertLedgerMatches();
  });

  test('a request whose movement cannot apply writes nothing and names the movement', async () => {
    const outcome = await inventory.recordMovements(
      {
        movements: [
          { type: 'receipt', sku: 'MOV-2', location: 'WH-EAST', quantity: 4 },
          { type: 'adjustment', sku: 'MOV-2', location: 'WH-EAST', quantity: -5, reason: 'shrink' },
        ],
      },
      ctx(),
    );
    assert.equal(outcome.kind, 'done');
    const result = (outcome as { result: any }).result;
    assert.equal(result.kind, 'rejected');
    assert.equal(result.problems[0].pointer, '/movements/1/quantity');
    assert.equal((await available('MOV-2')).onHand, 0);
    const unknown = await inventory.recordMovements({ movements: [{ type: 'receipt', sku: 'X', location: 'NOWHERE', quantity: 1 }] }, ctx());
    assert.deepEqual(unknown, { kind: 'unknown-locations', problems: [{ pointer: '/movements/0/location', detail: 'no location with id or code "NOWHERE"' }] });
  });
});

describe('reservations', () => {
  test('all lines or none, with per-line shortfall', async () => {
    await move([
      { type: 'receipt', sku: 'RES-A', location: 'WH-EAST', quantity: 3 },
      { type: 'receipt', sku: 'RES-B', location: 'WH-EAST', quantity: 1 },
    ]);
    const short = await reserve('order-1', 'web', [
      { sku: 'RES-A', quantity: 2 },
      { sku: 'RES-B', quantity: 2 },
    ]);
    assert.equal(short.kind, 'insufficient-stock');
    assert.deepEqual(
      short.lines.map((l: any) => [l.sku, l.requested, l.available, l.short]),
      [['RES-A', 2, 2, false], ['RES-B', 2, 1, true]],
    );
    assert.equal((await available('RES-A')).reserved, 0, 'nothing held after a failed reservation');
    const ok = await reserve('order-2', 'web', [
      { sku: 'RES-A', quantity: 2 },
      { sku: 'RES-B', quantity: 1 },
    ]);
    assert.equal(ok.kind, 'reserved');
    assert.equal(ok.reservation.lines[0].location, 'WH-EAST');
    assert.equal((await available('RES-A')).available, 1);
    await assertLedgerMatches();
  });

  test('a line is split over locations only when no single one can supply it', async () => {
    await move([
      { type: 'receipt', sku: 'SPLIT', location: 'WH-EAST', quantity: 3 },
      { type: 'receipt', sku: 'SPLIT', location: 'WH-WEST', quantity: 4 },
    ]);
    const single = await reserve('split-1', 'web', [{ sku: 'SPLIT', quantity: 4 }]);
    assert.deepEqual(single.reservation.lines[0].allocations.map((a: any) => [a.location, a.quantity]), [['WH-WEST', 4]]);
    const split = await reserve('split-2', 'web', [{ sku: 'SPLIT', quantity: 3 }]);
    assert.deepEqual(split.reservation.lines[0].allocations.map((a: any) => [a.location, a.quantity]), [['WH-EAST', 3]]);
    await move([{ type: 'receipt', sku: 'SPLIT', location: 'WH-WEST', quantity: 2 }]);
    await move([{ type: 'receipt', sku: 'SPLIT', location: 'WH-EAST', quantity: 2 }]);
    const both = await reserve('split-3', 'web', [{ sku: 'SPLIT', quantity: 4 }]);
    assert.deepEqual(both.reservation.lines[0].allocations.map((a: any) => [a.location, a.quantity]).sort(), [['WH-EAST', 2], ['WH-WEST', 2]]);
    await assertLedgerMatches();
  });

  test('release gives units back; consume turns them into sales; twice is harmless', async () => {
    await move([{ type: 'receipt', sku: 'LIFE', location: 'WH-EAST', quantity: 10 }]);
    const first = await reserve('order-life-1', 'web', [{ sku: 'LIFE', quantity: 4 }]);
    const second = await reserve('order-life-2', 'web', [{ sku: 'LIFE', quantity: 3 }]);
    assert.equal((await available('LIFE')).available, 3);

    const released = await inventory.release(first.reservation.id, ctx());
    assert.equal(released.kind === 'done' && released.result.kind, 'released');
    const again = await inventory.release(first.reservation.id, ctx());
    assert.equal(again.kind === 'done' && again.result.kind, 'not-active');
    assert.equal((await available('LIFE')).available, 7);

    const partial = await inventory.consume(second.reservation.id, { lines: [{ sku: 'LIFE', quantity: 1 }] }, ctx());
    assert.equal(partial.kind === 'done' && partial.result.kind, 'consumed');
    let a = await available('LIFE');
    assert.deepEqual([a.onHand, a.reserved, a.available], [9, 2, 7]);
    const rest = await inventory.consume(second.reservation.id, {}, ctx());
    assert.equal(rest.kind === 'done' && rest.result.kind === 'consumed' && rest.result.reservation.status, 'consumed');
    a = await available('LIFE');
    assert.deepEqual([a.onHand, a.reserved, a.available], [7, 0, 7]);
    const over = await inventory.consume(second.reservation.id, {}, ctx());
    assert.equal(over.kind === 'done' && over.result.kind, 'not-active');
    await assertLedgerMatches();
  });

  test('a decrease that would leave reservations without stock is refused; a count may record it', async () => {
    await move([{ type: 'receipt', sku: 'SHORT', location: 'WH-EAST', quantity: 5 }]);
    await reserve('order-short', 'web', [{ sku: 'SHORT', quantity: 4 }]);
    const refused = await inventory.recordMovements({ movements: [{ type: 'adjustment', sku: 'SHORT', location: 'WH-EAST', quantity: -2, reason: 'damaged' }] }, ctx());
    assert.equal(refused.kind === 'done' && refused.result.kind, 'rejected');
    await move([{ type: 'count', sku: 'SHORT', location: 'WH-EAST', quantity: 2 }]);
    const a = await available('SHORT');
    assert.equal(a.available, 0, 'never negative');
    assert.match(a.locations[0]!.note ?? '', /short: 2 reserved units/);
    await assertLedgerMatches();
  });

  test('expired holds come back without any request', async () => {
    const fast = new InventoryService(database.db, createLogger('silent'), { holdExpiryIntervalMs: 100, availabilityIntervalMs: 100 });
    fast.start();
    try {
      await move([{ type: 'receipt', sku: 'CART', location: 'WH-EAST', quantity: 2 }]);
      const hold = await reserve('cart-1', 'web', [{ sku: 'CART', quantity: 2 }], new Date(Date.now() + 700).toISOString());
      assert.equal((await available('CART')).available, 0);
      const deadline = Date.now() + 5000;
      let status = 'active';
      while (Date.now() < deadline && status === 'active') {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const row = await database.db.query<{ status: string }>('SELECT status FROM inventory_reservation WHERE id = $1', [hold.reservation.id]);
        status = row.rows[0]!.status;
      }
      assert.equal(status, 'expired');
      const balance = await database.db.query<{ reserved: string }>("SELECT reserved FROM inventory_balance WHERE sku = 'CART'");
      assert.equal(Number(balance.rows[0]!.reserved), 0);
      const events = await database.db.query<{ data: any }>("SELECT data FROM outbox_event WHERE type = 'inventory.released' AND subject = $1", [hold.reservation.id]);
      assert.equal(events.rows[0]!.data.reason, 'expired');
      await assertLedgerMatches();
    } finally {
      await fast.stop();
    }
  });
});

describe('policies and availability', () => {
  test('safety stock, excluded locations and allocations, with an explanation', async () => {
    await move([
      { type: 'receipt', sku: 'POL', location: 'WH-EAST', quantity: 50 },
      { type: 'receipt', sku: 'POL', location: 'STORE-1', quantity: 10 },
    ]);
    assert.equal((await inventory.setSafetyStock({ sku: 'POL', quantity: 5 }, ctx())).kind, 'done');
    assert.equal((await inventory.setSafetyStock({ sku: 'POL', location: 'WH-EAST', quantity: 3 }, ctx())).kind, 'done');
    assert.equal((await inventory.setChannelPolicy('online', { allocation: { mode: 'percentage', percent: 50 }, excludedLocations: ['STORE-1'] }, ctx())).kind, 'done');
    assert.equal((await inventory.setSkuAllocation('marketplace', 'POL', { mode: 'cap', quantity: 4 }, ctx())).kind, 'done');

    const any = await available('POL');
    // (50 - 3) + 10 - 5
    assert.equal(any.available, 52);
    assert.equal(any.safetyStock, 8);

    const online = await available('POL', 'online');
    // Store excluded: pool 47 - 5 = 42; 50% of sellable 42 = 21.
    assert.equal(online.explanation.pool, 42);
    assert.equal(online.available, 21);
    assert.deepEqual(online.explanation.excludedLocations, ['STORE-1']);
    assert.equal(online.explanation.allocation.source, 'channel');
    assert.ok(online.explanation.steps.some((s) => s.includes('50% of sellable 42 = 21')));

    await reserve('online-1', 'online', [{ sku: 'POL', quantity: 20 }]);
    assert.equal((await available('POL', 'online')).available, 1, 'the channel spends its share');
    const refused = await reserve('online-2', 'online', [{ sku: 'POL', quantity: 2 }]);
    assert.equal(refused.kind, 'insufficient-stock');
    const pinned = await reserve('online-3', 'online', [{ sku: 'POL', quantity: 1, location: 'STORE-1' }]);
    assert.equal(pinned.kind, 'insufficient-stock', 'excluded locations cannot be pinned');

    const marketplace = await available('POL', 'marketplace');
    assert.equal(marketplace.available, 4);
    assert.equal(marketplace.explanation.allocation.source, 'sku');
    await assertLedgerMatches();
  });
});

describe('availability events', () => {
  test('a burst of 1,000 reservations on one SKU coalesces into a handful of events ending at the true figure', async () => {
    const publisher = new InventoryService(database.db, createLogger('silent'), { availabilityIntervalMs: 200 });
    await publisher.publishAvailability();
    await move([{ type: 'receipt', sku: 'BURST', location: 'WH-EAST', quantity: 1500 }]);
    const startPosition = await database.db.query<{ p: string }>('SELECT coalesce(max(position), 0) AS p FROM outbox_event');
    publisher.start();
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => reserve(`burst-${i}`, 'web', [{ sku: 'BURST', quantity: 1 }])));
      assert.equal(results.filter((r) => r.kind === 'reserved').length, 1000);
    } finally {
      await publisher.stop();
    }
    await publisher.publishAvailability();
    const events = await database.db.query<{ data: any }>(
      "SELECT data FROM outbox_event WHERE type = 'inventory.availability.changed' AND subject = 'BURST' AND position > $1 ORDER BY tx_id, position",
      [startPosition.rows[0]!.p],
    );
    const shared = events.rows.map((r) => r.data).filter((d) => d.channel === null);
    assert.ok(shared.length >= 1 && shared.length <= 20, `coalesced into ${shared.length} events`);
    assert.equal(shared.at(-1).available, 500);
    assert.equal((await available('BURST')).available, 500);
    await assertLedgerMatches();
  });
});

describe('idempotency records', () => {
  test('a replay returns the stored result; records past their retention are pruned', async () => {
    const claim = { scope: 'client-1', key: 'key-1', fingerprint: 'same' };
    const first = await inventory.createLocation({ code: 'IDEM', name: 'Idempotent', kind: 'store' }, { correlationId: 'a', idempotency: claim });
    const second = await inventory.createLocation({ code: 'IDEM', name: 'Idempotent', kind: 'store' }, { correlationId: 'b', idempotency: claim });
    assert.equal(first.kind === 'done' && first.replayed, false);
    assert.equal(second.kind === 'done' && second.replayed, true);
    assert.deepEqual(second.kind === 'done' && second.result, first.kind === 'done' && first.result);
    const misuse = await inventory.createLocation({ code: 'IDEM2', name: 'Other', kind: 'store' }, { correlationId: 'c', idempotency: { ...claim, fingerprint: 'other' } });
    assert.equal(misuse.kind, 'key-reused');
    await database.db.query("UPDATE idempotency_record SET created_at = now() - interval '25 hours' WHERE key = 'key-1'");
    assert.equal(await pruneRecords(database.db, 24), 1);
    const fresh = await inventory.createLocation({ code: 'IDEM', name: 'Idempotent', kind: 'store' }, { correlationId: 'd', idempotency: claim });
    assert.equal(fresh.kind === 'done' && fresh.result.kind, 'code-taken', 'after pruning the key is new again');
  });
});
