import { CustomerService } from '../../domain/customers/customer.service.ts';
import { SynclineError } from '../../domain/errors.ts';
import { EVENT_TYPES, type CloudEvent } from '../../model/cloud-event.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { Database } from '../../store/database.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';

/**
 * Orders resolve to a customer off the intake path (docs/customers.md): a subscriber to
 * `order.created` on the bulk lane runs the order's buyer through matching after the order
 * was accepted, and records the order's customer. Intake writes nothing more; the order's
 * own customer fields stay as the channel sent them. A replay finds the order resolved and
 * does nothing.
 */

export const CUSTOMER_RESOLUTION = 'customer-resolution';

/** Resolves the order an `order.created` event names. */
export async function resolveOrderCustomer(customers: CustomerService, db: Database, event: CloudEvent): Promise<void> {
  const orderId = event.subject;
  if (!orderId) throw new SynclineError('flow.event_without_subject', `event ${event.id} has no order id as subject`);
  const order = await findOrderById(db, orderId);
  if (!order) throw new SynclineError('order.not_found', `order ${orderId} of event ${event.id} does not exist`, { retry: 'transient' });
  await customers.resolveOrder(order, { correlationId: event.correlationid });
}

/** Adds the subscriber to a worker's registry. */
export function registerCustomerResolution(registry: RuntimeRegistry, db: Database, customers = new CustomerService(db)): void {
  registry.subscribe({ name: CUSTOMER_RESOLUTION, types: [EVENT_TYPES.orderCreated], lane: 'bulk', handle: (event) => resolveOrderCustomer(customers, db, event) });
}
