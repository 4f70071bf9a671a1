import { EVENT_TYPES } from '../../model/cloud-event.ts';
import type { EventData } from '../../model/events.ts';
import { newId } from '../../model/ids.ts';
import type { NewEvent } from '../../runtime/outbox/outbox.ts';

type CustomerEventType = typeof EVENT_TYPES.customerConsentChanged | typeof EVENT_TYPES.customerErasureRequested;

/** An outbox event about a customer (subject: the customer id; source /syncline/customers). */
export function customerEvent<T extends CustomerEventType>(type: T, customerId: string, data: EventData<T>, correlationId: string): NewEvent {
  return { id: newId('event'), type, source: '/syncline/customers', subject: customerId, time: new Date().toISOString(), correlationId, data };
}
