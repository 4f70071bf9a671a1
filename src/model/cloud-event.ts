import { z } from 'zod';

/** CloudEvents 1.0 envelope (JSON format) with the correlation and tracing extensions Syncline sets. */
export const CloudEvent = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string(),
    source: z.string().meta({ example: '/syncline/orders' }),
    type: z.string().meta({ example: 'order.created' }),
    subject: z.string().optional(),
    time: z.string(),
    datacontenttype: z.literal('application/json'),
    correlationid: z.string().meta({ description: 'Extension: the correlation id of the request that caused the event.' }),
    traceparent: z.string().optional().meta({ description: 'Extension (distributed tracing): W3C trace context.' }),
    tracestate: z.string().optional().meta({ description: 'Extension (distributed tracing): the W3C tracestate given with the traceparent, kept as received.' }),
    data: z.unknown(),
  })
  .meta({ id: 'CloudEvent', description: 'A CloudEvents 1.0 event.' });
export type CloudEvent = z.infer<typeof CloudEvent>;

/** Event types Syncline publishes. */
export const EVENT_TYPES = {
  orderCreated: 'order.created',
  inventoryAdjusted: 'inventory.adjusted',
  inventoryReserved: 'inventory.reserved',
  inventoryReleased: 'inventory.released',
  inventoryAvailabilityChanged: 'inventory.availability.changed',
  subscriptionPaused: 'subscription.paused',
  subscriptionDisabled: 'subscription.disabled',
  customerCreated: 'customer.created',
  customerMerged: 'customer.merged',
  customerUnmerged: 'customer.unmerged',
  customerConsentChanged: 'customer.consent_changed',
  customerErasureRequested: 'customer.erasure_requested',
} as const;
