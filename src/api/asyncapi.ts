import { z } from 'zod';
import { CloudEvent, EVENT_TYPES } from '../model/cloud-event.ts';
import { EVENT_PAYLOADS } from '../model/events.ts';
import { ORDER_EVENT_PAYLOADS, ORDER_EVENT_TYPES } from '../flows/order-events.ts';
import { EVENT_DATA_EXAMPLES } from './event-examples.ts';
import { jsonSchemaOf, type Components } from './route-kit.ts';

/**
 * The AsyncAPI 3.0 document of the events Syncline emits, served by GET /asyncapi.json.
 * Payload schemas are the zod schemas of src/model/events.ts, converted exactly as the
 * OpenAPI document converts its schemas (route-kit's jsonSchemaOf), so both documents
 * describe a shared type (Order, Reservation, LedgerEntry) with the same JSON Schema.
 *
 * Glossary:
 * - event type: the CloudEvent `type` (order.created); every type in EVENT_TYPES and
 *   ORDER_EVENT_TYPES has a payload schema, so a type cannot be emitted undocumented.
 * - delivery channel: how an event leaves Syncline. NATS JetStream (one subject per type)
 *   and signed webhook deliveries (one POST per event and subscription). The pull feed
 *   GET /v1/events is an operation of the OpenAPI document.
 */

type Json = Record<string, unknown>;

/** Every event type Syncline writes to its outbox, with its payload schema. */
export const EVENT_CATALOGUE: Record<string, z.ZodType> = { ...EVENT_PAYLOADS, ...ORDER_EVENT_PAYLOADS };

/** An event type the code emits: a new constant without a payload schema, summary and example does not compile. */
export type EventType = keyof typeof EVENT_PAYLOADS | keyof typeof ORDER_EVENT_PAYLOADS;

/** The event types the code can emit, from the writers' constants. */
export const EMITTED_EVENT_TYPES: readonly string[] = [...Object.values(EVENT_TYPES), ...Object.values(ORDER_EVENT_TYPES)];

const SOURCES: Record<string, string> = { order: '/syncline/orders', inventory: '/syncline/inventory', subscription: '/syncline/subscriptions', customer: '/syncline/customers' };

const SUMMARIES: Record<EventType, string> = {
  'order.created': 'An order was accepted from a channel (the whole canonical order).',
  'order.on_hold': 'An order stopped: validation, fraud, or a flow that failed for good.',
  'order.exception': 'A flow after release (shipment, invoice, return) failed for good; the order kept its status.',
  'order.backordered': 'Not enough stock: the order waits for stock.',
  'order.released': 'An order was paid, reserved, posted to the ERP and sent to the warehouses.',
  'order.partially_shipped': 'A shipment left; some lines are still to ship.',
  'order.shipped': 'The last shipment left: every line is shipped or cancelled.',
  'order.invoiced': 'The ERP invoiced the order.',
  'order.completed': 'An order is shipped (or cancelled) in full and invoiced.',
  'order.cancelled': 'An order was cancelled in full.',
  'order.payment_failed': 'The payment was declined at authorisation or capture.',
  'order.returned': 'A return is done: refunded, credited and restocked.',
  'order.channel_refunded': 'A refund was taken in the sales channel; recorded on the order.',
  'order.amended': "A channel's change to an order before release (address, lines, payment) was applied.",
  'order.channel_update_after_release': 'A channel changed an order after release: reported, not applied.',
  'inventory.adjusted': 'Stock moved: receipts, adjustments, transfers, counts, returns and sales.',
  'inventory.reserved': 'Units were reserved for an order or a cart.',
  'inventory.released': 'A reservation was released or lapsed.',
  'inventory.availability.changed': 'What a channel can sell of a SKU changed.',
  'subscription.paused': 'A webhook subscription was paused: every delivery failed for longer than the pause period.',
  'subscription.disabled': 'A webhook subscription was disabled: its subscriber answered 410 Gone.',
  'customer.created': 'A customer record matched no known customer: a new customer.',
  'customer.merged': 'Two customers became one (a deterministic rule, a score above the automatic threshold, or a steward).',
  'customer.unmerged': 'A steward undid a merge: the records came apart with their own history.',
  'customer.consent_changed': 'A consent statement (grant or withdrawal, per purpose and channel) was recorded for a customer (propagated to the CRM and the loyalty service).',
  'customer.erasure_requested': "A customer's personal data was erased in Syncline; the systems holding its records are asked to erase them.",
};

const EXAMPLE_TIME = '2026-11-22T10:15:02.120Z';
const EXAMPLE_EVENT_ID = 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x';

/** `order.payment_failed` -> `OrderPaymentFailed`: the name of its message and schemas. */
export function eventName(type: string): string {
  return type
    .split(/[._]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The CloudEvent of one type, with its payload schema as `data`. */
export function eventSchema(type: string): z.ZodType {
  const data = EVENT_CATALOGUE[type];
  if (!data) throw new Error(`no payload schema for event type ${type} (src/model/events.ts)`);
  return CloudEvent.extend({ type: z.literal(type), data }).meta({ description: `A CloudEvents 1.0 event of type ${type}.` });
}

/** A complete example event of one type: the CloudEvent around its example payload. */
export function exampleEvent(type: string): CloudEvent {
  const data = EVENT_DATA_EXAMPLES[type as EventType] as Record<string, unknown>;
  const subject = (data.orderId ?? data.id ?? data.reservationId ?? data.subscriptionId ?? data.sku ?? data.customerId ?? data.survivorId) as string;
  return {
    specversion: '1.0',
    id: EXAMPLE_EVENT_ID,
    source: SOURCES[type.split('.')[0]!]!,
    type,
    subject,
    time: EXAMPLE_TIME,
    datacontenttype: 'application/json',
    correlationid: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    data,
  };
}

const NATS_HEADERS = {
  type: 'object',
  properties: {
    'Nats-Msg-Id': {
      type: 'string',
      description: 'The event id (the CloudEvent id): JetStream drops a second message with the same id within the stream’s duplicate window.',
    },
  },
  required: ['Nats-Msg-Id'],
};

const WEBHOOK_HEADERS = {
  type: 'object',
  properties: {
    'webhook-id': { type: 'string', description: 'The event id (the CloudEvent id); the same on every attempt: deduplicate on it.' },
    'webhook-timestamp': { type: 'string', pattern: '^[0-9]+$', description: 'Unix seconds when this attempt was signed; refuse one too far from your clock.' },
    'webhook-signature': {
      type: 'string',
      description:
        'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the base64-decoded part of the ' +
        'subscription’s `whsec_` secret (Standard Webhooks). During a secret rotation both secrets sign: accept any one that matches.',
    },
    'content-type': { type: 'string', const: 'application/cloudevents+json' },
  },
  required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
};

function natsExampleHeaders(event: CloudEvent): Json {
  return { 'Nats-Msg-Id': event.id };
}

function webhookExampleHeaders(event: CloudEvent): Json {
  return {
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(Date.parse(EXAMPLE_TIME) / 1000)),
    'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    'content-type': 'application/cloudevents+json',
  };
}

/** The channel id of a type's NATS subject: `order.payment_failed` -> `nats-order-payment_failed`. */
const natsChannel = (type: string) => `nats-${type.replaceAll('.', '-')}`;

/** Builds the AsyncAPI 3.0 document. Deterministic: the same code gives the same document. */
export function buildAsyncApiDocument(): Json {
  const components: Components = new Map();
  const schemas: Json = {};
  const messages: Json = {};
  const channels: Json = {};
  const operations: Json = {};
  const webhookMessages: Json = {};
  const types = [...new Set(EMITTED_EVENT_TYPES)].sort();

  for (const type of types) {
    const name = eventName(type);
    schemas[`${name}Event`] = jsonSchemaOf(eventSchema(type), components);
    const example = exampleEvent(type);
    const common = {
      name: type,
      title: type,
      summary: SUMMARIES[type as EventType],
      contentType: 'application/cloudevents+json',
      correlationId: { $ref: '#/components/correlationIds/correlationid' },
      payload: { $ref: `#/components/schemas/${name}Event` },
    };
    messages[name] = {
      ...common,
      headers: NATS_HEADERS,
      examples: [{ name: `${name}Example`, summary: `A ${type} event`, headers: natsExampleHeaders(example), payload: example }],
    };
    messages[`${name}Webhook`] = {
      ...common,
      headers: WEBHOOK_HEADERS,
      examples: [{ name: `${name}WebhookExample`, summary: `A ${type} delivery`, headers: webhookExampleHeaders(example), payload: example }],
    };

    const channel = natsChannel(type);
    channels[channel] = {
      address: `syncline.${type}`,
      title: `syncline.${type}`,
      summary: SUMMARIES[type as EventType],
      servers: [{ $ref: '#/servers/nats' }],
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
    };
    operations[`publish-${type.replaceAll('.', '-')}`] = {
      action: 'send',
      title: `Publish ${type}`,
      summary: `Every ${type} event, once it is committed, on the JetStream subject syncline.${type}.`,
      channel: { $ref: `#/channels/${channel}` },
      messages: [{ $ref: `#/channels/${channel}/messages/${name}` }],
    };
    webhookMessages[name] = { $ref: `#/components/messages/${name}Webhook` };
  }

  channels.webhook = {
    address: null,
    title: 'Webhook subscription',
    description:
      'The URL of each webhook subscription (POST /v1/subscriptions in the OpenAPI document). Each event whose type the subscription wants is POSTed ' +
      'to it as the CloudEvent in structured JSON mode, signed per Standard Webhooks. A 2xx answer acknowledges it; any other answer or none is retried ' +
      'with exponential backoff; 410 Gone disables the subscription.',
    servers: [{ $ref: '#/servers/subscriber' }],
    messages: webhookMessages,
  };
  operations['deliver-webhook'] = {
    action: 'send',
    title: 'Deliver to a webhook subscription',
    summary: 'At least once, in commit order per subject for each subscription.',
    channel: { $ref: '#/channels/webhook' },
    messages: Object.keys(webhookMessages).map((name) => ({ $ref: `#/channels/webhook/messages/${name}` })),
    bindings: { http: { method: 'POST', bindingVersion: '0.3.0' } },
  };

  for (const [id, schema] of components) schemas[id] = schema;
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Syncline events',
      version: '1.0.0',
      description:
        'Every state change Syncline commits is an event in its transactional outbox: a CloudEvents 1.0 event (structured JSON mode) whose `data` is ' +
        'described here per type. Events leave Syncline at least once, in commit order per subject (the order, reservation or SKU the event is about); ' +
        'a consumer deduplicates on the event id. Three ways out: the NATS JetStream subjects `syncline.<event type>` (when SYNCLINE_NATS_URL is set), ' +
        'signed webhook subscriptions, and the pull feed GET /v1/events (see /openapi.json).',
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    defaultContentType: 'application/cloudevents+json',
    servers: {
      nats: {
        host: '{host}',
        protocol: 'nats',
        title: 'NATS JetStream',
        description: 'The NATS server of SYNCLINE_NATS_URL. The message id (Nats-Msg-Id) is the event id, so JetStream keeps one message per event.',
        variables: { host: { default: '127.0.0.1:4222', description: 'Host and port of SYNCLINE_NATS_URL.' } },
      },
      subscriber: {
        host: '{host}',
        protocol: 'https',
        title: 'Webhook subscriber',
        description: 'The system at the URL of a webhook subscription.',
        variables: { host: { default: 'crm.example.com', description: 'The host of the subscription’s url.' } },
      },
    },
    channels,
    operations,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      messages,
      correlationIds: {
        correlationid: { description: 'The correlation id of the request that caused the event (CloudEvents extension).', location: '$message.payload#/correlationid' },
      },
    },
  };
}

let cached: Json | undefined;

/** The document, built once per process (it depends on the code only). */
export function asyncApiDocument(): Json {
  cached ??= buildAsyncApiDocument();
  return cached;
}
