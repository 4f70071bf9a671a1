import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { DeadLetterService } from '../../../runtime/dead-letters/dead-letter.service.ts';
import { OpsService } from '../../../runtime/ops.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { recordAudit } from '../../../domain/audit/audit.ts';

const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

const Filter = {
  type: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(200).optional(),
  reason: z.string().min(1).max(200).optional(),
  since: timestamp.optional(),
  until: timestamp.optional(),
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

const DiscardBody = z.strictObject({ reason: z.string().trim().min(3).max(1000) });
const EmptyBody = z.strictObject({}).optional();

function deadLetterId(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!isId('deadLetter', id)) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
  return id;
}

const actorOf = (request: FastifyRequest) => `client:${request.principal?.clientId ?? 'unknown'}`;
// Audited right after the dead-letter service commits (its transaction is not reachable from here).
const auditOf = (request: FastifyRequest) => ({ actor: actorOf(request), correlationId: request.id });

/** Operations: queue depth, target health, and dead letters (list, show, replay, discard). */
export async function opsRoutes(app: FastifyInstance, { db, tokens }: ApiContext): Promise<void> {
  const canRead = authorize(tokens, 'ops:read');
  const canWrite = authorize(tokens, 'ops:write');
  const ops = new OpsService(db);
  const deadLetters = new DeadLetterService(db);

  app.get('/v1/ops/queues', { preHandler: canRead }, async (request) => {
    parseQuery(z.strictObject({}), request.query);
    return ops.queues();
  });

  app.get('/v1/ops/targets', { preHandler: canRead }, async (request) => {
    parseQuery(z.strictObject({}), request.query);
    return { items: await ops.targets() };
  });

  app.get('/v1/ops/dead-letters', { preHandler: canRead }, async (request) => {
    const { limit, before, ...filter } = parseQuery(ListQuery, request.query);
    return deadLetters.list(filter, { limit, before });
  });

  app.get('/v1/ops/dead-letters/:id', { preHandler: canRead }, async (request) => {
    const id = deadLetterId(request);
    const found = await deadLetters.show(id);
    if (!found) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    return found;
  });

  app.post('/v1/ops/dead-letters/replay', { preHandler: canWrite }, async (request) => {
    const { limit, ...filter } = parseBody(ReplayFilterBody, request.body);
    const replayed = await deadLetters.replayMatching(filter, limit, actorOf(request));
    for (const item of replayed) await recordAudit(db, auditOf(request), { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: item.id, details: { jobId: item.jobId, byFilter: true } });
    return { replayed: replayed.length, items: replayed };
  });

  app.post('/v1/ops/dead-letters/:id/replay', { preHandler: canWrite }, async (request, reply) => {
    const id = deadLetterId(request);
    parseBody(EmptyBody, request.body ?? undefined);
    const outcome = await deadLetters.replay(id, actorOf(request));
    if (outcome.kind === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome.kind === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is already ${outcome.status}.`, { currentStatus: outcome.status });
    await recordAudit(db, auditOf(request), { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: id, details: { jobId: outcome.jobId } });
    return reply.code(202).send({ id, status: 'replayed', jobId: outcome.jobId });
  });

  app.post('/v1/ops/dead-letters/:id/discard', { preHandler: canWrite }, async (request) => {
    const id = deadLetterId(request);
    const { reason } = parseBody(DiscardBody, request.body);
    const outcome = await deadLetters.discard(id, actorOf(request), reason);
    if (outcome === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is not open.`);
    await recordAudit(db, auditOf(request), { action: 'dead_letter.discarded', targetType: 'dead_letter', targetId: id });
    return { id, status: 'discarded' };
  });
}
