import { createHmac } from 'node:crypto';

/** The WMS's wire shapes (its own API, documented in README.md), shared by sandbox, client and inbound. */

export type WireFulfilmentStatus = 'open' | 'partially_shipped' | 'shipped' | 'cancelled';

export interface WireFulfilmentOrder {
  id: string;
  orderId: string;
  locationId: string;
  status: WireFulfilmentStatus;
  shipTo: Record<string, unknown>;
  customer: { name: string; email?: string } | null;
  lines: { lineNumber: number; sku: string; quantity: number; shippedQuantity: number }[];
  shipmentIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface WireShipment {
  id: string;
  fulfillmentOrderId: string;
  orderId: string;
  locationId: string;
  carrier: string | null;
  trackingNumbers: string[];
  lines: { lineNumber: number; sku: string; quantity: number }[];
  shippedAt: string;
}

/** The body of a `shipment.created` webhook. */
export interface WireShipmentEvent {
  id: string;
  topic: 'shipment.created';
  createdAt: string;
  data: { shipment: WireShipment; fulfillmentOrder: WireFulfilmentOrder };
}

/**
 * The WMS webhook signature: header
 *   Wms-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * The timestamp is inside the signed bytes, so a captured delivery cannot be replayed
 * later with a fresh timestamp. Several v1 entries may be sent while a secret rotates.
 */
export const SIGNATURE_HEADER = 'wms-signature';
export const DELIVERY_HEADER = 'wms-delivery-id';
export const TOPIC_HEADER = 'wms-topic';

/** The hex HMAC of one delivery. */
export function signWmsPayload(secret: string, timestampSeconds: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex');
}

/** The full header value for a delivery. */
export function wmsSignatureHeader(secret: string, timestampSeconds: number, rawBody: string | Buffer): string {
  return `t=${timestampSeconds},v1=${signWmsPayload(secret, timestampSeconds, rawBody)}`;
}
