import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { createLogger } from '../src/observability/logger.ts';
import { InventoryService, type WriteContext } from '../src/domain/inventory/inventory.service.ts';

/**
 * Random sequences of receipts, adjustments, counts, reservations (some as cart
 * holds that expire), releases, shipments and expiry sweeps. After every step:
 * available is never negative for any channel, no reservation made a location
 * hold more than it has, balances equal the ledger, and they equal a model
 * that only applies what the service reported it did.
 */

let database: TestDatabase;
let inventory: InventoryService;
const ctx = (): WriteContext => ({ correlationId: 'property' });
const LOCATIONS = ['P-WH', 'P-WH2', 'P-STORE'] as const;
const CHANNELS = ['web', 'online'] as const;

type Op =
  | { op: 'receipt'; sku: number; location: number; quantity: number }
  | { op: 'adjust'; sku: number; location: number; quantity: number }
  | { op: 'count'; sku: number; location: number; quantity: number }
  | { op: 'reserve'; channel: number; lines: { sku: number; quantity: number }[]; expiring: boolean }
  | { op: 'release'; pick: number }
  | { op: 'ship'; pick: number; partial: boolean }
  | { op: 'expire' };

const sku = fc.integer({ min: 0, max: 1 });
const location = fc.integer({ min: 0, max: 2 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('receipt' as const), sku, location, quantity: fc.integer({ min: 1, max: 6 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('adjust' as const), sku, location, quantity: fc.integer({ min: -4, max: 4 }).filter((q) => q !== 0) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('count' as const), sku, location, quantity: fc.integer({ min: 0, max: 8 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      channel: fc.integer({ min: 0, max: 1 }),
      lines: fc.array(fc.record({ sku, quantity: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 3 }),
      expiring: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ship' as const), pick: fc.nat(), partial: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const) }) },
);

before(async () => {
  database = await createTestDatabase();
  inventory = new InventoryService(database.db, createLogger('silent'));
  for (const code of LOCATIONS) {
    assert.equal((await inventory.createLocation({ code, name: code, kind: code === 'P-STORE' ? 'store' : 'warehouse' }, ctx())).kind, 'done');
  }
  // 'online' sells 60% of sellable stock and not from the store; 'web' sees the shared pool.
  assert.equal((await inventory.setChannelPolicy('online', { allocation: { mode: 'percentage', percent: 60 }, excludedLocations: ['P-STORE'] }, ctx())).kind, 'done');
});
after(async () => {
  await inventory?.stop();
  await database?.drop();
});

let run = 0;

test('random sequences never oversell and keep balances equal to the ledger', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 5, maxLength: 25 }), async (ops) => {
      run += 1;
      const skus = [`PA-${run}`, `PB-${run}`];
      await inventory.setSafetyStock({ sku: skus[0]!, quantity: 1 }, ctx());
      const model = new Map<string, { onHand: number; reserved: number }>();
      const cell = (s: string, l: string) => {
        const key = `${s}\n${l}`;
        if (!model.has(key)) model.set(key, { onHand: 0, reserved: 0 });
        return model.get(key)!;
      };
      const holds: { id: string; expiring: boolean }[] = [];

      const applyReservation = (reservation: any, sign: 1 | -1, field: 'reserved') => {
        for (const line of reservation.lines) for (const a of line.allocations) cell(line.sku, a.location)[field] += sign * a.open;
      };

      for (const step of ops) {
        switch (step.op) {
          case 'receipt':
          case 'adjust':
          case 'count': {
            const type = step.op === 'adjust' ? 'adjustment' : step.op;
            const outcome = await inventory.recordMovements(
              { movements: [{ type, sku: skus[step.sku]!, location: LOCATIONS[step.location]!, quantity: step.quantity, reason: 'property' } as never] },
              ctx(),
            );
            assert.equal(outcome.kind, 'done');
            const result = (outcome as any).result;
            const c = cell(skus[step.sku]!, LOCATIONS[step.location]!);
            if (result.kind === 'recorded') {
              if (step.op === 'count') c.onHand = step.quantity;
              else c.onHand += step.quantity;
            } else {
              assert.equal(step.op, 'adjust', 'only decreases can be refused');
              assert.ok(c.onHand + step.quantity < c.reserved, 'refused only when it would uncover reservations');
            }
            break;
          }
          case 'reserve': {
            const channel = CHANNELS[step.channel]!;
            const before = await availabilityOf(skus, channel);
            const outcome = await inventory.reserve(
              {
                reference: `prop-${run}`,
                channel,
                lines: step.lines.map((l) => ({ sku: skus[l.sku]!, quantity: l.quantity })),
                ...(step.expiring ? { expiresAt: new Date(Date.now() + 30).toISOString() } : {}),
              },
              ctx(),
            );
            assert.equal(outcome.kind, 'done');
            const result = (outcome as any).result;
            const asked = new Map<string, number>();
            for (const l of step.lines) asked.set(skus[l.sku]!, (asked.get(skus[l.sku]!) ?? 0) + l.quantity);
            if (result.kind === 'reserved') {
              for (const [s, quantity] of asked) assert.ok(quantity <= before.get(s)!, `reserved ${quantity} of ${s} with only ${before.get(s)} available to ${channel}`);
              applyReservation(result.reservation, 1, 'reserved');
              for (const line of result.reservation.lines) {
                for (const a of line.allocations) {
                  const c = cell(line.sku, a.location);
                  assert.ok(c.reserved <= c.onHand, `a reservation made ${line.sku} at ${a.location} hold ${c.reserved} with ${c.onHand} on hand`);
                }
              }
              for (const line of result.reservation.lines) for (const a of line.allocations) assert.notEqual(channel === 'online' && a.location, 'P-STORE');
              holds.push({ id: result.reservation.id, expiring: step.expiring });
            } else {
              assert.ok([...asked].some(([s, quantity]) => quantity > before.get(s)!), 'refused only when some SKU lacked stock');
            }
            break;
          }
          case 'release': {
            if (holds.length === 0) break;
            const [hold] = holds.splice(step.pick % holds.length, 1);
            const outcome = await inventory.release(hold!.id, ctx());
            const result = (outcome as any).result;
            if (result.kind === 'released') applyReservation(reservationBefore(result.reservation), -1, 'reserved');
            else assert.equal(result.reservation.status, 'expired', 'only a hold that expired on its own is no longer active');
            break;
          }
          case 'ship': {
            if (holds.length === 0) break;
            const hold = holds[step.pick % holds.length]!;
            const current = await inventory.getReservation(hold.id);
            if (current!.status !== 'active') {
              holds.splice(holds.indexOf(hold), 1);
              break;
            }
            const first = current!.lines[0]!;
            const lines = step.partial ? [{ sku: first.sku, quantity: 1 }] : undefined;
            const outcome = await inventory.consume(hold.id, lines ? { lines } : {}, ctx());
            const result = (outcome as any).result;
            assert.equal(result.kind, 'consumed', JSON.stringify(result));
            for (const entry of result.entries) {
              cell(entry.sku, entry.location).onHand += entry.quantity;
            }
            const before = new Map(current!.lines.flatMap((l) => l.allocations.map((a) => [`${l.lineNumber}\n${a.location}`, a.open] as const)));
            for (const line of result.reservation.lines) {
              for (const a of line.allocations) cell(line.sku, a.location).reserved -= before.get(`${line.lineNumber}\n${a.location}`)! - a.open;
            }
            if (result.reservation.status === 'consumed') holds.splice(holds.indexOf(hold), 1);
            break;
          }
          case 'expire': {
            await new Promise((resolve) => setTimeout(resolve, 40));
            const expiring = holds.filter((h) => h.expiring);
            const snapshots = await Promise.all(expiring.map((h) => inventory.getReservation(h.id)));
            await inventory.expireDueHolds();
            for (const [i, h] of expiring.entries()) {
              const now = await inventory.getReservation(h.id);
              assert.equal(now!.status, 'expired');
              applyReservation(snapshots[i], -1, 'reserved');
              holds.splice(holds.indexOf(h), 1);
            }
            break;
          }
        }

        // Invariants after every step.
        for (const channel of [null, ...CHANNELS]) {
          for (const s of skus) {
            const a = await inventory.getAvailability({ sku: s, channel: channel ?? undefined });
            assert.ok(!('kind' in a) && a.available >= 0, 'available is never negative');
          }
        }
        const rows = await database.db.query<{ sku: string; code: string; on_hand: string; reserved: string }>(
          'SELECT b.sku, l.code, b.on_hand, b.reserved FROM inventory_balance b JOIN inventory_location l ON l.id = b.location_id WHERE b.sku = ANY($1)',
          [skus],
        );
        for (const row of rows.rows) {
          const expected = model.get(`${row.sku}\n${row.code}`) ?? { onHand: 0, reserved: 0 };
          assert.deepEqual({ onHand: Number(row.on_hand), reserved: Number(row.reserved) }, expected, `${row.sku} at ${row.code} after ${step.op}`);
        }
        const drift = await inventory.verify();
        assert.deepEqual(drift.drift, [], 'balances equal the ledger');
      }
    }),
    { numRuns: 25, endOnFailure: true },
  );
});

async function availabilityOf(skus: string[], channel: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const s of skus) {
    const a = await inventory.getAvailability({ sku: s, channel });
    assert.ok(!('kind' in a));
    result.set(s, a.available);
  }
  return result;
}

/** A released reservation reports open 0; what it held is quantity minus consumed. */
function reservationBefore(reservation: any): any {
  return {
    ...reservation,
    lines: reservation.lines.map((l: any) => ({ ...l, allocations: l.allocations.map((a: any) => ({ ...a, open: a.quantity - a.consumed })) })),
  };
}
