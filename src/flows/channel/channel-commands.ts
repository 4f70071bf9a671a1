import type { Database } from '../../store/database.ts';
import type { OrderIntakeService } from '../../domain/orders/order-intake.service.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import { diffOrder, isEmpty } from '../../domain/orders/order-amendment.ts';
import { proposeAmendment } from '../../domain/orders/order-amendment.service.ts';
import { enqueue } from '../../runtime/queue.ts';
import { amendJob } from '../amendment/amendment.flow.ts';
import { SynclineError } from '../../domain/errors.ts';
import { OrderSubmission, type Order } from '../../model/order.ts';
import type { ChannelCommand } from '../../connectors/kit/channel-connector.ts';
import type { ConnectionSettings } from '../../config/connections-file.ts';
import { listOrders, findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { markUninstalled, upsertListings, type DeliveryStatus } from '../../store/channels/channel-queries.ts';
import { requestCancel } from '../cancel/cancel-request.ts';
import { refundOrder } from './channel-refunds.ts';

/**
 * Carries out a channel's canonical command (a mapped webhook delivery or an order found
 * by the reconciliation poll) through the domain: order intake (idempotent by channel and
 * channel order id), the cancel flow, the order timeline. Every outcome is a result, so
 * the delivery records what it did; only faults throw.
 */

export interface CommandDeps {
  db: Database;
  intake: OrderIntakeService;
  inventory: InventoryService;
}

export interface CommandOutcome {
  status: DeliveryStatus;
  result: Record<string, unknown>;
}

/** Who a cancel requested by a channel is recorded as; outbound cancels skip these (no echo). */
export const channelRequester = (connectionId: string) => `channel:${connectionId}`;

async function findChannelOrder(db: Database, connectionId: string, channelOrderId: string): Promise<Order | undefined> {
  return (await listOrders(db, { channel: connectionId, channelOrderId, limit: 1 }))[0];
}

async function upsertOrder(deps: CommandDeps, connection: ConnectionSettings, command: Extract<ChannelCommand, { kind: 'order.upsert' }>, correlationId: string): Promise<CommandOutcome> {
  // The order belongs to this connection, whatever the mapping put in `channel`.
  const parsed = OrderSubmission.safeParse({ ...command.submission, channel: connection.id });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new SynclineError('channel.order_invalid', `the channel's order ${command.submission.channelOrderId} is not a valid order: ${problems.join('; ')}`, {
      retry: 'permanent',
      details: { problems },
    });
  }
  const submission = parsed.data;
  // The channel's own ids of each SKU it sold: listings (a discovered listing is never overwritten).
  await upsertListings(
    deps.db,
    connection.id,
    command.lines.flatMap((l) => (l.productId ? [{ sku: l.sku, productId: l.productId, variantId: l.variantId }] : [])),
    'order',
  );
  const outcome = await deps.intake.submit(submission, { correlationId });
  if (outcome.kind === 'created') return { status: 'applied', result: { command: command.kind, outcome: 'created', orderId: outcome.order.id } };
  if (outcome.kind !== 'duplicate') throw new SynclineError('channel.intake_unexpected', `order intake answered ${outcome.kind} without an idempotency key`, { retry: 'transient' });
  const order = await findOrderById(deps.db, outcome.existingOrderId);
  if (!order) throw new SynclineError('channel.order_vanished', `order ${outcome.existingOrderId} is gone`, { retry: 'transient' });
  const changes = diffOrder(order, submission);
  if (isEmpty(changes)) return { status: 'applied', result: { command: command.kind, outcome: 'unchanged', orderId: order.id } };
  // A changed order is amended between its flow's jobs (docs/adr/0023): stored pending with the
  // job that takes it in; applied or held before release, reported after.
  const amendmentId = await deps.db.transaction(async (tx) => {
    const id = await proposeAmendment(tx, { orderId: order.id, channel: connection.id, submission, channelUpdatedAt: command.channelUpdatedAt, correlationId });
    await enqueue(tx, amendJob(order.id, correlationId, id));
    return id;
  });
  return { status: 'applied', result: { command: command.kind, outcome: 'amendment', orderId: order.id, amendmentId, changes: [...changes.fields, ...(changes.lines.length ? ['lines'] : [])] } };
}

/** Carries out one command of a connection. */
export async function applyCommand(deps: CommandDeps, connection: ConnectionSettings, command: ChannelCommand, correlationId: string): Promise<CommandOutcome> {
  switch (command.kind) {
    case 'order.upsert':
      return upsertOrder(deps, connection, command, correlationId);
    case 'order.cancel':
    case 'order.deleted': {
      const order = await findChannelOrder(deps.db, connection.id, command.channelOrderId);
      if (!order) return { status: 'applied', result: { command: command.kind, outcome: 'order-not-found', channelOrderId: command.channelOrderId } };
      const reason = command.kind === 'order.cancel' ? command.reason : 'deleted in the channel';
      const outcome = await requestCancel(deps.db, order.id, { reason, requestedBy: channelRequester(connection.id), correlationId });
      const result = outcome.kind === 'done' ? outcome.result : undefined;
      return {
        status: 'applied',
        result: { command: command.kind, orderId: order.id, outcome: result?.kind ?? outcome.kind, ...(result?.kind === 'accepted' ? { cancellationId: result.cancellation.id } : {}) },
      };
    }
    case 'order.refund':
      return refundOrder(deps, connection, command, await findChannelOrder(deps.db, connection.id, command.channelOrderId), correlationId);
    case 'connection.uninstalled': {
      const changed = await markUninstalled(deps.db, connection.id);
      return { status: 'applied', result: { command: command.kind, outcome: changed ? 'uninstalled' : 'already-uninstalled' } };
    }
    case 'unsupported':
      return { status: 'unsupported', result: { command: command.kind, topic: command.topic, reason: command.reason } };
  }
}
