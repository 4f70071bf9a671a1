import type { Queryable } from '../../store/database.ts';
import { appendLedger, type NewLedgerRow } from '../../store/inventory/movement-queries.ts';
import { lockBalanceRows, markAvailabilityChanged, writeBalances, type BalanceRow } from '../../store/inventory/stock-queries.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import { newId } from '../../model/ids.ts';
import type { MovementReceipt } from '../../model/inventory.ts';
import { INVENTORY_SOURCE } from './reservation-batch.ts';

/**
 * Stock movements with locations already resolved to ids. A request's movements
 * are applied in order and commit together; if any of them cannot be applied,
 * none is written and every problem is reported.
 */
export type ResolvedMovement =
  | { type: 'receipt' | 'return' | 'count'; sku: string; locationId: string; quantity: number; reason?: string | undefined; reference?: string | undefined }
  | { type: 'adjustment'; sku: string; locationId: string; quantity: number; reason: string; reference?: string | undefined }
  | { type: 'transfer'; sku: string; locationId: string; toLocationId: string; quantity: number; reason?: string | undefined; reference?: string | undefined };

export interface MovementProblem {
  index: number;
  pointer: string;
  detail: string;
}

export type MovementResult = { kind: 'recorded'; receipt: MovementReceipt } | { kind: 'rejected'; problems: MovementProblem[] };

export interface MovementContext {
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** Applies movements in the caller's transaction; takes its own locks on the balance rows it changes. */
export async function applyMovements(tx: Queryable, movements: readonly ResolvedMovement[], context: MovementContext): Promise<MovementResult> {
  const pairs = movements.flatMap((m) =>
    m.type === 'transfer' ? [{ sku: m.sku, locationId: m.locationId }, { sku: m.sku, locationId: m.toLocationId }] : [{ sku: m.sku, locationId: m.locationId }],
  );
  const balances = await lockBalanceRows(tx, pairs);
  const byKey = new Map<string, BalanceRow>(balances.map((b) => [`${b.sku}\n${b.locationId}`, b]));
  const at = (sku: string, locationId: string) => byKey.get(`${sku}\n${locationId}`)!;

  const requestId = newId('movementRequest');
  const rows: NewLedgerRow[] = [];
  const problems: MovementProblem[] = [];
  const base = { requestId, correlationId: context.correlationId };

  // Decreases must leave on hand at or above zero and cover what is reserved there;
  // only a count may record that fewer units exist than are held (it is what was found).
  const decrease = (index: number, balance: BalanceRow, by: number, what: string): boolean => {
    if (balance.onHand - by < 0) {
      problems.push({ index, pointer: `/movements/${index}/quantity`, detail: `${what} would take on hand of ${balance.sku} at ${balance.code} below zero (on hand ${balance.onHand})` });
      return false;
    }
    if (balance.onHand - by < balance.reserved) {
      problems.push({
        index,
        pointer: `/movements/${index}/quantity`,
        detail: `${what} would leave ${balance.reserved} reserved units of ${balance.sku} at ${balance.code} with only ${balance.onHand - by} on hand; release reservations or record a count`,
      });
      return false;
    }
    balance.onHand -= by;
    return true;
  };

  movements.forEach((m, index) => {
    const balance = at(m.sku, m.locationId);
    const extra = { reason: m.reason ?? null, reference: m.reference ?? null };
    switch (m.type) {
      case 'receipt':
      case 'return':
        balance.onHand += m.quantity;
        rows.push({ ...base, ...extra, type: m.type === 'receipt' ? 'receipt' : 'return_restock', sku: m.sku, locationId: m.locationId, quantity: m.quantity });
        return;
      case 'adjustment':
        if (m.quantity > 0) balance.onHand += m.quantity;
        else if (!decrease(index, balance, -m.quantity, 'this adjustment')) return;
        rows.push({ ...base, ...extra, type: 'adjustment', sku: m.sku, locationId: m.locationId, quantity: m.quantity });
        return;
      case 'count': {
        const delta = m.quantity - balance.onHand;
        balance.onHand = m.quantity;
        rows.push({ ...base, ...extra, type: 'count', sku: m.sku, locationId: m.locationId, quantity: delta, counted: m.quantity });
        return;
      }
      case 'transfer': {
        if (m.toLocationId === m.locationId) {
          problems.push({ index, pointer: `/movements/${index}/toLocation`, detail: 'must differ from location' });
          return;
        }
        if (!decrease(index, balance, m.quantity, 'this transfer')) return;
        at(m.sku, m.toLocationId).onHand += m.quantity;
        rows.push({ ...base, ...extra, type: 'transfer_out', sku: m.sku, locationId: m.locationId, quantity: -m.quantity });
        rows.push({ ...base, ...extra, type: 'transfer_in', sku: m.sku, locationId: m.toLocationId, quantity: m.quantity });
        return;
      }
    }
  });
  if (problems.length > 0) return { kind: 'rejected', problems };

  const entries = await appendLedger(tx, rows);
  await writeBalances(tx, balances);
  await markAvailabilityChanged(tx, balances.map((b) => b.sku));
  const receipt: MovementReceipt = {
    requestId,
    entries,
    balances: balances.map((b) => ({ sku: b.sku, location: b.code, onHand: b.onHand, reserved: b.reserved })),
  };
  const now = new Date().toISOString();
  await appendEvents(
    tx,
    [...new Set(balances.map((b) => b.sku))].map((sku) => ({
      id: newId('event'),
      type: EVENT_TYPES.inventoryAdjusted,
      source: INVENTORY_SOURCE,
      subject: sku,
      time: now,
      correlationId: context.correlationId,
      traceparent: context.traceparent,
      tracestate: context.tracestate,
      data: { requestId, sku, entries: entries.filter((e) => e.sku === sku), balances: receipt.balances.filter((b) => b.sku === sku) } satisfies EventData<'inventory.adjusted'>,
    })),
  );
  return { kind: 'recorded', receipt };
}
