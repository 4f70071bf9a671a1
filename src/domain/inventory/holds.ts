import type { Queryable } from '../../store/database.ts';
import { appendLedger, type NewLedgerRow } from '../../store/inventory/movement-queries.ts';
import {
  closeReservations,
  readReservations,
  toReservation,
  writeLineQuantities,
  type HeldReservation,
} from '../../store/inventory/reservation-queries.ts';
import { lockBalanceRows, markAvailabilityChanged, writeBalances } from '../../store/inventory/stock-queries.ts';
import { appendEvents, type NewEvent } from '../../runtime/outbox/outbox.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import { newId } from '../../model/ids.ts';
import type { LedgerEntry, Reservation } from '../../model/inventory.ts';
import { INVENTORY_SOURCE } from './reservation-batch.ts';

/**
 * Ending holds: release (explicit or on expiry) and consumption when lines ship.
 * Lock order everywhere: reservation rows (by id), then balance rows (by sku, location),
 * the same order the reservation writer uses for balances, so these never deadlock with it.
 */

export type ReleaseResult =
  | { kind: 'released'; reservation: Reservation }
  | { kind: 'not-active'; reservation: Reservation }
  | { kind: 'not-found' };

export interface HoldContext {
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** Releases active reservations in the caller's transaction (status released or expired). */
export async function releaseHolds(
  tx: Queryable,
  ids: readonly string[],
  status: 'released' | 'expired',
  context: HoldContext,
): Promise<Map<string, ReleaseResult>> {
  const held = await readReservations(tx, ids, { lock: true });
  const results = new Map<string, ReleaseResult>(ids.map((id) => [id, { kind: 'not-found' }]));
  const active = held.filter((r) => r.status === 'active');
  for (const r of held) if (r.status !== 'active') results.set(r.id, { kind: 'not-active', reservation: toReservation(r) });
  if (active.length === 0) return results;

  const openLines = active.flatMap((r) => r.lines.filter((l) => l.open > 0).map((l) => ({ r, l })));
  const balances = await lockBalanceRows(tx, openLines.map(({ l }) => ({ sku: l.sku, locationId: l.locationId })));
  const byKey = new Map(balances.map((b) => [`${b.sku}\n${b.locationId}`, b]));
  for (const { l } of openLines) {
    const balance = byKey.get(`${l.sku}\n${l.locationId}`)!;
    balance.reserved -= l.open;
  }
  await writeLineQuantities(tx, openLines.map(({ r, l }) => ({ reservationId: r.id, lineNumber: l.lineNumber, locationId: l.locationId, open: 0, consumed: l.consumed })));
  await writeBalances(tx, balances);
  await closeReservations(tx, active.map((r) => ({ id: r.id, status })));
  await markAvailabilityChanged(tx, balances.map((b) => b.sku));

  const now = new Date().toISOString();
  const events: NewEvent[] = [];
  for (const r of active) {
    const closed: HeldReservation = {
      ...r,
      status,
      closedAt: now,
      lines: r.lines.map((l) => ({ ...l, open: 0 })),
    };
    const reservation = toReservation(closed);
    results.set(r.id, { kind: 'released', reservation });
    events.push({
      id: newId('event'),
      type: EVENT_TYPES.inventoryReleased,
      source: INVENTORY_SOURCE,
      subject: r.id,
      time: now,
      correlationId: context.correlationId,
      traceparent: context.traceparent,
      tracestate: context.tracestate,
      data: {
        reservationId: r.id,
        reference: r.reference,
        channel: r.channel,
        reason: status === 'expired' ? 'expired' : 'released',
        lines: r.lines.filter((l) => l.open > 0).map((l) => ({ sku: l.sku, location: l.code, quantity: l.open })),
      } satisfies EventData<'inventory.released'>,
    });
  }
  await appendEvents(tx, events);
  return results;
}

export interface ConsumeLine {
  sku: string;
  quantity: number;
  locationId?: string | undefined;
}

export type ConsumeResult =
  | { kind: 'consumed'; reservation: Reservation; entries: LedgerEntry[] }
  | { kind: 'not-active'; reservation: Reservation }
  | { kind: 'not-held'; lines: { sku: string; requested: number; held: number }[] }
  | { kind: 'not-found' };

/**
 * Records shipped units as sales: on hand and reserved both drop by what shipped,
 * and each sale is a ledger entry tied to the reservation. Without lines, every
 * unit still held ships. When nothing is left open the reservation is consumed.
 */
export async function consumeHold(
  tx: Queryable,
  id: string,
  lines: readonly ConsumeLine[] | undefined,
  reference: string | undefined,
  context: HoldContext,
): Promise<ConsumeResult> {
  const [held] = await readReservations(tx, [id], { lock: true });
  if (!held) return { kind: 'not-found' };
  if (held.status !== 'active') return { kind: 'not-active', reservation: toReservation(held) };

  const parts = held.lines.map((l) => ({ ...l }));
  const wanted = lines ?? parts.filter((p) => p.open > 0).map((p) => ({ sku: p.sku, quantity: p.open, locationId: p.locationId }));
  const taken: { part: (typeof parts)[number]; quantity: number }[] = [];
  const missing: { sku: string; requested: number; held: number }[] = [];
  for (const want of wanted) {
    const candidates = parts.filter((p) => p.sku === want.sku && p.open > 0 && (want.locationId === undefined || p.locationId === want.locationId));
    const heldQty = candidates.reduce((n, p) => n + p.open, 0);
    if (heldQty < want.quantity) {
      missing.push({ sku: want.sku, requested: want.quantity, held: heldQty });
      continue;
    }
    let left = want.quantity;
    for (const p of candidates) {
      if (left === 0) break;
      const take = Math.min(p.open, left);
      p.open -= take;
      p.consumed += take;
      left -= take;
      taken.push({ part: p, quantity: take });
    }
  }
  if (missing.length > 0) return { kind: 'not-held', lines: missing };
  if (taken.length === 0) return { kind: 'not-held', lines: [] };

  const balances = await lockBalanceRows(tx, taken.map(({ part }) => ({ sku: part.sku, locationId: part.locationId })));
  const byKey = new Map(balances.map((b) => [`${b.sku}\n${b.locationId}`, b]));
  const requestId = newId('movementRequest');
  const ledger: NewLedgerRow[] = [];
  for (const { part, quantity } of taken) {
    const balance = byKey.get(`${part.sku}\n${part.locationId}`)!;
    balance.reserved -= quantity;
    // A count may have left fewer units on hand than were held; what shipped still leaves.
    const shipped = Math.min(quantity, balance.onHand);
    balance.onHand -= shipped;
    ledger.push({
      requestId,
      type: 'sale',
      sku: part.sku,
      locationId: part.locationId,
      quantity: -shipped,
      reference: reference ?? held.reference,
      reservationId: held.id,
      correlationId: context.correlationId,
    });
  }
  const entries = await appendLedger(tx, ledger);
  await writeLineQuantities(tx, parts.map((p) => ({ reservationId: held.id, lineNumber: p.lineNumber, locationId: p.locationId, open: p.open, consumed: p.consumed })));
  await writeBalances(tx, balances);
  const done = parts.every((p) => p.open === 0);
  if (done) await closeReservations(tx, [{ id: held.id, status: 'consumed' }]);
  await markAvailabilityChanged(tx, balances.map((b) => b.sku));
  const now = new Date().toISOString();
  const reservation = toReservation({ ...held, status: done ? 'consumed' : 'active', closedAt: done ? now : null, lines: parts });
  await appendEvents(tx, [
    {
      id: newId('event'),
      type: EVENT_TYPES.inventoryAdjusted,
      source: INVENTORY_SOURCE,
      subject: held.id,
      time: now,
      correlationId: context.correlationId,
      traceparent: context.traceparent,
      tracestate: context.tracestate,
      data: { requestId, reservationId: held.id, reference: reference ?? held.reference, entries, balances: balances.map((b) => ({ sku: b.sku, location: b.code, onHand: b.onHand, reserved: b.reserved })) } satisfies EventData<'inventory.adjusted'>,
    },
  ]);
  return { kind: 'consumed', reservation, entries };
}
