import type { Queryable } from '../../store/database.ts';
import { claimKeys, type IdempotencyClaim } from '../../store/idempotency/idempotency-records.ts';
import { toReservation, writeReservationBatch, type NewReservation } from '../../store/inventory/reservation-queries.ts';
import type { NewEvent } from '../../runtime/outbox/outbox.ts';
import { EVENT_TYPES } from '../../model/cloud-event.ts';
import { newId } from '../../model/ids.ts';
import type { Reservation, ShortLine } from '../../model/inventory.ts';
import { planLine } from './availability.ts';
import { StockView } from './stock-view.ts';

/**
 * The reservation writer. Reservations submitted at the same time are decided
 * in one transaction: the balance rows of every SKU they touch are locked once,
 * each reservation is decided in turn against the stock left by the ones before
 * it (all of its lines or none), and each touched balance row is written once.
 * On a hot SKU this turns N contended row updates into one per transaction.
 */

export interface ReserveItem {
  reservationId: string;
  reference: string;
  channel: string;
  expiresAt: string | null;
  lines: { lineNumber: number; sku: string; quantity: number; locationId?: string | undefined; locationCode?: string | undefined }[];
  correlationId: string;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  idempotency?: IdempotencyClaim | undefined;
}

/** What a reservation request came to; stored as the idempotent result. */
export type ReserveResult = { kind: 'reserved'; reservation: Reservation } | { kind: 'insufficient-stock'; lines: ShortLine[] };

export type ReserveOutcome = (ReserveResult & { replayed: boolean }) | { kind: 'key-reused' } | { kind: 'key-in-flight' };

export const INVENTORY_SOURCE = '/syncline/inventory';

/** Decides and writes a batch of reservations in the caller's transaction; one outcome per item. */
export async function writeReservations(tx: Queryable, items: readonly ReserveItem[]): Promise<ReserveOutcome[]> {
  const outcomes: (ReserveOutcome | undefined)[] = items.map(() => undefined);

  const keyed = items.map((item, i) => ({ item, i })).filter(({ item }) => item.idempotency);
  if (keyed.length > 0) {
    const claims = await claimKeys(tx, keyed.map(({ item }) => item.idempotency!));
    keyed.forEach(({ i }, n) => {
      const claim = claims[n]!;
      if (claim.kind === 'replay') outcomes[i] = { ...(claim.result as ReserveResult), replayed: true };
      else if (claim.kind !== 'new') outcomes[i] = claim;
    });
  }
  const pending = items.map((item, i) => ({ item, i })).filter(({ i }) => outcomes[i] === undefined);
  if (pending.length === 0) return outcomes as ReserveOutcome[];

  const skus = [...new Set(pending.flatMap(({ item }) => item.lines.map((l) => l.sku)))];
  const channels = [...new Set(pending.map(({ item }) => item.channel))];
  let view = await StockView.load(tx, skus, channels, { lock: true });

  const now = new Date().toISOString();
  const created: NewReservation[] = [];
  const events: NewEvent[] = [];
  const results: { claim: IdempotencyClaim; result: ReserveResult }[] = [];

  for (const { item, i } of pending) {
    const trial = view.clone();
    const report: ShortLine[] = [];
    const lines: NewReservation['lines'] = [];
    for (const line of item.lines) {
      const plan = planLine(trial.input(line.sku, item.channel), line.quantity, line.locationId);
      if (plan.kind === 'planned') {
        for (const a of plan.allocations) {
          trial.reserve(line.sku, a.locationId, item.channel, a.quantity);
          lines.push({ lineNumber: line.lineNumber, sku: line.sku, locationId: a.locationId, quantity: a.quantity });
        }
      }
      report.push({
        lineNumber: line.lineNumber,
        sku: line.sku,
        requested: line.quantity,
        available: plan.kind === 'planned' ? line.quantity : plan.available,
        location: line.locationCode ?? null,
        short: plan.kind === 'short',
      });
    }
    let result: ReserveResult;
    if (report.some((l) => l.short)) {
      result = { kind: 'insufficient-stock', lines: report };
    } else {
      view = trial;
      const reservation: NewReservation = {
        id: item.reservationId,
        reference: item.reference,
        channel: item.channel,
        expiresAt: item.expiresAt,
        createdAt: now,
        correlationId: item.correlationId,
        lines,
      };
      created.push(reservation);
      result = { kind: 'reserved', reservation: toReservation(heldFrom(reservation, view)) };
      events.push({
        id: newId('event'),
        type: EVENT_TYPES.inventoryReserved,
        source: INVENTORY_SOURCE,
        subject: reservation.id,
        time: now,
        correlationId: item.correlationId,
        traceparent: item.traceparent,
        tracestate: item.tracestate,
        data: result.reservation,
      });
    }
    outcomes[i] = { ...result, replayed: false };
    if (item.idempotency) results.push({ claim: item.idempotency, result });
  }

  await writeReservationBatch(tx, { reservations: created, balances: view.changedBalances(), changedSkus: view.changedSkus(), results, events });
  return outcomes as ReserveOutcome[];
}

function heldFrom(r: NewReservation, view: StockView) {
  return {
    id: r.id,
    reference: r.reference,
    channel: r.channel,
    status: 'active' as const,
    expiresAt: r.expiresAt,
    createdAt: r.createdAt,
    closedAt: null,
    lines: r.lines.map((l) => ({
      lineNumber: l.lineNumber,
      sku: l.sku,
      locationId: l.locationId,
      code: view.position(l.sku, l.locationId)?.code ?? l.locationId,
      quantity: l.quantity,
      open: l.quantity,
      consumed: 0,
    })),
  };
}
