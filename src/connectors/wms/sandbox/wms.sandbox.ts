import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createSandboxApp, installAnswerDelays, listenSandbox, randomIdBytes, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TOPIC_HEADER, wmsSignatureHeader, type WireFulfilmentOrder, type WireShipment } from '../wms-wire.ts';

/**
 * A warehouse management system emulator. It keeps fulfilment orders per location,
 * ships only when an operator confirms (POST /v1/fulfillment-orders/{id}/ship) or after
 * an optional auto-ship delay, and tells Syncline with a signed `shipment.created`
 * webhook. Its API is documented in ../README.md.
 */

export interface WmsSandboxOptions extends SandboxListenOptions {
  /** Where shipment webhooks are POSTed (default: none; settable through PUT /_sandbox/config). */
  callbackUrl?: string;
  /** HMAC secret shared with Syncline (default: "wms-sandbox-secret"). */
  webhookSecret?: string;
  /** Ship every new fulfilment order in full after this delay (default: off). */
  autoShipDelayMs?: number | null;
}

export interface RunningWmsSandbox extends RunningSandbox {
  state: WmsState;
}

const Line = z.strictObject({ lineNumber: z.number().int().positive(), sku: z.string().min(1).max(64), quantity: z.number().int().positive() });
const CreateBody = z.strictObject({
  orderId: z.string().min(1).max(128),
  locationId: z.string().min(1).max(64),
  shipTo: z.record(z.string(), z.unknown()),
  customer: z.strictObject({ name: z.string(), email: z.string().optional() }).optional(),
  lines: z.array(Line).min(1).max(500),
});
const ShipBody = z.strictObject({
  lines: z.array(z.strictObject({ lineNumber: z.number().int().positive(), quantity: z.number().int().positive() })).min(1).optional(),
  carrier: z.string().max(64).optional(),
  trackingNumbers: z.array(z.string().min(1).max(128)).max(50).optional(),
});
const Config = z.strictObject({
  callbackUrl: z.url().nullable().optional(),
  webhookSecret: z.string().min(8).optional(),
  autoShipDelayMs: z.number().int().min(0).nullable().optional(),
  /** Delivery attempts per webhook before it is marked failed (default: 5). */
  webhookMaxAttempts: z.number().int().min(1).max(20).optional(),
  /** First retry delay, doubled per attempt (default: 200 ms). */
  webhookRetryDelayMs: z.number().int().min(0).max(60_000).optional(),
});

type FulfilmentOrder = WireFulfilmentOrder;
type Shipment = WireShipment;

interface Delivery {
  id: string;
  topic: string;
  url: string;
  body: string;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed' | 'no_callback';
  lastResponseStatus: number | null;
  lastError: string | null;
}

export interface WmsState {
  orders: Map<string, FulfilmentOrder>;
  shipments: Map<string, Shipment>;
  deliveries: Delivery[];
  config: { callbackUrl: string | null; webhookSecret: string; autoShipDelayMs: number | null; webhookMaxAttempts: number; webhookRetryDelayMs: number };
}

const newWmsId = (prefix: string) => `${prefix}_${randomIdBytes(8).toString('hex')}`;

const error = (code: string, message: string, extra: Record<string, unknown> = {}) => ({ error: { code, message }, ...extra });

/** Starts the WMS sandbox. */
export async function startWmsSandbox(options: WmsSandboxOptions = {}): Promise<RunningWmsSandbox> {
  const state: WmsState = {
    orders: new Map(),
    shipments: new Map(),
    deliveries: [],
    config: {
      callbackUrl: options.callbackUrl ?? null,
      webhookSecret: options.webhookSecret ?? 'wms-sandbox-secret',
      autoShipDelayMs: options.autoShipDelayMs ?? null,
      webhookMaxAttempts: 5,
      webhookRetryDelayMs: 200,
    },
  };
  /** Fulfilment orders by (order, location), which never change once created. */
  const byOrderAndLocation = new Map<string, FulfilmentOrder>();
  const orderAndLocation = (orderId: string, locationId: string) => JSON.stringify([orderId, locationId]);
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closing) run();
    }, ms);
    timers.add(timer);
  };

  const { app, faults } = createSandboxApp('wms', { log: options.log });
  app.addHook('onClose', async () => {
    closing = true;
    for (const timer of timers) clearTimeout(timer);
  });

  // A busy WMS: the request takes effect and the answer comes late, so a client that gives up
  // first does not know whether its fulfilment order exists (PUT /_sandbox/delays).
  installAnswerDelays(app, /^(GET|POST) \/v1\/[a-z/:-]+$/, { byRoute: true });

  const attemptDelivery = async (delivery: Delivery) => {
    if (closing) return;
    delivery.attempts += 1;
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: wmsSignatureHeader(state.config.webhookSecret, timestamp, delivery.body),
          [DELIVERY_HEADER]: delivery.id,
          [TOPIC_HEADER]: delivery.topic,
          'user-agent': 'syncline-wms-sandbox/1',
        },
        body: delivery.body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      delivery.lastResponseStatus = response.status;
      delivery.lastError = null;
      if (response.ok) {
        delivery.status = 'delivered';
        return;
      }
    } catch (cause) {
      delivery.lastError = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ''}` : String(cause);
    }
    if (delivery.attempts >= state.config.webhookMaxAttempts) {
      delivery.status = 'failed';
      return;
    }
    later(state.config.webhookRetryDelayMs * 2 ** (delivery.attempts - 1), () => void attemptDelivery(delivery));
  };

  const publish = (topic: string, data: Record<string, unknown>) => {
    const id = newWmsId('whd');
    const body = JSON.stringify({ id, topic, createdAt: new Date().toISOString(), data });
    const delivery: Delivery = { id, topic, url: state.config.callbackUrl ?? '', body, attempts: 0, status: 'pending', lastResponseStatus: null, lastError: null };
    state.deliveries.push(delivery);
    if (!state.config.callbackUrl) delivery.status = 'no_callback';
    else void attemptDelivery(delivery);
  };

  const ship = (order: FulfilmentOrder, input: z.infer<typeof ShipBody>): { status: number; body: unknown } => {
    if (order.status === 'cancelled' || order.status === 'shipped') {
      return { status: 409, body: error(order.status === 'cancelled' ? 'cancelled' : 'already_shipped', `fulfillment order ${order.id} is ${order.status}`) };
    }
    const wanted = input.lines ?? order.lines.filter((l) => l.quantity > l.shippedQuantity).map((l) => ({ lineNumber: l.lineNumber, quantity: l.quantity - l.shippedQuantity }));
    for (const want of wanted) {
      const line = order.lines.find((l) => l.lineNumber === want.lineNumber);
      if (!line) return { status: 422, body: error('unknown_line', `fulfillment order ${order.id} has no line ${want.lineNumber}`) };
      if (want.quantity > line.quantity - line.shippedQuantity) {
        return { status: 422, body: error('over_shipment', `line ${want.lineNumber} has only ${line.quantity - line.shippedQuantity} left to ship`) };
      }
    }
    const shipment: Shipment = {
      id: newWmsId('shp'),
      fulfillmentOrderId: order.id,
      orderId: order.orderId,
      locationId: order.locationId,
      carrier: input.carrier ?? null,
      trackingNumbers: input.trackingNumbers ?? [],
      lines: wanted.map((w) => ({ lineNumber: w.lineNumber, sku: order.lines.find((l) => l.lineNumber === w.lineNumber)!.sku, quantity: w.quantity })),
      shippedAt: new Date().toISOString(),
    };
    for (const want of wanted) order.lines.find((l) => l.lineNumber === want.lineNumber)!.shippedQuantity += want.quantity;
    order.status = order.lines.every((l) => l.shippedQuantity >= l.quantity) ? 'shipped' : 'partially_shipped';
    order.updatedAt = shipment.shippedAt;
    order.shipmentIds.push(shipment.id);
    state.shipments.set(shipment.id, shipment);
    publish('shipment.created', { shipment, fulfillmentOrder: view(order) });
    return { status: 201, body: { shipment, fulfillmentOrder: view(order) } };
  };

  const view = (order: FulfilmentOrder) => structuredClone(order);

  app.post('/v1/fulfillment-orders', async (request, reply) => {
    const parsed = CreateBody.safeParse(request.body);
    if (!parsed.success) return reply.code(422).send(error('invalid_request', 'the fulfillment order is not valid', { issues: parsed.error.issues }));
    const input = parsed.data;
    // One fulfilment order per (order, location): a repeated create answers with the existing one.
    const existing = byOrderAndLocation.get(orderAndLocation(input.orderId, input.locationId));
    if (existing) return reply.code(200).send(view(existing));
    const now = new Date().toISOString();
    const order: FulfilmentOrder = {
      id: newWmsId('fo'),
      orderId: input.orderId,
      locationId: input.locationId,
      status: 'open',
      shipTo: input.shipTo,
      customer: input.customer ?? null,
      lines: input.lines.map((l) => ({ ...l, shippedQuantity: 0 })),
      shipmentIds: [],
      createdAt: now,
      updatedAt: now,
    };
    state.orders.set(order.id, order);
    byOrderAndLocation.set(orderAndLocation(order.orderId, order.locationId), order);
    if (state.config.autoShipDelayMs !== null) {
      later(state.config.autoShipDelayMs, () => {
        if (order.status === 'open') ship(order, { carrier: 'SANDBOX', trackingNumbers: [`AUTO${randomBytes(5).toString('hex').toUpperCase()}`] });
      });
    }
    return reply.code(201).header('location', `/v1/fulfillment-orders/${order.id}`).send(view(order));
  });

  app.get<{ Querystring: { orderId?: string; locationId?: string } }>('/v1/fulfillment-orders', async (request) => {
    const { orderId, locationId } = request.query;
    const data = [...state.orders.values()].filter((o) => (!orderId || o.orderId === orderId) && (!locationId || o.locationId === locationId)).map(view);
    return { data };
  });

  app.get<{ Params: { id: string } }>('/v1/fulfillment-orders/:id', async (request, reply) => {
    const order = state.orders.get(request.params.id);
    return order ? view(order) : reply.code(404).send(error('not_found', `no fulfillment order ${request.params.id}`));
  });

  app.post<{ Params: { id: string } }>('/v1/fulfillment-orders/:id/cancel', async (request, reply) => {
    const order = state.orders.get(request.params.id);
    if (!order) return reply.code(404).send(error('not_found', `no fulfillment order ${request.params.id}`));
    if (order.status === 'cancelled') return view(order);
    if (order.status !== 'open') {
      return reply.code(409).send(error('already_shipped', `fulfillment order ${order.id} is ${order.status}; shipped goods cannot be cancelled`, { fulfillmentOrder: view(order) }));
    }
    order.status = 'cancelled';
    order.updatedAt = new Date().toISOString();
    return view(order);
  });

  app.post<{ Params: { id: string } }>('/v1/fulfillment-orders/:id/ship', async (request, reply) => {
    const order = state.orders.get(request.params.id);
    if (!order) return reply.code(404).send(error('not_found', `no fulfillment order ${request.params.id}`));
    const parsed = ShipBody.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(422).send(error('invalid_request', 'the shipment is not valid', { issues: parsed.error.issues }));
    const result = ship(order, parsed.data);
    return reply.code(result.status).send(result.body);
  });

  app.get<{ Params: { id: string } }>('/v1/shipments/:id', async (request, reply) => {
    const shipment = state.shipments.get(request.params.id);
    return shipment ?? reply.code(404).send(error('not_found', `no shipment ${request.params.id}`));
  });

  // ---- admin API ----
  app.get('/_sandbox/config', async () => ({ ...state.config, webhookSecret: '[set]' }));
  app.put('/_sandbox/config', async (request) => {
    const input = Config.parse(request.body ?? {});
    for (const [key, value] of Object.entries(input)) if (value !== undefined) Object.assign(state.config, { [key]: value });
    return { ...state.config, webhookSecret: '[set]' };
  });
  app.get('/_sandbox/webhooks', async () => ({
    data: state.deliveries.map(({ body: _body, ...rest }) => rest),
  }));

  const running = await listenSandbox('wms', app, faults, options);
  return { ...running, state };
}
