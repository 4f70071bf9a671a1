import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { AUDIT_ACTIONS, consoleActor, listAudit, recordAudit } from '../../../domain/audit/audit.ts';
import { DeadLetterService } from '../../../runtime/dead-letters/dead-letter.service.ts';
import { exceptionOrderGroups, listExceptionOrders } from '../../../store/orders/order-exception-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { EmptyBody, parseBody, parseQuery } from '../../validation.ts';
import { AuditQuery } from '../admin/keys-audit.routes.ts';
import { DiscardBody } from '../ops/ops.routes.ts';
import { forBrowser } from './console-masking.ts';
import { requireConsole } from './console-session.ts';

/**
 * The console's Exceptions and Audit pages (docs/console.md): open dead letters and orders in the
 * exception state grouped by reason (error code) and system, a dead letter's detail, replay, bulk
 * replay by filter through a preview, discard with a reason, and the audit trail. Viewers read
 * (masked); operators act (CSRF, audited). Answers pass forBrowser().
 */

const hidden = { hide: true };
const Reason = z.string().min(1).max(200);

const ExceptionQuery = z.strictObject({
  reason: Reason.optional().meta({ description: 'One error code, e.g. erp.unknown_product.' }),
  target: Reason.optional().meta({ description: 'One system (a dead letter target, an order exception system).' }),
  before: z.string().refine((v) => isId('deadLetter', v), 'must be a dead letter id').optional(),
  ordersBefore: z.string().refine((v) => isId('order', v), 'must be an order id').optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
const ReplayFilter = z
  .strictObject({ reason: Reason.optional(), target: Reason.optional() })
  .refine((f) => f.reason !== undefined || f.target !== undefined, 'name a reason, a system or both: a bulk replay never takes every open letter');
const ReplayPreviewed = z.strictObject({ previewId: z.uuid() });

/** Registers the exceptions and audit routes under /console/api. */
export async function consoleExceptionsRoutes(app: FastifyInstance, { db, config }: Pick<ApiContext, 'db' | 'config'>): Promise<void> {
  const viewer = requireConsole(db, config.consoleIdleSeconds, 'viewer');
  const operator = requireConsole(db, config.consoleIdleSeconds, 'operator');
  const deadLetters = new DeadLetterService(db);
  const who = (request: FastifyRequest) => ({ actor: consoleActor(request.consoleSession!.userId), correlationId: request.id });
  const masked = (request: FastifyRequest) => request.consoleSession!.role === 'viewer';
  const letterId = (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!isId('deadLetter', id)) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    return id;
  };

  app.get('/console/api/exceptions', { schema: hidden, preHandler: viewer }, async (request) => {
    const { limit, before, ordersBefore, reason, target } = parseQuery(ExceptionQuery, request.query);
    const [letterGroups, orderGroups, page, orders] = await Promise.all([
      deadLetters.groups(),
      exceptionOrderGroups(db),
      deadLetters.list({ code: reason, target, status: 'open' }, { limit, before }),
      listExceptionOrders(db, { code: reason, system: target, before: ordersBefore, limit: limit + 1 }),
    ]);
    // One group per reason and system: its open dead letters and its orders in the exception state.
    const groups = new Map<string, { reason: string; target: string | null; deadLetters: number; orders: number }>();
    const group = (reason: string, target: string | null) => {
      const key = `${reason}\u0000${target ?? ''}`;
      let found = groups.get(key);
      if (!found) groups.set(key, (found = { reason, target, deadLetters: 0, orders: 0 }));
      return found;
    };
    for (const g of letterGroups) group(g.code, g.target).deadLetters += g.count;
    for (const g of orderGroups) group(g.code, g.system).orders += g.count;
    const sorted = [...groups.values()].sort((a, b) => b.deadLetters + b.orders - (a.deadLetters + a.orders) || a.reason.localeCompare(b.reason));
    const orderItems = orders.slice(0, limit);
    return forBrowser(
      { groups: sorted, items: page.items, next: page.next, orders: { items: orderItems, next: orders.length > limit ? orderItems.at(-1)!.id : null } },
      masked(request),
    );
  });

  app.get('/console/api/dead-letters/:id', { schema: hidden, preHandler: viewer }, async (request) => {
    const id = letterId(request);
    const found = await deadLetters.show(id);
    if (!found) throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    return forBrowser(found, masked(request));
  });

  app.post('/console/api/dead-letters/:id/replay', { schema: hidden, preHandler: operator }, async (request, reply) => {
    const id = letterId(request);
    parseBody(EmptyBody, request.body ?? undefined);
    const outcome = await deadLetters.replay(id, consoleActor(request.consoleSession!.userId));
    if (outcome.kind === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome.kind === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is already ${outcome.status}.`, { currentStatus: outcome.status });
    await recordAudit(db, who(request), { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: id, details: { jobId: outcome.jobId } });
    return reply.code(202).send({ id, status: 'replayed', jobId: outcome.jobId });
  });

  app.post('/console/api/dead-letters/:id/discard', { schema: hidden, preHandler: operator }, async (request) => {
    const id = letterId(request);
    const { reason } = parseBody(DiscardBody, request.body);
    const outcome = await deadLetters.discard(id, consoleActor(request.consoleSession!.userId), reason);
    if (outcome === 'not-found') throw new ProblemError('not-found', `No dead letter with id ${id}.`);
    if (outcome === 'not-open') throw new ProblemError('dead-letter-not-open', `Dead letter ${id} is not open.`);
    await recordAudit(db, who(request), { action: 'dead_letter.discarded', targetType: 'dead_letter', targetId: id, details: { reason } });
    return { id, status: 'discarded' };
  });

  // Bulk replay in two steps: the preview pins the matching letters and answers their count; the
  // operator confirms that count; the replay takes exactly the pinned letters still open.
  app.post('/console/api/exceptions/replay-preview', { schema: hidden, preHandler: operator }, async (request) => {
    const filter = parseBody(ReplayFilter, request.body);
    const preview = await deadLetters.previewReplay({ code: filter.reason, target: filter.target }, request.consoleSession!.userId);
    return { ...preview, filter };
  });

  app.post('/console/api/exceptions/replay', { schema: hidden, preHandler: operator }, async (request) => {
    const { previewId } = parseBody(ReplayPreviewed, request.body);
    const outcome = await deadLetters.replayPreviewed(previewId, request.consoleSession!.userId, consoleActor(request.consoleSession!.userId));
    if (outcome.kind === 'preview-gone') throw new ProblemError('replay-preview-gone', 'This preview was used already, expired or is not yours; preview the replay again.');
    const context = who(request);
    for (const item of outcome.items) {
      await recordAudit(db, context, { action: 'dead_letter.replayed', targetType: 'dead_letter', targetId: item.id, details: { jobId: item.jobId, previewId } });
    }
    await recordAudit(db, context, {
      action: 'dead_letter.bulk_replayed',
      targetType: 'replay_preview',
      targetId: previewId,
      details: { filter: outcome.filter, previewed: outcome.previewed, replayed: outcome.items.length },
    });
    return { previewId, previewed: outcome.previewed, replayed: outcome.items.length, skipped: outcome.previewed - outcome.items.length, items: outcome.items };
  });

  // The audit trail, searchable by action, actor and target, paged by the server (the query of GET /v1/admin/audit).
  app.get('/console/api/audit', { schema: hidden, preHandler: viewer }, async (request) => {
    const { limit, cursor, ...filter } = parseQuery(AuditQuery.extend({ limit: z.coerce.number().int().min(1).max(100).default(50) }), request.query);
    return forBrowser({ ...(await listAudit(db, filter, { limit, ...(cursor ? { cursor } : {}) })), actions: AUDIT_ACTIONS }, masked(request));
  });
}
