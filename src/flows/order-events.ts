import type { z } from 'zod';
import {
  OrderAmendedData,
  OrderBackorderedData,
  OrderChannelUpdateAfterReleaseData,
  OrderCancelledData,
  OrderChannelRefundedData,
  OrderCompletedData,
  OrderExceptionData,
  OrderInvoicedData,
  OrderOnHoldData,
  OrderPaymentFailedData,
  OrderReleasedData,
  OrderReturnedData,
  OrderShippedData,
} from '../model/events.ts';
import { newId } from '../model/ids.ts';
import type { NewEvent } from '../runtime/outbox/outbox.ts';
import { currentTraceContext } from '../observability/tracing.ts';
import { AMENDMENT_EVENT_TYPES } from '../domain/orders/order-amendment.service.ts';

/** Order lifecycle events the flows publish through the outbox (beside order.created from intake). */
export const ORDER_EVENT_TYPES = {
  onHold: AMENDMENT_EVENT_TYPES.onHold,
  /** A flow after release (shipment, invoice, return) failed for good; the order kept its status. */
  exception: 'order.exception',
  backordered: 'order.backordered',
  released: 'order.released',
  partiallyShipped: 'order.partially_shipped',
  shipped: 'order.shipped',
  invoiced: 'order.invoiced',
  completed: 'order.completed',
  cancelled: 'order.cancelled',
  paymentFailed: 'order.payment_failed',
  returned: 'order.returned',
  /** A refund taken in a sales channel (channel connections). */
  channelRefunded: 'order.channel_refunded',
  /** A channel's change to an order before release was applied (docs/adr/0023). */
  amended: AMENDMENT_EVENT_TYPES.amended,
  /** A channel changed an order after release: reported, not applied. */
  channelUpdateAfterRelease: AMENDMENT_EVENT_TYPES.channelUpdateAfterRelease,
} as const;

/** The payload schema of each order lifecycle event (src/model/events.ts). */
export const ORDER_EVENT_PAYLOADS = {
  [ORDER_EVENT_TYPES.onHold]: OrderOnHoldData,
  [ORDER_EVENT_TYPES.exception]: OrderExceptionData,
  [ORDER_EVENT_TYPES.backordered]: OrderBackorderedData,
  [ORDER_EVENT_TYPES.released]: OrderReleasedData,
  [ORDER_EVENT_TYPES.partiallyShipped]: OrderShippedData,
  [ORDER_EVENT_TYPES.shipped]: OrderShippedData,
  [ORDER_EVENT_TYPES.invoiced]: OrderInvoicedData,
  [ORDER_EVENT_TYPES.completed]: OrderCompletedData,
  [ORDER_EVENT_TYPES.cancelled]: OrderCancelledData,
  [ORDER_EVENT_TYPES.paymentFailed]: OrderPaymentFailedData,
  [ORDER_EVENT_TYPES.returned]: OrderReturnedData,
  [ORDER_EVENT_TYPES.channelRefunded]: OrderChannelRefundedData,
  [ORDER_EVENT_TYPES.amended]: OrderAmendedData,
  [ORDER_EVENT_TYPES.channelUpdateAfterRelease]: OrderChannelUpdateAfterReleaseData,
} as const satisfies Record<OrderEventType, z.ZodType>;

export type OrderEventType = (typeof ORDER_EVENT_TYPES)[keyof typeof ORDER_EVENT_TYPES];

// Distributes over unions, so each variant of a payload keeps its own members.
type WithoutOrderId<T> = T extends unknown ? Omit<T, 'orderId'> : never;

/**
 * An order event for the outbox; `subject` is the order id, so consumers can follow one order.
 * It carries the traceparent of the span that writes it (the flow step's), so every event of
 * an order joins the order's trace (CloudEvents distributed tracing extension).
 */
export function orderEvent<T extends OrderEventType>(
  type: T,
  orderId: string,
  correlationId: string,
  data: WithoutOrderId<z.input<(typeof ORDER_EVENT_PAYLOADS)[T]>>,
): NewEvent {
  return { id: newId('event'), type, source: '/syncline/orders', subject: orderId, time: new Date().toISOString(), correlationId, ...currentTraceContext(), data: { orderId, ...data } };
}
