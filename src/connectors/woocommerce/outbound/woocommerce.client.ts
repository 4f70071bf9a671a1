import { SynclineError } from '../../../domain/errors.ts';
import { fromScaled, minorUnits, toScaled } from '../../../model/money.ts';
import { TargetError } from '../../../runtime/targets/target-errors.ts';
import { synclineRefundMark, type ChannelRefundCommand, type AvailabilityResult, type AvailabilityUpdate, type ChangedOrdersPage, type ChannelClient, type ChannelListing, type ChannelRefund, type ChannelShipment } from '../../kit/channel-connector.ts';
import { createHttpClient, type CallContext, type HttpClient, type HttpRequest, type HttpResponse } from '../../kit/http-client.ts';
import {
  gmtToIso,
  isoToGmt,
  WC_API,
  WC_BATCH_LIMIT,
  WC_MAX_PER_PAGE,
  type WireBatchResult,
  type WireError,
  type WireOrder,
  type WireOrderNote,
  type WireProduct,
  type WireRefund,
  type WireVariation,
} from '../woocommerce-wire.ts';

/**
 * The WooCommerce REST API v3 client of one connection. Every request goes through the kit's
 * HTTP client, so the connection's target (CallContext.target) gates each one, and every
 * failure is a SynclineError with its retry class: 429 throttled, 5xx and network errors
 * transient, 401/403 (bad keys, missing permission) and other 4xx permanent. WooCommerce's
 * own error code (`woocommerce_rest_*`, from the `{code, message, data: {status}}` body) is
 * kept in `details.woocommerceCode`.
 */

export interface WooClientOptions {
  /** The store's address, e.g. https://shop.example.com (the REST API is under /wp-json/wc/v3). */
  siteUrl: string;
  consumerKey: string;
  consumerSecret: string;
  /** (default: 15000 ms) */
  timeoutMs?: number;
  /** Orders per page of the reconciliation poll, at most 100 (default: 50). */
  pageSize?: number;
}

const SYSTEM = 'woocommerce';

/** Marks the order note that records one shipment, so that the note is added once per shipment. */
export const shipmentMarker = (shipmentId: string) => `[syncline shipment ${shipmentId}]`;

const isWireError = (value: unknown): value is WireError =>
  value !== null && typeof value === 'object' && typeof (value as WireError).code === 'string' && typeof (value as WireError).message === 'string';

/** Adds WooCommerce's error code and message to a classified failure. */
function withWooCode(error: unknown): unknown {
  if (error instanceof TargetError && error.details) {
    const body = error.details.body;
    if (isWireError(body)) {
      error.details.woocommerceCode = body.code;
      error.message = `${error.message}: ${body.code} (${body.message})`;
    }
  }
  return error;
}

/** The client for one WooCommerce store. */
export class WooCommerceClient implements ChannelClient {
  readonly http: HttpClient;
  readonly #pageSize: number;

  constructor(options: WooClientOptions) {
    const basic = Buffer.from(`${options.consumerKey}:${options.consumerSecret}`, 'utf8').toString('base64');
    this.http = createHttpClient({
      system: SYSTEM,
      baseUrl: `${options.siteUrl.replace(/\/+$/, '')}${WC_API}`,
      timeoutMs: options.timeoutMs ?? 15_000,
      // "Authentication over HTTPS": the consumer key and secret as HTTP Basic credentials.
      headers: { authorization: `Basic ${basic}`, 'user-agent': 'Syncline-WooCommerce/1' },
    });
    this.#pageSize = Math.min(Math.max(options.pageSize ?? 50, 1), WC_MAX_PER_PAGE);
  }

  async #request<T>(request: HttpRequest, call: CallContext): Promise<HttpResponse<T>> {
    try {
      return await this.http.request<T>(request, call);
    } catch (error) {
      throw withWooCode(error);
    }
  }

  /** Products by SKU, then variations for the SKUs no product has. */
  async findListings(skus: string[], call: CallContext = {}): Promise<ChannelListing[]> {
    // WooCommerce splits the sku parameter on commas, so a SKU holding one cannot be asked for.
    const wanted = [...new Set(skus)].filter((sku) => sku !== '' && !sku.includes(','));
    const found = new Map<string, ChannelListing>();
    for (const chunk of chunks(wanted, 20)) {
      const products = await this.#collect<WireProduct>(`/products?${new URLSearchParams({ sku: chunk.join(','), per_page: String(WC_MAX_PER_PAGE) })}`, call);
      for (const product of products) {
        if (chunk.includes(product.sku) && !found.has(product.sku)) found.set(product.sku, { sku: product.sku, productId: String(product.id) });
      }
    }
    const missing = wanted.filter((sku) => !found.has(sku));
    if (missing.length > 0) for (const listing of await this.#findVariations(missing, call)) found.set(listing.sku, listing);
    return [...found.values()];
  }

  /**
   * Variations by SKU: the top-level /variations collection (WooCommerce 10.3+) answers in
   * one request per chunk; an older store (404 rest_no_route) is walked variable product by
   * variable product.
   */
  async #findVariations(skus: string[], call: CallContext): Promise<ChannelListing[]> {
    const listings: ChannelListing[] = [];
    try {
      for (const chunk of chunks(skus, 20)) {
        const variations = await this.#collect<WireVariation>(`/variations?${new URLSearchParams({ sku: chunk.join(','), per_page: String(WC_MAX_PER_PAGE) })}`, call);
        for (const v of variations) {
          if (chunk.includes(v.sku) && v.parent_id) listings.push({ sku: v.sku, productId: String(v.parent_id), variantId: String(v.id) });
        }
      }
      return listings;
    } catch (error) {
      if (!(error instanceof SynclineError && error.details?.status === 404 && error.details.woocommerceCode === 'rest_no_route')) throw error;
    }
    const wanted = new Set(skus);
    const parents = await this.#collect<WireProduct>(`/products?${new URLSearchParams({ type: 'variable', per_page: String(WC_MAX_PER_PAGE) })}`, call);
    for (const parent of parents) {
      if (wanted.size === 0) break;
      const variations = await this.#collect<WireVariation>(`/products/${parent.id}/variations?per_page=${WC_MAX_PER_PAGE}`, call);
      for (const v of variations) {
        if (wanted.delete(v.sku)) listings.push({ sku: v.sku, productId: String(parent.id), variantId: String(v.id) });
      }
    }
    return listings;
  }

  /** Every page of a collection, by X-WP-TotalPages. */
  async #collect<T>(path: string, call: CallContext): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const response = await this.#request<T[]>({ method: 'GET', path: `${path}&page=${page}` }, call);
      if (!Array.isArray(response.body)) throw unexpected('GET', path, response.body);
      items.push(...response.body);
      const pages = Number(response.headers.get('x-wp-totalpages') ?? '1');
      if (!(page < pages) || response.body.length === 0) return items;
    }
  }

  /** WooCommerce has no locations: one stock figure per product or variation. */
  async listLocations(): Promise<{ id: string; name: string }[]> {
    return [];
  }

  /**
   * Sets stock through the batch endpoints: products/batch for simple products and
   * products/{id}/variations/batch per variable product, up to 100 objects a request,
   * with manage_stock on so that WooCommerce uses the figure.
   */
  async setAvailability(updates: AvailabilityUpdate[], call: CallContext = {}): Promise<AvailabilityResult> {
    const products = new Map<string, number>();
    const variations = new Map<string, Map<string, number>>();
    for (const update of updates) {
      const quantity = Math.trunc(update.available);
      if (update.listing.variantId) {
        const byParent = variations.get(update.listing.productId) ?? new Map<string, number>();
        byParent.set(update.listing.variantId, quantity);
        variations.set(update.listing.productId, byParent);
      } else {
        products.set(update.listing.productId, quantity);
      }
    }
    let updated = 0;
    const send = async (path: string, entries: [string, number][]) => {
      for (const chunk of chunks(entries, WC_BATCH_LIMIT)) {
        const body = { update: chunk.map(([id, quantity]) => ({ id: Number(id), manage_stock: true, stock_quantity: quantity })) };
        const response = await this.#request<WireBatchResult<{ id: number }>>({ method: 'POST', path, body }, call);
        const failed = (response.body.update ?? []).filter((item): item is { id: number; error: WireError } => 'error' in item && isWireError(item.error));
        if (failed.length > 0) {
          throw new SynclineError('woocommerce.batch_item_failed', `WooCommerce refused ${failed.length} of ${chunk.length} stock updates at ${path}`, {
            retry: 'permanent',
            details: { system: SYSTEM, path, items: failed.map((f) => ({ id: f.id, code: f.error.code, message: f.error.message })) },
          });
        }
        updated += chunk.length;
      }
    };
    if (products.size > 0) await send('/products/batch', [...products]);
    for (const [productId, entries] of variations) await send(`/products/${encodeURIComponent(productId)}/variations/batch`, [...entries]);
    // WooCommerce has no compare-and-set: the last figure written wins.
    return { updated, retriedStale: 0 };
  }

  async #getOrder(channelOrderId: string, call: CallContext): Promise<WireOrder | undefined> {
    const response = await this.#request<WireOrder | WireError>({ method: 'GET', path: `/orders/${encodeURIComponent(channelOrderId)}`, accept: [404] }, call);
    return response.status === 404 ? undefined : (response.body as WireOrder);
  }

  /**
   * Records a shipment: the order goes to `completed` (WooCommerce has no partly shipped
   * status) and gets a customer note with the carrier and tracking. The note carries the
   * shipment id, and the notes are read first, so repeating a shipment adds nothing; a
   * cancelled or refunded order keeps its status and only gets the note.
   */
  async fulfil(shipment: ChannelShipment, call: CallContext = {}): Promise<{ channelFulfilmentId: string }> {
    const orderPath = `/orders/${encodeURIComponent(shipment.channelOrderId)}`;
    const order = await this.#getOrder(shipment.channelOrderId, call);
    if (!order) throw orderMissing(shipment.channelOrderId);
    if (['pending', 'processing', 'on-hold', 'failed'].includes(order.status)) {
      await this.#request<WireOrder>({ method: 'PUT', path: orderPath, body: { status: 'completed' } }, call);
    }
    const marker = shipmentMarker(shipment.shipmentId);
    const notes = await this.#request<WireOrderNote[]>({ method: 'GET', path: `${orderPath}/notes?type=any` }, call);
    const existing = Array.isArray(notes.body) ? notes.body.find((n) => typeof n.note === 'string' && n.note.includes(marker)) : undefined;
    if (existing) return { channelFulfilmentId: `note:${existing.id}` };
    const tracking = [shipment.carrier, shipment.trackingNumber].filter(Boolean).join(' ');
    const note = [`Shipped${tracking ? `: ${tracking}` : ''}.`, shipment.trackingUrl ? `Track it at ${shipment.trackingUrl}` : '', marker].filter(Boolean).join(' ');
    const created = await this.#request<WireOrderNote>({ method: 'POST', path: `${orderPath}/notes`, body: { note, customer_note: true } }, call);
    return { channelFulfilmentId: `note:${created.body.id}` };
  }

  /** Cancels unless the order is already completed (then false); cancelled or refunded already is fine. */
  async cancelOrder(channelOrderId: string, reason: string, call: CallContext = {}): Promise<boolean> {
    const order = await this.#getOrder(channelOrderId, call);
    if (!order) return false;
    if (order.status === 'cancelled' || order.status === 'refunded') return true;
    if (order.status === 'completed' || order.status === 'trash') return false;
    const orderPath = `/orders/${encodeURIComponent(channelOrderId)}`;
    await this.#request<WireOrder>({ method: 'PUT', path: orderPath, body: { status: 'cancelled' } }, call);
    await this.#request<WireOrderNote>({ method: 'POST', path: `${orderPath}/notes`, body: { note: `Cancelled in Syncline: ${reason}`.slice(0, 1000), customer_note: false } }, call);
    return true;
  }

  /**
   * Records a refund of Syncline's return: api_refund false when Syncline's payment connector
   * refunded (the gateway must not pay again), true when it did not (the store's gateway moves the
   * money); api_restock false (Syncline's availability sync sets the stock).
   * The reason carries the return's mark, and the order's refunds are read first, so a retry
   * finds the refund made before.
   */
  async refund(refund: ChannelRefund, call: CallContext = {}): Promise<{ channelRefundId: string; created: boolean }> {
    const path = `/orders/${encodeURIComponent(refund.channelOrderId)}/refunds`;
    const mark = synclineRefundMark(refund.returnId);
    const existing = await this.#request<WireRefund[] | WireError>({ method: 'GET', path: `${path}?per_page=${WC_MAX_PER_PAGE}`, accept: [404] }, call);
    if (existing.status === 404) throw orderMissing(refund.channelOrderId);
    const before = Array.isArray(existing.body) ? existing.body.find((r) => r.reason.includes(mark)) : undefined;
    if (before) return { channelRefundId: String(before.id), created: false };
    const order = await this.#getOrder(refund.channelOrderId, call);
    if (!order) throw orderMissing(refund.channelOrderId);
    const lineItems = refund.lines.flatMap((l) => {
      const item = order.line_items.find((x) => String(x.id) === l.channelLineId);
      if (!item) return [];
      // The line's share of the refund: its total (after discounts, without tax) for the units refunded.
      const scale = minorUnits(refund.currency);
      const share = (toScaled(item.total, scale) * BigInt(l.quantity)) / BigInt(Math.max(1, item.quantity));
      return [{ id: item.id, quantity: l.quantity, refund_total: fromScaled(share, scale) }];
    });
    const created = await this.#request<WireRefund>(
      {
        method: 'POST',
        path,
        body: { amount: refund.amount, reason: `${mark} ${refund.reason ?? 'refunded in Syncline'}`.slice(0, 1000), line_items: lineItems, api_refund: !refund.refundedBySyncline, api_restock: false },
      },
      call,
    );
    return { channelRefundId: String(created.body.id), created: true };
  }

  /**
   * The order's refunds as commands: amount, reason (as the note) and the refunded lines (each
   * refund line names its order line in `_refunded_item_id`; quantities are negative there).
   * WooCommerce's answer does not say whether the items were restocked; its default, in the
   * admin and in the REST API (api_restock), is to restock, so the lines are taken as restocked.
   */
  async orderRefunds(channelOrderId: string, call: CallContext = {}): Promise<ChannelRefundCommand[]> {
    const order = await this.#getOrder(channelOrderId, call);
    if (!order) throw orderMissing(channelOrderId);
    const response = await this.#request<WireRefund[]>({ method: 'GET', path: `/orders/${encodeURIComponent(channelOrderId)}/refunds?per_page=${WC_MAX_PER_PAGE}` }, call);
    if (!Array.isArray(response.body)) throw unexpected('GET', '/orders/{id}/refunds', response.body);
    return response.body.map((r) => ({
      kind: 'order.refund' as const,
      channelOrderId,
      channelRefundId: String(r.id),
      amount: r.amount,
      currency: order.currency,
      lines: r.line_items.flatMap((l) => {
        const lineId = l.meta_data.find((m) => m.key === '_refunded_item_id')?.value;
        const quantity = Math.abs(l.quantity);
        return lineId !== undefined && quantity > 0 ? [{ channelLineId: String(lineId), quantity, restock: true }] : [];
      }),
      ...(r.reason ? { note: r.reason.slice(0, 2000) } : {}),
    }));
  }

  /**
   * One page of orders modified after the cursor, oldest first (modified_after with
   * dates_are_gmt, orderby=modified, order=asc). The cursor is the last page's newest
   * modification time less one second (modified_after is exclusive and WooCommerce keeps
   * whole seconds, so an order changed in that same second is read again rather than
   * missed; the intake is idempotent). When a whole page shares one second, the cursor
   * stays and names the next page instead: `<gmt>|<page>`.
   */
  async ordersUpdatedSince(cursor: string | null, since: string, call: CallContext = {}): Promise<ChangedOrdersPage> {
    const { after, page } = parseCursor(cursor, since);
    const query = new URLSearchParams({
      modified_after: after,
      dates_are_gmt: 'true',
      orderby: 'modified',
      order: 'asc',
      per_page: String(this.#pageSize),
      page: String(page),
    });
    const response = await this.#request<WireOrder[]>({ method: 'GET', path: `/orders?${query}` }, call);
    if (!Array.isArray(response.body)) throw unexpected('GET', '/orders', response.body);
    const orders = response.body;
    const totalPages = Number(response.headers.get('x-wp-totalpages') ?? '0');
    const more = page < totalPages && orders.length > 0;
    const newest = orders.map((o) => gmtToIso(o.date_modified_gmt)).filter((t): t is string => t !== undefined).sort().at(-1);
    const next = newest ? isoToGmt(Date.parse(newest) - 1000) : after;
    const nextCursor = next > after ? next : more ? `${after}|${page + 1}` : after;
    return { orders, nextCursor, more };
  }
}

function parseCursor(cursor: string | null, since: string): { after: string; page: number } {
  const match = cursor ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\|(\d{1,6}))?$/.exec(cursor) : null;
  if (match) return { after: match[1]!, page: match[2] ? Number(match[2]) : 1 };
  const start = Date.parse(since);
  if (Number.isNaN(start)) throw new SynclineError('woocommerce.cursor_invalid', `the reconciliation start "${since}" is not a date`, { retry: 'permanent', details: { system: SYSTEM } });
  return { after: isoToGmt(start), page: 1 };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const orderMissing = (channelOrderId: string) =>
  new SynclineError('woocommerce.order_not_found', `WooCommerce has no order ${channelOrderId}`, { retry: 'permanent', details: { system: SYSTEM, channelOrderId } });

const unexpected = (method: string, path: string, body: unknown) =>
  new SynclineError('woocommerce.unexpected_response', `WooCommerce answered ${method} ${path} with something other than a list`, {
    retry: 'transient',
    details: { system: SYSTEM, body: typeof body === 'string' ? body.slice(0, 200) : typeof body },
  });
