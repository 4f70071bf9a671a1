import { promises as dns } from 'node:dns';
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration } from '../../../domain/clients/client.service.ts';
import {
  changeSubscription,
  createSubscription,
  DEFAULT_SECRET_OVERLAP_MS,
  listDeliveryAttempts,
  listSubscriptions,
  removeSubscription,
  rotateSubscriptionSecret,
  setSubscriptionPaused,
  showSubscription,
} from '../../../domain/subscriptions/subscription.service.ts';
import { webhookUrlRefusal } from '../../../domain/subscriptions/webhook-address.ts';
import { isId } from '../../../model/ids.ts';
import { expediteTarget, forgetTarget } from '../../../store/runtime/expedite-target.ts';
import { webhookTarget } from '../../../runtime/webhooks/webhook-delivery.ts';
import { MAX_REPLAY_EVENTS, replaySubscription } from '../../../runtime/webhooks/webhook-replay.ts';
import type { ApiContext } from '../../api-context.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { operation } from '../../route-kit.ts';
import { EmptyBody, NoQuery, parseBody, parseQuery, Timestamp } from '../../validation.ts';
import { requestAuditContext } from '../admin/clients.routes.ts';

const MAX_OVERLAP_MS = 30 * 86_400_000;

const EventTypePattern = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/, 'must be an event type (order.created), a prefix with .* (order.*) or *')
  .meta({ description: 'An event type, a prefix ending in .* (order.*), or * for every type.' });

const settable = {
  url: z.string().max(2048).meta({
    description:
      'Where deliveries are POSTed: https to a public address; http or https to loopback; private and link-local addresses only when SYNCLINE_WEBHOOK_NETWORKS=any.',
  }),
  types: z.array(EventTypePattern).min(1).max(50),
  channel: z.string().trim().min(1).max(100).meta({ description: "Only events whose data.channel is this (an order's sales channel)." }),
  description: z.string().trim().min(1).max(500),
  rateLimitPerSecond: z.number().int().min(0).max(10_000).meta({ description: 'Deliveries per second to this URL, across processes (default: 50; 0: unlimited).' }),
  maxConcurrency: z.number().int().min(1).max(100).meta({ description: 'Deliveries in flight at once to this URL (default: 4).' }),
};

const CreateBody = z
  .strictObject({
    url: settable.url,
    types: settable.types,
    channel: settable.channel.optional(),
    description: settable.description.optional(),
    rateLimitPerSecond: settable.rateLimitPerSecond.optional(),
    maxConcurrency: settable.maxConcurrency.optional(),
  })
  .meta({ id: 'SubscriptionCreateRequest', description: 'A new webhook subscription.' });

// JSON merge patch (RFC 7396): absent keeps, null clears (or restores the default); url and types cannot be cleared.
const UpdateBody = z
  .strictObject({
    url: settable.url.optional(),
    types: settable.types.optional(),
    channel: settable.channel.nullable().optional(),
    description: settable.description.nullable().optional(),
    rateLimitPerSecond: settable.rateLimitPerSecond.nullable().optional().meta({ description: 'Deliveries per second to this URL, across processes; null: the default (50); 0: unlimited.' }),
    maxConcurrency: settable.maxConcurrency.nullable().optional().meta({ description: 'Deliveries in flight at once to this URL; null: the default (4).' }),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'give at least one field to change' })
  .meta({
    id: 'SubscriptionUpdateRequest',
    description: 'What to change, as a JSON merge patch: an absent field keeps its value; null clears channel and description and restores the default rate limit and concurrency.',
  });

const RotateBody = z
  .strictObject({
    overlap: z
      .string()
      .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 0s, 15m, 24h or 7d')
      .refine((v) => (parseDuration(v) ?? 0) <= MAX_OVERLAP_MS, 'must be at most 30d')
      .optional()
      .meta({ description: 'How long the previous secret keeps signing beside the new one (default: 24h, at most 30d).' }),
  })
  .optional()
  .meta({ id: 'SubscriptionSecretRotationRequest' });

const ReplayBody = z
  .strictObject({
    fromEventId: z.string().refine((v) => isId('event', v), 'must be an event id (evt_…)').optional().meta({ description: 'Replay from this event, itself included.' }),
    fromTime: Timestamp.optional().meta({ description: 'Replay the events whose time is at or after this.' }),
  })
  .refine((b) => (b.fromEventId === undefined) !== (b.fromTime === undefined), { message: 'give exactly one of fromEventId, fromTime' })
  .meta({ id: 'SubscriptionReplayRequest', description: 'Where the replay starts: one of fromEventId, fromTime.' });

const DeliveriesQuery = z.strictObject({
  eventId: z.string().refine((v) => isId('event', v), 'must be an event id').optional().meta({ description: "Only this event's attempts." }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().regex(/^\d{1,18}$/, 'must be the next of a previous page').optional().meta({ description: 'The next of the previous page.' }),
});

const subscriptionFields = {
  id: z.string(),
  url: z.string(),
  types: z.array(z.string()),
  channel: z.string().nullable(),
  description: z.string().nullable(),
  status: z.enum(['active', 'paused', 'disabled']).meta({ description: 'active: delivering; paused: events wait until resumed; disabled (after a 410): events are dropped.' }),
  statusReason: z.string().nullable(),
  rateLimitPerSecond: z.number().int(),
  maxConcurrency: z.number().int(),
  failingSince: z.string().nullable().meta({ description: 'Since when every attempt failed; null when the last one succeeded.' }),
  previousSecretValidUntil: z.string().nullable().meta({ description: 'Until when the secret before the last rotation also signs; null: it does not.' }),
  createdAt: z.string(),
  updatedAt: z.string(),
};
const SubscriptionView = z.object(subscriptionFields).meta({ id: 'Subscription', description: 'A webhook subscription, without its secret.' });
const SubscriptionCreated = z
  .object({
    ...subscriptionFields,
    secret: z.string().nullable().meta({
      description:
        'whsec_… Shown in this answer only: keep it to verify deliveries. null when the answer is a replay of an Idempotency-Key (Idempotent-Replayed: true): the secret is never stored outside the subscription; rotate it to get a new one.',
    }),
  })
  .meta({ id: 'SubscriptionCreated', description: 'A new webhook subscription with its signing secret (null in a replay).' });
const SubscriptionWithSecret = z
  .object({ ...subscriptionFields, secret: z.string().meta({ description: 'whsec_… Shown in this answer only: keep it to verify deliveries.' }) })
  .meta({ id: 'SubscriptionWithSecret', description: 'A webhook subscription with its new signing secret.' });
const DeliveryAttempt = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    subject: z.string(),
    attempt: z.number().int(),
    at: z.string(),
    statusCode: z.number().int().nullable().meta({ description: 'null: no answer (refused, timed out, address not allowed).' }),
    latencyMs: z.number().int(),
    outcome: z.enum(['delivered', 'failed']),
    error: z.string().nullable(),
  })
  .meta({ id: 'DeliveryAttempt' });

const subscriptionExample = {
  id: 'sub_01jd5q8x7m2v3k4n5p6r7s8t9w',
  url: 'https://crm.example.com/hooks/syncline',
  types: ['order.*'],
  channel: 'shopify-us',
  description: 'CRM order sync',
  status: 'active',
  statusReason: null,
  rateLimitPerSecond: 50,
  maxConcurrency: 4,
  failingSince: null,
  previousSecretValidUntil: null,
  createdAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:00:00.000Z',
};
const secretExample = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const idParam = { id: 'Subscription id (sub_…).' };
const notFound = { 'not-found': 'No subscription with this id.' } as const;
const noStore = { 'Cache-Control': { description: 'no-store: the secret is never cached.' } };
const tags: ['Subscriptions'] = ['Subscriptions'];
const auth = 'events:manage' as const;

const createOperation = operation({
  operationId: 'createSubscription',
  tags,
  summary: 'Subscribe a URL to events; the signing secret is returned once',
  description:
    'Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) with the CloudEvent as the body (application/cloudevents+json). ' +
    'The secret is in this answer only. The URL is refused when it points to an address SYNCLINE_WEBHOOK_NETWORKS does not allow. Audited as subscription.created. ' +
    'With an Idempotency-Key, a retry of the same request answers 201 with Idempotent-Replayed: true and the subscription as it is now, its secret null (the secret is not kept for replays; rotate it if the first answer was lost).',
  auth,
  idempotencyKey: 'optional',
  body: { schema: CreateBody, example: { url: 'https://crm.example.com/hooks/syncline', types: ['order.*'], channel: 'shopify-us', description: 'CRM order sync' } },
  responses: {
    201: {
      description: 'Created.',
      schema: SubscriptionCreated,
      example: { ...subscriptionExample, secret: secretExample },
      headers: {
        Location: { description: 'The subscription: /v1/subscriptions/{id}.' },
        ...noStore,
        'Idempotent-Replayed': { description: 'true: a replay of an earlier request with this Idempotency-Key; secret is null.' },
      },
    },
  },
  problems: { 'not-found': 'A replay whose subscription has been deleted since.' },
});

const updateOperation = operation({
  operationId: 'updateSubscription',
  tags,
  summary: 'Change the URL, types, channel, description, rate limit or concurrency of a subscription',
  description:
    'A JSON merge patch (RFC 7396) sent as application/json: absent fields keep their value, null clears channel and description and restores the default rate limit and concurrency. ' +
    'Validated as at creation, the URL included. Queued deliveries use the new URL and limits from their next attempt; new types and channel apply to events committed after the change. Audited as subscription.updated.',
  auth,
  params: idParam,
  body: { schema: UpdateBody, example: { types: ['order.*', 'return.*'], channel: null, rateLimitPerSecond: 20 } },
  responses: { 200: { description: 'The changed subscription.', schema: SubscriptionView, example: { ...subscriptionExample, types: ['order.*', 'return.*'], channel: null, rateLimitPerSecond: 20 } } },
  problems: notFound,
});

const listOperation = operation({
  operationId: 'listSubscriptions',
  tags,
  summary: 'List webhook subscriptions',
  description: 'Every subscription, oldest first, without secrets.',
  auth,
  query: NoQuery,
  responses: { 200: { description: 'Every subscription.', schema: z.object({ items: z.array(SubscriptionView) }).meta({ id: 'SubscriptionList' }), example: { items: [subscriptionExample] } } },
});

const getOperation = operation({
  operationId: 'getSubscription',
  tags,
  summary: 'Show a webhook subscription (never its secret)',
  auth,
  params: idParam,
  responses: { 200: { description: 'The subscription.', schema: SubscriptionView, example: subscriptionExample } },
  problems: notFound,
});

const deleteOperation = operation({
  operationId: 'deleteSubscription',
  tags,
  summary: 'Delete a webhook subscription',
  description: 'Its queued deliveries are dropped and its delivery log is deleted. Audited as subscription.deleted.',
  auth,
  params: idParam,
  responses: { 204: { description: 'Deleted.' } },
  problems: notFound,
});

const pauseOperation = (paused: boolean) =>
  operation({
    operationId: paused ? 'pauseSubscription' : 'resumeSubscription',
    tags,
    summary: paused ? 'Pause deliveries; events wait until resumed' : 'Resume a paused or disabled subscription',
    description: paused
      ? 'Events keep being queued for the subscription and are delivered, in order, on resume. Audited as subscription.paused.'
      : 'Queued deliveries become due at once and the failure count starts again; a disabled subscription receives events from now on (replay to get the ones it missed). Audited as subscription.resumed.',
    auth,
    params: idParam,
    body: { schema: EmptyBody, example: {}, required: false },
    responses: {
      200: { description: 'The subscription.', schema: SubscriptionView, example: { ...subscriptionExample, status: paused ? 'paused' : 'active', statusReason: paused ? 'paused by a client' : null } },
    },
    problems: notFound,
  });

const rotateOperation = operation({
  operationId: 'rotateSubscriptionSecret',
  tags,
  summary: 'Give a subscription a new signing secret; both sign during the overlap',
  description: 'The new secret is returned once. Until previousSecretValidUntil, webhook-signature carries one signature per secret. Audited as subscription.secret_rotated.',
  auth,
  params: idParam,
  body: { schema: RotateBody, example: { overlap: '24h' }, required: false },
  responses: {
    200: {
      description: 'The subscription and its new secret.',
      schema: SubscriptionWithSecret,
      example: { ...subscriptionExample, previousSecretValidUntil: '2026-11-23T12:00:00.000Z', secret: secretExample },
      headers: noStore,
    },
  },
  problems: notFound,
});

const deliveriesOperation = operation({
  operationId: 'listSubscriptionDeliveries',
  tags,
  summary: "Read a subscription's delivery log",
  description: 'Every HTTP attempt, newest first: when, the status code, the latency and the error.',
  auth,
  params: idParam,
  query: DeliveriesQuery,
  responses: {
    200: {
      description: 'A page of attempts.',
      schema: z.object({ items: z.array(DeliveryAttempt), next: z.string().nullable() }).meta({ id: 'DeliveryAttemptPage' }),
      example: {
        items: [
          { id: '42', eventId: 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x', eventType: 'order.created', subject: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9v', attempt: 1, at: '2026-11-22T10:00:01.000Z', statusCode: 200, latencyMs: 48, outcome: 'delivered', error: null },
        ],
        next: null,
      },
    },
  },
  problems: notFound,
});

const replayOperation = operation({
  operationId: 'replaySubscription',
  tags,
  summary: 'Deliver a subscription’s events again from an event or a time',
  description: `Queues the matching events again, in commit order, behind the deliveries already queued; each keeps its webhook-id. At most ${MAX_REPLAY_EVENTS} events are read per request (truncated says more remain: replay again from lastEventId). Audited as subscription.replayed.`,
  auth,
  params: idParam,
  body: { schema: ReplayBody, example: { fromTime: '2026-11-22T00:00:00Z' } },
  responses: {
    202: {
      description: 'Queued.',
      schema: z.object({ events: z.number().int(), lastEventId: z.string().nullable(), truncated: z.boolean() }).meta({ id: 'SubscriptionReplayResult' }),
      example: { events: 120, lastEventId: 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x', truncated: false },
    },
  },
  problems: { ...notFound, 'validation-failed': 'The body is not valid, or fromEventId names no event.' },
});

function idOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!isId('subscription', id)) throw new ProblemError('not-found', `No subscription with id ${id}.`);
  return id;
}
const missing = (id: string) => new ProblemError('not-found', `No subscription with id ${id}.`);

async function resolveAll(host: string): Promise<string[]> {
  return (await dns.lookup(host, { all: true })).map((a) => a.address);
}

/** Webhook subscriptions: create, list, show, change, pause, resume, delete, rotate the secret, the delivery log, replay. */
export async function subscriptionsRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {

  const checkUrl = async (url: string) => {
    const refusal = await webhookUrlRefusal(url, config.webhooks.networks, resolveAll);
    if (refusal) throw new ProblemError('validation-failed', `url ${refusal}.`, { errors: [{ pointer: '/url', detail: refusal }] });
  };

  app.post('/v1/subscriptions', { schema: createOperation }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(CreateBody, request.body);
    await checkUrl(body.url);
    const result = settle(reply, await createSubscription(db, body, requestAuditContext(request), claim));
    if ('kind' in result) throw new ProblemError('not-found', 'The subscription this Idempotency-Key created has been deleted since.');
    const { subscription, secret } = result;
    return reply.code(201).header('Location', `/v1/subscriptions/${subscription.id}`).header('Cache-Control', 'no-store').send({ ...subscription, secret });
  });

  app.get('/v1/subscriptions', { schema: listOperation }, async (request) => {
    parseQuery(NoQuery, request.query);
    return { items: await listSubscriptions(db) };
  });

  app.get('/v1/subscriptions/:id', { schema: getOperation }, async (request) => {
    const id = idOf(request);
    const subscription = await showSubscription(db, id);
    if (!subscription) throw missing(id);
    return subscription;
  });

  app.patch('/v1/subscriptions/:id', { schema: updateOperation }, async (request) => {
    const id = idOf(request);
    const body = parseBody(UpdateBody, request.body);
    if (body.url !== undefined) await checkUrl(body.url);
    const result = await changeSubscription(db, id, body, requestAuditContext(request));
    if ('kind' in result) throw missing(id);
    return result;
  });

  app.delete('/v1/subscriptions/:id', { schema: deleteOperation }, async (request, reply) => {
    const id = idOf(request);
    if (!(await removeSubscription(db, id, requestAuditContext(request), (tx) => forgetTarget(tx, webhookTarget(id))))) throw missing(id);
    return reply.code(204).send();
  });

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(`/v1/subscriptions/:id/${action}`, { schema: pauseOperation(paused) }, async (request) => {
      const id = idOf(request);
      parseBody(EmptyBody, request.body ?? undefined);
      const result = await setSubscriptionPaused(db, id, paused, requestAuditContext(request), (tx) => expediteTarget(tx, webhookTarget(id)));
      if ('kind' in result) throw missing(id);
      return result;
    });
  }

  app.post('/v1/subscriptions/:id/rotate-secret', { schema: rotateOperation }, async (request, reply) => {
    const id = idOf(request);
    const body = parseBody(RotateBody, request.body ?? undefined);
    const overlapMs = body?.overlap ? parseDuration(body.overlap)! : DEFAULT_SECRET_OVERLAP_MS;
    const result = await rotateSubscriptionSecret(db, id, overlapMs, requestAuditContext(request));
    if ('kind' in result) throw missing(id);
    return reply.header('Cache-Control', 'no-store').send({ ...result.subscription, secret: result.secret });
  });

  app.get('/v1/subscriptions/:id/deliveries', { schema: deliveriesOperation }, async (request) => {
    const id = idOf(request);
    const query = parseQuery(DeliveriesQuery, request.query);
    const result = await listDeliveryAttempts(db, id, { eventId: query.eventId, before: query.before }, query.limit);
    if ('kind' in result) throw missing(id);
    return result;
  });

  app.post('/v1/subscriptions/:id/replay', { schema: replayOperation }, async (request, reply) => {
    const id = idOf(request);
    const body = parseBody(ReplayBody, request.body);
    const start = body.fromEventId !== undefined ? { eventId: body.fromEventId } : { time: body.fromTime! };
    const result = await replaySubscription(db, id, start, requestAuditContext(request));
    if (result.kind === 'not-found') throw missing(id);
    if (result.kind === 'unknown-event') {
      throw new ProblemError('validation-failed', 'fromEventId names no event.', { errors: [{ pointer: '/fromEventId', detail: 'names no event' }] });
    }
    return reply.code(202).send({ events: result.events, lastEventId: result.lastEventId, truncated: result.truncated });
  });
}
