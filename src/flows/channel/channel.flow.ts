import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { ConnectionSettings } from '../../config/connections-file.ts';
import type { Database, Queryable } from '../../store/database.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import type { OrderIntakeService } from '../../domain/orders/order-intake.service.ts';
import { SynclineError } from '../../domain/errors.ts';
import { EVENT_TYPES, type CloudEvent } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import type { AvailabilityUpdate, ChannelClient, ChannelCommand, ChannelRefundCommand } from '../../connectors/kit/channel-connector.ts';
import type { CallContext } from '../../connectors/kit/http-client.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { HandlerContext, JobSpec } from '../../runtime/runtime.ts';
import { enqueue } from '../../runtime/queue.ts';
import { TargetError } from '../../runtime/targets/target-errors.ts';
import type { TargetPolicy } from '../../runtime/targets/target-policy.ts';
import {
  deliveryKey,
  ensureConnectionStates,
  finishDelivery,
  insertDeliveries,
  knownSkus,
  readConnectionState,
  readListings,
  recordOutbound,
  saveReconcileCursor,
  unstoredDeliveries,
  upsertListings,
} from '../../store/channels/channel-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { pairChannelRefund, readCancellation, readReturn } from '../../store/orders/order-lifecycle-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { ORDER_EVENT_TYPES } from '../order-events.ts';
import type { OrderCancelledData, OrderReturnedData, OrderShippedData } from '../../model/events.ts';
import type { z } from 'zod';
import { applyCommand, channelRequester } from './channel-commands.ts';
import {
  availabilityJob,
  CHANNEL_JOBS,
  intakeJob,
  listingsJob,
  RECONCILE_TOPIC,
  reconcileDeliveryId,
  reconcileJob,
  reconcileSlot,
  REFUND_TOPIC,
  refundDeliveryId,
  refundsReadJob,
  targetOf,
  type IntakePayload,
} from './channel-jobs.ts';

/**
 * Channel connections on the job runtime (docs/adr/0015): the intake job that maps a stored
 * delivery and applies it; the outbound jobs (listings, availability, fulfilment, cancel, refund) on
 * each connection's own target; the reconciliation poll; and the event router that turns
 * committed events (availability, shipments, cancels, returns) into outbound jobs.
 */

export interface ChannelOptions {
  db: Database;
  config: Config;
  logger: Logger;
  intake: OrderIntakeService;
  inventory: InventoryService;
}

/** How long an outbound job of a connection with no client (no token, no site URL) waits before it looks again. */
const NO_CLIENT_RECHECK_MS = 60_000;
/** Most pages one reconciliation run reads; the next run goes on from the cursor. */
const MAX_RECONCILE_PAGES = 20;
/** SKUs asked for in one findListings call. */
const LISTING_BATCH = 50;

/** The channel connections of the configuration, by id. */
export function channelConnections(config: Config): Map<string, ConnectionSettings> {
  return new Map(config.connections.connections.filter((c) => c.kind === 'channel').map((c) => [c.id, c]));
}

/** One delivery to store with its intake job. */
export interface DeliveryToRecord {
  connection: ConnectionSettings;
  delivery: Omit<IntakePayload, 'connectionId'>;
  correlationId: string;
}

/**
 * Stores deliveries (each once) with their intake jobs in the caller's transaction; for each,
 * true when it is new, false when the same delivery was stored before (also earlier in the batch).
 */
export async function recordDeliveries(db: Queryable, items: readonly DeliveryToRecord[]): Promise<boolean[]> {
  const stored = await insertDeliveries(
    db,
    items.map(({ connection, delivery }) => ({ connectionId: connection.id, deliveryId: delivery.deliveryId, topic: delivery.topic, triggeredAt: delivery.triggeredAt, payload: delivery.payload })),
  );
  const claimed = new Set<string>();
  const outcomes = items.map(({ connection, delivery }) => {
    const key = deliveryKey(connection.id, delivery.deliveryId);
    if (!stored.has(key) || claimed.has(key)) return false;
    claimed.add(key);
    return true;
  });
  const jobs = items.filter((_, i) => outcomes[i]).map(({ connection, delivery, correlationId }) => intakeJob({ connectionId: connection.id, ...delivery }, correlationId));
  if (jobs.length) await enqueue(db, jobs);
  return outcomes;
}

/** Stores one delivery with its intake job; true when it is new. */
export async function recordDelivery(db: Queryable, connection: ConnectionSettings, delivery: Omit<IntakePayload, 'connectionId'>, correlationId: string): Promise<boolean> {
  return (await recordDeliveries(db, [{ connection, delivery, correlationId }]))[0]!;
}

/** Adds the channel connections' targets, handlers and event router to a worker's registry. */
export function registerChannels(registry: RuntimeRegistry, options: ChannelOptions): void {
  const connections = channelConnections(options.config);
  for (const connection of connections.values()) {
    // The file's limits, else the connector's defaults; SYNCLINE_TARGET_POLICIES still wins, as for the systems.
    const policy = connection.limits ?? connection.channel!.defaultTargetPolicy;
    const override = (options.config.targetPolicies[targetOf(connection)] ?? {}) as TargetPolicy;
    registry.defineTarget(targetOf(connection), { ...policy, ...override, breaker: { ...policy.breaker, ...override.breaker } });
  }
  const clients = new Map<string, ChannelClient | null>();
  const clientOf = (connection: ConnectionSettings) => {
    if (!clients.has(connection.id)) clients.set(connection.id, connection.channel!.client(connection.options));
    return clients.get(connection.id)!;
  };
  const connectionOf = (id: string) => {
    const connection = connections.get(id);
    // A connection removed from syncline.yaml while its jobs waited: nothing to call any more.
    if (!connection) throw new SynclineError('channel.unknown_connection', `no channel connection "${id}" is configured`, { retry: 'permanent', details: { connectionId: id } });
    return connection;
  };
  // The channel location stock goes to when the connection maps none (its first location), once per process.
  const firstLocation = new Map<string, string | undefined>();
  const deps = { ...options, connections, clientOf, connectionOf, firstLocation };

  registry.register<IntakePayload>(CHANNEL_JOBS.intake, (payload, context) => intakeDelivery(deps, payload, context), { maxAttempts: 20, backoffBaseMs: 500, backoffCapMs: 60_000 }, {
    onDeadLetter: async (notice, tx) =>
      finishDelivery(tx, notice.job.payload.connectionId, notice.job.payload.deliveryId, 'failed', { code: notice.errorCode, message: notice.message, deadLetterId: notice.deadLetterId }),
  });
  const outbound = { maxAttempts: 15, backoffBaseMs: 1000, backoffCapMs: 300_000 };
  registry.register<{ connectionId: string; skus: string[] | null }>(CHANNEL_JOBS.listings, (payload, context) => discoverListings(deps, payload, context), outbound);
  registry.register<{ connectionId: string; sku: string }>(CHANNEL_JOBS.availability, (payload, context) => pushAvailability(deps, payload, context), outbound);
  registry.register<FulfilPayload>(CHANNEL_JOBS.fulfil, (payload, context) => fulfil(deps, payload, context), outbound);
  registry.register<CancelPayload>(CHANNEL_JOBS.cancel, (payload, context) => cancelInChannel(deps, payload, context), outbound);
  registry.register<RefundPayload>(CHANNEL_JOBS.refund, (payload, context) => refundInChannel(deps, payload, context), outbound);
  registry.register<{ connectionId: string; channelOrderId: string }>(CHANNEL_JOBS.refundsRead, (payload, context) => readRefunds(deps, payload, context), outbound);
  registry.register<{ connectionId: string }>(CHANNEL_JOBS.reconcile, (payload, context) => reconcile(deps, payload, context), outbound);
  if (connections.size > 0) registry.route((tx, events) => routeToChannels(connections, tx, events));
}

/** At a worker's start: each channel connection's state row, a listings discovery and its reconciliation run. */
export async function startChannelJobs(db: Database, config: Config): Promise<void> {
  const connections = [...channelConnections(config).values()];
  await ensureConnectionStates(db, connections);
  const correlationId = randomUUID();
  const jobs = connections.flatMap((c) => [listingsJob(c, null, correlationId, 'start'), reconcileJob(c, reconcileSlot(c), correlationId)]);
  if (jobs.length) await enqueue(db, jobs);
}

type Deps = ChannelOptions & {
  connections: Map<string, ConnectionSettings>;
  clientOf: (c: ConnectionSettings) => ChannelClient | null;
  connectionOf: (id: string) => ConnectionSettings;
  firstLocation: Map<string, string | undefined>;
};

async function intakeDelivery(deps: Deps, payload: IntakePayload, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  const connector = connection.channel!;
  let command: ChannelCommand;
  try {
    command =
      payload.source === 'refund'
        ? storedRefund(payload.payload)
        : payload.source === 'reconcile'
        ? connector.inbound.mapOrder(payload.payload, connection.id)
        : connector.inbound.map({ deliveryId: payload.deliveryId, topic: payload.topic, ...(payload.triggeredAt ? { triggeredAt: payload.triggeredAt } : {}), payload: payload.payload }, connection.id);
  } catch (error) {
    // The same payload maps the same way every time: a dead letter at once, holding the payload.
    if (error instanceof SynclineError && error.retry === 'permanent') throw error;
    throw new SynclineError('channel.mapping_failed', `the ${payload.topic} delivery ${payload.deliveryId} could not be mapped: ${(error as Error).message}`, { retry: 'permanent', cause: error });
  }
  const outcome = await applyCommand(deps, connection, command, context.correlationId);
  // A channel without refund webhooks lists refunds on the order: those not taken in yet are read at the channel.
  const refunds = payload.source !== 'refund' ? connector.inbound.refundsListed?.(payload.payload) : undefined;
  if (refunds) {
    const unread = await unstoredDeliveries(deps.db, connection.id, refunds.refundIds.map(refundDeliveryId));
    if (unread.length) await enqueue(deps.db, refundsReadJob(connection, refunds.channelOrderId, unread.sort().join(','), context.correlationId));
  }
  await finishDelivery(deps.db, connection.id, payload.deliveryId, outcome.status, outcome.result);
  if (command.kind === 'order.upsert') {
    // A SKU this connection has no discovered listing for: look it up at the channel.
    const listed = new Set((await readListings(deps.db, connection.id, command.lines.map((l) => l.sku))).filter((l) => l.source === 'discovered').map((l) => l.sku));
    const unseen = [...new Set(command.lines.map((l) => l.sku))].filter((sku) => !listed.has(sku));
    if (unseen.length) await enqueue(deps.db, listingsJob(connection, unseen, context.correlationId, unseen.sort().join(',')));
  }
}

/**
 * The outbound client of a connection, with the call context on its target; throws so that the
 * job waits (no client: uninstalled connections are handled by the caller).
 */
function outboundCall(deps: Deps, connection: ConnectionSettings, context: HandlerContext): { client: ChannelClient; call: CallContext } {
  const client = deps.clientOf(connection);
  if (!client) {
    // Visible on the connection as pending outbound jobs; a restart with the credentials lets them go.
    throw new TargetError('CHANNEL_NO_CLIENT', `connection ${connection.id} has no outbound credentials; its outbound jobs wait`, {
      retry: 'throttled',
      target: targetOf(connection),
      retryAt: new Date(Date.now() + NO_CLIENT_RECHECK_MS),
    });
  }
  return { client, call: { correlationId: context.correlationId, signal: context.signal, target: context.target(targetOf(connection)) } };
}

/** Runs an outbound call and records its outcome on the connection (time, last failure). */
async function recorded<T>(deps: Deps, connection: ConnectionSettings, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await recordOutbound(deps.db, connection.id, null);
    return result;
  } catch (error) {
    const code = error instanceof SynclineError ? error.code : 'channel.outbound_failed';
    // Not attempted (breaker open, rate limit, no free slot): not a failure of the channel.
    if (!(error instanceof TargetError && error.retry === 'throttled' && error.code.startsWith('TARGET_'))) {
      await recordOutbound(deps.db, connection.id, { code, message: (error as Error).message.slice(0, 300) }).catch(() => {});
    }
    throw error;
  }
}

/** True when the connection was uninstalled: its outbound jobs end without a call. */
async function uninstalled(deps: Deps, connection: ConnectionSettings, context: HandlerContext): Promise<boolean> {
  const state = await readConnectionState(deps.db, connection.id);
  if (state?.uninstalled_at) {
    context.logger.info({ connection: connection.id, type: context.job.type }, 'connection uninstalled; outbound job dropped');
    return true;
  }
  return false;
}

async function discoverListings(deps: Deps, payload: { connectionId: string; skus: string[] | null }, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  if (await uninstalled(deps, connection, context)) return;
  const { client, call } = outboundCall(deps, connection, context);
  const skus = payload.skus ?? (await knownSkus(deps.db));
  const found: string[] = [];
  for (let i = 0; i < skus.length; i += LISTING_BATCH) {
    const listings = await recorded(deps, connection, () => client.findListings(skus.slice(i, i + LISTING_BATCH), call));
    await upsertListings(deps.db, connection.id, listings, 'discovered');
    found.push(...listings.map((l) => l.sku));
  }
  // Newly listed SKUs get their availability at once.
  if (found.length) await enqueue(deps.db, found.map((sku) => availabilityJob(connection, sku, context.correlationId, `listed:${context.job.id}`)));
}

async function pushAvailability(deps: Deps, payload: { connectionId: string; sku: string }, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  if (await uninstalled(deps, connection, context)) return;
  const [listing] = await readListings(deps.db, connection.id, [payload.sku]);
  if (!listing || listing.source !== 'discovered') {
    // First seen: discover it; discovery pushes its availability once found.
    await enqueue(deps.db, listingsJob(connection, [payload.sku], context.correlationId, payload.sku));
    return;
  }
  const { client, call } = outboundCall(deps, connection, context);
  const channelListing = { sku: listing.sku, productId: listing.product_id, ...(listing.variant_id ? { variantId: listing.variant_id } : {}), ...(listing.inventory_item_id ? { inventoryItemId: listing.inventory_item_id } : {}) };
  const updates: AvailabilityUpdate[] = [];
  if (connection.locations) {
    // Mapped locations: each channel location gets what its Syncline location can sell.
    for (const [code, channelLocationId] of Object.entries(connection.locations)) {
      const availability = await deps.inventory.getAvailability({ sku: listing.sku, channel: connection.id, location: code });
      if ('kind' in availability) throw new SynclineError('channel.unknown_location', `connection ${connection.id} maps location ${code}, which Syncline does not know`, { retry: 'permanent' });
      updates.push({ listing: channelListing, channelLocationId, available: Math.max(0, availability.available) });
    }
  } else {
    const availability = await deps.inventory.getAvailability({ sku: listing.sku, channel: connection.id });
    const available = 'kind' in availability ? 0 : Math.max(0, availability.available);
    if (!deps.firstLocation.has(connection.id)) {
      const locations = await recorded(deps, connection, () => client.listLocations(call));
      deps.firstLocation.set(connection.id, locations[0]?.id);
    }
    const channelLocationId = listing.location_ids[0] ?? deps.firstLocation.get(connection.id);
    updates.push({ listing: channelListing, ...(channelLocationId ? { channelLocationId } : {}), available });
  }
  const result = await recorded(deps, connection, () => client.setAvailability(updates, call));
  context.logger.info({ connection: connection.id, sku: listing.sku, ...result }, 'availability sent to the channel');
}

interface FulfilPayload {
  connectionId: string;
  orderId: string;
  shipment: Pick<z.infer<typeof OrderShippedData>, 'shipmentId' | 'carrier' | 'trackingNumbers' | 'lines'>;
}

async function fulfil(deps: Deps, payload: FulfilPayload, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  if (await uninstalled(deps, connection, context)) return;
  const order = await findOrderById(deps.db, payload.orderId);
  if (!order) return;
  const { client, call } = outboundCall(deps, connection, context);
  const s = payload.shipment;
  const lines = s.lines.map((l) => ({ channelLineId: order.lines.find((x) => x.lineNumber === l.lineNumber)?.channelLineId ?? '', sku: l.sku, quantity: l.quantity }));
  const started = performance.now();
  const { channelFulfilmentId } = await recorded(deps, connection, () =>
    client.fulfil({ channelOrderId: order.channelOrderId, lines, ...(s.carrier ? { carrier: s.carrier } : {}), ...(s.trackingNumbers[0] ? { trackingNumber: s.trackingNumbers[0] } : {}), shipmentId: s.shipmentId }, call),
  );
  await appendTimeline(deps.db, order.id, [
    { system: connection.id, action: 'channel.fulfil', outcome: 'succeeded', attempt: context.attempt, durationMs: Math.round(performance.now() - started), correlationId: context.correlationId, detail: { shipmentId: s.shipmentId, channelFulfilmentId } },
  ]);
}

interface CancelPayload {
  connectionId: string;
  orderId: string;
  cancellationId: string;
}

async function cancelInChannel(deps: Deps, payload: CancelPayload, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  const cancellation = await readCancellation(deps.db, payload.cancellationId);
  // The channel asked for this cancel: nothing to tell it.
  if (!cancellation || cancellation.requestedBy === channelRequester(connection.id)) return;
  if (await uninstalled(deps, connection, context)) return;
  const order = await findOrderById(deps.db, payload.orderId);
  if (!order) return;
  const { client, call } = outboundCall(deps, connection, context);
  const cancelled = await recorded(deps, connection, () => client.cancelOrder(order.channelOrderId, cancellation.reason ?? 'cancelled in Syncline', call));
  await appendTimeline(deps.db, order.id, [
    { system: connection.id, action: 'channel.cancel', outcome: cancelled ? 'succeeded' : 'skipped', attempt: context.attempt, durationMs: null, correlationId: context.correlationId, detail: { cancellationId: payload.cancellationId, ...(cancelled ? {} : { note: 'the channel refused the cancel (already fulfilled there)' }) } },
  ]);
}

interface RefundPayload {
  connectionId: string;
  orderId: string;
  returnId: string;
}

/**
 * Reflects a completed return made in Syncline as a refund in the channel (docs/adr/0024). A refund
 * taken in the channel is not sent back; a retry finds the refund made before (the client's
 * idempotency key and marked note) and the pairing recorded on the return.
 */
async function refundInChannel(deps: Deps, payload: RefundPayload, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  const ret = await readReturn(deps.db, payload.returnId);
  if (!ret || ret.status !== 'completed') return;
  // Taken in the channel (no echo), or reflected already.
  if (ret.channelRefund) return;
  if (await uninstalled(deps, connection, context)) return;
  const order = await findOrderById(deps.db, payload.orderId);
  if (!order) return;
  const { client, call } = outboundCall(deps, connection, context);
  const lines = ret.lines.map((l) => ({ channelLineId: order.lines.find((x) => x.lineNumber === l.lineNumber)?.channelLineId ?? '', sku: l.sku, quantity: l.quantity }));
  const started = performance.now();
  const { channelRefundId, created } = await recorded(deps, connection, () =>
    client.refund({ channelOrderId: order.channelOrderId, returnId: ret.id, amount: ret.refundAmount, currency: order.currency, lines: lines.filter((l) => l.channelLineId), refundedBySyncline: ret.refundId !== null, ...(ret.reason ? { reason: ret.reason } : {}) }, call),
  );
  await deps.db.transaction(async (tx) => {
    await pairChannelRefund(tx, ret.id, connection.id, channelRefundId);
    await appendTimeline(tx, order.id, [
      { system: connection.id, action: 'channel.refund.sent', outcome: 'succeeded', attempt: context.attempt, durationMs: Math.round(performance.now() - started), correlationId: context.correlationId, detail: { returnId: ret.id, channelRefundId, created } },
    ]);
  });
}

/** A refund read from the channel, stored as a delivery: it is already a command, checked for its shape. */
function storedRefund(payload: unknown): ChannelCommand {
  const command = payload as ChannelRefundCommand;
  if (command?.kind !== 'order.refund' || typeof command.channelOrderId !== 'string' || typeof command.channelRefundId !== 'string' || !Array.isArray(command.lines)) {
    throw new SynclineError('channel.mapping_failed', 'a stored refund is not an order.refund command', { retry: 'permanent' });
  }
  return command;
}

/** Reads an order's refunds at the channel and stores each unseen one as a delivery, taken in by the same intake. */
async function readRefunds(deps: Deps, payload: { connectionId: string; channelOrderId: string }, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  if (await uninstalled(deps, connection, context)) return;
  const { client, call } = outboundCall(deps, connection, context);
  if (!client.orderRefunds) return;
  const refunds = await recorded(deps, connection, () => client.orderRefunds!(payload.channelOrderId, call));
  await deps.db.transaction(async (tx) => {
    for (const refund of refunds) {
      await recordDelivery(tx, connection, { deliveryId: refundDeliveryId(refund.channelRefundId), topic: REFUND_TOPIC, source: 'refund', payload: refund }, context.correlationId);
    }
  });
}

async function reconcile(deps: Deps, payload: { connectionId: string }, context: HandlerContext): Promise<void> {
  const connection = deps.connectionOf(payload.connectionId);
  if (await uninstalled(deps, connection, context)) return;
  const { client, call } = outboundCall(deps, connection, context);
  const state = await readConnectionState(deps.db, connection.id);
  let cursor = state?.reconcile_cursor ?? null;
  const since = new Date(state?.created_at ?? Date.now()).toISOString();
  for (let pages = 0; pages < MAX_RECONCILE_PAGES; pages++) {
    const page = await recorded(deps, connection, () => client.ordersUpdatedSince(cursor, since, call));
    // Each order is stored as a delivery (its content is its id: an unchanged order is taken in
    // once) and goes through the same intake as a webhook; the cursor moves in the same transaction.
    await deps.db.transaction(async (tx) => {
      for (const order of page.orders) {
        await recordDelivery(tx, connection, { deliveryId: reconcileDeliveryId(order), topic: RECONCILE_TOPIC, source: 'reconcile', payload: order }, context.correlationId);
      }
      await saveReconcileCursor(tx, connection.id, page.nextCursor);
    });
    cursor = page.nextCursor;
    if (!page.more) break;
  }
  await enqueue(deps.db, reconcileJob(connection, reconcileSlot(connection) + 1, context.correlationId));
}

/** Turns committed events into the outbound jobs of the channel connections concerned (in the relay's transaction). */
async function routeToChannels(connections: Map<string, ConnectionSettings>, tx: Queryable, events: readonly CloudEvent[]): Promise<JobSpec[]> {
  const jobs: JobSpec[] = [];
  const availability = events.filter((e) => e.type === EVENT_TYPES.inventoryAvailabilityChanged);
  if (availability.length) {
    // A connection with its own channel policy gets its own events; the others follow the shared pool (channel null).
    const ownPolicy = new Set((await tx.query<{ channel: string }>('SELECT channel FROM inventory_channel_policy WHERE channel = ANY($1::text[])', [[...connections.keys()]])).rows.map((r) => r.channel));
    for (const event of availability) {
      const data = event.data as EventData<'inventory.availability.changed'>;
      const to = data.channel === null ? [...connections.values()].filter((c) => !ownPolicy.has(c.id)) : connections.has(data.channel) ? [connections.get(data.channel)!] : [];
      for (const connection of to) jobs.push(availabilityJob(connection, data.sku, event.correlationid, event.id));
    }
  }
  const orderEvents = events.filter(
    (e) =>
      [ORDER_EVENT_TYPES.shipped, ORDER_EVENT_TYPES.partiallyShipped, ORDER_EVENT_TYPES.cancelled, ORDER_EVENT_TYPES.returned].includes(e.type as never) &&
      e.subject &&
      // A return of a refund taken in the channel: the channel has it already (no echo).
      !(e.type === ORDER_EVENT_TYPES.returned && (e.data as OrderReturnedData).channelRefund?.source === 'channel'),
  );
  if (orderEvents.length) {
    const rows = (await tx.query<{ id: string; channel: string }>('SELECT id, channel FROM sales_order WHERE id = ANY($1::text[])', [orderEvents.map((e) => e.subject!)])).rows;
    const channelOf = new Map(rows.map((r) => [r.id, r.channel]));
    for (const event of orderEvents) {
      const connection = connections.get(channelOf.get(event.subject!) ?? '');
      if (!connection) continue;
      const common = { lane: 'normal' as const, orderingKey: `channel-order:${connection.id}:${event.subject}`, target: targetOf(connection), correlationId: event.correlationid };
      if (event.type === ORDER_EVENT_TYPES.cancelled) {
        const data = event.data as OrderCancelledData;
        jobs.push({ ...common, type: CHANNEL_JOBS.cancel, payload: { connectionId: connection.id, orderId: event.subject!, cancellationId: data.cancellationId } satisfies CancelPayload, jobKey: `channel-cancel:${connection.id}:${data.cancellationId}` });
      } else if (event.type === ORDER_EVENT_TYPES.returned) {
        const data = event.data as OrderReturnedData;
        jobs.push({ ...common, type: CHANNEL_JOBS.refund, payload: { connectionId: connection.id, orderId: event.subject!, returnId: data.returnId } satisfies RefundPayload, jobKey: `channel-refund:${connection.id}:${data.returnId}` });
      } else {
        const data = event.data as FulfilPayload['shipment'];
        const shipment = { shipmentId: data.shipmentId, carrier: data.carrier, trackingNumbers: data.trackingNumbers, lines: data.lines };
        jobs.push({ ...common, type: CHANNEL_JOBS.fulfil, payload: { connectionId: connection.id, orderId: event.subject!, shipment } satisfies FulfilPayload, jobKey: `channel-fulfil:${connection.id}:${data.shipmentId}` });
      }
    }
  }
  return jobs;
}

