import { fromScaled, minorUnits, toScaled } from '../../../model/money.ts';

/**
 * The sandbox shop's data: products and variants with inventory items, locations and
 * available quantities, orders with their fulfilment orders and fulfilments. Ids are 64-bit
 * integers above 2^53 (as real Shopify ids are), so that a client that rounds them through a
 * JS number is caught.
 */

export interface SandboxProductSeed {
  sku: string;
  title?: string;
  /** Unit price as a decimal string (default: "10.00"). */
  price?: string;
  /** Available quantity at the first location (default: 0). */
  available?: number;
  /** Available quantity per location name; wins over `available`. */
  quantities?: Record<string, number>;
}

export interface SVariant {
  id: bigint;
  productId: bigint;
  productTitle: string;
  sku: string;
  title: string;
  price: string;
  inventoryItemId: bigint;
}

export interface SLocation {
  id: bigint;
  name: string;
  isActive: boolean;
}

export interface SAddress {
  firstName?: string | undefined;
  lastName?: string | undefined;
  company?: string | undefined;
  address1: string;
  address2?: string | undefined;
  city: string;
  province?: string | undefined;
  provinceCode?: string | undefined;
  zip: string;
  country?: string | undefined;
  countryCode: string;
  phone?: string | undefined;
}

export interface SLineItem {
  id: bigint;
  variantId: bigint | null;
  productId: bigint | null;
  sku: string | null;
  name: string;
  quantity: number;
  price: string;
}

export interface SFulfillmentOrder {
  id: bigint;
  locationId: bigint;
  status: 'OPEN' | 'IN_PROGRESS' | 'CLOSED' | 'CANCELLED';
  lineItems: { id: bigint; lineItemId: bigint; totalQuantity: number; remainingQuantity: number }[];
}

export interface SFulfillment {
  id: bigint;
  status: 'SUCCESS' | 'CANCELLED';
  createdAt: string;
  locationId: bigint;
  tracking: { company: string | null; number: string | null; url: string | null }[];
  lines: { lineItemId: bigint; quantity: number }[];
}

export interface STransaction {
  id: bigint;
  kind: 'SALE' | 'AUTHORIZATION' | 'CAPTURE' | 'REFUND';
  status: 'SUCCESS' | 'FAILURE';
  gateway: string;
  amount: string;
  parentId: bigint | null;
  createdAt: string;
}

export interface SRefund {
  id: bigint;
  note: string | null;
  createdAt: string;
  lines: { id: bigint; lineItemId: bigint; quantity: number; restockType: 'RETURN' | 'CANCEL' | 'NO_RESTOCK'; locationId: bigint | null; subtotal: string }[];
  /** The REFUND transactions it made. */
  transactionIds: bigint[];
}

export type FinancialStatus = 'pending' | 'authorized' | 'paid' | 'partially_paid' | 'partially_refunded' | 'refunded' | 'voided';

export interface SOrder {
  id: bigint;
  number: number;
  name: string;
  email: string;
  phone: string | null;
  note: string | null;
  currency: string;
  createdAt: string;
  updatedAt: string;
  cancelledAt: string | null;
  cancelReason: string | null;
  financialStatus: FinancialStatus;
  gateway: string;
  customer: { id: bigint; email: string; firstName: string; lastName: string; phone: string | null };
  shippingAddress: SAddress;
  billingAddress: SAddress;
  lineItems: SLineItem[];
  shippingPrice: string;
  tax: string;
  discount: string;
  taxesIncluded: boolean;
  fulfillmentOrders: SFulfillmentOrder[];
  fulfillments: SFulfillment[];
  transactions: STransaction[];
  refunds: SRefund[];
}

/** Inventory item id and location id as one key. */
export const levelKey = (inventoryItemId: bigint, locationId: bigint) => `${inventoryItemId}|${locationId}`;

export class ShopState {
  #next = 7_046_000_000_000_000_001n;
  #orderNumber = 1000;
  readonly variants = new Map<bigint, SVariant>();
  readonly locations = new Map<bigint, SLocation>();
  /** Available quantity per (inventory item, location); absent: the item is not stocked there. */
  readonly levels = new Map<string, number>();
  readonly orders = new Map<bigint, SOrder>();

  constructor(locationNames: string[], products: SandboxProductSeed[]) {
    for (const name of locationNames) {
      const id = this.nextId();
      this.locations.set(id, { id, name, isActive: true });
    }
    for (const p of products) this.addProduct(p);
  }

  nextId(): bigint {
    const id = this.#next;
    this.#next += 1n + BigInt(Math.floor(Math.random() * 1000));
    return id;
  }

  nextOrderNumber(): number {
    this.#orderNumber += 1;
    return this.#orderNumber;
  }

  addProduct(seed: SandboxProductSeed): SVariant {
    const variant: SVariant = {
      id: this.nextId(),
      productId: this.nextId(),
      productTitle: seed.title ?? `Product ${seed.sku}`,
      sku: seed.sku,
      title: 'Default Title',
      price: seed.price ?? '10.00',
      inventoryItemId: this.nextId(),
    };
    this.variants.set(variant.id, variant);
    const locations = [...this.locations.values()];
    for (const location of locations) {
      const quantity = seed.quantities ? seed.quantities[location.name] : location === locations[0] ? (seed.available ?? 0) : undefined;
      if (quantity !== undefined) this.levels.set(levelKey(variant.inventoryItemId, location.id), quantity);
    }
    return variant;
  }

  variantBySku(sku: string): SVariant | undefined {
    return [...this.variants.values()].find((v) => v.sku === sku);
  }

  variantByInventoryItem(id: bigint): SVariant | undefined {
    return [...this.variants.values()].find((v) => v.inventoryItemId === id);
  }

  locationByName(name: string): SLocation | undefined {
    return [...this.locations.values()].find((l) => l.name === name);
  }

  /** Moves the available quantity of an item at a location (orders commit stock; cancels restock it). */
  adjust(inventoryItemId: bigint, locationId: bigint, delta: number): void {
    const key = levelKey(inventoryItemId, locationId);
    const current = this.levels.get(key);
    if (current !== undefined) this.levels.set(key, current + delta);
  }
}

/** An order's totals as Shopify computes them: lines + shipping + tax (unless included) − discounts. */
export function orderTotals(order: SOrder): { subtotal: string; total: string } {
  const scale = minorUnits(order.currency);
  const subtotal = order.lineItems.reduce((sum, l) => sum + toScaled(l.price, scale) * BigInt(l.quantity), 0n);
  const tax = order.taxesIncluded ? 0n : toScaled(order.tax, scale);
  const total = subtotal + toScaled(order.shippingPrice, scale) + tax - toScaled(order.discount, scale);
  return { subtotal: fromScaled(subtotal, scale), total: fromScaled(total, scale) };
}

const money = (amount: string, currency: string) => ({
  shop_money: { amount, currency_code: currency },
  presentment_money: { amount, currency_code: currency },
});

function restAddress(a: SAddress) {
  return {
    first_name: a.firstName ?? null,
    last_name: a.lastName ?? null,
    name: [a.firstName, a.lastName].filter(Boolean).join(' '),
    company: a.company ?? null,
    address1: a.address1,
    address2: a.address2 ?? null,
    city: a.city,
    province: a.province ?? null,
    province_code: a.provinceCode ?? null,
    zip: a.zip,
    country: a.country ?? null,
    country_code: a.countryCode,
    phone: a.phone ?? null,
  };
}

/**
 * The order as Shopify's webhooks carry it: the REST resource (orders/create, orders/updated,
 * orders/cancelled bodies). Ids are BigInts here; serialiseShopifyJson writes them as bare
 * JSON integers, as Shopify does.
 */
export function restOrder(order: SOrder): Record<string, unknown> {
  const { subtotal, total } = orderTotals(order);
  const c = order.currency;
  return {
    id: order.id,
    admin_graphql_api_id: `gid://shopify/Order/${order.id}`,
    name: order.name,
    number: order.number - 1000,
    order_number: order.number,
    email: order.email,
    contact_email: order.email,
    phone: order.phone,
    note: order.note,
    currency: c,
    presentment_currency: c,
    created_at: order.createdAt,
    processed_at: order.createdAt,
    updated_at: order.updatedAt,
    cancelled_at: order.cancelledAt,
    cancel_reason: order.cancelReason,
    financial_status: order.financialStatus,
    fulfillment_status: order.fulfillments.length === 0 ? null : order.fulfillmentOrders.every((fo) => fo.status === 'CLOSED') ? 'fulfilled' : 'partial',
    payment_gateway_names: [order.gateway],
    taxes_included: order.taxesIncluded,
    test: true,
    total_line_items_price: subtotal,
    total_line_items_price_set: money(subtotal, c),
    subtotal_price: subtotal,
    total_price: total,
    total_price_set: money(total, c),
    total_tax: order.tax,
    total_tax_set: money(order.tax, c),
    total_discounts: order.discount,
    total_discounts_set: money(order.discount, c),
    total_shipping_price_set: money(order.shippingPrice, c),
    customer: {
      id: order.customer.id,
      admin_graphql_api_id: `gid://shopify/Customer/${order.customer.id}`,
      email: order.customer.email,
      first_name: order.customer.firstName,
      last_name: order.customer.lastName,
      phone: order.customer.phone,
    },
    shipping_address: restAddress(order.shippingAddress),
    billing_address: restAddress(order.billingAddress),
    line_items: order.lineItems.map((l) => ({
      id: l.id,
      admin_graphql_api_id: `gid://shopify/LineItem/${l.id}`,
      variant_id: l.variantId,
      product_id: l.productId,
      sku: l.sku,
      name: l.name,
      title: l.name,
      quantity: l.quantity,
      current_quantity: l.quantity,
      price: l.price,
      price_set: money(l.price, c),
      requires_shipping: true,
      taxable: true,
      fulfillment_status: null,
    })),
    shipping_lines: [{ id: order.id + 1n, title: 'Standard', price: order.shippingPrice, price_set: money(order.shippingPrice, c), discounted_price: order.shippingPrice }],
    fulfillments: order.fulfillments.map((f) => ({
      id: f.id,
      admin_graphql_api_id: `gid://shopify/Fulfillment/${f.id}`,
      status: f.status.toLowerCase(),
      tracking_company: f.tracking[0]?.company ?? null,
      tracking_number: f.tracking[0]?.number ?? null,
      tracking_numbers: f.tracking.map((t) => t.number).filter(Boolean),
      tracking_url: f.tracking[0]?.url ?? null,
      created_at: f.createdAt,
    })),
    refunds: order.refunds.map((r) => restRefund(order, r)),
  };
}

/** A refund as the refunds/create webhook (and the REST order's refunds) carries it. */
export function restRefund(order: SOrder, refund: SRefund): Record<string, unknown> {
  const c = order.currency;
  return {
    id: refund.id,
    admin_graphql_api_id: `gid://shopify/Refund/${refund.id}`,
    order_id: order.id,
    created_at: refund.createdAt,
    processed_at: refund.createdAt,
    note: refund.note,
    restock: refund.lines.some((l) => l.restockType !== 'NO_RESTOCK'),
    duties: [],
    total_duties_set: money(fromScaled(0n, minorUnits(c)), c),
    return: null,
    refund_line_items: refund.lines.map((l) => {
      const item = order.lineItems.find((x) => x.id === l.lineItemId)!;
      return {
        id: l.id,
        quantity: l.quantity,
        line_item_id: l.lineItemId,
        location_id: l.locationId,
        restock_type: l.restockType.toLowerCase(),
        subtotal: l.subtotal,
        total_tax: '0.00',
        subtotal_set: money(l.subtotal, c),
        total_tax_set: money('0.00', c),
        line_item: { id: item.id, admin_graphql_api_id: `gid://shopify/LineItem/${item.id}`, variant_id: item.variantId, product_id: item.productId, sku: item.sku, name: item.name, quantity: item.quantity, price: item.price },
      };
    }),
    transactions: order.transactions
      .filter((t) => refund.transactionIds.includes(t.id))
      .map((t) => ({
        id: t.id,
        admin_graphql_api_id: `gid://shopify/OrderTransaction/${t.id}`,
        order_id: order.id,
        kind: t.kind.toLowerCase(),
        status: t.status.toLowerCase(),
        gateway: t.gateway,
        amount: t.amount,
        currency: c,
        parent_id: t.parentId,
        created_at: t.createdAt,
      })),
    order_adjustments: [],
  };
}

/** JSON with BigInts written as bare integers (Shopify's 64-bit ids), byte for byte what is signed. */
export function serialiseShopifyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v}` : v)).replace(/"\\u0000big:(\d+)"/g, '$1');
}

/** The same, with BigInts as strings: for the admin API, read by tests in JavaScript. */
export function plainJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
}
