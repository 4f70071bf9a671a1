import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, isCurrency, minorUnits } from '../../../model/money.ts';
import { OrderSubmission, type Address, type CustomerRef, type Payment } from '../../../model/order.ts';
import { Sku } from '../../../model/sku.ts';
import { findUnstorableText } from '../../../model/text.ts';
import type { ChannelCommand, ChannelLineRef, VerifiedDelivery, VerifyResult } from '../../kit/channel-connector.ts';
import { gmtToIso, WC_HEADERS, wooSignature } from '../woocommerce-wire.ts';

/**
 * Inbound WooCommerce webhooks: the signature is checked on the raw bytes first (constant
 * time), then the v3 order JSON is mapped to the canonical OrderSubmission. How WooCommerce's
 * amounts become canonical ones is set out in ../README.md ("Money").
 */

const SYSTEM = 'woocommerce';

const refuse = (code: string, message: string) => new SynclineError(code, message, { retry: 'permanent', details: { system: SYSTEM } });

const unmappable = (message: string, issues: string[] = []) =>
  new SynclineError('woocommerce.order_unmappable', message, { retry: 'permanent', details: { system: SYSTEM, ...(issues.length ? { issues } : {}) } });

function header(headers: IncomingHttpHeaders | Record<string, string | undefined>, name: string): string | undefined {
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body of the ping WooCommerce POSTs when a webhook is created (WC_Webhook::deliver_ping):
 * a form body `webhook_id=<id>`, unsigned, answered 200 or the webhook is not saved as active.
 */
const PING_BODY = /^webhook_id=\d{1,20}$/;

/** base64 of a 32-byte HMAC: 44 characters ending in one "=". */
const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;

/** WooCommerce's delivery id is `wp_hash(webhook id . unix seconds)`; anything else is refused. */
const DELIVERY_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface WooVerifyOptions {
  /** The webhook secret; several while one is being rotated (the delivery must match one). */
  secret: string | readonly string[];
}

/**
 * Verifies a delivery and parses it. An unsigned `webhook_id=<n>` form body is WooCommerce's
 * creation ping: it is answered without effect and nothing of it is kept, so a forged ping can
 * do nothing but get a 200. Throws permanent `webhook.*` SynclineErrors otherwise.
 */
export function verifyWooWebhook(rawBody: Buffer, headers: IncomingHttpHeaders | Record<string, string | undefined>, options: WooVerifyOptions): VerifyResult {
  const signature = header(headers, WC_HEADERS.signature);
  if (signature === undefined || signature === '') {
    if (rawBody.length <= 32 && PING_BODY.test(rawBody.toString('latin1'))) return { kind: 'ping' };
    throw refuse('webhook.signature_missing', `the ${WC_HEADERS.signature} header is missing`);
  }
  if (!SIGNATURE.test(signature)) throw refuse('webhook.signature_malformed', `the ${WC_HEADERS.signature} header is not a base64 HMAC-SHA256`);
  const given = Buffer.from(signature, 'base64');
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  // Every secret is tried (no early exit), so the time taken says nothing about which one matched.
  let valid = false;
  for (const secret of secrets) {
    if (secret === '') continue;
    const expected = Buffer.from(wooSignature(secret, rawBody), 'base64');
    if (timingSafeEqual(given, expected)) valid = true;
  }
  if (!valid) throw refuse('webhook.signature_invalid', 'the webhook signature does not match its body');

  const wcDeliveryId = header(headers, WC_HEADERS.deliveryId);
  if (wcDeliveryId !== undefined && !DELIVERY_ID.test(wcDeliveryId)) throw refuse('webhook.delivery_id_malformed', `the ${WC_HEADERS.deliveryId} header is malformed`);
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw refuse('webhook.body_invalid', 'the webhook body is not JSON');
  }
  const resource = header(headers, WC_HEADERS.resource);
  const event = header(headers, WC_HEADERS.event);
  const topic = header(headers, WC_HEADERS.topic) ?? (resource && event ? `${resource}.${event}` : '');
  return { kind: 'delivery', delivery: { deliveryId: deliveryIdOf(wcDeliveryId, rawBody), topic, payload } };
}

/**
 * The intake's idempotency key. WooCommerce's X-WC-Webhook-Delivery-ID is a hash of the
 * webhook id and the current second, so two different deliveries of one webhook within the
 * same second share it (two orders updated at once); the body's digest tells them apart,
 * while the same delivery sent again keeps the same key.
 */
function deliveryIdOf(wcDeliveryId: string | undefined, rawBody: Buffer): string {
  const digest = createHash('sha256').update(rawBody).digest('hex').slice(0, 24);
  return wcDeliveryId ? `${wcDeliveryId}.${digest}` : `body.${digest}`;
}

type Untrusted = Record<string, unknown>;

const isObject = (value: unknown): value is Untrusted => value !== null && typeof value === 'object' && !Array.isArray(value);
const str = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
const optional = (value: unknown, max: number): string | undefined => {
  const text = str(value);
  return text === '' ? undefined : text.slice(0, max);
};

/** A WooCommerce order id: a positive integer (Syncline keeps it as a string). */
function orderIdOf(payload: unknown): string {
  const id = isObject(payload) ? payload.id : undefined;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
  if (typeof id === 'string' && /^[1-9]\d{0,19}$/.test(id)) return id;
  throw unmappable('the WooCommerce payload has no order id');
}

/** Maps a stored delivery to a canonical command; unknown topics are `unsupported`, never guessed at. */
export function mapWooDelivery(delivery: VerifiedDelivery, connectionId: string): ChannelCommand {
  switch (delivery.topic) {
    case 'order.created':
    case 'order.updated':
      return mapWooOrder(delivery.payload, connectionId);
    case 'order.deleted':
      // WC_Webhook::build_payload sends only `{ "id": <id> }` for a deleted resource.
      return { kind: 'order.deleted', channelOrderId: orderIdOf(delivery.payload) };
    default:
      return { kind: 'unsupported', topic: delivery.topic, reason: `WooCommerce topic "${delivery.topic}" is not taken in` };
  }
}

/**
 * The refunds an order payload lists (`refunds: [{id, refund, total}]`): WooCommerce sends no
 * refund webhook, only the order again; the lines are read with GET /orders/<id>/refunds.
 */
export function wooRefundsListed(payload: unknown): { channelOrderId: string; refundIds: string[] } | undefined {
  if (!isObject(payload) || !Array.isArray(payload.refunds) || payload.refunds.length === 0) return undefined;
  const refundIds = payload.refunds.flatMap((r: unknown) => (isObject(r) && typeof r.id === 'number' && Number.isSafeInteger(r.id) && r.id > 0 ? [String(r.id)] : []));
  return refundIds.length ? { channelOrderId: orderIdOf(payload), refundIds } : undefined;
}

/** Statuses that mean the order will not be shipped. */
const CANCELLED = new Set(['cancelled', 'refunded']);
/** Statuses of an order Syncline takes in (an unpaid one is held by validation until paid). */
const TAKEN_IN = new Set(['pending', 'processing', 'on-hold', 'completed', 'failed']);

/** Maps a v3 order object (a webhook body or an order from the reconciliation poll) to a command. */
export function mapWooOrder(order: unknown, connectionId: string): ChannelCommand {
  const channelOrderId = orderIdOf(order);
  const wire = order as Untrusted;
  const status = str(wire.status);
  const modifiedAt = gmtToIso(wire.date_modified_gmt);
  if (CANCELLED.has(status)) {
    return { kind: 'order.cancel', channelOrderId, reason: `cancelled in WooCommerce (status ${status})`, ...(modifiedAt ? { cancelledAt: modifiedAt } : {}) };
  }
  if (status === 'trash') return { kind: 'order.deleted', channelOrderId };
  if (!TAKEN_IN.has(status)) {
    return { kind: 'unsupported', topic: `order.status.${status || 'missing'}`, reason: `WooCommerce order status "${status}" is not taken in` };
  }
  const { submission, lines } = toSubmission(wire, channelOrderId, connectionId);
  return { kind: 'order.upsert', submission, lines, channelStatus: status, ...(modifiedAt ? { channelUpdatedAt: modifiedAt } : {}) };
}

/** A WooCommerce amount (decimal string, or a JSON number) as an integer in the currency's minor units. */
function minor(value: unknown, scale: number, field: string): bigint {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : str(value);
  const match = /^(-?)(\d{1,18})(?:\.(\d{1,12}))?$/.exec(text === '' ? '0' : text);
  if (!match) throw unmappable(`${field} is not a decimal amount`, [`${field}: ${JSON.stringify(value)}`]);
  const [, sign, whole, fraction = ''] = match;
  // "6.000" is fine in USD; "6.125" is not: rounding it here would break the totals silently.
  if (/[1-9]/.test(fraction.slice(scale))) throw unmappable(`${field} has more decimals than the currency`, [`${field}: ${text}`]);
  const scaled = BigInt(whole! + fraction.slice(0, scale).padEnd(scale, '0'));
  return sign ? -scaled : scaled;
}

const HTML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", ndash: '–', mdash: '—', times: '×', nbsp: ' ', hellip: '…' };

/** WooCommerce sends item names HTML-escaped (`Ship Your Idea &ndash; Color: Black`). */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return HTML_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/**
 * A line's SKU. A product without a SKU (WooCommerce does not require one), or with one that
 * Syncline cannot store (spaces, over 64 characters), gets a stable stand-in naming its
 * product or variation: no inventory knows it, so the order is held for review, never dropped.
 */
function skuOf(item: Untrusted): string {
  const sku = str(item.sku);
  if (sku !== '' && Sku.safeParse(sku).success) return sku;
  const variation = Number(item.variation_id);
  return variation > 0 ? `woocommerce-variation-${variation}` : `woocommerce-product-${Number(item.product_id) || 0}`;
}

function address(wire: unknown, fallbackName: string): Address | undefined {
  if (!isObject(wire) || str(wire.address_1) === '') return undefined;
  const name = `${str(wire.first_name)} ${str(wire.last_name)}`.trim() || str(wire.company) || fallbackName;
  const result: Record<string, string | undefined> = {
    name: name.slice(0, 200),
    company: optional(wire.company, 200),
    line1: str(wire.address_1).slice(0, 200),
    line2: optional(wire.address_2, 200),
    city: str(wire.city).slice(0, 100),
    region: optional(wire.state, 100),
    postalCode: str(wire.postcode).slice(0, 20),
    country: str(wire.country).toUpperCase(),
    phone: optional(wire.phone, 32),
  };
  return Object.fromEntries(Object.entries(result).filter(([, v]) => v !== undefined)) as Address;
}

const PHONE = /^\+?[0-9 ()-]{4,32}$/;

function toSubmission(wire: Untrusted, channelOrderId: string, connectionId: string): { submission: OrderSubmission; lines: ChannelLineRef[] } {
  const currency = str(wire.currency).toUpperCase();
  if (!isCurrency(currency)) throw unmappable('the WooCommerce order has no known currency', [`currency: ${JSON.stringify(wire.currency)}`]);
  const scale = minorUnits(currency);
  const items = Array.isArray(wire.line_items) ? wire.line_items.filter(isObject) : [];
  if (items.length === 0) throw unmappable('the WooCommerce order has no line items');

  // Unit price = line subtotal / quantity: before discounts and without tax, whatever
  // prices_include_tax says (WooCommerce keeps line subtotals without tax either way). A
  // subtotal that does not divide evenly is split into two lines one minor unit apart, so
  // the line totals add up to WooCommerce's exactly.
  const lines: OrderSubmission['lines'] = [];
  const refs: ChannelLineRef[] = [];
  let subtotal = 0n;
  items.forEach((item, index) => {
    const quantity = item.quantity;
    if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity <= 0) {
      throw unmappable(`line item ${index} has no whole positive quantity`, [`line_items[${index}].quantity: ${JSON.stringify(quantity)}`]);
    }
    const lineSubtotal = minor(item.subtotal, scale, `line_items[${index}].subtotal`);
    if (lineSubtotal < 0n) throw unmappable(`line item ${index} has a negative subtotal`);
    subtotal += lineSubtotal;
    const sku = skuOf(item);
    const channelLineId = String(item.id ?? index + 1).slice(0, 128);
    const name = optional(decodeEntities(str(item.name)), 200);
    const base = lineSubtotal / BigInt(quantity);
    const rest = Number(lineSubtotal % BigInt(quantity));
    const push = (units: number, unit: bigint) => lines.push({ sku, quantity: units, unitPrice: fromScaled(unit, scale), channelLineId, ...(name ? { name } : {}) });
    if (rest > 0) push(rest, base + 1n);
    if (quantity - rest > 0) push(quantity - rest, base);
    const productId = Number(item.product_id);
    const variationId = Number(item.variation_id);
    refs.push({ sku, channelLineId, ...(productId > 0 ? { productId: String(productId) } : {}), ...(variationId > 0 ? { variantId: String(variationId) } : {}) });
  });

  // Fees have no canonical field: a positive fee is a charge like shipping, a negative one a discount.
  const fees = (Array.isArray(wire.fee_lines) ? wire.fee_lines.filter(isObject) : []).map((fee, i) => ({
    name: str(fee.name) || 'fee',
    total: minor(fee.total, scale, `fee_lines[${i}].total`),
  }));
  const charges = fees.filter((f) => f.total > 0n).reduce((sum, f) => sum + f.total, 0n);
  const credits = fees.filter((f) => f.total < 0n).reduce((sum, f) => sum - f.total, 0n);
  const shipping = minor(wire.shipping_total, scale, 'shipping_total') + charges;
  let tax = minor(wire.total_tax, scale, 'total_tax');
  let discount = minor(wire.discount_total, scale, 'discount_total') + credits;
  const total = minor(wire.total, scale, 'total');
  if (shipping < 0n || tax < 0n || discount < 0n || total < 0n) throw unmappable('the WooCommerce order has a negative total');

  // With prices that include tax, WooCommerce adds unrounded line figures and rounds once,
  // so the rounded parts may miss its total by a cent or two. That residue (at most one
  // minor unit per line, fee and shipping line) is taken into tax or discount and recorded;
  // anything larger is left for validation to hold the order.
  const metadata: Record<string, string> = { woocommerceNumber: optional(wire.number, 500) ?? channelOrderId, woocommerceStatus: str(wire.status) };
  const residue = total - (subtotal + shipping + tax - discount);
  const tolerance = BigInt(items.length + fees.length + (Array.isArray(wire.shipping_lines) ? wire.shipping_lines.length : 0));
  if (residue !== 0n && (residue < 0n ? -residue : residue) <= tolerance) {
    if (residue > 0n) tax += residue;
    else discount -= residue;
    metadata.woocommerceRoundingAdjustment = fromScaled(residue, scale);
  }
  if (fees.length > 0) metadata.woocommerceFees = fees.map((f) => `${f.name}=${fromScaled(f.total, scale)}`).join('; ').slice(0, 500);

  const billing = isObject(wire.billing) ? wire.billing : {};
  const email = str(billing.email);
  const billingName = `${str(billing.first_name)} ${str(billing.last_name)}`.trim();
  const shippingWire = isObject(wire.shipping) ? wire.shipping : {};
  const shippingName = `${str(shippingWire.first_name)} ${str(shippingWire.last_name)}`.trim();
  const customerName = (billingName || shippingName || email).slice(0, 200);
  const phone = str(billing.phone);
  const customerId = Number(wire.customer_id);
  const customer: CustomerRef = {
    email,
    name: customerName,
    ...(PHONE.test(phone) ? { phone } : {}),
    ...(customerId > 0 ? { channelCustomerId: String(customerId) } : {}),
  };
  const billingAddress = address(billing, customerName);
  // An order of virtual goods has no shipping address: the billing address stands in.
  const shippingAddress = address(shippingWire, customerName) ?? billingAddress;
  if (!shippingAddress) throw unmappable('the WooCommerce order has neither a shipping nor a billing address');

  const payments: Payment[] = [];
  if (total > 0n) {
    const paidAt = gmtToIso(wire.date_paid_gmt);
    payments.push({
      method: optional(wire.payment_method, 64) ?? 'woocommerce',
      amount: fromScaled(total, scale),
      // WooCommerce sets date_paid when the payment completes; without it the money is not in.
      status: paidAt ? 'captured' : 'pending',
      reference: optional(wire.transaction_id, 128) ?? `woocommerce-order-${channelOrderId}`,
    });
  }
  const placedAt = gmtToIso(wire.date_created_gmt);
  if (!placedAt) throw unmappable('the WooCommerce order has no date_created_gmt');

  const candidate = {
    channel: connectionId,
    channelOrderId,
    placedAt,
    currency,
    customer,
    shippingAddress,
    ...(billingAddress ? { billingAddress } : {}),
    lines,
    payments,
    shippingTotal: fromScaled(shipping, scale),
    taxTotal: fromScaled(tax, scale),
    discountTotal: fromScaled(discount, scale),
    ...(optional(wire.customer_note, 2000) ? { notes: optional(wire.customer_note, 2000) } : {}),
    metadata,
  };
  const unstorable = findUnstorableText(candidate);
  if (unstorable.length > 0) throw unmappable('the WooCommerce order holds text that cannot be stored', unstorable.map((i) => `${i.path.join('.')}: ${i.message}`));
  const parsed = OrderSubmission.safeParse(candidate);
  if (!parsed.success) {
    throw unmappable(
      'the WooCommerce order does not map to a valid order',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  return { submission: parsed.data, lines: refs };
}
