import type { Database, Queryable } from '../../store/database.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import { fromScaled, minorUnits, toScaled } from '../../model/money.ts';
import { newId } from '../../model/ids.ts';
import type { ReturnRequest } from '../../model/order-actions.ts';
import { enqueue } from '../../runtime/queue.ts';
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from '../../store/idempotency/idempotency-records.ts';
import {
  channelRefundNoted,
  findChannelReturn,
  insertReturn,
  readLineStates,
  readReturn,
  readShipments,
  returnedQuantities,
  type OrderReturn,
  type ReturnLine,
} from '../../store/orders/order-lifecycle-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, lockOrderStatus } from '../../store/orders/order-status.ts';
import { returnJob } from './return.flow.ts';

/** Accepting a return: eligibility is checked at once; refund, credit and restock follow in the return flow. */

export type ReturnRequestResult =
  | { kind: 'accepted'; return: OrderReturn }
  | { kind: 'order-not-found' }
  /** What makes the return ineligible, with JSON pointers into the request. */
  | { kind: 'not-eligible'; problems: { pointer: string; detail: string }[] };

const DAY_MS = 86_400_000;

/** Checks a return against what shipped (less what was returned before) and the return window, then records it. */
export async function requestReturn(
  db: Database,
  inventory: InventoryService,
  returnWindowDays: number,
  request: ReturnRequest,
  context: { correlationId: string; idempotency?: IdempotencyClaim | undefined; now?: Date },
): Promise<IdempotentOutcome<ReturnRequestResult>> {
  const order = await findOrderById(db, request.orderId);
  if (!order) return { kind: 'done', result: { kind: 'order-not-found' }, replayed: false };
  const location = await inventory.findLocation(request.location);
  const now = context.now ?? new Date();
  return runIdempotent(db, context.idempotency, async (tx): Promise<ReturnRequestResult> => {
    await lockOrderStatus(tx, order.id);
    const problems: { pointer: string; detail: string }[] = [];
    if (!location) problems.push({ pointer: '/location', detail: `no location with id or code "${request.location}"` });
    const states = new Map((await readLineStates(tx, order.id)).map((l) => [l.lineNumber, l]));
    const onReturns = await returnedQuantities(tx, order.id);
    const shipments = await readShipments(tx, order.id);
    const wanted = new Map<number, number>();
    const lines: ReturnLine[] = [];
    request.lines.forEach((line, i) => {
      const state = states.get(line.lineNumber);
      if (!state) {
        problems.push({ pointer: `/lines/${i}/lineNumber`, detail: `order ${order.id} has no line ${line.lineNumber}` });
        return;
      }
      wanted.set(line.lineNumber, (wanted.get(line.lineNumber) ?? 0) + line.quantity);
      const left = state.shipped - (onReturns.get(line.lineNumber) ?? 0);
      if (wanted.get(line.lineNumber)! > left) {
        problems.push({ pointer: `/lines/${i}/quantity`, detail: `only ${Math.max(0, left)} unit(s) of line ${line.lineNumber} shipped and are not returned yet` });
        return;
      }
      const lastShipped = shipments.filter((s) => s.lines.some((l) => l.lineNumber === line.lineNumber)).map((s) => Date.parse(s.shippedAt)).sort((a, b) => b - a)[0];
      if (lastShipped !== undefined && now.getTime() - lastShipped > returnWindowDays * DAY_MS) {
        problems.push({ pointer: `/lines/${i}`, detail: `line ${line.lineNumber} shipped ${new Date(lastShipped).toISOString()}, outside the ${returnWindowDays}-day return window` });
        return;
      }
      lines.push({ lineNumber: line.lineNumber, sku: state.sku, quantity: line.quantity, condition: line.condition, unitPrice: state.unitPrice });
    });
    if (problems.length > 0) return { kind: 'not-eligible', problems };
    const scale = minorUnits(order.currency);
    const refund = lines.reduce((n, l) => n + toScaled(l.unitPrice, scale) * BigInt(l.quantity), 0n);
    const id = newId('return');
    await insertReturn(tx, {
      id,
      orderId: order.id,
      lines,
      locationCode: location!.code,
      reason: request.reason ?? null,
      refundAmount: fromScaled(refund, scale),
      correlationId: context.correlationId,
    });
    await enqueue(tx, returnJob(order.id, id, context.correlationId));
    await appendTimeline(tx, order.id, [
      { system: 'syncline', action: 'return.requested', outcome: 'pending', attempt: 1, durationMs: null, correlationId: context.correlationId, detail: { returnId: id, location: location!.code, lines } },
    ]);
    return { kind: 'accepted', return: (await readReturn(tx, id))! };
  });
}

/** A refund taken in a sales channel, by order line; the money already moved in the channel. */
export interface ChannelReturnRequest {
  orderId: string;
  /** The connection the refund was taken in. */
  channel: string;
  channelRefundId: string;
  /** What the channel refunded (decimal string in the order's currency). */
  refundAmount: string;
  /** restock: the goods come back into stock (resellable); otherwise the customer is refunded without a restock. */
  lines: { lineNumber: number; quantity: number; restock: boolean }[];
  /** Where the goods come back (code or id); default: the location the line shipped from. */
  location?: string | undefined;
  reason?: string | undefined;
}

export type ChannelReturnResult =
  /** unshipped: refunded units Syncline has not shipped (the channel cancelled them); reported, not returned. */
  | { kind: 'accepted'; return: OrderReturn; unshipped: { lineNumber: number; quantity: number }[] }
  /** The same channel refund was taken in before (a repeated webhook, the reconciliation poll); its return, if it made one. */
  | { kind: 'duplicate'; return: OrderReturn | undefined }
  /** None of the refunded units shipped: there is nothing to take back. */
  | { kind: 'nothing-shipped'; unshipped: { lineNumber: number; quantity: number }[] }
  | { kind: 'order-not-found' }
  | { kind: 'unknown-location'; location: string };

/**
 * Takes a channel's refund in as a return, through the same record and flow as POST /v1/returns:
 * the return flow credits the ERP and restocks, and skips the payment refund (the channel moved
 * the money). No return window applies (the channel decided); units beyond what shipped and was
 * not returned yet are reported in `unshipped`. Idempotent by (channel, channel refund id).
 */
export async function recordChannelReturn(
  db: Database,
  inventory: InventoryService,
  request: ChannelReturnRequest,
  context: {
    correlationId: string;
    /** Runs in the same transaction once the refund is taken in (a return made, or nothing shipped): the caller's record of it. */
    announce: (tx: Queryable, made: { returnId: string | null; unshipped: { lineNumber: number; quantity: number }[] }) => Promise<void>;
  },
): Promise<ChannelReturnResult> {
  const order = await findOrderById(db, request.orderId);
  if (!order) return { kind: 'order-not-found' };
  const given = request.location ? await inventory.findLocation(request.location) : undefined;
  if (request.location && !given) return { kind: 'unknown-location', location: request.location };
  return db.transaction(async (tx): Promise<ChannelReturnResult> => {
    await lockOrderStatus(tx, order.id);
    const before = await findChannelReturn(tx, request.channel, request.channelRefundId);
    if (before) return { kind: 'duplicate', return: before };
    if (await channelRefundNoted(tx, order.id, request.channel, request.channelRefundId)) return { kind: 'duplicate', return: undefined };
    const states = new Map((await readLineStates(tx, order.id)).map((l) => [l.lineNumber, l]));
    const onReturns = await returnedQuantities(tx, order.id);
    const shipments = await readShipments(tx, order.id);
    const lines: ReturnLine[] = [];
    const unshipped: { lineNumber: number; quantity: number }[] = [];
    for (const line of request.lines) {
      const state = states.get(line.lineNumber);
      if (!state) continue;
      const left = Math.max(0, state.shipped - (onReturns.get(line.lineNumber) ?? 0) - lines.filter((l) => l.lineNumber === line.lineNumber).reduce((n, l) => n + l.quantity, 0));
      const quantity = Math.min(left, line.quantity);
      if (line.quantity > quantity) unshipped.push({ lineNumber: line.lineNumber, quantity: line.quantity - quantity });
      if (quantity > 0) lines.push({ lineNumber: line.lineNumber, sku: state.sku, quantity, condition: line.restock ? 'resellable' : 'damaged', unitPrice: state.unitPrice });
    }
    if (lines.length === 0) {
      await context.announce(tx, { returnId: null, unshipped });
      return { kind: 'nothing-shipped', unshipped };
    }
    // The goods come back where the channel says, else where they left from.
    const shippedFrom = shipments.filter((s) => s.lines.some((l) => lines.some((x) => x.lineNumber === l.lineNumber))).at(-1)?.locationCode;
    const locationCode = given?.code ?? shippedFrom ?? shipments.at(-1)?.locationCode;
    if (!locationCode) {
      await context.announce(tx, { returnId: null, unshipped });
      return { kind: 'nothing-shipped', unshipped };
    }
    const id = newId('return');
    const channelRefund = { channel: request.channel, refundId: request.channelRefundId, source: 'channel' as const };
    await insertReturn(tx, {
      id,
      orderId: order.id,
      lines,
      locationCode,
      reason: request.reason ?? null,
      refundAmount: request.refundAmount,
      correlationId: context.correlationId,
      channelRefund,
    });
    await enqueue(tx, returnJob(order.id, id, context.correlationId));
    await appendTimeline(tx, order.id, [
      { system: request.channel, action: 'return.requested', outcome: 'pending', attempt: 1, durationMs: null, correlationId: context.correlationId, detail: { returnId: id, location: locationCode, lines, channelRefund, unshipped } },
    ]);
    await context.announce(tx, { returnId: id, unshipped });
    return { kind: 'accepted', return: (await readReturn(tx, id))!, unshipped };
  });
}
