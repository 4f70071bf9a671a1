import { createHash } from 'node:crypto';
import type { JobSpec } from '../../runtime/runtime.ts';
import { connectionTarget } from '../../connectors/kit/channel-connector.ts';
import type { ConnectionSettings } from '../../config/connections-file.ts';

/**
 * Job types of channel connections and the specs that enqueue them. Inbound work (intake) has
 * no target: it calls no one. Outbound work runs on the connection's target `<connector>:<id>`,
 * so each connection has its own rate limit, breaker, retries and dead letters.
 */
export const CHANNEL_JOBS = {
  intake: 'channel.intake',
  listings: 'channel.listings',
  availability: 'channel.availability',
  fulfil: 'channel.fulfil',
  cancel: 'channel.cancel',
  refund: 'channel.refund',
  refundsRead: 'channel.refunds-read',
  reconcile: 'channel.reconcile',
} as const;

/**
 * Where a delivery came from: a webhook (mapped by inbound.map), the reconciliation poll
 * (inbound.mapOrder), or a refund read from a channel without refund webhooks (already a command).
 */
export type DeliverySource = 'webhook' | 'reconcile' | 'refund';

/** The payload of an intake job: the whole delivery, so that its dead letter holds the payload. */
export interface IntakePayload {
  connectionId: string;
  deliveryId: string;
  topic: string;
  triggeredAt?: string | undefined;
  source: DeliverySource;
  payload: unknown;
}

/** The topic under which orders found by the reconciliation poll are stored. */
export const RECONCILE_TOPIC = 'syncline/reconcile';

/** The topic and delivery id under which a refund read from the channel is stored: once per refund. */
export const REFUND_TOPIC = 'syncline/refund';
export const refundDeliveryId = (channelRefundId: string) => `refund:${channelRefundId}`;

/** The delivery id of an order found by the poll: its content, so an unchanged order is taken in once. */
export function reconcileDeliveryId(order: unknown): string {
  return `reconcile:${createHash('sha256').update(JSON.stringify(order)).digest('hex').slice(0, 40)}`;
}

export function intakeJob(payload: IntakePayload, correlationId: string): JobSpec {
  return {
    type: CHANNEL_JOBS.intake,
    payload,
    // Order capture: the critical lane.
    lane: 'critical',
    jobKey: `channel-intake:${payload.connectionId}:${payload.deliveryId}`,
    correlationId,
  };
}

export const targetOf = (connection: Pick<ConnectionSettings, 'connector' | 'id'>) => connectionTarget(connection.connector, connection.id);

/** Listings discovery for some SKUs (null: every SKU Syncline knows). */
export function listingsJob(connection: ConnectionSettings, skus: readonly string[] | null, correlationId: string, key: string): JobSpec {
  return {
    type: CHANNEL_JOBS.listings,
    payload: { connectionId: connection.id, skus },
    lane: 'bulk',
    target: targetOf(connection),
    jobKey: `channel-listings:${connection.id}:${key}`,
    correlationId,
  };
}

/** Pushes a SKU's current availability; one at a time per SKU, each reading the figure when it runs. */
export function availabilityJob(connection: ConnectionSettings, sku: string, correlationId: string, key: string): JobSpec {
  return {
    type: CHANNEL_JOBS.availability,
    payload: { connectionId: connection.id, sku },
    lane: 'normal',
    orderingKey: `channel-stock:${connection.id}:${sku}`,
    target: targetOf(connection),
    jobKey: `channel-availability:${connection.id}:${sku}:${key}`,
    correlationId,
  };
}

/** The reconciliation run of one slot of `everySeconds`: the key makes a second chain of runs merge into the first. */
export function reconcileJob(connection: ConnectionSettings, slot: number, correlationId: string): JobSpec {
  return {
    type: CHANNEL_JOBS.reconcile,
    payload: { connectionId: connection.id },
    lane: 'bulk',
    target: targetOf(connection),
    jobKey: `channel-reconcile:${connection.id}:${slot}`,
    runAt: new Date(slot * connection.reconcileEverySeconds * 1000),
    correlationId,
  };
}

/** The slot the time falls in. */
export const reconcileSlot = (connection: ConnectionSettings, now = Date.now()) => Math.floor(now / 1000 / connection.reconcileEverySeconds);

/** Reads an order's refunds at a channel without refund webhooks; the key names the refunds not taken in yet. */
export function refundsReadJob(connection: ConnectionSettings, channelOrderId: string, refundKey: string, correlationId: string): JobSpec {
  return {
    type: CHANNEL_JOBS.refundsRead,
    payload: { connectionId: connection.id, channelOrderId },
    lane: 'normal',
    orderingKey: `channel-refunds:${connection.id}:${channelOrderId}`,
    target: targetOf(connection),
    jobKey: `channel-refunds-read:${connection.id}:${channelOrderId}:${refundKey}`,
    correlationId,
  };
}
