import { newId } from '../model/ids.ts';
import type { NewEvent } from '../runtime/outbox/outbox.ts';

/** Order lifecycle events the flows publish through the outbox (beside order.created from intake). */
export const ORDER_EVENT_TYPES = {
  onHold: 'order.on_hold',
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
} as const;

/** An order event for the outbox; `subject` is the order id, so consumers can follow one order. */
export function orderEvent(type: string, orderId: string, correlationId: string, data: Record<string, unknown>): NewEvent {
  return { id: newId('event'), type, source: '/syncline/orders', subject: orderId, time: new Date().toISOString(), correlationId, data: { orderId, ...data } };
}
