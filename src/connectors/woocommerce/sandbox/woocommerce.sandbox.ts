import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import {
  isoToGmt,
  WC_API,
  WC_BATCH_LIMIT,
  WC_MAX_PER_PAGE,
  wooSignature,
  type WireAddress,
  type WireError,
  type WireLineItem,
  type WireOrder,
  type WireOrderNote,
  type WireRefund,
  type WireProduct,
  type WireVariation,
} from '../woocommerce-wire.ts';

/**
 * A WooCommerce store emulator: the REST API v3 endpoints the connector uses, with
 * WooCommerce's field names, Basic authentication with a consumer key and secret, its error
 * bodies (`{code, message, data: {status}}`) and pagination headers; and webhooks signed like
 * WC_Webhook (every X-WC-Webhook-* header, a body encoded like PHP's json_encode, the unsigned
 * `webhook_id=<n>` ping). The store's clock runs in a site time zone (UTC-3 by default, as in
 * WooCommerce's own examples), so `date_modified` and `date_modified_gmt` differ. The admin API
 * under /_sandbox/ is documented in ../README.md.
 */

export interface WooSandboxProduct {
  sku: string;
  name?: string;
  /** Decimal string (default: "10.00"). */
  price?: string;
  /** Stock quantity; managed stock when set (default: 100). */
  stock?: number;
  /** Present for a variable product: its variations. */
  variations?: { sku: string; price?: string; stock?: number }[];
}

export interface WooSandboxOptions extends SandboxListenOptions {
  /** Where order webhooks are POSTed (settable through PUT /_sandbox/webhooks). */
  webhookUrl?: string;
  webhookSecret: string;
  /** (default: "ck_sandbox") */
  consumerKey?: string;
  /** (default: "cs_sandbox") */
  consumerSecret?: string;
  /** The catalogue (default: three simple products and one variable product with two variations). */
  products?: WooSandboxProduct[];
  /** Minutes east of UTC of the store's own clock (default: -180). */
  timezoneOffsetMinutes?: number;
  /** Whether GET /variations (WooCommerce 10.3+) exists (default: true). */
  variationsEndpoint?: boolean;
}

interface StoredVariation extends WireVariation {
  parent_id: number;
}

interface StoredProduct extends WireProduct {
  variationItems: StoredVariation[];
}

interface Delivery {
  index: number;
  topic: string;
  deliveryId: string;
  webhookId: number;
  url: string;
  headers: Record<string, string>;
  body: string;
  status: 'delivered' | 'failed' | 'dropped' | 'no_url';
  responseStatus: number | null;
  error: string | null;
}

export interface WooSandboxState {
  products: Map<number, StoredProduct>;
  orders: Map<number, WireOrder>;
  notes: Map<number, WireOrderNote[]>;
  /** Refunds by order id, oldest first. */
  refunds: Map<number, WireRefund[]>;
  deliveries: Delivery[];
  /** Every REST request served: method and URL (admin calls excluded). */
  requests: { method: string; url: string }[];
  config: { webhookUrl: string | null; webhookSecret: string; dropNext: number };
}

export interface RunningWooSandbox extends RunningSandbox {
  state: WooSandboxState;
}

/** Webhook ids of the three order topics, as a store with one webhook per topic has them. */
const WEBHOOK_IDS: Record<string, number> = { 'order.created': 11, 'order.updated': 12, 'order.deleted': 13 };

const ORDER_STATUSES = ['pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed', 'trash'] as const;

const DEFAULT_PRODUCTS: WooSandboxProduct[] = [
  { sku: 'WOO-TEE', name: 'Tee', price: '20.00', stock: 50 },
  { sku: 'WOO-MUG', name: 'Mug', price: '12.50', stock: 30 },
  { sku: 'WOO-CAP', name: 'Cap', price: '15.00', stock: 10 },
  {
    sku: 'WOO-HOODIE',
    name: 'Hoodie',
    price: '45.00',
    variations: [
      { sku: 'WOO-HOODIE-M', price: '45.00', stock: 5 },
      { sku: 'WOO-HOODIE-L', price: '45.00', stock: 7 },
    ],
  },
];

const AddressInput = z.strictObject({
  first_name: z.string().max(100).default(''),
  last_name: z.string().max(100).default(''),
  company: z.string().max(100).default(''),
  address_1: z.string().max(200).default(''),
  address_2: z.string().max(200).default(''),
  city: z.string().max(100).default(''),
  state: z.string().max(100).default(''),
  postcode: z.string().max(20).default(''),
  country: z.string().max(2).default(''),
  email: z.string().max(254).optional(),
  phone: z.string().max(32).optional(),
});

const CreateOrder = z.strictObject({
  lines: z.array(z.strictObject({ sku: z.string().min(1), quantity: z.number().int().positive(), price: z.string().regex(/^\d+(\.\d{1,2})?$/).optional() })).min(1),
  /** (default: processing) */
  status: z.enum(ORDER_STATUSES).default('processing'),
  /** A paid order has date_paid and a transaction id (default: true). */
  paid: z.boolean().default(true),
  billing: AddressInput.optional(),
  shipping: AddressInput.optional(),
  /** (default: "10.00") */
  shippingTotal: z.string().regex(/^\d+(\.\d{1,2})?$/).default('10.00'),
  /** Tax rate on lines after discount, e.g. "0.075" (default: "0"). */
  taxRate: z.string().regex(/^0(\.\d{1,4})?$/).default('0'),
  /** A coupon's amount, taken off the lines in order (default: "0"). */
  discountTotal: z.string().regex(/^\d+(\.\d{1,2})?$/).default('0'),
  customerNote: z.string().max(500).default(''),
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
  /** Skip the order.created webhook (an order the store never told Syncline about). */
  silent: z.boolean().default(false),
});

// The fields an edit names, and only those (AddressInput's defaults would blank the others).
const AddressPatch = z
  .strictObject({
    first_name: z.string().max(100),
    last_name: z.string().max(100),
    company: z.string().max(100),
    address_1: z.string().max(200),
    address_2: z.string().max(200),
    city: z.string().max(100),
    state: z.string().max(100),
    postcode: z.string().max(20),
    country: z.string().max(2),
    phone: z.string().max(32),
  })
  .partial();

const UpdateOrder = z.strictObject({
  status: z.enum(ORDER_STATUSES).optional(),
  shipping: AddressPatch.optional(),
  customer_note: z.string().max(500).optional(),
});

const WebhookConfig = z.strictObject({
  url: z.url().nullable().optional(),
  secret: z.string().min(1).optional(),
  /** Drop this many of the next deliveries (WooCommerce gave up on them). */
  dropNext: z.number().int().min(0).max(1000).optional(),
});

const cents = (amount: string): number => Math.round(Number(amount) * 100);
const money = (value: number): string => (value / 100).toFixed(2);

/** A body as PHP's json_encode writes it: "/" as "\/" and every non-ASCII character as \uXXXX. */
export function phpJsonEncode(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const wcError = (code: string, message: string, status: number, extra: Record<string, unknown> = {}): WireError & Record<string, unknown> => ({
  code,
  message,
  data: { status, ...extra },
});

/** Starts the WooCommerce sandbox. */
export async function startWooSandbox(options: WooSandboxOptions): Promise<RunningWooSandbox> {
  const consumerKey = options.consumerKey ?? 'ck_sandbox';
  const consumerSecret = options.consumerSecret ?? 'cs_sandbox';
  const offsetMs = (options.timezoneOffsetMinutes ?? -180) * 60_000;
  const state: WooSandboxState = {
    products: new Map(),
    orders: new Map(),
    notes: new Map(),
    refunds: new Map(),
    deliveries: [],
    requests: [],
    config: { webhookUrl: options.webhookUrl ?? null, webhookSecret: options.webhookSecret, dropNext: 0 },
  };
  let nextId = 100;
  const newId = () => nextId++;
  // The store's clock, which tests may move forward (POST /_sandbox/clock) instead of waiting.
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  const local = (ms: number) => isoToGmt(ms + offsetMs);

  for (const input of options.products ?? DEFAULT_PRODUCTS) {
    const id = newId();
    const modified = isoToGmt(now());
    const product: StoredProduct = {
      id,
      name: input.name ?? input.sku,
      type: input.variations ? 'variable' : 'simple',
      sku: input.sku,
      price: input.price ?? '10.00',
      manage_stock: !input.variations,
      stock_quantity: input.variations ? null : (input.stock ?? 100),
      stock_status: 'instock',
      variations: [],
      date_modified_gmt: modified,
      variationItems: [],
    };
    for (const v of input.variations ?? []) {
      const variation: StoredVariation = {
        id: newId(),
        parent_id: id,
        sku: v.sku,
        price: v.price ?? product.price,
        manage_stock: true,
        stock_quantity: v.stock ?? 100,
        stock_status: 'instock',
        date_modified_gmt: modified,
      };
      product.variationItems.push(variation);
      product.variations.push(variation.id);
    }
    state.products.set(id, product);
  }

  const { app, faults } = createSandboxApp('woocommerce', {
    log: options.log,
    render: (_kind, status, message) => ({ contentType: 'application/json; charset=UTF-8', body: JSON.stringify(wcError('sandbox_fault', message, status)) }),
  });

  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });

  // ---- webhooks ----
  const deliver = async (topic: string, payload: unknown): Promise<Delivery> => {
    const webhookId = WEBHOOK_IDS[topic] ?? 10;
    const body = phpJsonEncode(payload);
    // WC_Webhook::get_new_delivery_id: wp_hash( webhook id . time() ) — the same for two deliveries in one second.
    const deliveryId = createHash('md5').update(`${webhookId}${Math.floor(now() / 1000)}sandbox-salt`).digest('hex');
    const [resource, event] = topic.split('.') as [string, string];
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'WooCommerce/9.9.0 Hookshot (WordPress/6.8)',
      'X-WC-Webhook-Source': 'https://shop.example.com/',
      'X-WC-Webhook-Topic': topic,
      'X-WC-Webhook-Resource': resource,
      'X-WC-Webhook-Event': event,
      'X-WC-Webhook-Signature': wooSignature(state.config.webhookSecret, body),
      'X-WC-Webhook-ID': String(webhookId),
      'X-WC-Webhook-Delivery-ID': deliveryId,
    };
    const delivery: Delivery = {
      index: state.deliveries.length,
      topic,
      deliveryId,
      webhookId,
      url: state.config.webhookUrl ?? '',
      headers,
      body,
      status: 'no_url',
      responseStatus: null,
      error: null,
    };
    state.deliveries.push(delivery);
    if (!state.config.webhookUrl) return delivery;
    if (state.config.dropNext > 0) {
      state.config.dropNext -= 1;
      delivery.status = 'dropped';
      return delivery;
    }
    await send(delivery);
    return delivery;
  };

  // WooCommerce sends each delivery once: a failure only counts toward disabling the webhook.
  const send = async (delivery: Delivery) => {
    if (closing) return;
    try {
      const response = await fetch(delivery.url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      delivery.responseStatus = response.status;
      delivery.status = response.status >= 200 && response.status < 303 ? 'delivered' : 'failed';
    } catch (cause) {
      delivery.status = 'failed';
      delivery.error = cause instanceof Error ? cause.message : String(cause);
    }
  };

  /** A change made through the REST API notifies like one made in the store, without holding up the answer. */
  const notifyLater = (topic: string, payload: unknown) => {
    setImmediate(() => void deliver(topic, payload).catch(() => {}));
  };

  // ---- REST API ----
  const readAuth = (request: FastifyRequest): 'ok' | 'none' | 'key' | 'secret' => {
    const header = request.headers.authorization;
    if (!header?.startsWith('Basic ')) return 'none';
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'none';
    const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
    if (!same(decoded.slice(0, colon), consumerKey)) return 'key';
    return same(decoded.slice(colon + 1), consumerSecret) ? 'ok' : 'secret';
  };

  app.addHook('preHandler', async (request, reply) => {
    if (!request.url.startsWith(WC_API)) return;
    state.requests.push({ method: request.method, url: request.url.slice(WC_API.length) });
    const auth = readAuth(request);
    if (auth === 'ok') return;
    // WC_REST_Authentication: a key that does not exist or a wrong secret is an authentication
    // error; no credentials leave the request anonymous, refused by the endpoint's permission check.
    if (auth === 'key') return reply.code(401).send(wcError('woocommerce_rest_authentication_error', 'Consumer key is invalid.', 401));
    if (auth === 'secret') return reply.code(401).send(wcError('woocommerce_rest_authentication_error', 'Consumer secret is invalid.', 401));
    const read = request.method === 'GET';
    return reply
      .code(401)
      .send(read ? wcError('woocommerce_rest_cannot_view', 'Sorry, you cannot list resources.', 401) : wcError('woocommerce_rest_cannot_edit', 'Sorry, you are not allowed to edit this resource.', 401));
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send(wcError('rest_no_route', 'No route was found matching the URL and request method.', 404)));

  type Query = Record<string, string | undefined>;
  const pagination = (query: Query, reply: FastifyReply): { page: number; perPage: number } | undefined => {
    const perPage = query.per_page === undefined ? 10 : Number(query.per_page);
    const page = query.page === undefined ? 1 : Number(query.page);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > WC_MAX_PER_PAGE) {
      void reply.code(400).send(wcError('rest_invalid_param', 'Invalid parameter(s): per_page', 400, { params: { per_page: `per_page must be between 1 (inclusive) and ${WC_MAX_PER_PAGE} (inclusive)` } }));
      return undefined;
    }
    if (!Number.isInteger(page) || page < 1) {
      void reply.code(400).send(wcError('rest_invalid_param', 'Invalid parameter(s): page', 400, { params: { page: 'page must be greater than or equal to 1' } }));
      return undefined;
    }
    return { page, perPage };
  };

  /** Sends one page with X-WP-Total, X-WP-TotalPages and the Link header. */
  const paged = <T>(request: FastifyRequest, reply: FastifyReply, items: T[], page: number, perPage: number) => {
    const totalPages = Math.ceil(items.length / perPage);
    const base = new URL(request.url, 'http://sandbox');
    const link = (p: number, rel: string) => {
      base.searchParams.set('page', String(p));
      return `<${base.pathname}${base.search}>; rel="${rel}"`;
    };
    const links = [...(page > 1 ? [link(Math.min(page - 1, Math.max(totalPages, 1)), 'prev')] : []), ...(totalPages > page ? [link(page + 1, 'next')] : [])];
    if (links.length) void reply.header('link', links.join(', '));
    return reply
      .header('x-wp-total', String(items.length))
      .header('x-wp-totalpages', String(totalPages))
      .send(items.slice((page - 1) * perPage, page * perPage));
  };

  const productView = ({ variationItems: _v, ...product }: StoredProduct): WireProduct => structuredClone(product);
  const variationView = ({ parent_id: _p, ...variation }: StoredVariation): WireVariation => structuredClone(variation);
  const skuFilter = (sku: string | undefined) => {
    if (!sku) return () => true;
    const skus = new Set(sku.split(','));
    return (item: { sku: string }) => skus.has(item.sku);
  };

  app.get<{ Querystring: Query }>(`${WC_API}/products`, async (request, reply) => {
    const paging = pagination(request.query, reply);
    if (!paging) return reply;
    const matches = skuFilter(request.query.sku);
    const items = [...state.products.values()].filter((p) => matches(p) && (!request.query.type || p.type === request.query.type)).map(productView);
    return paged(request, reply, items, paging.page, paging.perPage);
  });

  const findProduct = (id: string) => state.products.get(Number(id));

  app.get<{ Params: { id: string } }>(`${WC_API}/products/:id`, async (request, reply) => {
    const product = findProduct(request.params.id);
    return product ? productView(product) : reply.code(404).send(wcError('woocommerce_rest_product_invalid_id', 'Invalid ID.', 404));
  });

  app.get<{ Params: { id: string }; Querystring: Query }>(`${WC_API}/products/:id/variations`, async (request, reply) => {
    const product = findProduct(request.params.id);
    if (!product) return reply.code(404).send(wcError('woocommerce_rest_product_invalid_id', 'Invalid ID.', 404));
    const paging = pagination(request.query, reply);
    if (!paging) return reply;
    const matches = skuFilter(request.query.sku);
    return paged(request, reply, product.variationItems.filter(matches).map(variationView), paging.page, paging.perPage);
  });

  if (options.variationsEndpoint !== false) {
    app.get<{ Querystring: Query }>(`${WC_API}/variations`, async (request, reply) => {
      const paging = pagination(request.query, reply);
      if (!paging) return reply;
      const matches = skuFilter(request.query.sku);
      const items = [...state.products.values()].flatMap((p) => p.variationItems).filter(matches).map((v) => structuredClone(v));
      return paged(request, reply, items, paging.page, paging.perPage);
    });
  }

  const BatchBody = z.looseObject({ update: z.array(z.looseObject({ id: z.number().int() })).default([]) });

  /** Applies a batch `update` to stock items; an unknown id is reported in its own item, as WooCommerce does. */
  const batch = <T extends { id: number; manage_stock: boolean | 'parent'; stock_quantity: number | null; stock_status: string; date_modified_gmt: string }>(
    request: FastifyRequest,
    reply: FastifyReply,
    find: (id: number) => T | undefined,
    view: (item: T) => unknown,
    invalidCode: string,
  ) => {
    const parsed = BatchBody.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send(wcError('rest_invalid_param', 'Invalid parameter(s): update', 400));
    if (parsed.data.update.length > WC_BATCH_LIMIT) {
      return reply.code(413).send(wcError('woocommerce_rest_request_entity_too_large', `Unable to accept more than ${WC_BATCH_LIMIT} items for this request.`, 413));
    }
    const update = parsed.data.update.map((input) => {
      const item = find(input.id);
      if (!item) return { id: input.id, error: wcError(invalidCode, 'Invalid ID.', 400) };
      if (typeof input.manage_stock === 'boolean') item.manage_stock = input.manage_stock;
      if (input.stock_quantity !== undefined) {
        if (!Number.isInteger(input.stock_quantity)) return { id: input.id, error: wcError('rest_invalid_param', 'Invalid parameter(s): stock_quantity', 400) };
        item.stock_quantity = input.stock_quantity as number;
        item.stock_status = (input.stock_quantity as number) > 0 ? 'instock' : 'outofstock';
      }
      item.date_modified_gmt = isoToGmt(now());
      return view(item);
    });
    return { create: [], update, delete: [] };
  };

  app.post(`${WC_API}/products/batch`, async (request, reply) =>
    batch(request, reply, (id) => state.products.get(id), productView, 'woocommerce_rest_product_invalid_id'),
  );

  app.post<{ Params: { id: string } }>(`${WC_API}/products/:id/variations/batch`, async (request, reply) => {
    const product = findProduct(request.params.id);
    if (!product) return reply.code(404).send(wcError('woocommerce_rest_product_invalid_id', 'Invalid ID.', 404));
    return batch(request, reply, (id) => product.variationItems.find((v) => v.id === id), variationView, 'woocommerce_rest_product_variation_invalid_id');
  });

  const orderView = (order: WireOrder): WireOrder => structuredClone(order);
  const findOrder = (id: string) => state.orders.get(Number(id));

  app.get<{ Querystring: Query }>(`${WC_API}/orders`, async (request, reply) => {
    const q = request.query;
    const paging = pagination(q, reply);
    if (!paging) return reply;
    const gmt = q.dates_are_gmt === 'true' || q.dates_are_gmt === '1';
    // The value's own zone suffix, if any, is ignored: the column compared says which clock it means.
    const bound = (value: string | undefined) => (value ? value.replace(/(Z|[+-]\d{2}:?\d{2})$/, '') : undefined);
    const modifiedAfter = bound(q.modified_after);
    const modifiedBefore = bound(q.modified_before);
    const statuses = q.status && q.status !== 'any' ? new Set(q.status.split(',')) : null;
    const column = (o: WireOrder) => (gmt ? o.date_modified_gmt : o.date_modified);
    let items = [...state.orders.values()].filter(
      (o) =>
        (statuses ? statuses.has(o.status) : o.status !== 'trash') &&
        (!modifiedAfter || column(o) > modifiedAfter) &&
        (!modifiedBefore || column(o) < modifiedBefore),
    );
    const orderby = q.orderby ?? 'date';
    const key = (o: WireOrder) => (orderby === 'modified' ? o.date_modified_gmt : orderby === 'id' ? String(o.id).padStart(12, '0') : o.date_created_gmt);
    // WooCommerce adds ID to date and modified ordering so that pages are stable.
    items = items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id));
    if ((q.order ?? 'desc') === 'desc') items.reverse();
    return paged(request, reply, items.map(orderView), paging.page, paging.perPage);
  });

  app.get<{ Params: { id: string } }>(`${WC_API}/orders/:id`, async (request, reply) => {
    const order = findOrder(request.params.id);
    return order ? orderView(order) : reply.code(404).send(wcError('woocommerce_rest_shop_order_invalid_id', 'Invalid ID.', 404));
  });

  const touch = (order: WireOrder) => {
    const at = now();
    order.date_modified_gmt = isoToGmt(at);
    order.date_modified = local(at);
  };

  const restock = (order: WireOrder) => {
    for (const item of order.line_items) {
      const target = stockItemOf(item);
      if (target && target.manage_stock === true && target.stock_quantity !== null) target.stock_quantity += item.quantity;
    }
  };

  const reduceStock = (order: WireOrder) => {
    for (const item of order.line_items) {
      const target = stockItemOf(item);
      if (target && target.manage_stock === true && target.stock_quantity !== null) target.stock_quantity -= item.quantity;
    }
  };

  const setStatus = (order: WireOrder, status: WireOrder['status']) => {
    if (order.status === status) return;
    const at = now();
    if (status === 'completed') {
      order.date_completed_gmt = isoToGmt(at);
      order.date_completed = local(at);
    }
    if ((status === 'cancelled' || status === 'refunded') && order.date_paid_gmt) restock(order);
    // WooCommerce sets date_paid when an order reaches processing or completed (WC_Order::maybe_set_date_paid)
    // and reduces stock once it is paid (wc_maybe_reduce_stock_levels): an unpaid order paid later.
    if ((status === 'processing' || status === 'completed') && !order.date_paid_gmt) {
      order.date_paid = local(at);
      order.date_paid_gmt = isoToGmt(at);
      if (!order.transaction_id) order.transaction_id = `ch_${randomBytes(8).toString('hex')}`;
      reduceStock(order);
    }
    order.status = status;
    addNote(order.id, `Order status changed to ${status}.`, false);
  };

  const addNote = (orderId: number, note: string, customerNote: boolean): WireOrderNote => {
    const at = now();
    const created: WireOrderNote = {
      id: newId(),
      author: customerNote ? 'Syncline' : 'system',
      date_created: local(at),
      date_created_gmt: isoToGmt(at),
      note,
      customer_note: customerNote,
    };
    const notes = state.notes.get(orderId) ?? [];
    notes.push(created);
    state.notes.set(orderId, notes);
    return created;
  };

  app.put<{ Params: { id: string } }>(`${WC_API}/orders/:id`, async (request, reply) => {
    const order = findOrder(request.params.id);
    // WC_REST_CRUD_Controller::update_item answers 400 (not 404) for an unknown id.
    if (!order) return reply.code(400).send(wcError('woocommerce_rest_shop_order_invalid_id', 'Invalid ID.', 400));
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (body.status !== undefined && !(ORDER_STATUSES as readonly unknown[]).includes(body.status)) {
      return reply.code(400).send(wcError('rest_invalid_param', 'Invalid parameter(s): status', 400, { params: { status: `status is not one of ${ORDER_STATUSES.join(', ')}.` } }));
    }
    if (typeof body.status === 'string') setStatus(order, body.status);
    touch(order);
    notifyLater('order.updated', orderView(order));
    return orderView(order);
  });

  app.get<{ Params: { id: string } }>(`${WC_API}/orders/:id/notes`, async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send(wcError('woocommerce_rest_order_invalid_id', 'Invalid order ID.', 404));
    return [...(state.notes.get(order.id) ?? [])].reverse();
  });

  app.post<{ Params: { id: string } }>(`${WC_API}/orders/:id/notes`, async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send(wcError('woocommerce_rest_order_invalid_id', 'Invalid order ID.', 404));
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body.note !== 'string' || body.note === '') return reply.code(400).send(wcError('rest_missing_callback_param', 'Missing parameter(s): note', 400, { params: ['note'] }));
    return reply.code(201).send(addNote(order.id, body.note, body.customer_note === true));
  });

  app.get<{ Params: { id: string } }>(`${WC_API}/orders/:id/refunds`, async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send(wcError('woocommerce_rest_order_invalid_id', 'Invalid order ID.', 404));
    return [...(state.refunds.get(order.id) ?? [])].reverse();
  });

  // wc_create_refund: at most what is left to refund; api_refund (default true) asks the gateway
  // to move the money, api_restock (default true) puts the refunded line quantities back in stock.
  app.post<{ Params: { id: string } }>(`${WC_API}/orders/:id/refunds`, async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send(wcError('woocommerce_rest_invalid_order_id', 'Invalid order ID.', 404));
    const body = (request.body ?? {}) as Record<string, unknown>;
    const lines = Array.isArray(body.line_items) ? (body.line_items as Record<string, unknown>[]) : [];
    const planned: { item: WireLineItem; quantity: number; refundTotal: number }[] = [];
    for (const l of lines) {
      const item = order.line_items.find((x) => x.id === Number(l.id));
      const quantity = Number(l.quantity ?? 0);
      if (!item || !Number.isInteger(quantity) || quantity < 0) return reply.code(400).send(wcError('woocommerce_rest_cannot_create_order_refund', 'Invalid line item.', 400));
      planned.push({ item, quantity, refundTotal: cents(String(l.refund_total ?? '0')) });
    }
    const amount = body.amount !== undefined ? cents(String(body.amount)) : planned.reduce((n, p) => n + p.refundTotal, 0);
    const refunded = (state.refunds.get(order.id) ?? []).reduce((n, r) => n + cents(r.amount), 0);
    if (!(amount > 0)) return reply.code(400).send(wcError('woocommerce_rest_invalid_order_refund', 'Refund amount must be greater than zero.', 400));
    if (amount + refunded > cents(order.total)) return reply.code(500).send(wcError('woocommerce_rest_cannot_create_order_refund', 'Invalid refund amount.', 500));
    const apiRefund = body.api_refund !== false;
    // The sandbox's gateway refunds every paid order; a real one may not support refunds.
    if (apiRefund && !order.date_paid_gmt) return reply.code(500).send(wcError('woocommerce_rest_cannot_create_order_refund', 'Payment gateway does not support refunds.', 500));
    const at = now();
    const refund: WireRefund = {
      id: newId(),
      date_created: local(at),
      date_created_gmt: isoToGmt(at),
      amount: money(amount),
      reason: typeof body.reason === 'string' ? body.reason : '',
      refunded_by: 1,
      refunded_payment: apiRefund,
      meta_data: [],
      line_items: planned.map(({ item, quantity, refundTotal }) => ({
        id: newId(),
        name: item.name,
        product_id: item.product_id,
        variation_id: item.variation_id,
        quantity: -quantity,
        subtotal: money(-refundTotal),
        total: money(-refundTotal),
        sku: item.sku,
        refund_total: refundTotal / 100,
        meta_data: [{ id: newId(), key: '_refunded_item_id', value: String(item.id) }],
      })),
      shipping_lines: [],
      tax_lines: [],
      fee_lines: [],
    };
    if (body.api_restock !== false) {
      for (const { item, quantity } of planned) {
        const target = stockItemOf(item);
        if (target && target.manage_stock === true && target.stock_quantity !== null) target.stock_quantity += quantity;
      }
    }
    state.refunds.set(order.id, [...(state.refunds.get(order.id) ?? []), refund]);
    order.refunds.unshift({ id: refund.id, refund: refund.reason, total: money(-amount) });
    addNote(order.id, `Refunded ${money(amount)}${refund.reason ? ` – ${refund.reason}` : ''}.`, false);
    // Fully refunded: WooCommerce moves the order to refunded (without restocking it again).
    if (amount + refunded >= cents(order.total) && order.status !== 'refunded') {
      order.status = 'refunded';
      addNote(order.id, 'Order status changed to refunded.', false);
    }
    touch(order);
    notifyLater('order.updated', orderView(order));
    return reply.code(201).send(refund);
  });

  // ---- store side: what shoppers and the shop manager do ----
  const stockItemOf = (item: WireLineItem): StoredProduct | StoredVariation | undefined => {
    const product = state.products.get(item.product_id);
    return item.variation_id ? product?.variationItems.find((v) => v.id === item.variation_id) : product;
  };

  const findSku = (sku: string): { product: StoredProduct; variation?: StoredVariation } | undefined => {
    for (const product of state.products.values()) {
      if (product.sku === sku && product.type !== 'variable') return { product };
      const variation = product.variationItems.find((v) => v.sku === sku);
      if (variation) return { product, variation };
    }
    return undefined;
  };

  const address = (input: z.infer<typeof AddressInput> | undefined, withContact: boolean): WireAddress => {
    const base: WireAddress = {
      first_name: 'Ada',
      last_name: 'Lovelace',
      company: '',
      address_1: '12 Analytical Row',
      address_2: '',
      city: 'Springfield',
      state: 'IL',
      postcode: '62701',
      country: 'US',
      ...(withContact ? { email: 'ada@example.com', phone: '(555) 555-0100' } : {}),
    };
    return { ...base, ...(input ?? {}) };
  };

  const createOrder = (input: z.infer<typeof CreateOrder>): WireOrder | { error: string } => {
    const rate = Number(input.taxRate);
    let discountLeft = cents(input.discountTotal);
    const lineItems: WireLineItem[] = [];
    for (const line of input.lines) {
      const found = findSku(line.sku);
      if (!found) return { error: `no product or variation has SKU ${line.sku}` };
      const unit = cents(line.price ?? found.variation?.price ?? found.product.price);
      const subtotal = unit * line.quantity;
      const discount = Math.min(discountLeft, subtotal);
      discountLeft -= discount;
      const total = subtotal - discount;
      const subtotalTax = Math.round(subtotal * rate);
      const totalTax = Math.round(total * rate);
      lineItems.push({
        id: newId(),
        name: found.variation ? `${found.product.name} &ndash; ${found.variation.sku}` : found.product.name,
        product_id: found.product.id,
        variation_id: found.variation?.id ?? 0,
        quantity: line.quantity,
        tax_class: '',
        subtotal: money(subtotal),
        subtotal_tax: money(subtotalTax),
        total: money(total),
        total_tax: money(totalTax),
        taxes: rate > 0 ? [{ id: 1, total: money(totalTax), subtotal: money(subtotalTax) }] : [],
        meta_data: [],
        sku: found.variation?.sku ?? found.product.sku,
        price: total / 100 / line.quantity,
      });
    }
    const shipping = cents(input.shippingTotal);
    const cartTax = lineItems.reduce((sum, l) => sum + cents(l.total_tax), 0);
    const linesTotal = lineItems.reduce((sum, l) => sum + cents(l.total), 0);
    const discountTax = lineItems.reduce((sum, l) => sum + cents(l.subtotal_tax) - cents(l.total_tax), 0);
    const at = now();
    const id = newId();
    const paid = input.paid;
    const order: WireOrder = {
      id,
      parent_id: 0,
      number: String(id),
      order_key: `wc_order_${randomBytes(6).toString('hex')}`,
      created_via: 'checkout',
      version: '9.9.0',
      status: input.status,
      currency: input.currency,
      date_created: local(at),
      date_created_gmt: isoToGmt(at),
      date_modified: local(at),
      date_modified_gmt: isoToGmt(at),
      discount_total: money(cents(input.discountTotal) - discountLeft),
      discount_tax: money(discountTax),
      shipping_total: money(shipping),
      shipping_tax: '0.00',
      cart_tax: money(cartTax),
      total: money(linesTotal + shipping + cartTax),
      total_tax: money(cartTax),
      prices_include_tax: false,
      customer_id: 0,
      customer_ip_address: '',
      customer_user_agent: '',
      customer_note: input.customerNote,
      billing: address(input.billing, true),
      shipping: address(input.shipping, false),
      payment_method: 'stripe',
      payment_method_title: 'Credit card',
      transaction_id: paid ? `ch_${randomBytes(8).toString('hex')}` : '',
      date_paid: paid ? local(at) : null,
      date_paid_gmt: paid ? isoToGmt(at) : null,
      date_completed: null,
      date_completed_gmt: null,
      cart_hash: '',
      meta_data: [],
      line_items: lineItems,
      tax_lines: [],
      shipping_lines: [{ id: newId(), method_title: 'Flat rate', method_id: 'flat_rate', total: money(shipping), total_tax: '0.00', taxes: [], meta_data: [] }],
      fee_lines: [],
      coupon_lines: [],
      refunds: [],
      _links: { self: [{ href: `https://shop.example.com${WC_API}/orders/${id}` }], collection: [{ href: `https://shop.example.com${WC_API}/orders` }] },
    };
    // A paid order reduces stock (wc_maybe_reduce_stock_levels).
    if (paid) reduceStock(order);
    state.orders.set(id, order);
    return order;
  };

  const deliveryView = ({ body: _body, headers: _headers, ...rest }: Delivery) => rest;

  app.post('/_sandbox/orders', async (request, reply) => {
    const input = CreateOrder.parse(request.body ?? {});
    const order = createOrder(input);
    if ('error' in order) return reply.code(422).send({ error: { type: 'invalid_request', message: order.error } });
    const delivery = input.silent ? null : await deliver('order.created', orderView(order));
    return reply.code(201).send({ order: orderView(order), delivery: delivery ? deliveryView(delivery) : null });
  });

  app.post<{ Params: { id: string } }>('/_sandbox/orders/:id', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ error: { type: 'not_found', message: `no order ${request.params.id}` } });
    const input = UpdateOrder.parse(request.body ?? {});
    if (input.status) setStatus(order, input.status);
    if (input.shipping) order.shipping = { ...order.shipping, ...input.shipping };
    if (input.customer_note !== undefined) order.customer_note = input.customer_note;
    touch(order);
    const delivery = await deliver('order.updated', orderView(order));
    return { order: orderView(order), delivery: deliveryView(delivery) };
  });

  app.delete<{ Params: { id: string } }>('/_sandbox/orders/:id', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ error: { type: 'not_found', message: `no order ${request.params.id}` } });
    order.status = 'trash';
    touch(order);
    // WC_Webhook::build_payload: a deleted resource's payload is only its id.
    const delivery = await deliver('order.deleted', { id: order.id });
    return { delivery: deliveryView(delivery) };
  });

  app.post('/_sandbox/ping', async () => {
    if (!state.config.webhookUrl) return { status: null };
    // WC_Webhook::deliver_ping: a form body, no X-WC-* headers, no signature; anything but 200 fails.
    const response = await fetch(state.config.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'WooCommerce/9.9.0 Hookshot (WordPress/6.8)' },
      body: `webhook_id=${WEBHOOK_IDS['order.created']}`,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return { status: response.status };
  });

  app.get('/_sandbox/products', async () => ({
    data: [...state.products.values()].map((p) => ({
      id: p.id,
      sku: p.sku,
      type: p.type,
      manage_stock: p.manage_stock,
      stock_quantity: p.stock_quantity,
      variations: p.variationItems.map((v) => ({ id: v.id, sku: v.sku, manage_stock: v.manage_stock, stock_quantity: v.stock_quantity })),
    })),
  }));

  app.get<{ Params: { id: string } }>('/_sandbox/orders/:id', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ error: { type: 'not_found', message: `no order ${request.params.id}` } });
    return { order: orderView(order), notes: state.notes.get(order.id) ?? [] };
  });

  app.post('/_sandbox/clock', async (request) => {
    const { advanceMs } = z.strictObject({ advanceMs: z.number().int().min(0).max(86_400_000) }).parse(request.body ?? {});
    clockOffsetMs += advanceMs;
    return { now: new Date(now()).toISOString() };
  });

  app.get('/_sandbox/webhooks', async () => ({ ...state.config, webhookSecret: '[set]', data: state.deliveries.map(deliveryView) }));
  app.put('/_sandbox/webhooks', async (request) => {
    const input = WebhookConfig.parse(request.body ?? {});
    if (input.url !== undefined) state.config.webhookUrl = input.url;
    if (input.secret !== undefined) state.config.webhookSecret = input.secret;
    if (input.dropNext !== undefined) state.config.dropNext = input.dropNext;
    return { webhookUrl: state.config.webhookUrl, dropNext: state.config.dropNext };
  });
  /** Sends a recorded delivery again, the same bytes and headers (a store retrying by hand). */
  app.post<{ Params: { index: string } }>('/_sandbox/webhooks/:index/redeliver', async (request, reply) => {
    const delivery = state.deliveries[Number(request.params.index)];
    if (!delivery) return reply.code(404).send({ error: { type: 'not_found', message: `no delivery ${request.params.index}` } });
    const again: Delivery = { ...delivery, index: state.deliveries.length, url: state.config.webhookUrl ?? '', status: 'no_url', responseStatus: null, error: null };
    state.deliveries.push(again);
    if (again.url) await send(again);
    return deliveryView(again);
  });

  const running = await listenSandbox('woocommerce', app, faults, options);
  return { ...running, state };
}
