import { createHmac } from 'node:crypto';

/**
 * Shopify's wire: the pinned GraphQL Admin API version, the webhook headers and signature,
 * the GraphQL documents the client sends (the sandbox executes the same ones), and the
 * shapes of their answers. Shared by inbound/, outbound/ and sandbox/; sources in ../SOURCES.md.
 */

/** The GraphQL Admin API version Syncline is built and tested against (stable, released 2026-10-01). */
export const SHOPIFY_API_VERSION = '2026-10';

/** The Admin API endpoint path for a version. */
export const graphqlPath = (version: string) => `/admin/api/${version}/graphql.json`;

/** Webhook headers, lower-cased as Node gives them (Shopify says: treat names as case-insensitive). */
export const WEBHOOK_HEADERS = {
  hmac: 'x-shopify-hmac-sha256',
  topic: 'x-shopify-topic',
  shopDomain: 'x-shopify-shop-domain',
  apiVersion: 'x-shopify-api-version',
  webhookId: 'x-shopify-webhook-id',
  eventId: 'x-shopify-event-id',
  triggeredAt: 'x-shopify-triggered-at',
} as const;

/** The access-token header of every Admin API call. */
export const ACCESS_TOKEN_HEADER = 'x-shopify-access-token';

/** base64(HMAC-SHA256(secret, raw body)): the X-Shopify-Hmac-Sha256 value. */
export function signShopifyWebhook(secret: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/** Refund line restock types that put the goods back into stock (REST spelling; GraphQL's RefundLineItemRestockType is the same upper-case). */
export const RESTOCKING: ReadonlySet<string> = new Set(['return', 'cancel', 'legacy_restock']);

/** A Shopify global id (gid://shopify/Order/123) of a type and numeric id. */
export const gid = (type: string, id: string | bigint | number) => `gid://shopify/${type}/${id}`;

/** The numeric tail of a global id ("gid://shopify/Order/123" → "123"), or undefined when it is not one. */
export function gidTail(value: unknown, type?: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d{1,20})(?:\?.*)?$/.exec(value);
  if (!match || (type !== undefined && match[1] !== type)) return undefined;
  return match[2];
}

// ---- GraphQL answers -------------------------------------------------------------------------

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost: number | null;
  throttleStatus: ThrottleStatus;
}

export interface GraphqlError {
  message: string;
  locations?: { line: number; column: number }[];
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphqlResponse<T> {
  data?: T | null;
  errors?: GraphqlError[];
  extensions?: { cost?: QueryCost };
}

export interface UserError {
  field?: string[] | null;
  message: string;
  code?: string | null;
}

export interface Connection<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface MoneyBag {
  shopMoney: { amount: string; currencyCode: string };
}

export interface WireMailingAddress {
  firstName: string | null;
  lastName: string | null;
  name: string | null;
  company: string | null;
  address1: string | null;
  address2: string | null;
  city: string | null;
  province: string | null;
  provinceCode: string | null;
  zip: string | null;
  countryCodeV2: string | null;
  phone: string | null;
}

/** An order as ORDERS_UPDATED_SINCE returns it (what inbound.mapOrder takes). */
export interface WireGraphqlOrder {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  processedAt: string | null;
  cancelledAt: string | null;
  cancelReason: string | null;
  email: string | null;
  phone: string | null;
  note: string | null;
  currencyCode: string;
  taxesIncluded: boolean;
  displayFinancialStatus: string | null;
  paymentGatewayNames: string[];
  customer: { id: string; email: string | null; firstName: string | null; lastName: string | null; phone: string | null } | null;
  shippingAddress: WireMailingAddress | null;
  billingAddress: WireMailingAddress | null;
  totalPriceSet: MoneyBag;
  totalTaxSet: MoneyBag;
  totalDiscountsSet: MoneyBag;
  totalShippingPriceSet: MoneyBag;
  lineItems: Connection<{
    id: string;
    sku: string | null;
    name: string;
    quantity: number;
    originalUnitPriceSet: MoneyBag;
    variant: { id: string; product: { id: string } } | null;
  }>;
  refunds: { id: string }[];
}

// ---- GraphQL documents -----------------------------------------------------------------------
// Selections are kept to what the connector reads: every field costs points (rate limits).

export const FIND_VARIANTS = /* GraphQL */ `
  query FindVariants($query: String!, $first: Int!, $after: String) {
    productVariants(first: $first, after: $after, query: $query) {
      nodes { id sku product { id } inventoryItem { id } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

export const LIST_LOCATIONS = /* GraphQL */ `
  query ListLocations($first: Int!, $after: String) {
    locations(first: $first, after: $after) {
      nodes { id name isActive }
      pageInfo { hasNextPage endCursor }
    }
  }`;

export const SET_QUANTITIES = /* GraphQL */ `
  mutation SetQuantities($input: InventorySetQuantitiesInput!) {
    inventorySetQuantities(input: $input) {
      inventoryAdjustmentGroup { id }
      userErrors { code field message }
    }
  }`;

export const READ_AVAILABLE = /* GraphQL */ `
  query ReadAvailable($inventoryItemId: ID!, $locationId: ID!) {
    inventoryItem(id: $inventoryItemId) {
      id
      inventoryLevel(locationId: $locationId) { id quantities(names: ["available"]) { name quantity } }
    }
  }`;

export const ORDER_FULFILMENT = /* GraphQL */ `
  query OrderFulfilment($id: ID!) {
    order(id: $id) {
      id
      cancelledAt
      fulfillments(first: 10) { id status trackingInfo(first: 3) { company number url } }
      fulfillmentOrders(first: 5) {
        nodes {
          id status
          assignedLocation { location { id } }
          lineItems(first: 50) { nodes { id remainingQuantity totalQuantity lineItem { id sku } } }
        }
      }
    }
  }`;

export const FULFILMENT_CREATE = /* GraphQL */ `
  mutation FulfilmentCreate($fulfillment: FulfillmentInput!) {
    fulfillmentCreate(fulfillment: $fulfillment) {
      fulfillment { id status trackingInfo(first: 3) { company number url } }
      userErrors { field message }
    }
  }`;

export const ORDER_CANCEL = /* GraphQL */ `
  mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
    orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
      job { id done }
      orderCancelUserErrors { code field message }
    }
  }`;

/** An order's refunds (to find one made before by its marked note) and the payment transactions a refund's money goes back through. */
export const ORDER_REFUNDS = /* GraphQL */ `
  query OrderRefunds($id: ID!) {
    order(id: $id) {
      id
      refunds(first: 50) { id note }
      transactions(first: 20) { id kind status gateway amountSet { shopMoney { amount currencyCode } } }
    }
  }`;

/** An order's refunds with their lines, restock types and amounts (refunds taken in Shopify, read when a poll finds them). */
export const ORDER_REFUND_LINES = /* GraphQL */ `
  query OrderRefundLines($id: ID!) {
    order(id: $id) {
      id currencyCode
      refunds(first: 5) {
        id note
        totalRefundedSet { shopMoney { amount currencyCode } }
        refundLineItems(first: 20) { nodes { quantity restockType location { id } lineItem { id } } }
      }
    }
  }`;

/** Since 2026-04 refundCreate must carry @idempotent: a retry with the same key gets the first refund back. */
export const REFUND_CREATE = /* GraphQL */ `
  mutation RefundCreate($input: RefundInput!, $key: String!) {
    refundCreate(input: $input) @idempotent(key: $key) {
      refund { id note }
      userErrors { field message }
    }
  }`;

const MONEY = 'shopMoney { amount currencyCode }';
const LINE_ITEMS = `nodes { id sku name quantity originalUnitPriceSet { ${MONEY} } variant { id product { id } } }
  pageInfo { hasNextPage endCursor }`;
const ADDRESS = 'firstName lastName name company address1 address2 city province provinceCode zip countryCodeV2 phone';

/** The rest of an order's lines, when it has more than a page of ORDERS_UPDATED_SINCE holds. */
export const ORDER_LINE_ITEMS = /* GraphQL */ `
  query OrderLineItems($id: ID!, $after: String) {
    order(id: $id) { id lineItems(first: 50, after: $after) { ${LINE_ITEMS} } }
  }`;

export const ORDERS_UPDATED_SINCE = /* GraphQL */ `
  query OrdersUpdatedSince($query: String!, $first: Int!, $after: String) {
    orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
      nodes {
        id name createdAt updatedAt processedAt cancelledAt cancelReason email phone note
        currencyCode taxesIncluded displayFinancialStatus paymentGatewayNames
        customer { id email firstName lastName phone }
        shippingAddress { ${ADDRESS} }
        billingAddress { ${ADDRESS} }
        totalPriceSet { ${MONEY} }
        totalTaxSet { ${MONEY} }
        totalDiscountsSet { ${MONEY} }
        totalShippingPriceSet { ${MONEY} }
        lineItems(first: 15) { ${LINE_ITEMS} }
        refunds(first: 5) { id }
      }
      pageInfo { hasNextPage endCursor }
    }
  }`;
