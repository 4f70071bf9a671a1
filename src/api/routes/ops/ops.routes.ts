import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { DeadLetterService } from '../../../runtime/dead-letters/dead-letter.service.ts';
import { OpsService } from '../../../runtime/ops.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { EmptyBody, NoQuery, parseBody, parseQuery, Timestamp } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { recordAudit } from '../../../domain/audit/audit.ts';

const Filter = {
  type: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(200).optional(),
  reason: z.string().min(1).max(200).optional(),
  since: Timestamp.optional(),
  until: Timestamp.optional(),
};

const ListQuery = z.strictObject({
  ...Filter,
  status: z.enum(['open', 'replayed', 'discarded']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().refine((v) => isId('deadLetter', v), 'must be a dead letter id').optional(),
});

const ReplayFilterBody = z
  .strictObject({ ...Filter, limit: z.number().int().min(1).max(1000).default(100) })
  .refine((b) => b.type || b.target || b.reason || b.since || b.until, {
    message: 'name at least one of type, target, reason, since, until (replaying everything needs an explicit filter)',
  });

export const DiscardBody = z.strictObject({ reason: z.string().trim().min(3).max(1000) });

function deadLetterId(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!isId('deadLetter', id)) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
  return id;
}

// Answers, as the ops and dead letter services build them.
const QueueGroup = z
  .object({
    key: z.string(),
    waiting: z.number().int(),
    running: z.number().int(),
    due: z.number().int(),
    oldestAgeSeconds: z.number().meta({ description: 'Seconds the oldest due job has waited (0 when none is due).' }),
  })
  .meta({ id: 'QueueGroup' });
const QueueStats = z.object({ lanes: z.array(QueueGroup), types: z.array(QueueGroup), targets: z.array(QueueGroup) }).meta({ id: 'QueueStats' });
const TargetStatus = z
  .object({
    name: z.string(),
    breaker: z.object({
      state: z.string(),
      blockedUntil: z.string().nullable(),
      openedAt: z.string().nullable(),
      consecutiveFailures: z.number().int(),
      windowCalls: z.number().int(),
      windowFailures: z.number().int(),
      lastFailure: z.unknown(),
    }),
    rateLimit: z.object({ perSecond: z.number().nullable(), callsLastSecond: z.number().int(), usage: z.number().nullable() }),
    concurrency: z.object({ cap: z.number().int().nullable(), inFlight: z.number().int() }),
    jobs: z.object({ running: z.number().int(), waiting: z.number().int() }),
    policy: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'TargetStatus', description: 'A target system: circuit breaker, rate limit, concurrency and jobs.' });
const DeadLetter = z
  .object({
    id: z.string(),
    status: z.enum(['open', 'replayed', 'discarded']),
    type: z.string(),
    lane: z.enum(['critical', 'normal', 'bulk']),
    target: z.string().nullable(),
    jobKey: z.string().nullable(),
    orderingKey: z.string().nullable(),
    correlationId: z.string(),
    errorClass: z.string(),
    errorCode: z.string(),
    reason: z.string(),
    remediation: z.string(),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    enqueuedAt: z.string(),
    failedAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolutionNote: z.string().nullable(),
    replayJobId: z.string().nullable(),
  })
  .meta({ id: 'DeadLetter', description: 'A job that failed for good, with why and what to do.' });
const DeadLetterDetail = DeadLetter.extend({
  payload: z.unknown(),
  excerpt: z.unknown(),
  audit: z.array(z.object({ at: z.string(), actor: z.string(), action: z.string(), detail: z.unknown() })),
}).meta({ id: 'DeadLetterDetail' });
const DeadLetterPage = z.object({ items: z.array(DeadLetter), next: z.string().nullable() }).meta({ id: 'DeadLetterPage' });
const Replayed = z.object({ id: z.string(), status: z.literal('replayed'), jobId: z.string() }).meta({ id: 'DeadLetterReplayed' });
const ReplayedMany = z.object({ replayed: z.number().int(), items: z.array(z.object({ id: z.string(), jobId: z.string() })) }).meta({ id: 'DeadLettersReplayed' });
const Discarded = z.object({ id: z.string(), status: z.literal('discarded') }).meta({ id: 'DeadLetterDiscarded' });

const deadLetterExample = {
  id: 'dlq_01jd5q8x7m2v3k4n5p6r7s8ta2',
  status: 'open',
  type: 'order.erp_post',
  lane: 'normal',
  target: 'erp',
  jobKey: 'erp:ord_01jd5q8x7m2v3k4n5p6r7s8t9w',
  orderingKey: null,
  correlationId: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
  errorClass: 'permanent',
  errorCode: 'erp.product_unknown',
  reason: 'The ERP does not know SKU TEE-M-BLK.',
  remediation: 'Create the product in the ERP, then replay.',
  attempts: 1,
  maxAttempts: 8,
  enqueuedAt: '2026-11-22T10:15:03.000Z',
  failedAt: '2026-11-22T10:15:04.000Z',
  resolvedAt: null,
  resolvedBy: null,
  resolutionNote: null,
  replayJobId: null,
};
const deadLetterParams = { id: 'Dead letter id (dlq_…).' };

const actorOf = (request: FastifyRequest) => `client:${request.principal?.clientId ?? 'unknown'}`;
// Audited right after the dead-letter service commits (its transaction is not reachable from here).
const auditOf = (request: FastifyRequest) => ({ actor: actorOf(request), correlationId: request.id });

/** Operations: queue depth, target health, and dead letters (list, show, replay, discard). */
export async function opsRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const ops = new OpsService(db);
  const deadLetters = new DeadLetterService(db);

  const queues = operation({
    operationId: 'getQueues',
    tags: ['Operations'],
    summary: 'Queue depth and age by lane, job type and target',
    auth: 'ops:read',
    query: NoQuery,
    responses: {
      200: {
        description: 'Every lane (empty ones too), job type and target with waiting, running and due jobs.',
        schema: QueueStats,
        example: {
          lanes: [
            { key: 'critical', waiting: 0, running: 0, due: 0, oldestAgeSeconds: 0 },
            { key: 'normal', waiting: 12, running: 4, due: 3, oldestAgeSeconds: 1.4 },
            { key: 'bulk', waiting: 0, running: 0, due: 0, oldestAgeSeconds: 0 },
          ],
          types: [{ key: 'order.erp_post', waiting: 12, running: 4, due: 3, oldestAgeSeconds: 1.4 }],
          targets: [{ key: 'erp', waiting: 12, running: 4, due: 3, oldestAgeSeconds: 1.4 }],
        },
      },
    },
  });
  app.get('/v1/ops/queues', { schema: queues }, async (request) => {
    parseQuery(NoQuery, request.query);
    return ops.queues();
  });

  const targets = operation({
    operationId: 'getTargets',
    tags: ['Operations'],
    summary: 'Health of each target system: breaker, rate limit, concurrency, jobs',
    auth: 'ops:read',
    query: NoQuery,
    responses: {
      200: {
        description: 'Every target.',
        schema: z.object({ items: z.array(TargetStatus) }).meta({ id: 'TargetList' }),
        example: {
          items: [
            {
              name: 'erp',
              breaker: { state: 'closed', blockedUntil: null, openedAt: null, consecutiveFailures: 0, windowCalls: 40, windowFailures: 0, lastFailure: null },
              rateLimit: { perSecond: 20, callsLastSecond: 6, usage: 0.3 },
              concurrency: { cap: 4, inFlight: 2 },
              jobs: { running: 2, waiting: 5 },
              policy: { ratePerSecond: 20, concurrency: 4 },
            },
          ],
        },
      },
    },
  });
  app.get('/v1/ops/targets', { schema: targets }, async (request) => {
    parseQuery(NoQuery, request.query);
    return { items: await ops.targets() };
  });

  const relays = operation({
    operationId: 'getRelays',
    tags: ['Operations'],
    summary: 'Outbox relays: where each cursor stands and how many events wait behind it',
    auth: 'ops:read',
    query: NoQuery,
    responses: {
      200: {
        description: 'Every relay that has moved its cursor once: `default` feeds the subscriptions, `nats:<stream>` publishes to NATS JetStream.',
        schema: z
          .object({ items: z.array(z.object({ name: z.string(), updatedAt: z.string(), behind: z.number().int() }).meta({ id: 'RelayStatus' })) })
          .meta({ id: 'RelayList' }),
        example: {
          items: [
            { name: 'default', updatedAt: '2026-03-02T10:15:00.000Z', behind: 0 },
            { name: 'nats:SYNCLINE', updatedAt: '2026-03-02T10:12:41.000Z', behind: 1840 },
          ],
        },
      },
    },
  });
  app.get('/v1/ops/relays', { schema: relays }, async (request) => {
    parseQuery(NoQuery, request.query);
    return { items: await ops.relays() };
  });

  const listDeadLetters = operation({
    operationId: 'listDeadLetters',
    tags: ['Operations'],
    summary: 'Dead letters, newest first, filtered',
    auth: 'ops:read',
    query: ListQuery,
    responses: { 200: { description: 'A page; pass next as before to continue.', schema: DeadLetterPage, example: { items: [deadLetterExample], next: null } } },
  });
  app.get('/v1/ops/dead-letters', { schema: listDeadLetters }, async (request) => {
    const { limit, before, ...filter } = parseQuery(ListQuery, request.query);
    return deadLetters.list(filter, { limit, before });
  });

  const getDeadLetter = operation({
    operationId: 'getDeadLetter',
    tags: ['Operations'],
    summary: 'A dead letter with its payload, the failure excerpt and its audit trail',
    auth: 'ops:read',
    params: deadLetterParams,
    responses: {
      200: {
        description: 'The dead letter.',
        schema: DeadLetterDetail,
        example: { ...deadLetterExample, payload: { orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w' }, excerpt: { status: 200, fault: 'product unknown' }, audit: [] },
      },
    },
    problems: { 'not-found': 'No such dead letter.' },
  });
  app.get('/v1/ops/dead-letters/:id', { schema: getDeadLetter }, async (request) => {
    const id = deadLetterId(request);
    const found = await deadLetters.show(id);
    if (!found) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    return found;
  });

  const replayDeadLetters = operation({
    operationId: 'replayDeadLetters',
    tags: ['Operations'],
    summary: 'Replay every open dead letter matching a filter',
    description: 'Each becomes a new job under the current code and policy. At least one filter is required.',
    auth: 'ops:write',
    body: { schema: ReplayFilterBody, example: { target: 'erp', since: '2026-11-22T00:00:00Z', limit: 100 } },
    responses: {
      200: {
        description: 'What was replayed.',
        schema: ReplayedMany,
        example: { replayed: 1, items: [{ id: deadLetterExample.id, jobId: '5821' }] },
      },
    },
  });
  app.post('/v1/ops/dead-letters/replay', { schema: replayDeadLetters }, async (request) => {
    const { limit, ...filter } = parseBody(ReplayFilterBody, request.body);
    const replayed = await deadLetters.replayMatching(filter, limit, actorOf(request));
    for (const item of replayed) await recordAudit(db, auditOf(request), { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: item.id, details: { jobId: item.jobId, byFilter: true } });
    return { replayed: replayed.length, items: replayed };
  });

  const replayDeadLetter = operation({
    operationId: 'replayDeadLetter',
    tags: ['Operations'],
    summary: 'Replay one open dead letter',
    auth: 'ops:write',
    params: deadLetterParams,
    body: { schema: EmptyBody, example: {}, required: false },
    responses: { 202: { description: 'Queued again as a new job.', schema: Replayed, example: { id: deadLetterExample.id, status: 'replayed', jobId: '5821' } } },
    problems: { 'not-found': 'No such dead letter.', 'dead-letter-not-open': 'It was already replayed or discarded; currentStatus says which.' },
  });
  app.post('/v1/ops/dead-letters/:id/replay', { schema: replayDeadLetter }, async (request, reply) => {
    const id = deadLetterId(request);
    parseBody(EmptyBody, request.body ?? undefined);
    const outcome = await deadLetters.replay(id, actorOf(request));
    if (outcome.kind === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome.kind === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is already ${outcome.status}.`, { currentStatus: outcome.status });
    await recordAudit(db, auditOf(request), { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: id, details: { jobId: outcome.jobId } });
    return reply.code(202).send({ id, status: 'replayed', jobId: outcome.jobId });
  });

  const discardDeadLetter = operation({
    operationId: 'discardDeadLetter',
    tags: ['Operations'],
    summary: 'Discard an open dead letter, with the reason',
    auth: 'ops:write',
    params: deadLetterParams,
    body: { schema: DiscardBody, example: { reason: 'Order was cancelled by the customer.' } },
    responses: { 200: { description: 'Discarded.', schema: Discarded, example: { id: deadLetterExample.id, status: 'discarded' } } },
    problems: { 'not-found': 'No such dead letter.', 'dead-letter-not-open': 'It was already replayed or discarded.' },
  });
  app.post('/v1/ops/dead-letters/:id/discard', { schema: discardDeadLetter }, async (request) => {
    const id = deadLetterId(request);
    const { reason } = parseBody(DiscardBody, request.body);
    const outcome = await deadLetters.discard(id, actorOf(request), reason);
    if (outcome === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is not open.`);
    await recordAudit(db, auditOf(request), { action: 'dead_letter.discarded', targetType: 'dead_letter', targetId: id });
    return { id, status: 'discarded' };
  });
}
