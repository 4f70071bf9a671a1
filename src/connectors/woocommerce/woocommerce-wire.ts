import { createHmac } from 'node:crypto';

/**
 * WooCommerce REST API v3 wire shapes and the webhook signature scheme, shared by the
 * inbound mapping, the client and the sandbox. Field names are WooCommerce's own
 * (SOURCES.md cites where each comes from). Every amount is a decimal string; ids are integers;
 * `*_gmt` dates are UTC without a zone suffix (`2017-03-22T19:28:02`).
 */

/** The REST namespace every path starts with. */
export const WC_API = '/wp-json/wc/v3';

/** Delivery headers as Node lower-cases them (class-wc-webhook.php, `deliver()`). */
export const WC_HEADERS = {
  signature: 'x-wc-webhook-signature',
  deliveryId: 'x-wc-webhook-delivery-id',
  topic: 'x-wc-webhook-topic',
  resource: 'x-wc-webhook-resource',
  event: 'x-wc-webhook-event',
  source: 'x-wc-webhook-source',
  webhookId: 'x-wc-webhook-id',
} as const;

export type WireOrderStatus = 'pending' | 'processing' | 'on-hold' | 'completed' | 'cancelled' | 'refunded' | 'failed' | 'trash' | 'checkout-draft';

export interface WireAddress {
  first_name: string;
  last_name: string;
  company: string;
  address_1: string;
  address_2: string;
  city: string;
  state: string;
  postcode: string;
  country: string;
  email?: string;
  phone?: string;
}

export interface WireMeta {
  id: number;
  key: string;
  value: unknown;
}

export interface WireTax {
  id: number;
  total: string;
  subtotal: string;
}

export interface WireLineItem {
  id: number;
  name: string;
  product_id: number;
  variation_id: number;
  quantity: number;
  tax_class: string;
  /** Before discounts, without tax (also when the store's prices include tax). */
  subtotal: string;
  subtotal_tax: string;
  /** After discounts, without tax. */
  total: string;
  total_tax: string;
  taxes: WireTax[];
  meta_data: WireMeta[];
  sku: string;
  /** total / quantity as a JSON number (after discounts, without tax): not used for money. */
  price: number;
}

export interface WireShippingLine {
  id: number;
  method_title: string;
  method_id: string;
  total: string;
  total_tax: string;
  taxes: WireTax[];
  meta_data: WireMeta[];
}

export interface WireFeeLine {
  id: number;
  name: string;
  tax_class: string;
  tax_status: string;
  total: string;
  total_tax: string;
  taxes: WireTax[];
  meta_data: WireMeta[];
}

export interface WireOrder {
  id: number;
  parent_id: number;
  number: string;
  order_key: string;
  created_via: string;
  version: string;
  status: WireOrderStatus | string;
  currency: string;
  date_created: string;
  date_created_gmt: string;
  date_modified: string;
  date_modified_gmt: string;
  discount_total: string;
  discount_tax: string;
  shipping_total: string;
  shipping_tax: string;
  cart_tax: string;
  total: string;
  total_tax: string;
  prices_include_tax: boolean;
  customer_id: number;
  customer_ip_address: string;
  customer_user_agent: string;
  customer_note: string;
  billing: WireAddress;
  shipping: WireAddress;
  payment_method: string;
  payment_method_title: string;
  transaction_id: string;
  date_paid: string | null;
  date_paid_gmt: string | null;
  date_completed: string | null;
  date_completed_gmt: string | null;
  cart_hash: string;
  meta_data: WireMeta[];
  line_items: WireLineItem[];
  tax_lines: unknown[];
  shipping_lines: WireShippingLine[];
  fee_lines: WireFeeLine[];
  coupon_lines: unknown[];
  refunds: { id: number; refund: string; total: string }[];
  _links?: Record<string, { href: string }[]>;
}

export interface WireProduct {
  id: number;
  name: string;
  type: 'simple' | 'variable' | 'grouped' | 'external' | string;
  sku: string;
  price: string;
  manage_stock: boolean;
  stock_quantity: number | null;
  stock_status: 'instock' | 'outofstock' | 'onbackorder' | string;
  variations: number[];
  date_modified_gmt: string;
}

export interface WireVariation {
  id: number;
  /** Only the top-level /variations endpoint (WooCommerce 10.3+) includes it. */
  parent_id?: number;
  sku: string;
  price: string;
  manage_stock: boolean | 'parent';
  stock_quantity: number | null;
  stock_status: string;
  date_modified_gmt: string;
}

/** An order refund (GET/POST /orders/<id>/refunds); line quantities and totals are negative, as WooCommerce stores them. */
export interface WireRefund {
  id: number;
  date_created: string;
  date_created_gmt: string;
  amount: string;
  reason: string;
  refunded_by: number;
  /** True when the payment gateway refunded the money (api_refund). */
  refunded_payment: boolean;
  meta_data: WireMeta[];
  line_items: { id: number; name: string; product_id: number; variation_id: number; quantity: number; subtotal: string; total: string; sku: string; refund_total: number; meta_data: WireMeta[] }[];
  shipping_lines: unknown[];
  tax_lines: unknown[];
  fee_lines: unknown[];
}

export interface WireOrderNote {
  id: number;
  author: string;
  date_created: string;
  date_created_gmt: string;
  note: string;
  customer_note: boolean;
  added_by_user?: boolean;
}

/** The error body of every WordPress/WooCommerce REST error. */
export interface WireError {
  code: string;
  message: string;
  data?: { status?: number } | null;
}

/** A batch answer: each item is the object, or `{ id, error }` for an item that failed. */
export interface WireBatchResult<T> {
  create?: (T | { id: number; error: WireError })[];
  update?: (T | { id: number; error: WireError })[];
  delete?: (T | { id: number; error: WireError })[];
}

/** Most objects a batch request may hold (WooCommerce's default `woocommerce_rest_batch_items_limit`). */
export const WC_BATCH_LIMIT = 100;

/** Largest `per_page` a collection accepts. */
export const WC_MAX_PER_PAGE = 100;

/**
 * X-WC-Webhook-Signature: base64 of the raw binary HMAC-SHA256 of the exact body bytes,
 * keyed with the webhook's secret (WC_Webhook::generate_signature).
 */
export function wooSignature(secret: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/** WooCommerce's `*_gmt` date (no zone) as ISO 8601 UTC, or undefined when absent or malformed. */
export function gmtToIso(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(value)) return undefined;
  const ms = Date.parse(`${value}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** An ISO time as WooCommerce writes a `*_gmt` date: whole seconds, no zone. */
export function isoToGmt(iso: string | number | Date): string {
  return new Date(iso).toISOString().slice(0, 19);
}
