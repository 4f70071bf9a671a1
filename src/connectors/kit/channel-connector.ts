import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { OrderSubmission } from '../../model/order.ts';
import type { TargetPolicy } from '../../runtime/targets/target-policy.ts';
import type { CallContext } from './http-client.ts';

/**
 * The contract of a sales-channel connector (Shopify, WooCommerce, ...).
 *
 * Glossary
 *   connector   a type of external system, with its code in src/connectors/<connector>/
 *   connection  one configured instance of a connector (`shopify` store `acme-us`), declared in
 *               syncline.yaml; its id is the order's `channel` and names its runtime target
 *               (`shopify:acme-us`), so rate limits, breakers, retries and dead letters are per connection
 *   delivery    one webhook the channel sent; its id is the idempotency key of the intake
 *   listing     how a channel knows one of Syncline's SKUs: product, variant, inventory item ids
 *   cursor      where the reconciliation poll last stopped (an updated-at time, opaque to the kit)
 *
 * A connector folder holds only what is specific to its platform: the wire types, the
 * signature check and the mapping (inbound/), the typed client (outbound/), the sandbox
 * (sandbox/), the vendor's fixtures (fixtures/) and a README citing the vendor's documentation.
 * Everything shared — the webhook route, the durable intake, jobs, listings storage,
 * reconciliation scheduling, the connection's target — lives in the kit and runtime.
 */

/** The target name of a connection: `<connector>:<connection id>`. */
export const connectionTarget = (connector: string, connectionId: string) => `${connector}:${connectionId}`;

/**
 * The mark an outbound refund carries in its note (Shopify) or reason (WooCommerce): the channel
 * sends Syncline's own refund back as a webhook, and the mark tells it apart from a refund taken
 * in the channel even before the outbound job has recorded the channel's refund id.
 */
export const synclineRefundMark = (returnId: string) => `[Syncline return ${returnId}]`;

/** The Syncline return id a refund note or reason was marked with, if any. */
export function markedReturnId(text: string | undefined): string | undefined {
  return text ? /\[Syncline return (ret_[0-9a-z]{26})\]/.exec(text)?.[1] : undefined;
}

/** A webhook whose signature checked out, parsed but not yet mapped. */
export interface VerifiedDelivery {
  /** The channel's delivery id (X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID): the intake's idempotency key. */
  deliveryId: string;
  /** The channel's topic, in its own spelling (`orders/create`, `order.created`). */
  topic: string;
  /** When the channel says it sent the delivery, if it says (ISO 8601). */
  triggeredAt?: string;
  /** The parsed JSON body: still untrusted in shape. */
  payload: unknown;
}

/** What verify returns: a delivery to store, or a ping to answer 200 without any effect. */
export type VerifyResult = { kind: 'delivery'; delivery: VerifiedDelivery } | { kind: 'ping' };

/** A channel order line with the channel's own ids, kept as listings. */
export interface ChannelLineRef {
  sku: string;
  channelLineId: string;
  productId?: string;
  variantId?: string;
}

/**
 * What a delivery (or an order found by the reconciliation poll) means in the canonical model.
 * Mapping is pure: no I/O, no clock beyond what the payload says.
 */
export type ChannelCommand =
  /** A new or changed order. `submission.channel` is the connection id, `channelOrderId` the platform's id as a string. */
  | { kind: 'order.upsert'; submission: OrderSubmission; lines: ChannelLineRef[]; channelUpdatedAt?: string; channelStatus?: string }
  | { kind: 'order.cancel'; channelOrderId: string; reason: string; cancelledAt?: string }
  /** A refund taken in the channel: a canonical return/refund of these lines and amount. */
  | {
      kind: 'order.refund';
      channelOrderId: string;
      channelRefundId: string;
      amount: string;
      currency: string;
      /** restock: the goods come back into stock (at channelLocationId, the channel's location, when it names one). */
      lines: { channelLineId: string; quantity: number; restock: boolean; channelLocationId?: string }[];
      note?: string;
    }
  /** The store removed the app or deleted the webhook: the connection stops its outbound calls. */
  | { kind: 'connection.uninstalled' }
  | { kind: 'order.deleted'; channelOrderId: string }
  /** Anything else: answered 200 and recorded as not supported, never guessed at. */
  | { kind: 'unsupported'; topic: string; reason: string };

export type ChannelRefundCommand = Extract<ChannelCommand, { kind: 'order.refund' }>;

/** A SKU as the channel lists it, found by SKU. */
export interface ChannelListing {
  sku: string;
  productId: string;
  variantId?: string;
  /** Shopify's inventory item id; WooCommerce has none (stock is set on the product or variation). */
  inventoryItemId?: string;
}

/** One quantity to set in the channel. */
export interface AvailabilityUpdate {
  listing: ChannelListing;
  /** The channel's location id (Shopify); absent where the channel has one stock figure per product. */
  channelLocationId?: string;
  available: number;
}

export interface AvailabilityResult {
  /** Quantities set. */
  updated: number;
  /** Quantities that changed in the channel meanwhile and were re-read and set again (compare-and-set). */
  retriedStale: number;
}

export interface ChannelShipment {
  channelOrderId: string;
  lines: { channelLineId: string; sku: string; quantity: number }[];
  carrier?: string;
  trackingNumber?: string;
  trackingUrl?: string;
  /** Syncline's shipment id: the idempotency key at the channel where it has one. */
  shipmentId: string;
}

/** A return made in Syncline, as a refund to record in the channel. */
export interface ChannelRefund {
  channelOrderId: string;
  /** Syncline's return id: the idempotency key at the channel, and the mark in the refund's note. */
  returnId: string;
  /** Decimal string in the order's currency: what Syncline refunded. */
  amount: string;
  currency: string;
  /**
   * The returned units. The channel is not asked to restock them: Syncline owns availability and
   * its availability sync sets the channel's quantity once the return flow has restocked.
   */
  lines: { channelLineId: string; sku: string; quantity: number }[];
  /**
   * Whether Syncline's payment connector refunded the money. Then the channel only records the
   * refund; otherwise (the order holds no payment in Syncline) the channel's refund moves it, so
   * the money moves once either way.
   */
  refundedBySyncline: boolean;
  reason?: string;
}

/** Orders changed in the channel since a cursor, in pages, oldest first. */
export interface ChangedOrdersPage {
  /** Raw order objects in the channel's own format; mapped by `inbound.mapOrder`. */
  orders: unknown[];
  /** The cursor to store once these orders are taken in. */
  nextCursor: string;
  /** More pages follow at once. */
  more: boolean;
}

/** The outbound calls Syncline makes to a channel; every call goes through the connection's target (CallContext.target). */
export interface ChannelClient {
  /** Listings of these SKUs, discovered from the channel; a SKU the channel does not have is absent. */
  findListings(skus: string[], call: CallContext): Promise<ChannelListing[]>;
  /** The channel's location ids (Shopify); channels without locations return []. */
  listLocations(call: CallContext): Promise<{ id: string; name: string }[]>;
  setAvailability(updates: AvailabilityUpdate[], call: CallContext): Promise<AvailabilityResult>;
  /** Records a shipment (fulfilment with tracking, or status + note); repeating it for the same shipmentId changes nothing. */
  fulfil(shipment: ChannelShipment, call: CallContext): Promise<{ channelFulfilmentId: string }>;
  /** Reflects a cancel made in Syncline where the channel allows it; false when the channel refused (already fulfilled). */
  cancelOrder(channelOrderId: string, reason: string, call: CallContext): Promise<boolean>;
  /**
   * Reflects a return made in Syncline as a refund in the channel (lines, amount, restock); the
   * money was refunded by Syncline's payment connector. Repeating it for the same returnId finds
   * the refund made before and makes no second one.
   */
  refund(refund: ChannelRefund, call: CallContext): Promise<{ channelRefundId: string; created: boolean }>;
  /** The refunds taken in the channel for an order, as commands (with `inbound.refundsListed`). */
  orderRefunds?(channelOrderId: string, call: CallContext): Promise<ChannelRefundCommand[]>;
  /** Orders updated since the cursor (null: from `since`, the connection's start). */
  ordersUpdatedSince(cursor: string | null, since: string, call: CallContext): Promise<ChangedOrdersPage>;
}

/** A channel connector: one per platform. `Options` is what a connection's `options` holds once its secrets are resolved. */
export interface ChannelConnector<Options = Record<string, unknown>> {
  connector: string;
  /** Validates a connection's options (after `${VAR}` and `*_FILE` references are resolved). */
  options: z.ZodType<Options>;
  /** Option names whose values are secrets: never logged, never returned. */
  secretOptions: readonly string[];
  /** The target protection a connection gets unless its config says otherwise. */
  defaultTargetPolicy: TargetPolicy;
  inbound: {
    /**
     * Checks the signature over the raw bytes (constant time) and parses; throws a permanent
     * SynclineError `webhook.*` when the delivery must be refused (401 for a bad signature,
     * 400 for a malformed one), and refuses a delivery older than `maxAgeSeconds`.
     */
    verify(rawBody: Buffer, headers: IncomingHttpHeaders, options: Options, now: number, maxAgeSeconds: number): VerifyResult;
    /** Maps a stored delivery to a canonical command. Throws a permanent SynclineError when the payload cannot be mapped. */
    map(delivery: VerifiedDelivery, connectionId: string): ChannelCommand;
    /** Maps an order object returned by `ordersUpdatedSince` (the reconciliation poll). */
    mapOrder(order: unknown, connectionId: string): ChannelCommand;
    /**
     * For a channel that sends no refund webhook (WooCommerce): the refunds an order payload (a
     * webhook body or a polled order) lists, whose lines `client.orderRefunds` then reads.
     */
    refundsListed?(payload: unknown): { channelOrderId: string; refundIds: string[] } | undefined;
  };
  /** The outbound client of one connection; `null` when the options give no way to call out (no token, no site URL). */
  client(options: Options): ChannelClient | null;
}
