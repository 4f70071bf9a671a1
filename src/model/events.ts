import { PRODUCT_HOLD_CODES } from '../domain/errors.ts';
import { z } from 'zod';
import { EVENT_TYPES } from './cloud-event.ts';
import { CustomerSystem } from './customer.ts';
import { BalanceAfter, LedgerEntry, Reservation } from './inventory.ts';
import { ChannelRefundRef, ReturnCondition, ReturnException } from './order-actions.ts';
import { Order, OrderException, OrderStatus } from './order.ts';
import { AmendmentChanges, LineChange } from './order-amendment.ts';

/**
 * Event payloads: the `data` member of each CloudEvent Syncline writes to the outbox,
 * exactly as the writers build it. The AsyncAPI document (src/api/asyncapi.ts) is
 * generated from these schemas; the writers are typed by them.
 */

const orderId = z.string().meta({ description: 'The order the event is about (also the CloudEvent subject).' });

// ---------------------------------------------------------------------------
// Order events (types in src/flows/order-events.ts, beside order.created)
// ---------------------------------------------------------------------------

export const OrderCreatedData = Order;

export const OrderOnHoldData = z
  .discriminatedUnion('reason', [
    z.object({
      orderId,
      reason: z.literal('validation'),
      problems: z.array(z.string()).meta({ description: 'What is wrong with the order, one sentence each.' }),
      products: z
        .array(z.object({ code: z.enum([PRODUCT_HOLD_CODES.unknownSku, PRODUCT_HOLD_CODES.inactive]), sku: z.string() }))
        .optional()
        .meta({ description: 'Lines the product catalogue holds, with a stable code each (docs/products.md).' }),
    }),
    z.object({ orderId, reason: z.literal('fraud'), reasons: z.array(z.object({ code: z.string(), message: z.string() })) }),
    z.object({ orderId, reason: z.literal('exception'), exception: OrderException.omit({ kind: true }) }),
    z.object({
      orderId,
      reason: z.literal('amendment'),
      amendmentId: z.string(),
      code: z.string().meta({ description: 'Why the change could not be applied (order.amendment_stock_short, ...).' }),
      lines: z.array(LineChange),
    }),
  ])
  .meta({
    id: 'OrderOnHoldData',
    description: "The order stopped: a validation problem, a fraud hold, a channel's change to its lines held for review, or a flow that failed for good (replay its dead letter).",
  });

export const OrderExceptionData = z
  .object({
    orderId,
    returnId: z.string().optional().meta({ description: 'Present when the failing flow is a return’s.' }),
    exception: ReturnException.extend({
      status: OrderStatus.optional().meta({ description: 'The status the order kept (absent for a return’s exception).' }),
      shownOnOrder: z.boolean().optional().meta({ description: 'Whether the exception is attached to the order (one at a time is).' }),
    }),
  })
  .meta({ id: 'OrderExceptionData', description: 'A flow after release (shipment, invoice, return) failed for good; the order kept its status.' });

export const OrderBackorderedData = z
  .object({ orderId, lines: z.array(z.object({ lineNumber: z.number().int(), sku: z.string(), requested: z.number().int(), available: z.number().int() })) })
  .meta({ id: 'OrderBackorderedData', description: 'Not enough stock for these lines; the order waits for stock.' });
export type OrderBackorderedData = z.infer<typeof OrderBackorderedData>;

export const OrderReleasedData = z
  .object({ orderId, fulfilments: z.array(z.object({ location: z.string().meta({ description: 'Location code.' }), id: z.string().meta({ description: "The warehouse's fulfilment id." }) })) })
  .meta({ id: 'OrderReleasedData', description: 'Paid, reserved, posted to the ERP and sent to the warehouses.' });

export const OrderShippedData = z
  .object({
    orderId,
    shipmentId: z.string(),
    location: z.string().meta({ description: 'Code of the location that shipped.' }),
    carrier: z.string().nullable(),
    trackingNumbers: z.array(z.string()),
    lines: z.array(z.object({ lineNumber: z.number().int(), sku: z.string(), quantity: z.number().int() })),
  })
  .meta({ id: 'OrderShippedData', description: 'One shipment; order.shipped when every line is shipped or cancelled, else order.partially_shipped.' });

export const OrderInvoicedData = z
  .object({
    orderId,
    invoices: z.array(
      z.object({ erpId: z.number().int(), number: z.string().nullable(), state: z.string(), totalAmount: z.string(), currency: z.string(), invoiceDate: z.string().nullable() }),
    ),
  })
  .meta({ id: 'OrderInvoicedData', description: "The ERP's invoices for the order." });

export const OrderCompletedData = z.object({ orderId }).meta({ id: 'OrderCompletedData', description: 'Shipped (or cancelled) in full and invoiced.' });

const Compensated = z
  .array(z.object({ step: z.string(), detail: z.record(z.string(), z.unknown()) }))
  .meta({ description: 'The steps undone (last first), each with what its compensation reported.' });

export const OrderCancelledData = z
  .object({
    orderId,
    cancellationId: z.string(),
    compensated: Compensated,
    strayHoldsReleased: z.array(z.string()).optional().meta({ description: 'Reservations of the order released besides those of its flow.' }),
    exception: z
      .object({ step: z.string().nullable(), code: z.string(), deadLetterId: z.string() })
      .optional()
      .meta({ description: 'The exception the order was held for; its dead letter is settled by the cancel.' }),
    cancelledFulfilments: z
      .array(z.object({ location: z.string(), fulfilmentId: z.string() }))
      .optional()
      .meta({ description: 'Present when the order was released: the fulfilments the warehouses stopped.' }),
  })
  .meta({ id: 'OrderCancelledData', description: 'Cancelled in full: what was done is undone.' });
export type OrderCancelledData = z.infer<typeof OrderCancelledData>;

export const OrderPaymentFailedData = z
  .discriminatedUnion('at', [
    z.object({ orderId, at: z.literal('authorize'), code: z.string().meta({ description: "The payment provider's decline code." }) }),
    z.object({ orderId, at: z.literal('capture'), compensated: z.array(z.string()).meta({ description: 'The steps undone.' }) }),
  ])
  .meta({ id: 'OrderPaymentFailedData', description: 'The payment was declined at authorisation or capture.' });

export const OrderChannelRefundedData = z
  .object({
    orderId,
    channel: z.string().meta({ description: 'The connection the refund was taken in (the order\'s channel).' }),
    channelRefundId: z.string(),
    amount: z.string().meta({ description: 'Decimal string in the currency\'s units.' }),
    currency: z.string(),
    lines: z.array(z.object({ channelLineId: z.string(), quantity: z.number().int(), restock: z.boolean() })),
    note: z.string().nullable(),
    returnId: z.string().nullable().optional().meta({ description: 'The return the refund became (credit note, restock); null when none of the refunded units had shipped.' }),
  })
  .meta({ id: 'OrderChannelRefundedData', description: 'A refund was taken in the channel (money back to the customer there); it becomes a return of the shipped units, which the return flow credits and restocks without refunding again.' });

export const OrderAmendedData = z
  .object({
    orderId,
    amendmentId: z.string(),
    channel: z.string().meta({ description: 'The connection that reported the change.' }),
    changes: AmendmentChanges,
    by: z.string().meta({ description: 'channel:<connection> when applied at once, else the operator who applied it.' }),
    resumed: z.boolean().meta({ description: 'A hold was lifted by the change (an unpaid order now paid, a held change applied): the flow goes on.' }),
  })
  .meta({ id: 'OrderAmendedData', description: "A channel's change to an order before release was applied: the ERP and the warehouse get the amended order." });

export const OrderChannelUpdateAfterReleaseData = z
  .object({
    orderId,
    amendmentId: z.string(),
    channel: z.string(),
    status: OrderStatus.meta({ description: 'The order status when the change came in.' }),
    changes: AmendmentChanges,
  })
  .meta({ id: 'OrderChannelUpdateAfterReleaseData', description: 'The channel changed an order Syncline had already released: not applied, reported for someone to act on.' });

export const OrderReturnedData = z
  .object({
    orderId,
    returnId: z.string(),
    refundId: z.string().nullable(),
    refundAmount: z.string(),
    creditNote: z
      .object({ erpId: z.number().int(), number: z.string().nullable(), state: z.string(), totalAmount: z.string() })
      .nullable()
      .meta({ description: "The ERP's credit note." }),
    location: z.string().meta({ description: 'Code of the location the goods came back to.' }),
    lines: z.array(z.object({ lineNumber: z.number().int(), sku: z.string(), quantity: z.number().int(), condition: ReturnCondition, unitPrice: z.string() })),
    channelRefund: ChannelRefundRef.nullable().optional().meta({ description: 'The channel refund paired with the return when it was taken in the channel (source channel: not sent back to it); absent or null for a return made in Syncline.' }),
  })
  .meta({ id: 'OrderReturnedData', description: 'A return is done: refunded, credited in the ERP, resellable goods restocked.' });
export type OrderReturnedData = z.infer<typeof OrderReturnedData>;

// ---------------------------------------------------------------------------
// Inventory events (types in EVENT_TYPES)
// ---------------------------------------------------------------------------

export const InventoryAdjustedData = z
  .object({
    requestId: z.string(),
    sku: z.string().optional().meta({ description: 'Movements: the SKU (one event per SKU of a request).' }),
    reservationId: z.string().optional().meta({ description: 'Sales: the reservation that shipped.' }),
    reference: z.string().optional().meta({ description: 'Sales: the shipment reference, or the reservation’s.' }),
    entries: z.array(LedgerEntry),
    balances: z.array(BalanceAfter),
  })
  .meta({ id: 'InventoryAdjustedData', description: 'Stock movements (or a sale from a reservation) and the balances after them.' });

export const InventoryReservedData = Reservation;

export const InventoryReleasedData = z
  .object({
    reservationId: z.string(),
    reference: z.string(),
    channel: z.string(),
    reason: z.enum(['released', 'expired']),
    lines: z.array(z.object({ sku: z.string(), location: z.string(), quantity: z.number().int().meta({ description: 'Units that were still held.' }) })),
  })
  .meta({ id: 'InventoryReleasedData', description: 'A reservation was released or lapsed; its open units are available again.' });

export const InventoryAvailabilityChangedData = z
  .object({
    sku: z.string(),
    channel: z.string().nullable().meta({ description: 'null: the shared pool (channels without a policy).' }),
    available: z.number().int(),
    previousAvailable: z.number().int().nullable().meta({ description: 'The last figure announced; null for the first.' }),
    onHand: z.number().int(),
    reserved: z.number().int(),
  })
  .meta({ id: 'InventoryAvailabilityChangedData', description: 'What a channel can sell of a SKU changed (coalesced: at most one per round).' });

export const SubscriptionStatusData = z
  .object({
    subscriptionId: z.string().meta({ description: 'The webhook subscription (sub_…); also the event subject.' }),
    reason: z.string().meta({ description: 'Why: every delivery failed for longer than the pause period, or the subscriber answered 410 Gone.' }),
  })
  .meta({ id: 'SubscriptionStatusData', description: 'A webhook subscription stopped receiving deliveries: paused (resume it) or disabled (the subscriber said it is gone).' });

// ---------------------------------------------------------------------------
// Customer events (docs/customers.md; subject: the customer id)
// ---------------------------------------------------------------------------

const MatchEvidence = z.object({ kind: z.string(), detail: z.string(), points: z.number() }).meta({ id: 'MatchEvidence', description: 'One observation about a pair of records and the points it gave.' });

export const CustomerCreatedData = z
  .object({
    customerId: z.string(),
    recordId: z.string().meta({ description: 'The source record that made the customer (csr_…).' }),
    system: CustomerSystem,
    connection: z.string(),
  })
  .meta({ id: 'CustomerCreatedData', description: 'A source record matched no known customer: a new customer.' });

export const CustomerMergedData = z
  .object({
    mergeId: z.string().meta({ description: 'The merge (cmg_…); unmerge it through stewardship.' }),
    survivorId: z.string().meta({ description: 'The customer that remains (also the subject).' }),
    mergedId: z.string().meta({ description: 'The customer that joined it; its id now resolves to the survivor.' }),
    recordIds: z.array(z.string()).meta({ description: 'The source records that moved.' }),
    decision: z.enum(['deterministic', 'automatic', 'steward']),
    rule: z.string().meta({ description: 'same-verified-email, same-loyalty-id, same-erp-account, score or steward.' }),
    score: z.number().nullable(),
    evidence: z.array(MatchEvidence),
  })
  .meta({ id: 'CustomerMergedData', description: 'Two customers became one: by a deterministic rule, a score above the automatic threshold, or a steward.' });

export const CustomerUnmergedData = z
  .object({
    mergeId: z.string(),
    survivorId: z.string().meta({ description: 'The customer the records leave (also the subject).' }),
    restoredId: z.string().meta({ description: 'The customer brought back, with its own records and history.' }),
    recordIds: z.array(z.string()),
  })
  .meta({ id: 'CustomerUnmergedData', description: 'A steward undid a merge; the two are kept apart from now on.' });

export const CustomerConsentChangedData = z
  .object({
    consentId: z.string(),
    customerId: z.string().meta({ description: 'The customer (also the subject).' }),
    purpose: z.enum(['email_marketing', 'sms_marketing', 'profiling']),
    channel: z.string().nullable().meta({ description: 'The channel the consent is for; null: every channel.' }),
    status: z.enum(['granted', 'withdrawn']),
    source: z.object({ system: z.enum(['channel', 'loyalty', 'crm', 'erp', 'syncline']), connection: z.string().nullable() }).meta({ description: 'Where the customer gave or withdrew it.' }),
    at: z.string().meta({ description: 'When the customer gave or withdrew it (ISO 8601).' }),
    proof: z.string().nullable(),
  })
  .meta({ id: 'CustomerConsentChangedData', description: "A customer's consent for a purpose changed; it is propagated to the CRM and the loyalty service." });

export const CustomerErasureRequestedData = z
  .object({
    requestId: z.string().meta({ description: 'The data subject request.' }),
    customerId: z.string().meta({ description: 'The customer (also the subject).' }),
    records: z
      .array(z.object({ recordId: z.string(), system: z.string(), connection: z.string(), sourceId: z.string().meta({ description: "The record's id in its system." }) }))
      .meta({ description: 'The systems holding a record of the customer, by their ids only (no personal data).' }),
  })
  .meta({ id: 'CustomerErasureRequestedData', description: "A customer's personal data was erased in Syncline; each system holding a record is asked to erase it too." });

/** The payload schema of each event type in EVENT_TYPES. */
export const EVENT_PAYLOADS = {
  [EVENT_TYPES.orderCreated]: OrderCreatedData,
  [EVENT_TYPES.inventoryAdjusted]: InventoryAdjustedData,
  [EVENT_TYPES.inventoryReserved]: InventoryReservedData,
  [EVENT_TYPES.inventoryReleased]: InventoryReleasedData,
  [EVENT_TYPES.inventoryAvailabilityChanged]: InventoryAvailabilityChangedData,
  [EVENT_TYPES.subscriptionPaused]: SubscriptionStatusData,
  [EVENT_TYPES.subscriptionDisabled]: SubscriptionStatusData,
  [EVENT_TYPES.customerCreated]: CustomerCreatedData,
  [EVENT_TYPES.customerMerged]: CustomerMergedData,
  [EVENT_TYPES.customerUnmerged]: CustomerUnmergedData,
  [EVENT_TYPES.customerConsentChanged]: CustomerConsentChangedData,
  [EVENT_TYPES.customerErasureRequested]: CustomerErasureRequestedData,
} as const satisfies Record<(typeof EVENT_TYPES)[keyof typeof EVENT_TYPES], z.ZodType>;

/** The `data` of an event of one of the EVENT_TYPES, as its writer builds it. */
export type EventData<T extends keyof typeof EVENT_PAYLOADS> = z.input<(typeof EVENT_PAYLOADS)[T]>;
