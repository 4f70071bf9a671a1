import { buildSchema, type GraphQLSchema } from 'graphql';

/**
 * The subset of the GraphQL Admin API (version SHOPIFY_API_VERSION) that the sandbox serves:
 * the types, fields, arguments and enums the connector uses, with Shopify's own names
 * (shopify.dev/docs/api/admin-graphql). Anything else is a validation error, as it would be
 * for a field Shopify does not have.
 */
export const ADMIN_SDL = /* GraphQL */ `
  scalar DateTime
  scalar Decimal
  scalar Money
  scalar URL

  "Makes a mutation safe to retry: the same key returns the first answer (required on refundCreate since 2026-04)."
  directive @idempotent(key: String!) on FIELD

  type Query {
    shop: Shop!
    productVariants(first: Int, after: String, query: String): ProductVariantConnection!
    locations(first: Int, after: String, includeInactive: Boolean): LocationConnection!
    inventoryItem(id: ID!): InventoryItem
    order(id: ID!): Order
    orders(first: Int, after: String, query: String, sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
  }

  type Mutation {
    inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
    fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
    refundCreate(input: RefundInput!): RefundCreatePayload
    orderCancel(
      orderId: ID!
      reason: OrderCancelReason!
      refundMethod: OrderCancelRefundMethodInput
      restock: Boolean!
      notifyCustomer: Boolean
      staffNote: String
    ): OrderCancelPayload
  }

  type Shop { name: String! myshopifyDomain: String! currencyCode: CurrencyCode! }

  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

  enum CurrencyCode { USD EUR GBP CAD AUD JPY }
  type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
  type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

  type Product { id: ID! title: String! }
  type ProductVariant { id: ID! sku: String title: String! price: Decimal! product: Product! inventoryItem: InventoryItem! }
  type ProductVariantEdge { cursor: String! node: ProductVariant! }
  type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }

  type Location { id: ID! name: String! isActive: Boolean! }
  type LocationEdge { cursor: String! node: Location! }
  type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

  type InventoryItem { id: ID! sku: String tracked: Boolean! inventoryLevel(locationId: ID!): InventoryLevel }
  type InventoryLevel { id: ID! location: Location! item: InventoryItem! quantities(names: [String!]!): [InventoryQuantity!]! }
  type InventoryQuantity { name: String! quantity: Int! }

  input InventoryQuantityInput { inventoryItemId: ID! locationId: ID! quantity: Int! changeFromQuantity: Int }
  input InventorySetQuantitiesInput { name: String! reason: String! referenceDocumentUri: String quantities: [InventoryQuantityInput!]! }
  type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
  type InventoryAdjustmentGroup { id: ID! reason: String! referenceDocumentUri: String createdAt: DateTime! changes(quantityNames: [String!]): [InventoryChange!]! }
  enum InventorySetQuantitiesUserErrorCode {
    CHANGE_FROM_QUANTITY_STALE
    INVALID_INVENTORY_ITEM
    INVALID_LOCATION
    INVALID_NAME
    INVALID_QUANTITY_NEGATIVE
    INVALID_QUANTITY_TOO_HIGH
    INVALID_REASON
    ITEM_NOT_STOCKED_AT_LOCATION
    NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
  }
  type InventorySetQuantitiesUserError { code: InventorySetQuantitiesUserErrorCode field: [String!] message: String! }
  type InventorySetQuantitiesPayload { inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]! }

  type Customer { id: ID! email: String firstName: String lastName: String phone: String }
  type MailingAddress {
    firstName: String lastName: String name: String company: String address1: String address2: String
    city: String province: String provinceCode: String zip: String countryCodeV2: String phone: String
  }

  type LineItem { id: ID! sku: String name: String! quantity: Int! originalUnitPriceSet: MoneyBag! variant: ProductVariant }
  type LineItemEdge { cursor: String! node: LineItem! }
  type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

  enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
  enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
  enum OrderSortKeys { CREATED_AT ID NUMBER PROCESSED_AT UPDATED_AT }

  type Order {
    id: ID!
    name: String!
    createdAt: DateTime!
    updatedAt: DateTime!
    processedAt: DateTime!
    cancelledAt: DateTime
    cancelReason: OrderCancelReason
    email: String
    phone: String
    note: String
    currencyCode: CurrencyCode!
    taxesIncluded: Boolean!
    displayFinancialStatus: OrderDisplayFinancialStatus
    paymentGatewayNames: [String!]!
    customer: Customer
    shippingAddress: MailingAddress
    billingAddress: MailingAddress
    totalPriceSet: MoneyBag!
    subtotalPriceSet: MoneyBag
    totalTaxSet: MoneyBag
    totalDiscountsSet: MoneyBag!
    totalShippingPriceSet: MoneyBag!
    lineItems(first: Int, after: String): LineItemConnection!
    fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
    fulfillments(first: Int): [Fulfillment!]!
    transactions(first: Int): [OrderTransaction!]!
    refunds(first: Int): [Refund!]!
  }
  type OrderEdge { cursor: String! node: Order! }
  type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

  enum FulfillmentOrderStatus { CANCELLED CLOSED INCOMPLETE IN_PROGRESS ON_HOLD OPEN SCHEDULED }
  type FulfillmentOrderAssignedLocation { name: String location: Location }
  type FulfillmentOrderLineItem { id: ID! totalQuantity: Int! remainingQuantity: Int! lineItem: LineItem! }
  type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
  type FulfillmentOrderLineItemConnection { edges: [FulfillmentOrderLineItemEdge!]! nodes: [FulfillmentOrderLineItem!]! pageInfo: PageInfo! }
  type FulfillmentOrder {
    id: ID!
    status: FulfillmentOrderStatus!
    assignedLocation: FulfillmentOrderAssignedLocation!
    lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
  }
  type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
  type FulfillmentOrderConnection { edges: [FulfillmentOrderEdge!]! nodes: [FulfillmentOrder!]! pageInfo: PageInfo! }

  enum FulfillmentStatus { CANCELLED ERROR FAILURE SUCCESS }
  type FulfillmentTrackingInfo { company: String number: String url: URL }
  type Fulfillment { id: ID! status: FulfillmentStatus! createdAt: DateTime! trackingInfo(first: Int): [FulfillmentTrackingInfo!]! }

  input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
  input FulfillmentOrderLineItemsInput { fulfillmentOrderId: ID! fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }
  input FulfillmentTrackingInput { company: String number: String numbers: [String!] url: URL urls: [URL!] }
  input FulfillmentInput { lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]! notifyCustomer: Boolean trackingInfo: FulfillmentTrackingInput }
  type UserError { field: [String!] message: String! }
  type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

  enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }
  enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
  type OrderTransaction {
    id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! gateway: String createdAt: DateTime!
    amountSet: MoneyBag! parentTransaction: OrderTransaction
  }
  type OrderTransactionEdge { cursor: String! node: OrderTransaction! }
  type OrderTransactionConnection { edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]! pageInfo: PageInfo! }
  enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
  type RefundLineItem {
    id: ID quantity: Int! restockType: RefundLineItemRestockType! restocked: Boolean! location: Location
    subtotalSet: MoneyBag! lineItem: LineItem!
  }
  type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
  type RefundLineItemConnection { edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo! }
  type Refund {
    id: ID! note: String createdAt: DateTime totalRefundedSet: MoneyBag!
    refundLineItems(first: Int, after: String): RefundLineItemConnection!
    transactions(first: Int, after: String): OrderTransactionConnection!
  }
  input RefundLineItemInput { lineItemId: ID! quantity: Int! restockType: RefundLineItemRestockType locationId: ID }
  input OrderTransactionInput { amount: Money! gateway: String! kind: OrderTransactionKind! orderId: ID! parentId: ID }
  input RefundInput {
    orderId: ID! note: String notify: Boolean currency: CurrencyCode
    refundLineItems: [RefundLineItemInput!] transactions: [OrderTransactionInput!]
  }
  type RefundCreatePayload { order: Order refund: Refund userErrors: [UserError!]! }

  input OrderCancelRefundMethodInput { originalPaymentMethodsRefund: Boolean }
  type Job { id: ID! done: Boolean! }
  enum OrderCancelUserErrorCode { INTERNAL_ERROR INVALID NO_REFUND_PERMISSION NOT_FOUND }
  type OrderCancelUserError { code: OrderCancelUserErrorCode field: [String!] message: String! }
  type OrderCancelPayload { job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]! }
`;

let schema: GraphQLSchema | undefined;

/** The executable schema (built once; resolvers come from the root value and the objects it returns). */
export function adminSchema(): GraphQLSchema {
  schema ??= buildSchema(ADMIN_SDL);
  return schema;
}
