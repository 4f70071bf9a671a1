import { GraphQLError } from 'graphql';
import { gidTail } from '../shopify-wire.ts';
import { fromScaled, minorUnits, toScaled } from '../../../model/money.ts';
import { levelKey, orderTotals, type SAddress, type SFulfillmentOrder, type ShopState, type SLineItem, type SOrder, type SRefund, type STransaction, type SVariant } from './shop-state.ts';

/**
 * The GraphQL Admin operations the sandbox executes: a root value whose objects resolve their
 * own fields (graphql-js calls a function-valued field with its arguments). Business rules follow
 * Shopify's documentation: compare-and-set on inventorySetQuantities, fulfilments only from open
 * fulfilment orders at one location, no cancel once fulfilled.
 */

export interface ResolverHooks {
  /** Called after a change Shopify would announce with a webhook. */
  orderChanged(order: SOrder, topic: 'orders/updated' | 'orders/cancelled'): void;
  /** Called after a refund is made (Shopify sends refunds/create, whoever made it). */
  refundCreated(order: SOrder, refund: SRefund): void;
}

/** What the GraphQL execution carries per request: the @idempotent keys by top-level field. */
export interface RequestContext {
  idempotencyKeys: Record<string, string>;
}

interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** A connection over items, cursors being base64 of the position (opaque to clients, as Shopify's are). */
function connection<T>(items: T[], args: PageArgs) {
  const start = args.after ? Number(Buffer.from(args.after, 'base64url').toString('utf8')) + 1 : 0;
  if (!Number.isInteger(start) || start < 0) throw new GraphQLError('Invalid cursor', { extensions: { code: 'BAD_REQUEST' } });
  const first = args.first ?? 50;
  if (first < 0 || first > 250) throw new GraphQLError('The first argument must be between 0 and 250', { extensions: { code: 'BAD_REQUEST' } });
  const slice = items.slice(start, start + first);
  const cursor = (i: number) => Buffer.from(String(start + i), 'utf8').toString('base64url');
  return {
    nodes: slice,
    edges: slice.map((node, i) => ({ cursor: cursor(i), node })),
    pageInfo: {
      hasNextPage: start + first < items.length,
      hasPreviousPage: start > 0,
      startCursor: slice.length ? cursor(0) : null,
      endCursor: slice.length ? cursor(slice.length - 1) : null,
    },
  };
}

const moneyBag = (amount: string, currencyCode: string) => ({ shopMoney: { amount, currencyCode }, presentmentMoney: { amount, currencyCode } });

function idOf(value: unknown, type: string): bigint | undefined {
  const tail = gidTail(value, type);
  return tail === undefined ? undefined : BigInt(tail);
}

/**
 * A small part of Shopify's search syntax (shopify.dev/docs/api/usage/search-syntax): terms
 * `field:value` or `field:<op>value` (op one of > >= < <=, value bare or quoted) joined by OR;
 * terms side by side are ANDed.
 */
export function parseSearch(query: string | null | undefined): { field: string; op: string; value: string }[][] {
  if (!query || query.trim() === '') return [];
  const term = /([a-z_]+):(>=|<=|>|<)?(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+))/g;
  return query.split(/\s+OR\s+/).map((group) => {
    const terms: { field: string; op: string; value: string }[] = [];
    for (const m of group.matchAll(term)) {
      terms.push({ field: m[1]!, op: m[2] ?? ':', value: (m[3] ?? m[4] ?? m[5] ?? '').replace(/\\(.)/g, '$1') });
    }
    return terms;
  });
}

function matches(groups: { field: string; op: string; value: string }[][], get: (field: string) => string | undefined): boolean {
  if (groups.length === 0) return true;
  return groups.some((terms) =>
    terms.every((t) => {
      const actual = get(t.field);
      if (actual === undefined) return false;
      if (t.field.endsWith('_at')) {
        const a = Date.parse(actual);
        const b = Date.parse(t.value);
        if (t.op === '>') return a > b;
        if (t.op === '>=') return a >= b;
        if (t.op === '<') return a < b;
        if (t.op === '<=') return a <= b;
        return a === b;
      }
      return actual.toLowerCase() === t.value.toLowerCase();
    }),
  );
}

/** The root value of the sandbox's schema over one shop. */
export function createRootValue(state: ShopState, hooks: ResolverHooks, shop: { name: string; domain: string; currency: string }) {
  const location = (id: bigint) => {
    const l = state.locations.get(id)!;
    return { id: `gid://shopify/Location/${l.id}`, name: l.name, isActive: l.isActive };
  };
  const inventoryItem = (v: SVariant) => ({
    id: `gid://shopify/InventoryItem/${v.inventoryItemId}`,
    sku: v.sku,
    tracked: true,
    inventoryLevel: ({ locationId }: { locationId: string }) => {
      const lid = idOf(locationId, 'Location');
      if (lid === undefined || !state.locations.has(lid)) return null;
      const available = state.levels.get(levelKey(v.inventoryItemId, lid));
      if (available === undefined) return null;
      return {
        id: `gid://shopify/InventoryLevel/${v.inventoryItemId}?inventory_item_id=${v.inventoryItemId}&location_id=${lid}`,
        location: location(lid),
        item: inventoryItem(v),
        quantities: ({ names }: { names: string[] }) =>
          names.filter((n) => n === 'available' || n === 'on_hand').map((name) => ({ name, quantity: state.levels.get(levelKey(v.inventoryItemId, lid)) ?? 0 })),
      };
    },
  });
  const variant = (v: SVariant) => ({
    id: `gid://shopify/ProductVariant/${v.id}`,
    sku: v.sku,
    title: v.title,
    price: v.price,
    product: { id: `gid://shopify/Product/${v.productId}`, title: v.productTitle },
    inventoryItem: inventoryItem(v),
  });
  const address = (a: SAddress) => ({
    firstName: a.firstName ?? null,
    lastName: a.lastName ?? null,
    name: [a.firstName, a.lastName].filter(Boolean).join(' '),
    company: a.company ?? null,
    address1: a.address1,
    address2: a.address2 ?? null,
    city: a.city,
    province: a.province ?? null,
    provinceCode: a.provinceCode ?? null,
    zip: a.zip,
    countryCodeV2: a.countryCode,
    phone: a.phone ?? null,
  });
  const lineItem = (o: SOrder, l: SLineItem) => ({
    id: `gid://shopify/LineItem/${l.id}`,
    sku: l.sku,
    name: l.name,
    quantity: l.quantity,
    originalUnitPriceSet: moneyBag(l.price, o.currency),
    variant: l.variantId !== null && state.variants.has(l.variantId) ? variant(state.variants.get(l.variantId)!) : null,
  });
  const fulfillmentOrder = (o: SOrder, fo: SFulfillmentOrder) => ({
    id: `gid://shopify/FulfillmentOrder/${fo.id}`,
    status: fo.status,
    assignedLocation: { name: state.locations.get(fo.locationId)?.name ?? null, location: location(fo.locationId) },
    lineItems: (args: PageArgs) =>
      connection(
        fo.lineItems.map((li) => ({
          id: `gid://shopify/FulfillmentOrderLineItem/${li.id}`,
          totalQuantity: li.totalQuantity,
          remainingQuantity: li.remainingQuantity,
          lineItem: lineItem(o, o.lineItems.find((l) => l.id === li.lineItemId)!),
        })),
        args,
      ),
  });
  const fulfillment = (f: SOrder['fulfillments'][number]) => ({
    id: `gid://shopify/Fulfillment/${f.id}`,
    status: f.status,
    createdAt: f.createdAt,
    trackingInfo: ({ first }: { first?: number | null }) => f.tracking.slice(0, first ?? f.tracking.length),
  });
  const order = (o: SOrder) => {
    const { subtotal, total } = orderTotals(o);
    return {
      id: `gid://shopify/Order/${o.id}`,
      name: o.name,
      createdAt: o.createdAt,
      updatedAt: o.updatedAt,
      processedAt: o.createdAt,
      cancelledAt: o.cancelledAt,
      cancelReason: o.cancelReason ? o.cancelReason.toUpperCase() : null,
      email: o.email,
      phone: o.phone,
      note: o.note,
      currencyCode: o.currency,
      taxesIncluded: o.taxesIncluded,
      displayFinancialStatus: o.financialStatus.toUpperCase(),
      paymentGatewayNames: [o.gateway],
      customer: { id: `gid://shopify/Customer/${o.customer.id}`, email: o.customer.email, firstName: o.customer.firstName, lastName: o.customer.lastName, phone: o.customer.phone },
      shippingAddress: address(o.shippingAddress),
      billingAddress: address(o.billingAddress),
      totalPriceSet: moneyBag(total, o.currency),
      subtotalPriceSet: moneyBag(subtotal, o.currency),
      totalTaxSet: moneyBag(o.tax, o.currency),
      totalDiscountsSet: moneyBag(o.discount, o.currency),
      totalShippingPriceSet: moneyBag(o.shippingPrice, o.currency),
      lineItems: (args: PageArgs) => connection(o.lineItems.map((l) => lineItem(o, l)), args),
      fulfillmentOrders: (args: PageArgs) => connection(o.fulfillmentOrders.map((fo) => fulfillmentOrder(o, fo)), args),
      fulfillments: ({ first }: { first?: number | null }) => o.fulfillments.slice(0, first ?? o.fulfillments.length).map(fulfillment),
      transactions: ({ first }: { first?: number | null }) => o.transactions.slice(0, first ?? o.transactions.length).map((t) => transaction(o, t)),
      refunds: ({ first }: { first?: number | null }) => o.refunds.slice(0, first ?? o.refunds.length).map((r) => refund(o, r)),
    };
  };
  const transaction = (o: SOrder, t: STransaction) => ({
    id: `gid://shopify/OrderTransaction/${t.id}`,
    kind: t.kind,
    status: t.status,
    gateway: t.gateway,
    createdAt: t.createdAt,
    amountSet: moneyBag(t.amount, o.currency),
    parentTransaction: t.parentId === null ? null : { id: `gid://shopify/OrderTransaction/${t.parentId}` },
  });
  const refund = (o: SOrder, r: SRefund) => {
    const made = o.transactions.filter((t) => r.transactionIds.includes(t.id));
    const scale = minorUnits(o.currency);
    return {
      id: `gid://shopify/Refund/${r.id}`,
      note: r.note,
      createdAt: r.createdAt,
      totalRefundedSet: moneyBag(fromScaled(made.reduce((n, t) => n + toScaled(t.amount, scale), 0n), scale), o.currency),
      refundLineItems: (args: PageArgs) =>
        connection(
          r.lines.map((l) => ({
            id: `gid://shopify/RefundLineItem/${l.id}`,
            quantity: l.quantity,
            restockType: l.restockType,
            restocked: l.restockType !== 'NO_RESTOCK',
            location: l.locationId === null ? null : location(l.locationId),
            subtotalSet: moneyBag(l.subtotal, o.currency),
            lineItem: lineItem(o, o.lineItems.find((x) => x.id === l.lineItemId)!),
          })),
          args,
        ),
      transactions: (args: PageArgs) => connection(made.map((t) => transaction(o, t)), args),
    };
  };
  /** Answers of refundCreate by idempotency key: a retry gets the first answer, not a second refund. */
  const refundsByKey = new Map<string, { orderId: bigint; refundId: bigint }>();
  const touch = (o: SOrder) => {
    // Shopify's updated_at has second precision; the next change must sort after the last.
    const now = new Date(Math.max(Date.now(), Date.parse(o.updatedAt) + 1000));
    o.updatedAt = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  };

  return {
    shop: () => ({ name: shop.name, myshopifyDomain: shop.domain, currencyCode: shop.currency }),
    productVariants: (args: PageArgs & { query?: string | null }) => {
      const search = parseSearch(args.query);
      const all = [...state.variants.values()].filter((v) => matches(search, (field) => (field === 'sku' ? v.sku : undefined)));
      return connection(all.map(variant), args);
    },
    locations: (args: PageArgs & { includeInactive?: boolean | null }) =>
      connection(
        [...state.locations.values()].filter((l) => l.isActive || args.includeInactive).map((l) => location(l.id)),
        args,
      ),
    inventoryItem: ({ id }: { id: string }) => {
      const itemId = idOf(id, 'InventoryItem');
      const v = itemId === undefined ? undefined : state.variantByInventoryItem(itemId);
      return v ? inventoryItem(v) : null;
    },
    order: ({ id }: { id: string }) => {
      const oid = idOf(id, 'Order');
      const o = oid === undefined ? undefined : state.orders.get(oid);
      return o ? order(o) : null;
    },
    orders: (args: PageArgs & { query?: string | null; sortKey?: string | null; reverse?: boolean | null }) => {
      const search = parseSearch(args.query);
      const key = args.sortKey ?? 'ID';
      const sorted = [...state.orders.values()]
        .filter((o) => matches(search, (field) => (field === 'updated_at' ? o.updatedAt : field === 'created_at' ? o.createdAt : field === 'name' ? o.name : undefined)))
        .sort((a, b) => {
          const by = key === 'UPDATED_AT' ? Date.parse(a.updatedAt) - Date.parse(b.updatedAt) : key === 'CREATED_AT' || key === 'PROCESSED_AT' ? Date.parse(a.createdAt) - Date.parse(b.createdAt) : 0;
          return by !== 0 ? by : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
        });
      if (args.reverse) sorted.reverse();
      return connection(sorted.map(order), args);
    },

    inventorySetQuantities: ({ input }: { input: { name: string; reason: string; referenceDocumentUri?: string | null; quantities: { inventoryItemId: string; locationId: string; quantity: number; changeFromQuantity?: number | null }[] } }) => {
      const userErrors: { code: string; field: string[]; message: string }[] = [];
      if (input.name !== 'available' && input.name !== 'on_hand') userErrors.push({ code: 'INVALID_NAME', field: ['input', 'name'], message: "The quantity name must be either 'available' or 'on_hand'." });
      const seen = new Set<string>();
      const resolved = input.quantities.map((q, i) => {
        const field = (name: string) => ['input', 'quantities', String(i), name];
        const itemId = idOf(q.inventoryItemId, 'InventoryItem');
        const locationId = idOf(q.locationId, 'Location');
        if (itemId === undefined || !state.variantByInventoryItem(itemId)) {
          userErrors.push({ code: 'INVALID_INVENTORY_ITEM', field: field('inventoryItemId'), message: 'The specified inventory item could not be found.' });
          return undefined;
        }
        if (locationId === undefined || !state.locations.has(locationId)) {
          userErrors.push({ code: 'INVALID_LOCATION', field: field('locationId'), message: 'The specified location could not be found.' });
          return undefined;
        }
        const key = levelKey(itemId, locationId);
        if (seen.has(key)) userErrors.push({ code: 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR', field: field('inventoryItemId'), message: 'The combination of inventoryItemId and locationId must be unique.' });
        seen.add(key);
        const current = state.levels.get(key);
        if (current === undefined) {
          userErrors.push({ code: 'ITEM_NOT_STOCKED_AT_LOCATION', field: field('locationId'), message: 'The specified inventory item is not stocked at the location.' });
          return undefined;
        }
        if (q.quantity < 0) userErrors.push({ code: 'INVALID_QUANTITY_NEGATIVE', field: field('quantity'), message: "The quantity can't be negative." });
        if (q.quantity > 1_000_000_000) userErrors.push({ code: 'INVALID_QUANTITY_TOO_HIGH', field: field('quantity'), message: "The total quantity can't be higher than 1,000,000,000." });
        // Compare-and-set: changeFromQuantity must be given (null opts out) and match what is stored.
        if (q.changeFromQuantity !== null && q.changeFromQuantity !== undefined && q.changeFromQuantity !== current) {
          userErrors.push({ code: 'CHANGE_FROM_QUANTITY_STALE', field: field('changeFromQuantity'), message: 'The changeFromQuantity value does not match persisted value.' });
        }
        return { key, itemId, locationId, quantity: q.quantity, delta: q.quantity - current };
      });
      // All or nothing: a stale or invalid quantity leaves every quantity as it was.
      if (userErrors.length > 0) return { inventoryAdjustmentGroup: null, userErrors };
      const changes = resolved.map((r) => {
        state.levels.set(r!.key, r!.quantity);
        return { name: input.name, delta: r!.delta, quantityAfterChange: r!.quantity, item: null, location: location(r!.locationId) };
      });
      return {
        inventoryAdjustmentGroup: {
          id: `gid://shopify/InventoryAdjustmentGroup/${state.nextId()}`,
          reason: input.reason,
          referenceDocumentUri: input.referenceDocumentUri ?? null,
          createdAt: new Date().toISOString(),
          changes: () => changes,
        },
        userErrors: [],
      };
    },

    fulfillmentCreate: ({ fulfillment: input }: { fulfillment: { lineItemsByFulfillmentOrder: { fulfillmentOrderId: string; fulfillmentOrderLineItems?: { id: string; quantity: number }[] | null }[]; trackingInfo?: { company?: string | null; number?: string | null; numbers?: string[] | null; url?: string | null } | null } }) => {
      const fail = (message: string, field: string[] = ['fulfillment']) => ({ fulfillment: null, userErrors: [{ field, message }] });
      let owner: SOrder | undefined;
      let locationId: bigint | undefined;
      const plan: { fo: SFulfillmentOrder; items: { li: SFulfillmentOrder['lineItems'][number]; quantity: number }[] }[] = [];
      for (const [i, entry] of input.lineItemsByFulfillmentOrder.entries()) {
        const foId = idOf(entry.fulfillmentOrderId, 'FulfillmentOrder');
        const found = [...state.orders.values()].flatMap((o) => o.fulfillmentOrders.map((fo) => ({ o, fo }))).find((x) => x.fo.id === foId);
        if (!found) return fail('Fulfillment order does not exist.', ['fulfillment', 'lineItemsByFulfillmentOrder', String(i), 'fulfillmentOrderId']);
        if (owner && owner !== found.o) return fail('Fulfillment orders must belong to the same order.');
        if (locationId !== undefined && locationId !== found.fo.locationId) return fail('Fulfillment orders must be assigned to the same location.');
        if (found.fo.status !== 'OPEN' && found.fo.status !== 'IN_PROGRESS') return fail(`Fulfillment order ${found.fo.id} has an unfulfillable status= ${found.fo.status.toLowerCase()}.`);
        owner = found.o;
        locationId = found.fo.locationId;
        const items = entry.fulfillmentOrderLineItems?.length
          ? entry.fulfillmentOrderLineItems.map((x) => ({ li: found.fo.lineItems.find((li) => li.id === idOf(x.id, 'FulfillmentOrderLineItem')), quantity: x.quantity }))
          : found.fo.lineItems.filter((li) => li.remainingQuantity > 0).map((li) => ({ li, quantity: li.remainingQuantity }));
        for (const item of items) {
          if (!item.li) return fail('Invalid fulfillment order line item id.');
          if (item.quantity <= 0 || item.quantity > item.li.remainingQuantity) return fail(`Invalid fulfillment order line item quantity requested for ${item.li.id}.`);
        }
        plan.push({ fo: found.fo, items: items as { li: SFulfillmentOrder['lineItems'][number]; quantity: number }[] });
      }
      if (!owner || locationId === undefined) return fail('No fulfillment order line items given.');
      if (owner.cancelledAt) return fail('The order has been cancelled.');
      const t = input.trackingInfo;
      const numbers = t?.numbers?.length ? t.numbers : t?.number ? [t.number] : [];
      const record = {
        id: state.nextId(),
        status: 'SUCCESS' as const,
        createdAt: new Date().toISOString(),
        locationId,
        tracking: numbers.length ? numbers.map((n) => ({ company: t?.company ?? null, number: n, url: t?.url ?? null })) : t?.company ? [{ company: t.company, number: null, url: t.url ?? null }] : [],
        lines: [] as { lineItemId: bigint; quantity: number }[],
      };
      for (const { fo, items } of plan) {
        for (const { li, quantity } of items) {
          li.remainingQuantity -= quantity;
          record.lines.push({ lineItemId: li.lineItemId, quantity });
        }
        fo.status = fo.lineItems.every((li) => li.remainingQuantity === 0) ? 'CLOSED' : 'IN_PROGRESS';
      }
      owner.fulfillments.push(record);
      touch(owner);
      hooks.orderChanged(owner, 'orders/updated');
      return { fulfillment: fulfillment(record), userErrors: [] };
    },

    refundCreate: (args: { input: RefundInput }, context: RequestContext) => {
      const key = context?.idempotencyKeys?.refundCreate;
      // Since 2026-04 Shopify refuses refundCreate without the @idempotent directive (at run time, not in the schema).
      if (!key) throw new GraphQLError('The @idempotent directive is required for this mutation.', { extensions: { code: 'BAD_REQUEST' } });
      const seen = refundsByKey.get(key);
      if (seen) {
        const o = state.orders.get(seen.orderId)!;
        return { refund: refund(o, o.refunds.find((r) => r.id === seen.refundId)!), order: order(o), userErrors: [] };
      }
      const fail = (field: string[], message: string) => ({ refund: null, order: null, userErrors: [{ field, message }] });
      const oid = idOf(args.input.orderId, 'Order');
      const o = oid === undefined ? undefined : state.orders.get(oid);
      if (!o) return fail(['orderId'], 'Order does not exist');
      const lines: RefundLinePlan[] = [];
      for (const [i, l] of (args.input.refundLineItems ?? []).entries()) {
        const lineItemId = idOf(l.lineItemId, 'LineItem');
        const locationId = l.locationId ? idOf(l.locationId, 'Location') : null;
        if (lineItemId === undefined) return fail(['refundLineItems', String(i), 'lineItemId'], 'Line item does not exist');
        if (locationId === undefined || (locationId !== null && !state.locations.has(locationId))) return fail(['refundLineItems', String(i), 'locationId'], 'Location does not exist');
        lines.push({ lineItemId, quantity: l.quantity, restockType: (l.restockType ?? 'NO_RESTOCK') as RefundLinePlan['restockType'], locationId });
      }
      const transactions: RefundTransactionPlan[] = [];
      for (const [i, t] of (args.input.transactions ?? []).entries()) {
        const parentId = t.parentId ? idOf(t.parentId, 'OrderTransaction') : undefined;
        if (idOf(t.orderId, 'Order') !== o.id) return fail(['transactions', String(i), 'orderId'], 'Transaction must belong to the refunded order');
        transactions.push({ amount: t.amount, gateway: t.gateway, kind: t.kind, parentId: parentId ?? null });
      }
      const made = createRefund(state, o, { note: args.input.note ?? null, lines, transactions });
      if ('error' in made) return fail(made.field, made.error);
      refundsByKey.set(key, { orderId: o.id, refundId: made.refund.id });
      touch(o);
      hooks.refundCreated(o, made.refund);
      return { refund: refund(o, made.refund), order: order(o), userErrors: [] };
    },

    orderCancel: (args: { orderId: string; reason: string; restock: boolean; refundMethod?: { originalPaymentMethodsRefund?: boolean | null } | null; staffNote?: string | null }) => {
      const oid = idOf(args.orderId, 'Order');
      const o = oid === undefined ? undefined : state.orders.get(oid);
      const error = (code: string, message: string) => ({ job: null, orderCancelUserErrors: [{ code, field: ['orderId'], message }], userErrors: [{ field: ['orderId'], message }] });
      if (!o) return error('NOT_FOUND', 'Order does not exist.');
      if (o.cancelledAt) return error('INVALID', 'Cannot cancel an order that has already been cancelled.');
      if (o.fulfillments.some((f) => f.status === 'SUCCESS')) return error('INVALID', 'Cannot cancel an order with fulfilled items.');
      cancelOrder(state, o, args.reason.toLowerCase(), args.restock, args.refundMethod?.originalPaymentMethodsRefund === true);
      touch(o);
      hooks.orderChanged(o, 'orders/cancelled');
      return { job: { id: `gid://shopify/Job/${crypto.randomUUID()}`, done: true }, orderCancelUserErrors: [], userErrors: [] };
    },
  };
}

/** Cancels an order as Shopify does: fulfilment orders closed, unfulfilled stock restocked when asked, payment voided or refunded. */
export function cancelOrder(state: ShopState, o: SOrder, reason: string, restock: boolean, refund: boolean): void {
  o.cancelledAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  o.cancelReason = reason;
  for (const fo of o.fulfillmentOrders) {
    if (restock) {
      for (const li of fo.lineItems) {
        const line = o.lineItems.find((l) => l.id === li.lineItemId);
        const v = line?.variantId ? state.variants.get(line.variantId) : undefined;
        if (v && li.remainingQuantity > 0) state.adjust(v.inventoryItemId, fo.locationId, li.remainingQuantity);
      }
    }
    if (fo.status === 'OPEN' || fo.status === 'IN_PROGRESS') fo.status = 'CANCELLED';
  }
  if (o.financialStatus === 'authorized' || o.financialStatus === 'pending') o.financialStatus = 'voided';
  else if (refund && o.financialStatus === 'paid') o.financialStatus = 'refunded';
}

interface RefundInput {
  orderId: string;
  note?: string | null;
  notify?: boolean | null;
  refundLineItems?: { lineItemId: string; quantity: number; restockType?: string | null; locationId?: string | null }[] | null;
  transactions?: { amount: string; gateway: string; kind: string; orderId: string; parentId?: string | null }[] | null;
}

interface RefundLinePlan {
  lineItemId: bigint;
  quantity: number;
  restockType: 'RETURN' | 'CANCEL' | 'NO_RESTOCK';
  locationId: bigint | null;
}

interface RefundTransactionPlan {
  amount: string;
  gateway: string;
  kind: string;
  parentId: bigint | null;
}

/**
 * Makes a refund as Shopify does: no more units than were bought less those refunded, no more
 * money than the parent sale or capture less its refunds; RETURN restocks at the given location
 * (else where the line was fulfilled from), CANCEL takes unfulfilled units off the fulfilment
 * order and restocks them, NO_RESTOCK leaves stock alone. The financial status follows.
 */
export function createRefund(
  state: ShopState,
  o: SOrder,
  input: { note: string | null; lines: RefundLinePlan[]; transactions: RefundTransactionPlan[] },
): { refund: SRefund } | { error: string; field: string[] } {
  const scale = minorUnits(o.currency);
  const refunded = (lineItemId: bigint) => o.refunds.flatMap((r) => r.lines).filter((l) => l.lineItemId === lineItemId).reduce((n, l) => n + l.quantity, 0);
  const wanted = new Map<bigint, number>();
  for (const [i, l] of input.lines.entries()) {
    const item = o.lineItems.find((x) => x.id === l.lineItemId);
    if (!item) return { error: 'Line item does not exist', field: ['refundLineItems', String(i), 'lineItemId'] };
    wanted.set(l.lineItemId, (wanted.get(l.lineItemId) ?? 0) + l.quantity);
    if (l.quantity <= 0 || wanted.get(l.lineItemId)! > item.quantity - refunded(l.lineItemId)) {
      return { error: `Quantity cannot refund more items than were purchased`, field: ['refundLineItems', String(i), 'quantity'] };
    }
    if (l.restockType === 'CANCEL') {
      const open = o.fulfillmentOrders.flatMap((fo) => fo.lineItems).filter((li) => li.lineItemId === l.lineItemId).reduce((n, li) => n + li.remainingQuantity, 0);
      if (l.quantity > open) return { error: 'Cannot cancel more items than are unfulfilled', field: ['refundLineItems', String(i), 'restockType'] };
    }
  }
  for (const [i, t] of input.transactions.entries()) {
    if (t.kind !== 'REFUND') return { error: 'Transaction kind must be refund', field: ['transactions', String(i), 'kind'] };
    const parent = o.transactions.find((x) => x.id === t.parentId);
    if (!parent || parent.status !== 'SUCCESS' || (parent.kind !== 'SALE' && parent.kind !== 'CAPTURE')) {
      return { error: 'Parent transaction must be a successful sale or capture of the order', field: ['transactions', String(i), 'parentId'] };
    }
    let amount: bigint;
    try {
      amount = toScaled(t.amount, scale);
    } catch {
      return { error: 'Amount is invalid', field: ['transactions', String(i), 'amount'] };
    }
    const already = o.transactions.filter((x) => x.kind === 'REFUND' && x.parentId === parent.id && x.status === 'SUCCESS').reduce((n, x) => n + toScaled(x.amount, scale), 0n);
    if (amount <= 0n || amount + already > toScaled(parent.amount, scale)) {
      return { error: `Amount cannot be more than the refundable amount (${fromScaled(toScaled(parent.amount, scale) - already, scale)})`, field: ['transactions', String(i), 'amount'] };
    }
  }
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const refund: SRefund = { id: state.nextId(), note: input.note, createdAt: now, lines: [], transactionIds: [] };
  for (const l of input.lines) {
    const item = o.lineItems.find((x) => x.id === l.lineItemId)!;
    const variant = item.variantId === null ? undefined : state.variants.get(item.variantId);
    let locationId = l.locationId;
    if (l.restockType === 'CANCEL') {
      let left = l.quantity;
      for (const fo of o.fulfillmentOrders) {
        for (const li of fo.lineItems.filter((x) => x.lineItemId === l.lineItemId && x.remainingQuantity > 0)) {
          const take = Math.min(left, li.remainingQuantity);
          li.remainingQuantity -= take;
          li.totalQuantity -= take;
          left -= take;
          locationId ??= fo.locationId;
        }
        if (fo.lineItems.every((li) => li.remainingQuantity === 0) && fo.status !== 'CANCELLED') fo.status = 'CLOSED';
      }
    } else if (l.restockType === 'RETURN') {
      locationId ??= o.fulfillments.find((f) => f.lines.some((x) => x.lineItemId === l.lineItemId))?.locationId ?? o.fulfillmentOrders[0]?.locationId ?? null;
    }
    if (variant && locationId !== null && l.restockType !== 'NO_RESTOCK') state.adjust(variant.inventoryItemId, locationId, l.quantity);
    refund.lines.push({ id: state.nextId(), lineItemId: l.lineItemId, quantity: l.quantity, restockType: l.restockType, locationId: l.restockType === 'NO_RESTOCK' ? null : locationId, subtotal: fromScaled(toScaled(item.price, scale) * BigInt(l.quantity), scale) });
  }
  for (const t of input.transactions) {
    const id = state.nextId();
    o.transactions.push({ id, kind: 'REFUND', status: 'SUCCESS', gateway: t.gateway, amount: fromScaled(toScaled(t.amount, scale), scale), parentId: t.parentId, createdAt: now });
    refund.transactionIds.push(id);
  }
  o.refunds.push(refund);
  const paid = o.transactions.filter((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS').reduce((n, t) => n + toScaled(t.amount, scale), 0n);
  const back = o.transactions.filter((t) => t.kind === 'REFUND' && t.status === 'SUCCESS').reduce((n, t) => n + toScaled(t.amount, scale), 0n);
  if (back > 0n) o.financialStatus = back >= paid ? 'refunded' : 'partially_refunded';
  return { refund };
}
