import { randomUUID } from 'node:crypto';
import { execute, GraphQLError, Kind, parse, validate, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { z } from 'zod';
import { fromScaled, minorUnits, toScaled } from '../../../model/money.ts';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxListenOptions } from '../../kit/sandbox-app.ts';
import { ACCESS_TOKEN_HEADER, SHOPIFY_API_VERSION, signShopifyWebhook, WEBHOOK_HEADERS } from '../shopify-wire.ts';
import { adminSchema } from './admin-schema.ts';
import { cancelOrder, createRefund, createRootValue } from './admin-resolvers.ts';
import { actualCost, LeakyBucket, requestedCost } from './query-cost.ts';
import { levelKey, orderTotals, plainJson, restOrder, restRefund, serialiseShopifyJson, ShopState, type SAddress, type SandboxProductSeed, type SOrder } from './shop-state.ts';

/**
 * A Shopify store emulator: the GraphQL Admin API operations Syncline uses, executed by
 * graphql-js over a schema subset with Shopify's names (admin-schema.ts), with Shopify's
 * cost-based throttling (a leaky bucket of points per shop, THROTTLED answers with
 * extensions.cost), and webhooks signed like Shopify's (X-Shopify-Hmac-Sha256 and the other
 * X-Shopify-* headers) sent to Syncline. The admin API under /_sandbox/ drives it in tests.
 */

export interface ShopifySandboxOptions extends SandboxListenOptions {
  /** Where webhooks are POSTed (default: none until set through PUT /_sandbox/config). */
  webhookUrl?: string;
  /** The app's client secret that signs webhooks. */
  webhookSecret: string;
  /** (default: "syncline-sandbox.myshopify.com") */
  shopDomain?: string;
  /** The Admin API access token the sandbox accepts (default: "shpat_sandbox"). */
  accessToken?: string;
  products?: SandboxProductSeed[];
  /** Location names (default: ["Main warehouse"]); products are stocked at the first unless they say otherwise. */
  locations?: string[];
  /** Cost bucket (default: 1000 points restoring 50 per second, Shopify's standard figures). */
  bucket?: { maximumAvailable?: number; restoreRate?: number };
}

export interface RunningShopifySandbox extends RunningSandbox {
  state: ShopState;
  shopDomain: string;
  accessToken: string;
}

interface Delivery {
  id: string;
  eventId: string;
  topic: string;
  triggeredAt: string;
  url: string;
  body: string;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed' | 'dropped' | 'no_url';
  lastResponseStatus: number | null;
  lastError: string | null;
}

const Address = z.strictObject({
  firstName: z.string().max(100).optional(),
  lastName: z.string().max(100).optional(),
  company: z.string().max(100).optional(),
  address1: z.string().min(1).max(200),
  address2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  province: z.string().max(100).optional(),
  provinceCode: z.string().max(10).optional(),
  zip: z.string().min(1).max(20),
  country: z.string().max(100).optional(),
  countryCode: z.string().regex(/^[A-Z]{2}$/),
  phone: z.string().max(32).optional(),
});
const Money = z.string().regex(/^\d{1,12}(\.\d{1,3})?$/);
const CreateOrder = z.strictObject({
  email: z.email(),
  firstName: z.string().min(1).max(100).default('Ada'),
  lastName: z.string().min(1).max(100).default('Lovelace'),
  phone: z.string().max(32).optional(),
  currency: z.enum(['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'JPY']).default('USD'),
  shippingAddress: Address,
  billingAddress: Address.optional(),
  lines: z.array(z.strictObject({ sku: z.string().min(1), quantity: z.number().int().positive(), price: Money.optional() })).min(1).max(100),
  shippingPrice: Money.default('0.00'),
  tax: Money.default('0.00'),
  discount: Money.default('0.00'),
  taxesIncluded: z.boolean().default(false),
  financialStatus: z.enum(['pending', 'authorized', 'paid']).default('paid'),
  gateway: z.string().min(1).max(64).default('shopify_payments'),
  note: z.string().max(2000).optional(),
  /** Location whose fulfilment order gets the lines (default: the first location stocking the first line). */
  location: z.string().optional(),
});
const Config = z.strictObject({
  webhookUrl: z.url().nullable().optional(),
  webhookSecret: z.string().min(8).optional(),
  accessToken: z.string().min(1).optional(),
  webhookMaxAttempts: z.number().int().min(1).max(20).optional(),
  webhookRetryDelayMs: z.number().int().min(0).max(60_000).optional(),
  bucket: z.strictObject({ maximumAvailable: z.number().int().min(10).max(100_000), restoreRate: z.number().min(1).max(10_000) }).optional(),
});

/** The keys of the @idempotent directives on an operation's top-level fields, by response key. */
function idempotencyKeys(operation: OperationDefinitionNode, variables: Record<string, unknown>): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    const directive = selection.directives?.find((d) => d.name.value === 'idempotent');
    const arg = directive?.arguments?.find((a) => a.name.value === 'key');
    if (!arg) continue;
    const value = arg.value.kind === Kind.VARIABLE ? variables[arg.value.name.value] : arg.value.kind === Kind.STRING ? arg.value.value : undefined;
    if (typeof value === 'string') keys[selection.alias?.value ?? selection.name.value] = value;
  }
  return keys;
}

/** The body Shopify answers a bad or missing access token with (401). */
export const INVALID_TOKEN_BODY = { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' };

/** Starts the Shopify sandbox. */
export async function startShopifySandbox(options: ShopifySandboxOptions): Promise<RunningShopifySandbox> {
  const shopDomain = options.shopDomain ?? 'syncline-sandbox.myshopify.com';
  const config = {
    webhookUrl: options.webhookUrl ?? null,
    webhookSecret: options.webhookSecret,
    accessToken: options.accessToken ?? 'shpat_sandbox',
    webhookMaxAttempts: 5,
    webhookRetryDelayMs: 200,
    apiVersion: SHOPIFY_API_VERSION,
  };
  const state = new ShopState(options.locations ?? ['Main warehouse'], options.products ?? []);
  const bucket = new LeakyBucket(options.bucket?.maximumAvailable ?? 1000, options.bucket?.restoreRate ?? 50);
  const deliveries: Delivery[] = [];
  const counters = { requests: 0, throttled: 0, unauthorized: 0 };
  let dropNext = 0;
  // Only deliveries of this topic are dropped, when set (a test's own webhook, not one of the traffic around it).
  let dropTopic: string | undefined;
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;

  // Shopify's error bodies are {"errors": ...}: injected faults answer in that shape too.
  const { app, faults } = createSandboxApp('shopify', {
    log: options.log,
    render: (_kind, _status, message) => ({ contentType: 'application/json; charset=utf-8', body: JSON.stringify({ errors: message }) }),
  });
  app.addHook('onClose', async () => {
    closing = true;
    for (const timer of timers) clearTimeout(timer);
  });

  const attempt = async (delivery: Delivery) => {
    if (closing) return;
    delivery.attempts += 1;
    try {
      const response = await fetch(delivery.url, { method: 'POST', headers: webhookHeaders(delivery), body: delivery.body, signal: AbortSignal.timeout(10_000) });
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
    if (delivery.attempts >= config.webhookMaxAttempts) {
      delivery.status = 'failed';
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      void attempt(delivery);
    }, config.webhookRetryDelayMs * 2 ** (delivery.attempts - 1));
    timers.add(timer);
  };

  const webhookHeaders = (delivery: Delivery): Record<string, string> => ({
    'content-type': 'application/json',
    'user-agent': 'Shopify-Captain-Hook',
    [WEBHOOK_HEADERS.topic]: delivery.topic,
    [WEBHOOK_HEADERS.hmac]: signShopifyWebhook(config.webhookSecret, delivery.body),
    [WEBHOOK_HEADERS.shopDomain]: shopDomain,
    [WEBHOOK_HEADERS.apiVersion]: config.apiVersion,
    [WEBHOOK_HEADERS.webhookId]: delivery.id,
    [WEBHOOK_HEADERS.eventId]: delivery.eventId,
    [WEBHOOK_HEADERS.triggeredAt]: delivery.triggeredAt,
  });

  /** Records and sends one webhook (unless dropped); retries keep its id and trigger time, as Shopify's do. */
  const publish = (topic: string, payload: unknown): Delivery => {
    const delivery: Delivery = {
      id: randomUUID(),
      eventId: randomUUID(),
      topic,
      triggeredAt: new Date().toISOString(),
      url: config.webhookUrl ?? '',
      body: serialiseShopifyJson(payload),
      attempts: 0,
      status: 'pending',
      lastResponseStatus: null,
      lastError: null,
    };
    deliveries.push(delivery);
    if (dropNext > 0 && (dropTopic === undefined || dropTopic === topic)) {
      dropNext -= 1;
      delivery.status = 'dropped';
    } else if (!config.webhookUrl) {
      delivery.status = 'no_url';
    } else {
      void attempt(delivery);
    }
    return delivery;
  };

  const rootValue = createRootValue(
    state,
    { orderChanged: (order, topic) => publish(topic, restOrder(order)), refundCreated: (order, refund) => publish('refunds/create', restRefund(order, refund)) },
    { name: 'Syncline sandbox', domain: shopDomain, currency: 'USD' },
  );
  const schema = adminSchema();

  app.post<{ Params: { version: string } }>('/admin/api/:version/graphql.json', async (request, reply) => {
    counters.requests += 1;
    if (request.headers[ACCESS_TOKEN_HEADER] !== config.accessToken) {
      counters.unauthorized += 1;
      return reply.code(401).header('content-type', 'application/json; charset=utf-8').send(INVALID_TOKEN_BODY);
    }
    if (!/^\d{4}-(01|04|07|10)$|^unstable$/.test(request.params.version)) return reply.code(404).send({ errors: 'Not Found' });
    reply.header('x-shopify-api-version', request.params.version);
    const body = request.body as { query?: unknown; variables?: unknown; operationName?: unknown } | undefined;
    if (!body || typeof body.query !== 'string') return reply.code(400).send({ errors: { query: 'Required parameter missing or invalid' } });
    let document: DocumentNode;
    try {
      document = parse(body.query);
    } catch (error) {
      return { errors: [{ message: (error as GraphQLError).message, locations: (error as GraphQLError).locations, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] };
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) return { errors: invalid.map((e) => ({ message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) };
    const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
    if (!operation) return { errors: [{ message: 'No operation to execute', extensions: { code: 'BAD_REQUEST' } }] };
    const fragments = Object.fromEntries(
      document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
    );
    const variables = body.variables !== null && typeof body.variables === 'object' ? (body.variables as Record<string, unknown>) : {};
    const requested = requestedCost(schema, operation, fragments, variables);
    if (requested > bucket.maximumAvailable) {
      return {
        errors: [{ message: `Query cost is ${requested}, which exceeds the single query max cost limit (${bucket.maximumAvailable}).`, extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: bucket.maximumAvailable } }],
      };
    }
    if (!bucket.tryTake(requested)) {
      counters.throttled += 1;
      return {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: bucket.status() } },
      };
    }
    const result = await execute({ schema, document, rootValue, contextValue: { idempotencyKeys: idempotencyKeys(operation, variables) }, variableValues: variables, ...(operationName ? { operationName } : {}) });
    const actual = actualCost(operation, result.data);
    bucket.giveBack(requested - actual);
    return {
      ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message, path: e.path, extensions: { code: (e.extensions?.code as string | undefined) ?? 'INTERNAL_SERVER_ERROR' } })) } : {}),
      data: result.data ?? null,
      extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: bucket.status() } },
    };
  });

  // ---- admin API ------------------------------------------------------------------------------

  const publicConfig = () => ({ ...config, webhookSecret: '[set]', accessToken: '[set]', bucket: { maximumAvailable: bucket.maximumAvailable, restoreRate: bucket.restoreRate } });
  app.get('/_sandbox/config', async () => publicConfig());
  app.put('/_sandbox/config', async (request) => {
    const input = Config.parse(request.body ?? {});
    if (input.webhookUrl !== undefined) config.webhookUrl = input.webhookUrl;
    if (input.webhookSecret) config.webhookSecret = input.webhookSecret;
    if (input.accessToken) config.accessToken = input.accessToken;
    if (input.webhookMaxAttempts) config.webhookMaxAttempts = input.webhookMaxAttempts;
    if (input.webhookRetryDelayMs !== undefined) config.webhookRetryDelayMs = input.webhookRetryDelayMs;
    if (input.bucket) bucket.configure(input.bucket.maximumAvailable, input.bucket.restoreRate);
    return publicConfig();
  });
  app.get('/_sandbox/throttle', async () => ({ ...bucket.status(), ...counters }));

  const findOrder = (id: string) => (/^\d{1,20}$/.test(id) ? state.orders.get(BigInt(id)) : undefined);
  const view = (order: SOrder) => plainJson(restOrder(order));

  app.post('/_sandbox/orders', async (request, reply) => {
    const input = CreateOrder.parse(request.body);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const lines = input.lines.map((l) => {
      const variant = state.variantBySku(l.sku);
      if (!variant) throw Object.assign(new Error(`no variant with SKU ${l.sku}`), { statusCode: 422 });
      return { id: state.nextId(), variantId: variant.id, productId: variant.productId, sku: variant.sku, name: variant.productTitle, quantity: l.quantity, price: l.price ?? variant.price, variant };
    });
    const firstItem = lines[0]!.variant.inventoryItemId;
    const location =
      (input.location ? state.locationByName(input.location) : undefined) ??
      [...state.locations.values()].find((l) => state.levels.has(levelKey(firstItem, l.id))) ??
      [...state.locations.values()][0]!;
    const scale = minorUnits(input.currency);
    const amount = (v: string) => fromScaled(toScaled(v, scale), scale);
    const number = state.nextOrderNumber();
    const address: SAddress = { ...input.shippingAddress, firstName: input.shippingAddress.firstName ?? input.firstName, lastName: input.shippingAddress.lastName ?? input.lastName };
    const order: SOrder = {
      id: state.nextId(),
      number,
      name: `#${number}`,
      email: input.email,
      phone: input.phone ?? null,
      note: input.note ?? null,
      currency: input.currency,
      createdAt: now,
      updatedAt: now,
      cancelledAt: null,
      cancelReason: null,
      financialStatus: input.financialStatus,
      gateway: input.gateway,
      customer: { id: state.nextId(), email: input.email, firstName: input.firstName, lastName: input.lastName, phone: input.phone ?? null },
      shippingAddress: address,
      billingAddress: input.billingAddress ?? address,
      lineItems: lines.map(({ variant: _v, ...l }) => ({ ...l, price: amount(l.price) })),
      shippingPrice: amount(input.shippingPrice),
      tax: amount(input.tax),
      discount: amount(input.discount),
      taxesIncluded: input.taxesIncluded,
      fulfillmentOrders: [],
      fulfillments: [],
      transactions: [],
      refunds: [],
    };
    // The payment Shopify took: a sale when paid, an authorisation when only authorised.
    if (order.financialStatus !== 'pending') {
      order.transactions.push({
        id: state.nextId(),
        kind: order.financialStatus === 'paid' ? 'SALE' : 'AUTHORIZATION',
        status: 'SUCCESS',
        gateway: order.gateway,
        amount: orderTotals(order).total,
        parentId: null,
        createdAt: now,
      });
    }
    order.fulfillmentOrders.push({
      id: state.nextId(),
      locationId: location.id,
      status: 'OPEN',
      lineItems: order.lineItems.map((l) => ({ id: state.nextId(), lineItemId: l.id, totalQuantity: l.quantity, remainingQuantity: l.quantity })),
    });
    // The order commits stock: Shopify's available quantity drops at the assigned location.
    for (const l of lines) state.adjust(l.variant.inventoryItemId, location.id, -l.quantity);
    state.orders.set(order.id, order);
    const delivery = publish('orders/create', restOrder(order));
    return reply.code(201).send({ order: view(order), webhookId: delivery.id, webhookStatus: delivery.status });
  });

  app.get<{ Params: { id: string } }>('/_sandbox/orders/:id', async (request, reply) => {
    const order = findOrder(request.params.id);
    return order ? { order: view(order) } : reply.code(404).send({ errors: 'Not Found' });
  });

  app.get<{ Params: { id: string } }>('/_sandbox/orders/:id/fulfillments', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ errors: 'Not Found' });
    return {
      fulfillments: plainJson(order.fulfillments),
      fulfillmentOrders: plainJson(order.fulfillmentOrders),
    };
  });

  app.post<{ Params: { id: string } }>('/_sandbox/orders/:id/cancel', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ errors: 'Not Found' });
    const input = z.strictObject({ reason: z.enum(['customer', 'declined', 'fraud', 'inventory', 'other', 'staff']).default('customer'), restock: z.boolean().default(true) }).parse(request.body ?? {});
    if (order.cancelledAt) return reply.code(422).send({ errors: 'Order has already been cancelled' });
    if (order.fulfillments.some((f) => f.status === 'SUCCESS')) return reply.code(422).send({ errors: 'Cannot cancel an order with fulfilled items' });
    cancelOrder(state, order, input.reason, input.restock, true);
    order.updatedAt = new Date(Math.max(Date.now(), Date.parse(order.updatedAt) + 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const delivery = publish('orders/cancelled', restOrder(order));
    return { order: view(order), webhookId: delivery.id, webhookStatus: delivery.status };
  });

  // A merchant refunds in the Shopify admin: the refund is made and refunds/create is sent.
  app.post<{ Params: { id: string } }>('/_sandbox/orders/:id/refunds', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ errors: 'Not Found' });
    const input = z
      .strictObject({
        note: z.string().max(1000).optional(),
        lines: z.array(z.strictObject({ lineItemId: z.string().regex(/^\d{1,20}$/), quantity: z.number().int().positive(), restockType: z.enum(['return', 'cancel', 'no_restock']).default('return') })).max(100).default([]),
        /** The amount refunded to the original payment (default: the refunded lines' subtotal). */
        amount: Money.optional(),
      })
      .parse(request.body ?? {});
    const scale = minorUnits(order.currency);
    const lines = input.lines.map((l) => ({ lineItemId: BigInt(l.lineItemId), quantity: l.quantity, restockType: l.restockType.toUpperCase() as 'RETURN' | 'CANCEL' | 'NO_RESTOCK', locationId: null }));
    const amount =
      input.amount ??
      fromScaled(lines.reduce((sum, l) => sum + toScaled(order.lineItems.find((x) => x.id === l.lineItemId)?.price ?? '0', scale) * BigInt(l.quantity), 0n), scale);
    const parent = order.transactions.find((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS');
    const result = createRefund(state, order, {
      note: input.note ?? null,
      lines,
      transactions: parent && toScaled(amount, scale) > 0n ? [{ amount, gateway: parent.gateway, kind: 'REFUND', parentId: parent.id }] : [],
    });
    if ('error' in result) return reply.code(422).send({ errors: result.error });
    order.updatedAt = new Date(Math.max(Date.now(), Date.parse(order.updatedAt) + 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const delivery = publish('refunds/create', restRefund(order, result.refund));
    return reply.code(201).send({ refund: plainJson(restRefund(order, result.refund)), webhookId: delivery.id, webhookStatus: delivery.status });
  });

  app.get<{ Params: { id: string } }>('/_sandbox/orders/:id/refunds', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ errors: 'Not Found' });
    return { refunds: plainJson(order.refunds.map((r) => restRefund(order, r))), financialStatus: order.financialStatus };
  });

  app.post<{ Params: { id: string } }>('/_sandbox/orders/:id/touch', async (request, reply) => {
    const order = findOrder(request.params.id);
    if (!order) return reply.code(404).send({ errors: 'Not Found' });
    // A merchant's edit in the admin (note, address, quantities) or a payment coming in: Shopify sends orders/updated.
    const input = z
      .strictObject({
        note: z.string().max(2000).optional(),
        shippingAddress: Address.partial().optional(),
        lines: z.array(z.strictObject({ sku: z.string().min(1), quantity: z.number().int().min(0) })).max(100).optional(),
        financialStatus: z.enum(['pending', 'authorized', 'paid']).optional(),
      })
      .parse(request.body ?? {});
    if (input.note !== undefined) order.note = input.note;
    if (input.shippingAddress) order.shippingAddress = { ...order.shippingAddress, ...input.shippingAddress };
    if (input.financialStatus) order.financialStatus = input.financialStatus;
    for (const edit of input.lines ?? []) {
      const line = order.lineItems.find((l) => l.sku === edit.sku);
      if (line) {
        line.quantity = edit.quantity;
        continue;
      }
      const variant = state.variantBySku(edit.sku);
      if (!variant) return reply.code(422).send({ errors: `no variant with SKU ${edit.sku}` });
      order.lineItems.push({ id: state.nextId(), variantId: variant.id, productId: variant.productId, sku: variant.sku, name: variant.productTitle, quantity: edit.quantity, price: variant.price });
    }
    order.lineItems = order.lineItems.filter((l) => l.quantity > 0);
    order.updatedAt = new Date(Math.max(Date.now(), Date.parse(order.updatedAt) + 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const delivery = publish('orders/updated', restOrder(order));
    return { order: view(order), webhookId: delivery.id, webhookStatus: delivery.status };
  });

  app.get('/_sandbox/inventory', async () => ({
    levels: [...state.variants.values()].flatMap((v) =>
      [...state.locations.values()]
        .filter((l) => state.levels.has(levelKey(v.inventoryItemId, l.id)))
        .map((l) => ({ sku: v.sku, inventoryItemId: String(v.inventoryItemId), locationId: String(l.id), location: l.name, available: state.levels.get(levelKey(v.inventoryItemId, l.id)) })),
    ),
  }));

  // A merchant (or a sale elsewhere) changes a quantity in Shopify: the next compare-and-set from Syncline is stale.
  app.put('/_sandbox/inventory', async (request, reply) => {
    const input = z.strictObject({ sku: z.string().min(1), location: z.string().optional(), available: z.number().int().min(0) }).parse(request.body);
    const variant = state.variantBySku(input.sku);
    const location = input.location ? state.locationByName(input.location) : [...state.locations.values()][0];
    if (!variant || !location) return reply.code(404).send({ errors: 'Not Found' });
    state.levels.set(levelKey(variant.inventoryItemId, location.id), input.available);
    return { sku: variant.sku, location: location.name, available: input.available };
  });

  app.get('/_sandbox/webhooks', async () => ({ data: deliveries.map(({ body: _body, ...rest }) => rest) }));
  app.get<{ Params: { id: string } }>('/_sandbox/webhooks/:id', async (request, reply) => {
    const delivery = deliveries.find((d) => d.id === request.params.id);
    return delivery ? { ...delivery, headers: webhookHeaders(delivery) } : reply.code(404).send({ errors: 'Not Found' });
  });
  // Shopify delivers at least once: the same delivery (same webhook id) again.
  app.post<{ Params: { id: string } }>('/_sandbox/webhooks/:id/resend', async (request, reply) => {
    const delivery = deliveries.find((d) => d.id === request.params.id);
    if (!delivery) return reply.code(404).send({ errors: 'Not Found' });
    if (!config.webhookUrl) return reply.code(409).send({ errors: 'no webhook URL is configured' });
    delivery.url = config.webhookUrl;
    delivery.status = 'pending';
    await attempt(delivery);
    const { body: _body, ...rest } = delivery;
    return rest;
  });
  // Lost webhooks: the next N (of one topic, when given) are recorded as dropped and never sent
  // (the reconciliation poll must find their orders).
  app.post('/_sandbox/webhooks/drop', async (request) => {
    const drop = z.strictObject({ count: z.number().int().min(0).max(1000), topic: z.string().min(1).optional() }).parse(request.body ?? {});
    dropNext = drop.count;
    dropTopic = drop.topic;
    return { dropNext, topic: dropTopic ?? null };
  });

  const running = await listenSandbox('shopify', app, faults, options);
  return { ...running, state, shopDomain, accessToken: config.accessToken };
}
