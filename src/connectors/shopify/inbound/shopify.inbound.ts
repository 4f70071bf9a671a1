import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, isCurrency, minorUnits, toScaled } from '../../../model/money.ts';
import { OrderSubmission } from '../../../model/order.ts';
import { findUnstorableText } from '../../../model/text.ts';
import type { ChannelCommand, ChannelLineRef, VerifiedDelivery, VerifyResult } from '../../kit/channel-connector.ts';
import { gidTail, RESTOCKING, signShopifyWebhook, WEBHOOK_HEADERS } from '../shopify-wire.ts';
import { amountAt, arrayAt, idAt, isObject, objectAt, parseShopifyJson, shopMoney, textAt } from './shopify-json.ts';

/**
 * Inbound Shopify webhooks: the signature is checked over the raw bytes first (constant
 * time), then the headers and the age, then the body is parsed without rounding 64-bit ids.
 * Mapping turns a stored delivery (REST-shaped JSON, as Shopify sends webhooks) or an order
 * found by the reconciliation poll (GraphQL-shaped) into the same canonical command.
 */

export interface ShopifyVerifyOptions {
  /** The app's client secret (or the store's webhook signing key); several while one rotates. */
  webhookSecret: string | readonly string[];
  /** The connection's shop: a delivery naming another shop in X-Shopify-Shop-Domain is refused. */
  shopDomain: string;
  /** Oldest accepted delivery, from X-Shopify-Triggered-At, in seconds (wins over the caller's default). */
  maxWebhookAgeSeconds?: number | undefined;
}

/** Topics Syncline acts on; every other topic maps to `unsupported`. */
export const SUPPORTED_TOPICS = ['orders/create', 'orders/updated', 'orders/cancelled', 'refunds/create', 'app/uninstalled'] as const;

/** Clock skew tolerated for a Triggered-At in the future (60 s). */
const FUTURE_SKEW_SECONDS = 60;

const refuse = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new SynclineError(code, message, { retry: 'permanent', details: { system: 'shopify', ...details } });

function header(headers: IncomingHttpHeaders | Record<string, string | undefined>, name: string): string | undefined {
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** True when signature (base64) is the HMAC of rawBody under one of the secrets; constant time per secret. */
export function shopifySignatureMatches(rawBody: Buffer, signature: string, secrets: readonly string[]): boolean {
  if (!BASE64_SHA256.test(signature)) return false;
  const given = Buffer.from(signature, 'base64');
  let valid = false;
  // Every secret is tried (no early exit), so timing does not tell which one matched.
  for (const secret of secrets) {
    const expected = Buffer.from(signShopifyWebhook(secret, rawBody), 'base64');
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}

/** Verifies a delivery: signature, required headers, shop, age; then parses the body losslessly. */
export function verifyShopifyWebhook(
  rawBody: Buffer,
  headers: IncomingHttpHeaders | Record<string, string | undefined>,
  options: ShopifyVerifyOptions,
  now: number,
  maxAgeSeconds: number,
): VerifyResult {
  const signature = header(headers, WEBHOOK_HEADERS.hmac);
  if (!signature) throw refuse('webhook.signature_missing', 'the X-Shopify-Hmac-Sha256 header is missing');
  if (!BASE64_SHA256.test(signature)) throw refuse('webhook.signature_malformed', 'X-Shopify-Hmac-Sha256 is not a base64 SHA-256 digest');
  const secrets = typeof options.webhookSecret === 'string' ? [options.webhookSecret] : options.webhookSecret;
  if (!shopifySignatureMatches(rawBody, signature, secrets)) throw refuse('webhook.signature_invalid', 'the webhook signature does not match its body');

  // Checked after the signature, so that an unsigned request learns nothing from these errors.
  const topic = header(headers, WEBHOOK_HEADERS.topic);
  const deliveryId = header(headers, WEBHOOK_HEADERS.webhookId);
  const triggeredAt = header(headers, WEBHOOK_HEADERS.triggeredAt);
  for (const [name, value] of [
    ['X-Shopify-Topic', topic],
    ['X-Shopify-Webhook-Id', deliveryId],
    ['X-Shopify-Triggered-At', triggeredAt],
  ] as const) {
    if (!value) throw refuse('webhook.header_missing', `the ${name} header is missing`, { header: name });
  }
  if (deliveryId!.length > 200) throw refuse('webhook.header_invalid', 'X-Shopify-Webhook-Id is longer than 200 characters');
  const shop = header(headers, WEBHOOK_HEADERS.shopDomain);
  if (shop !== undefined && shop.toLowerCase() !== options.shopDomain.toLowerCase()) {
    // One app secret signs every shop the app is installed on: a delivery for another shop must not be taken in here.
    throw refuse('webhook.shop_mismatch', 'the delivery is for another shop than this connection', { shopDomain: shop });
  }
  const triggered = Date.parse(triggeredAt!);
  if (Number.isNaN(triggered)) throw refuse('webhook.header_invalid', 'X-Shopify-Triggered-At is not a date-time');
  const maxAge = options.maxWebhookAgeSeconds ?? maxAgeSeconds;
  const ageSeconds = (now - triggered) / 1000;
  if (ageSeconds > maxAge || ageSeconds < -FUTURE_SKEW_SECONDS) {
    throw refuse('webhook.timestamp_stale', `the delivery was triggered ${Math.round(ageSeconds)} s ago; at most ${maxAge} s is accepted`, {
      triggeredAt: new Date(triggered).toISOString(),
    });
  }
  let payload: unknown;
  try {
    payload = parseShopifyJson(rawBody.toString('utf8'));
  } catch {
    throw refuse('webhook.body_invalid', 'the webhook body is not JSON');
  }
  const delivery: VerifiedDelivery = { deliveryId: deliveryId!, topic: topic!, triggeredAt: new Date(triggered).toISOString(), payload };
  return { kind: 'delivery', delivery };
}

// ---- mapping ---------------------------------------------------------------------------------

const unmappable = (message: string, issues: string[] = []) =>
  new SynclineError('shopify.payload_unmappable', message, { retry: 'permanent', details: { system: 'shopify', ...(issues.length ? { issues } : {}) } });

/** Maps a verified delivery to a canonical command. */
export function mapShopifyDelivery(delivery: VerifiedDelivery, connectionId: string): ChannelCommand {
  const body = delivery.payload;
  switch (delivery.topic) {
    case 'orders/create':
    case 'orders/updated':
      return buildUpsert(restOrderFacts(body), connectionId);
    case 'orders/cancelled':
      return cancelCommand(orderIdOfRest(body), textAt(body, 'cancel_reason'), textAt(body, 'cancelled_at'));
    case 'refunds/create':
      return mapRefund(body);
    case 'app/uninstalled':
      return { kind: 'connection.uninstalled' };
    default:
      return { kind: 'unsupported', topic: delivery.topic, reason: `Syncline does not act on the Shopify topic ${delivery.topic}` };
  }
}

/** Maps an order from ordersUpdatedSince (GraphQL) to the command its webhook would have given. */
export function mapShopifyGraphqlOrder(order: unknown, connectionId: string): ChannelCommand {
  if (textAt(order, 'cancelledAt')) return cancelCommand(requiredGid(order, 'Order'), textAt(order, 'cancelReason')?.toLowerCase(), textAt(order, 'cancelledAt'));
  return buildUpsert(graphqlOrderFacts(order), connectionId);
}

function cancelCommand(channelOrderId: string, reason: string | undefined, cancelledAt: string | undefined): ChannelCommand {
  const at = cancelledAt && !Number.isNaN(Date.parse(cancelledAt)) ? new Date(cancelledAt).toISOString() : undefined;
  return { kind: 'order.cancel', channelOrderId, reason: reason ?? 'other', ...(at ? { cancelledAt: at } : {}) };
}

/** The order id of a REST order body: the exact tail of admin_graphql_api_id, else the (lossless) id. */
function orderIdOfRest(order: unknown): string {
  const id = gidTail(textAt(order, 'admin_graphql_api_id'), 'Order') ?? idAt(order, 'id');
  if (!id) throw unmappable('the Shopify order has no id');
  return id;
}

function requiredGid(value: unknown, type: string): string {
  const id = gidTail(textAt(value, 'id'), type);
  if (!id) throw unmappable(`the Shopify ${type} has no gid://shopify/${type}/ id`);
  return id;
}

interface AddressFacts {
  name?: string | undefined;
  company?: string | undefined;
  line1?: string | undefined;
  line2?: string | undefined;
  city?: string | undefined;
  region?: string | undefined;
  postalCode?: string | undefined;
  country?: string | undefined;
  phone?: string | undefined;
}

/** What both order shapes (REST webhook, GraphQL poll) say, in one form. */
interface OrderFacts {
  channelOrderId: string;
  name?: string | undefined;
  placedAt?: string | undefined;
  updatedAt?: string | undefined;
  currency?: string | undefined;
  email?: string | undefined;
  customer: { firstName?: string | undefined; lastName?: string | undefined; phone?: string | undefined; id?: string | undefined };
  shipping?: AddressFacts | undefined;
  billing?: AddressFacts | undefined;
  lines: { id?: string | undefined; sku?: string | undefined; name?: string | undefined; quantity: unknown; unitPrice?: string | undefined; productId?: string | undefined; variantId?: string | undefined }[];
  totalPrice?: string | undefined;
  shipping$?: string | undefined;
  tax?: string | undefined;
  discount?: string | undefined;
  taxesIncluded: boolean;
  /** Lower-case, REST spelling: paid, authorized, partially_paid, pending, refunded, partially_refunded, voided, expired. */
  financialStatus?: string | undefined;
  gateway?: string | undefined;
  note?: string | undefined;
}

function restAddress(a: Record<string, unknown> | undefined): AddressFacts | undefined {
  if (!a) return undefined;
  const joined = [textAt(a, 'first_name'), textAt(a, 'last_name')].filter(Boolean).join(' ');
  return {
    name: textAt(a, 'name') ?? (joined || undefined),
    company: textAt(a, 'company'),
    line1: textAt(a, 'address1'),
    line2: textAt(a, 'address2'),
    city: textAt(a, 'city'),
    region: textAt(a, 'province_code') ?? textAt(a, 'province'),
    postalCode: textAt(a, 'zip'),
    country: textAt(a, 'country_code')?.toUpperCase(),
    phone: textAt(a, 'phone'),
  };
}

function graphqlAddress(a: Record<string, unknown> | undefined): AddressFacts | undefined {
  if (!a) return undefined;
  const joined = [textAt(a, 'firstName'), textAt(a, 'lastName')].filter(Boolean).join(' ');
  return {
    name: textAt(a, 'name') ?? (joined || undefined),
    company: textAt(a, 'company'),
    line1: textAt(a, 'address1'),
    line2: textAt(a, 'address2'),
    city: textAt(a, 'city'),
    region: textAt(a, 'provinceCode') ?? textAt(a, 'province'),
    postalCode: textAt(a, 'zip'),
    country: textAt(a, 'countryCodeV2')?.toUpperCase(),
    phone: textAt(a, 'phone'),
  };
}

function restOrderFacts(order: unknown): OrderFacts {
  if (!isObject(order)) throw unmappable('the Shopify order payload is not an object');
  const customer = objectAt(order, 'customer');
  const shippingLines = arrayAt(order, 'shipping_lines');
  return {
    channelOrderId: orderIdOfRest(order),
    name: textAt(order, 'name'),
    placedAt: textAt(order, 'processed_at') ?? textAt(order, 'created_at'),
    updatedAt: textAt(order, 'updated_at'),
    currency: textAt(order, 'currency'),
    email: textAt(order, 'email') ?? textAt(order, 'contact_email') ?? textAt(customer, 'email'),
    customer: {
      firstName: textAt(customer, 'first_name'),
      lastName: textAt(customer, 'last_name'),
      phone: textAt(order, 'phone') ?? textAt(customer, 'phone'),
      id: gidTail(textAt(customer, 'admin_graphql_api_id'), 'Customer') ?? idAt(customer, 'id'),
    },
    shipping: restAddress(objectAt(order, 'shipping_address')),
    billing: restAddress(objectAt(order, 'billing_address')),
    lines: arrayAt(order, 'line_items').map((l) => ({
      id: gidTail(textAt(l, 'admin_graphql_api_id'), 'LineItem') ?? idAt(l, 'id'),
      sku: textAt(l, 'sku'),
      name: textAt(l, 'name') ?? textAt(l, 'title'),
      quantity: l.quantity,
      unitPrice: shopMoney(objectAt(l, 'price_set')) ?? amountAt(l, 'price'),
      productId: idAt(l, 'product_id'),
      variantId: idAt(l, 'variant_id'),
    })),
    totalPrice: shopMoney(objectAt(order, 'total_price_set')) ?? amountAt(order, 'total_price'),
    shipping$:
      shopMoney(objectAt(order, 'total_shipping_price_set')) ??
      (shippingLines.length ? sumAmounts(shippingLines.map((s) => shopMoney(objectAt(s, 'price_set')) ?? amountAt(s, 'price')), textAt(order, 'currency')) : undefined),
    tax: shopMoney(objectAt(order, 'total_tax_set')) ?? amountAt(order, 'total_tax'),
    discount: shopMoney(objectAt(order, 'total_discounts_set')) ?? amountAt(order, 'total_discounts'),
    taxesIncluded: order.taxes_included === true,
    financialStatus: textAt(order, 'financial_status')?.toLowerCase(),
    gateway: Array.isArray(order.payment_gateway_names) && typeof order.payment_gateway_names[0] === 'string' ? order.payment_gateway_names[0] : undefined,
    note: textAt(order, 'note'),
  };
}

function graphqlOrderFacts(order: unknown): OrderFacts {
  if (!isObject(order)) throw unmappable('the Shopify order is not an object');
  const customer = objectAt(order, 'customer');
  return {
    channelOrderId: requiredGid(order, 'Order'),
    name: textAt(order, 'name'),
    placedAt: textAt(order, 'processedAt') ?? textAt(order, 'createdAt'),
    updatedAt: textAt(order, 'updatedAt'),
    currency: textAt(order, 'currencyCode'),
    email: textAt(order, 'email') ?? textAt(customer, 'email'),
    customer: {
      firstName: textAt(customer, 'firstName'),
      lastName: textAt(customer, 'lastName'),
      phone: textAt(order, 'phone') ?? textAt(customer, 'phone'),
      id: gidTail(textAt(customer, 'id'), 'Customer'),
    },
    shipping: graphqlAddress(objectAt(order, 'shippingAddress')),
    billing: graphqlAddress(objectAt(order, 'billingAddress')),
    lines: arrayAt(objectAt(order, 'lineItems'), 'nodes').map((l) => ({
      id: gidTail(textAt(l, 'id'), 'LineItem'),
      sku: textAt(l, 'sku'),
      name: textAt(l, 'name'),
      quantity: l.quantity,
      unitPrice: shopMoney(objectAt(l, 'originalUnitPriceSet')),
      productId: gidTail(textAt(objectAt(objectAt(l, 'variant'), 'product'), 'id'), 'Product'),
      variantId: gidTail(textAt(objectAt(l, 'variant'), 'id'), 'ProductVariant'),
    })),
    totalPrice: shopMoney(objectAt(order, 'totalPriceSet')),
    shipping$: shopMoney(objectAt(order, 'totalShippingPriceSet')),
    tax: shopMoney(objectAt(order, 'totalTaxSet')),
    discount: shopMoney(objectAt(order, 'totalDiscountsSet')),
    taxesIncluded: order.taxesIncluded === true,
    financialStatus: textAt(order, 'displayFinancialStatus')?.toLowerCase(),
    gateway: Array.isArray(order.paymentGatewayNames) && typeof order.paymentGatewayNames[0] === 'string' ? order.paymentGatewayNames[0] : undefined,
    note: textAt(order, 'note'),
  };
}

function sumAmounts(amounts: (string | undefined)[], currency: string | undefined): string | undefined {
  if (!currency || !isCurrency(currency)) return undefined;
  const scale = minorUnits(currency);
  try {
    return fromScaled(
      amounts.reduce((sum, a) => sum + toScaled(a ?? '0', scale), 0n),
      scale,
    );
  } catch {
    return undefined;
  }
}

/**
 * How Shopify's financial status becomes a canonical payment (amount: the order's total price).
 * `pending` (manual payment, bank transfer not yet in) is a pending payment, so validation holds
 * the order until orders/updated reports it `paid` (docs/adr/0023).
 */
const PAYMENT_STATUS: Record<string, 'captured' | 'authorized' | 'pending' | undefined> = {
  paid: 'captured',
  partially_refunded: 'captured',
  authorized: 'authorized',
  pending: 'pending',
};

const PHONE = /^\+?[0-9 ()-]{4,32}$/;
const clip = (text: string | undefined, max: number) => (text === undefined ? undefined : text.length > max ? text.slice(0, max) : text);

function canonicalAddress(a: AddressFacts | undefined) {
  if (!a) return undefined;
  return {
    name: clip(a.name, 200),
    ...(a.company ? { company: clip(a.company, 200) } : {}),
    line1: clip(a.line1, 200),
    ...(a.line2 ? { line2: clip(a.line2, 200) } : {}),
    city: clip(a.city, 100),
    ...(a.region ? { region: clip(a.region, 100) } : {}),
    postalCode: a.postalCode,
    country: a.country,
    ...(a.phone ? { phone: clip(a.phone, 32) } : {}),
  };
}

/** Builds the canonical submission; throws shopify.payload_unmappable (permanent) with the issues when it does not validate. */
function buildUpsert(facts: OrderFacts, connectionId: string): ChannelCommand {
  const currency = facts.currency;
  const customerName = [facts.customer.firstName, facts.customer.lastName].filter(Boolean).join(' ') || facts.shipping?.name || facts.billing?.name;
  const payment = facts.financialStatus ? PAYMENT_STATUS[facts.financialStatus] : undefined;
  const lines = facts.lines.map((l) => ({
    // A line without a SKU (a custom item) keeps the variant or line id, so validation holds the order for review instead of dropping the line.
    sku: l.sku ?? `SHOPIFY-${l.variantId ? `VARIANT-${l.variantId}` : `LINE-${l.id ?? 'UNKNOWN'}`}`,
    quantity: l.quantity,
    unitPrice: l.unitPrice,
    ...(l.name ? { name: clip(l.name, 200) } : {}),
    ...(l.id ? { channelLineId: l.id } : {}),
  }));
  const metadata: Record<string, string> = { 'shopify.orderId': facts.channelOrderId };
  if (facts.name) metadata['shopify.name'] = clip(facts.name, 500)!;
  if (facts.totalPrice) metadata['shopify.totalPrice'] = facts.totalPrice;
  if (facts.financialStatus) metadata['shopify.financialStatus'] = clip(facts.financialStatus, 500)!;
  // Prices that include tax already hold it: counting it again would break subtotal + tax = total.
  if (facts.taxesIncluded && facts.tax) metadata['shopify.taxIncluded'] = facts.tax;
  const candidate = {
    channel: connectionId,
    channelOrderId: facts.channelOrderId,
    placedAt: facts.placedAt,
    currency,
    customer: {
      email: facts.email,
      name: clip(customerName, 200),
      ...(facts.customer.phone && PHONE.test(facts.customer.phone) ? { phone: facts.customer.phone } : {}),
      ...(facts.customer.id ? { channelCustomerId: facts.customer.id } : {}),
    },
    // Shopify orders of goods that need no shipping have no shipping address: the billing address stands in.
    shippingAddress: canonicalAddress(facts.shipping ?? facts.billing),
    ...(facts.billing ? { billingAddress: canonicalAddress(facts.billing) } : {}),
    lines,
    payments:
      payment && facts.totalPrice
        ? [{ method: clip(facts.gateway ?? 'shopify', 64), amount: facts.totalPrice, status: payment, reference: `shopify-order:${facts.channelOrderId}` }]
        : [],
    ...(facts.shipping$ ? { shippingTotal: facts.shipping$ } : {}),
    taxTotal: facts.taxesIncluded ? '0' : (facts.tax ?? '0'),
    ...(facts.discount ? { discountTotal: facts.discount } : {}),
    ...(facts.note ? { notes: clip(facts.note, 2000) } : {}),
    metadata,
  };
  const unstorable = findUnstorableText(candidate);
  if (unstorable.length > 0) throw unmappable('the Shopify order holds text that cannot be stored', unstorable.map((i) => `${i.path.join('.')}: ${i.message}`));
  const parsed = OrderSubmission.safeParse(candidate);
  if (!parsed.success) {
    throw unmappable(
      `the Shopify order ${facts.channelOrderId} does not map to a canonical order`,
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  const refs: ChannelLineRef[] = facts.lines.map((l, i) => ({
    sku: parsed.data.lines[i]!.sku,
    channelLineId: l.id ?? String(i + 1),
    ...(l.productId ? { productId: l.productId } : {}),
    ...(l.variantId ? { variantId: l.variantId } : {}),
  }));
  const updatedAt = facts.updatedAt && !Number.isNaN(Date.parse(facts.updatedAt)) ? new Date(facts.updatedAt).toISOString() : undefined;
  return {
    kind: 'order.upsert',
    submission: parsed.data,
    lines: refs,
    ...(updatedAt ? { channelUpdatedAt: updatedAt } : {}),
    ...(facts.financialStatus ? { channelStatus: facts.financialStatus } : {}),
  };
}


/**
 * The refunds an order lists (a polled GraphQL order, or an orders/updated body): a refund whose
 * refunds/create webhook was lost is found this way and read with client.orderRefunds.
 */
export function shopifyRefundsListed(order: unknown): { channelOrderId: string; refundIds: string[] } | undefined {
  const refunds = arrayAt(order, 'refunds');
  if (refunds.length === 0) return undefined;
  const channelOrderId = gidTail(textAt(order, 'id'), 'Order') ?? gidTail(textAt(order, 'admin_graphql_api_id'), 'Order') ?? idAt(order, 'id');
  const refundIds = refunds.flatMap((r) => {
    const id = gidTail(textAt(r, 'id'), 'Refund') ?? gidTail(textAt(r, 'admin_graphql_api_id'), 'Refund') ?? idAt(r, 'id');
    return id ? [id] : [];
  });
  return channelOrderId && refundIds.length ? { channelOrderId, refundIds } : undefined;
}

/** refunds/create: the refunded lines, and the amount the refund transactions moved (else the lines' subtotal and tax). */
function mapRefund(refund: unknown): ChannelCommand {
  if (!isObject(refund)) throw unmappable('the Shopify refund payload is not an object');
  const channelOrderId = idAt(refund, 'order_id');
  const channelRefundId = gidTail(textAt(refund, 'admin_graphql_api_id'), 'Refund') ?? idAt(refund, 'id');
  if (!channelOrderId || !channelRefundId) throw unmappable('the Shopify refund has no order_id or id');
  const refundLines = arrayAt(refund, 'refund_line_items');
  const transactions = arrayAt(refund, 'transactions').filter((t) => textAt(t, 'kind') === 'refund' && (textAt(t, 'status') ?? 'success') === 'success');
  const currency =
    textAt(transactions[0], 'currency') ??
    textAt(objectAt(objectAt(refundLines[0], 'subtotal_set'), 'shop_money'), 'currency_code') ??
    textAt(objectAt(objectAt(refund, 'total_duties_set'), 'shop_money'), 'currency_code');
  if (!currency || !isCurrency(currency)) throw unmappable(`the Shopify refund ${channelRefundId} names no currency`);
  const amount = transactions.length
    ? sumAmounts(transactions.map((t) => amountAt(t, 'amount')), currency)
    : sumAmounts(refundLines.flatMap((l) => [shopMoney(objectAt(l, 'subtotal_set')) ?? amountAt(l, 'subtotal'), shopMoney(objectAt(l, 'total_tax_set')) ?? amountAt(l, 'total_tax')]), currency);
  if (amount === undefined) throw unmappable(`the Shopify refund ${channelRefundId} has amounts that are not decimals in ${currency}`);
  const lines = refundLines.map((l) => {
    const channelLineId = gidTail(textAt(objectAt(l, 'line_item'), 'admin_graphql_api_id'), 'LineItem') ?? idAt(l, 'line_item_id');
    const quantity = l.quantity;
    if (!channelLineId || typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) {
      throw unmappable(`the Shopify refund ${channelRefundId} has a line without a line item id or a positive quantity`);
    }
    const restockType = textAt(l, 'restock_type');
    const restock = RESTOCKING.has(restockType ?? '') || (restockType === undefined && refund.restock === true);
    const channelLocationId = idAt(l, 'location_id');
    return { channelLineId, quantity, restock, ...(restock && channelLocationId ? { channelLocationId } : {}) };
  });
  const note = clip(textAt(refund, 'note'), 2000);
  return { kind: 'order.refund', channelOrderId, channelRefundId, amount, currency, lines, ...(note ? { note } : {}) };
}
