import type { Queryable } from '../../store/database.ts';
import { SynclineError } from '../../domain/errors.ts';
import { markedReturnId, type ChannelRefundCommand } from '../../connectors/kit/channel-connector.ts';
import type { ConnectionSettings } from '../../config/connections-file.ts';
import { pairChannelRefund, readReturn } from '../../store/orders/order-lifecycle-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { recordChannelReturn } from '../return/return-request.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';
import type { Order } from '../../model/order.ts';
import type { CommandDeps, CommandOutcome } from './channel-commands.ts';

/**
 * The `order.refund` command of a channel (Shopify refunds/create, a refund read from
 * WooCommerce or found by the reconciliation poll): a refund taken in the channel, taken in as a
 * return through the return flow's domain path (docs/adr/0024).
 */

/**
 * Money moved for an order Syncline never took in (placed before the connection, or its
 * orders/create still on its way): a dead letter holding the payload, listed with the others
 * and replayed once the order is in, never a silent "not found".
 */
const refundOfUnknownOrder = (connectionId: string, command: ChannelRefundCommand) =>
  new SynclineError('channel.refund_order_unknown', `refund ${command.channelRefundId} is for order ${command.channelOrderId}, which Syncline does not have from ${connectionId}; replay this dead letter once the order is in`, {
    retry: 'permanent',
    details: { connectionId, channelOrderId: command.channelOrderId, channelRefundId: command.channelRefundId },
  });

/**
 * A refund taken in the channel becomes a return through the return flow (docs/adr/0024): the
 * shipped units come back (restocked where the channel restocked them), the ERP gets its credit
 * note, and the payment step is skipped because the channel moved the money. One return per
 * channel refund id, however often it arrives. Refunded units that never shipped are reported
 * for review; a refund of an order Syncline does not know (`order` undefined) becomes a dead letter.
 */
export async function refundOrder(deps: CommandDeps, connection: ConnectionSettings, command: ChannelRefundCommand, order: Order | undefined, correlationId: string): Promise<CommandOutcome> {
  const base = { command: command.kind, channelRefundId: command.channelRefundId };
  if (!order) throw refundOfUnknownOrder(connection.id, command);
  // Syncline's own refund sent back by the channel (its note carries the return's mark): the return exists, nothing to take in.
  const marked = markedReturnId(command.note);
  const own = marked ? await readReturn(deps.db, marked) : undefined;
  if (own && own.orderId === order.id) {
    await pairChannelRefund(deps.db, own.id, connection.id, command.channelRefundId);
    return { status: 'applied', result: { ...base, outcome: 'echo', orderId: order.id, returnId: own.id } };
  }
  const lineOf = new Map(order.lines.filter((l) => l.channelLineId).map((l) => [l.channelLineId!, l.lineNumber]));
  const unknownLines = command.lines.filter((l) => !lineOf.has(l.channelLineId)).map((l) => l.channelLineId);
  // The channel location the goods went back to, as a Syncline location (the connection's mapping).
  const channelLocation = command.lines.find((l) => l.restock && l.channelLocationId)?.channelLocationId;
  const location = channelLocation ? Object.entries(connection.locations ?? {}).find(([, id]) => id === channelLocation)?.[0] : undefined;
  let unshipped: { lineNumber: number; quantity: number }[] = [];
  let returnId: string | null = null;
  // The timeline entry and the event are written in the return's transaction: a crash between them cannot lose one.
  const announce = async (tx: Queryable, made: { returnId: string | null; unshipped: { lineNumber: number; quantity: number }[] }) => {
    ({ returnId, unshipped } = made);
    // A cancelled order's unshipped units are meant to be refunded (Shopify refunds a cancel): nothing to review.
    const review = (unshipped.length > 0 && order.status !== 'cancelled') || unknownLines.length > 0;
    await appendTimeline(tx, order.id, [
      {
        system: connection.id,
        action: 'channel.refund',
        // Units refunded (and cancelled) in the channel that Syncline has not shipped: an operator decides.
        outcome: review ? 'pending' : 'succeeded',
        attempt: 1,
        durationMs: null,
        correlationId,
        detail: {
          channelRefundId: command.channelRefundId,
          amount: command.amount,
          currency: command.currency,
          returnId,
          unshipped,
          unknownLines,
          note: review ? 'refunded in the channel but not shipped by Syncline (or not an order line): review the order' : (command.note ?? null),
        },
      },
    ]);
    await appendEvents(tx, [
      orderEvent(ORDER_EVENT_TYPES.channelRefunded, order.id, correlationId, {
        channel: connection.id,
        channelRefundId: command.channelRefundId,
        amount: command.amount,
        currency: command.currency,
        lines: command.lines.map(({ channelLineId, quantity, restock }) => ({ channelLineId, quantity, restock })),
        note: command.note ?? null,
        returnId,
      }),
    ]);
  };
  const outcome = await recordChannelReturn(
    deps.db,
    deps.inventory,
    {
      orderId: order.id,
      channel: connection.id,
      channelRefundId: command.channelRefundId,
      refundAmount: command.amount,
      lines: command.lines.filter((l) => lineOf.has(l.channelLineId)).map((l) => ({ lineNumber: lineOf.get(l.channelLineId)!, quantity: l.quantity, restock: l.restock })),
      location,
      reason: command.note ? `refunded in ${connection.id}: ${command.note}`.slice(0, 500) : `refunded in ${connection.id}`,
    },
    { correlationId, announce },
  );
  if (outcome.kind === 'order-not-found') throw refundOfUnknownOrder(connection.id, command);
  if (outcome.kind === 'unknown-location') throw new SynclineError('channel.unknown_location', `connection ${connection.id} maps location ${outcome.location}, which Syncline does not know`, { retry: 'permanent' });
  if (outcome.kind === 'duplicate') return { status: 'applied', result: { ...base, outcome: 'duplicate', orderId: order.id, returnId: outcome.return?.id ?? null } };
  return { status: 'applied', result: { ...base, outcome: returnId ? 'return' : 'recorded', orderId: order.id, returnId, ...(unshipped.length ? { unshipped } : {}), ...(unknownLines.length ? { unknownLines } : {}) } };
}
