import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SynclineError } from '../../../domain/errors.ts';
import { ShipmentConfirmation } from '../../../model/shipment.ts';
import { findUnstorableText } from '../../../model/text.ts';
import { DELIVERY_HEADER, signWmsPayload, SIGNATURE_HEADER, TOPIC_HEADER, type WireShipmentEvent } from '../wms-wire.ts';

/**
 * Inbound WMS webhooks: verify the signature on the raw bytes first (constant-time),
 * reject stale timestamps, then map to canonical. Unknown topics map to an explicit
 * "unsupported" result, never to a guess.
 */

export interface VerifiedWmsDelivery {
  deliveryId: string;
  topic: string;
  timestamp: number;
  payload: unknown;
}

export interface VerifyOptions {
  /** The shared HMAC secret; more than one while a secret is rotated. */
  secret: string | string[];
  /** Oldest (or furthest in the future) accepted timestamp, in seconds (default: 300). */
  toleranceSeconds?: number;
  /** Current time in ms (default: Date.now()). */
  now?: number;
}

const reject = (code: string, message: string) => new SynclineError(code, message, { retry: 'permanent', details: { system: 'wms' } });

function header(headers: IncomingHttpHeaders | Record<string, string | undefined>, name: string): string | undefined {
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Verifies a delivery and parses its body; throws webhook.* SynclineErrors (permanent) when it must be refused. */
export function verifyWmsWebhook(
  rawBody: Buffer,
  headers: IncomingHttpHeaders | Record<string, string | undefined>,
  options: VerifyOptions,
): VerifiedWmsDelivery {
  const signature = header(headers, SIGNATURE_HEADER);
  if (!signature) throw reject('webhook.signature_missing', `the ${SIGNATURE_HEADER} header is missing`);
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of signature.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || candidates.length === 0) throw reject('webhook.signature_malformed', `the ${SIGNATURE_HEADER} header is not t=<seconds>,v1=<hex>`);
  const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
  const valid = secrets.some((secret) => {
    const expected = Buffer.from(signWmsPayload(secret, timestamp, rawBody), 'hex');
    return candidates.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
  if (!valid) throw reject('webhook.signature_invalid', 'the webhook signature does not match its body');
  // Checked after the signature, so an attacker learns nothing from the timestamp error.
  const now = options.now ?? Date.now();
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now / 1000 - timestamp) > tolerance) {
    throw reject('webhook.timestamp_stale', `the webhook timestamp is more than ${tolerance} s away from now`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw reject('webhook.body_invalid', 'the webhook body is not JSON');
  }
  // A signed body is still untrusted in shape: any JSON value may arrive here.
  const deliveryId = header(headers, DELIVERY_HEADER) ?? stringAt(payload, 'id') ?? '';
  const topic = header(headers, TOPIC_HEADER) ?? stringAt(payload, 'topic') ?? '';
  return { deliveryId, topic, timestamp, payload };
}

type Untrusted = Record<string, unknown>;

/** The object at key of value, or undefined when value or the member is not a plain object. */
function objectAt(value: unknown, key: string): Untrusted | undefined {
  const member = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Untrusted)[key] : undefined;
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? (member as Untrusted) : undefined;
}

function stringAt(value: unknown, key: string): string | undefined {
  const member = value !== null && typeof value === 'object' ? (value as Untrusted)[key] : undefined;
  return typeof member === 'string' ? member : undefined;
}

export type WmsInboundEvent = { kind: 'shipment'; confirmation: ShipmentConfirmation } | { kind: 'unsupported'; topic: string };

/** Maps a verified delivery to a canonical event. */
export function mapWmsDelivery(delivery: VerifiedWmsDelivery): WmsInboundEvent {
  if (delivery.topic !== 'shipment.created') return { kind: 'unsupported', topic: delivery.topic };
  // Untrusted until parsed: members are read only from objects, passed on as they are, and the schema decides.
  const data = objectAt(delivery.payload, 'data');
  const shipment = objectAt(data, 'shipment') ?? {};
  const fulfillmentOrder = objectAt(data, 'fulfillmentOrder');
  const lines = Array.isArray(shipment.lines)
    ? shipment.lines.map((l: unknown) => (l !== null && typeof l === 'object' ? { lineNumber: (l as Untrusted).lineNumber, sku: (l as Untrusted).sku, quantity: (l as Untrusted).quantity } : l))
    : (shipment.lines ?? []);
  const candidate = {
    orderId: shipment.orderId,
    locationId: shipment.locationId,
    shippedAt: shipment.shippedAt,
    ...(shipment.carrier ? { carrier: shipment.carrier } : {}),
    trackingNumbers: shipment.trackingNumbers ?? [],
    lines,
    fulfilmentComplete: fulfillmentOrder?.status === ('shipped' satisfies WireShipmentEvent['data']['fulfillmentOrder']['status']),
    source: { system: 'wms', shipmentId: shipment.id, fulfilmentId: shipment.fulfillmentOrderId, ...(delivery.deliveryId ? { deliveryId: delivery.deliveryId } : {}) },
  };
  const unstorable = findUnstorableText(candidate);
  if (unstorable.length > 0) {
    throw new SynclineError('webhook.payload_invalid', 'the WMS shipment payload holds text that cannot be stored', {
      retry: 'permanent',
      details: { system: 'wms', issues: unstorable.map((i) => `${i.path.join('.')}: ${i.message}`) },
    });
  }
  const parsed = ShipmentConfirmation.safeParse(candidate);
  if (!parsed.success) {
    throw new SynclineError('webhook.payload_invalid', 'the WMS shipment payload does not map to a shipment confirmation', {
      retry: 'permanent',
      details: { system: 'wms', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
    });
  }
  return { kind: 'shipment', confirmation: parsed.data };
}
