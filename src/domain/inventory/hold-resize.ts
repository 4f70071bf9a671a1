import type { Queryable } from '../../store/database.ts';
import { closeReservations, readReservations, replaceReservationLines, toReservation } from '../../store/inventory/reservation-queries.ts';
import { markAvailabilityChanged, writeBalances } from '../../store/inventory/stock-queries.ts';
import type { Reservation, ShortLine } from '../../model/inventory.ts';
import { planLine } from './availability.ts';
import { StockView } from './stock-view.ts';

/**
 * Resizing a hold: an order amended before release keeps its reservation, with new
 * quantities. In one transaction, under the same locks as the reservation writer
 * (reservation row, then the SKUs' balance rows), the hold's units are counted as free
 * again and the new quantities are held at the hold's location: only the difference must
 * be free, and the channel's rules (safety stock, allocation) apply as for any reservation.
 * All lines or none: a line that does not fit leaves the hold exactly as it was.
 */

export interface ResizeLine {
  sku: string;
  quantity: number;
}

export type ResizeResult =
  | { kind: 'resized'; reservation: Reservation }
  /** Every quantity went to 0: the hold was released. */
  | { kind: 'released'; reservation: Reservation }
  | { kind: 'insufficient-stock'; lines: ShortLine[] }
  /** Closed, expired, or some units already shipped: it cannot change any more. */
  | { kind: 'not-resizable'; reason: string }
  | { kind: 'not-found' };

/** Sets the open quantities of an active hold to `lines` (per SKU, at the location it holds the SKU, else its first). */
export async function resizeHold(tx: Queryable, id: string, lines: readonly ResizeLine[]): Promise<ResizeResult> {
  const [held] = await readReservations(tx, [id], { lock: true });
  if (!held) return { kind: 'not-found' };
  if (held.status !== 'active') return { kind: 'not-resizable', reason: `the reservation is ${held.status}` };
  if (held.lines.some((l) => l.consumed > 0)) return { kind: 'not-resizable', reason: 'some units have shipped' };
  const locationOf = new Map<string, string>();
  for (const l of held.lines) {
    if (locationOf.has(l.sku) && locationOf.get(l.sku) !== l.locationId) return { kind: 'not-resizable', reason: `${l.sku} is held at several locations` };
    locationOf.set(l.sku, l.locationId);
  }
  const home = held.lines[0]?.locationId;
  if (!home) return { kind: 'not-resizable', reason: 'the reservation holds nothing' };

  const skus = [...new Set([...held.lines.map((l) => l.sku), ...lines.map((l) => l.sku)])];
  const view = await StockView.load(tx, skus, [held.channel], { lock: true });
  // The hold's own units are free for its new quantities.
  for (const l of held.lines) if (l.open > 0) view.reserve(l.sku, l.locationId, held.channel, -l.open);
  const wanted = lines.filter((l) => l.quantity > 0);
  const report: ShortLine[] = [];
  const next: { lineNumber: number; sku: string; locationId: string; quantity: number }[] = [];
  wanted.forEach((line, i) => {
    const locationId = locationOf.get(line.sku) ?? home;
    const plan = planLine(view.input(line.sku, held.channel), line.quantity, locationId);
    if (plan.kind === 'planned') {
      view.reserve(line.sku, locationId, held.channel, line.quantity);
      next.push({ lineNumber: i + 1, sku: line.sku, locationId, quantity: line.quantity });
    }
    report.push({ lineNumber: i + 1, sku: line.sku, requested: line.quantity, available: plan.kind === 'planned' ? line.quantity : plan.available, location: view.position(line.sku, locationId)?.code ?? null, short: plan.kind === 'short' });
  });
  if (report.some((l) => l.short)) return { kind: 'insufficient-stock', lines: report };

  await replaceReservationLines(tx, held.id, held.channel, next);
  await writeBalances(tx, view.changedBalances());
  await markAvailabilityChanged(tx, view.changedSkus());
  const code = (locationId: string, sku: string) => view.position(sku, locationId)?.code ?? locationId;
  if (next.length === 0) {
    await closeReservations(tx, [{ id: held.id, status: 'released' }]);
    return { kind: 'released', reservation: toReservation({ ...held, status: 'released', closedAt: new Date().toISOString(), lines: [] }) };
  }
  return {
    kind: 'resized',
    reservation: toReservation({ ...held, lines: next.map((l) => ({ ...l, code: code(l.locationId, l.sku), open: l.quantity, consumed: 0 })) }),
  };
}
