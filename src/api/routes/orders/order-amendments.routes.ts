import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { amendmentService } from '../../../flows/amendment/amendment.flow.ts';
import { createErpRouter } from '../../../flows/erp-routing/erp-router.ts';
import { createErpClient } from '../../../connectors/connectors.ts';
import { connectorSettingsFromConfig } from '../../../connectors/connector-settings.ts';
import type { AmendmentRow } from '../../../store/orders/order-amendment-queries.ts';
import type { DecisionResult } from '../../../domain/orders/order-amendment.service.ts';
import { AmendmentDecision, OrderAmendmentView } from '../../../model/order-amendment.ts';
import { isId } from '../../../model/ids.ts';
import { clientActor } from '../../../domain/audit/audit.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';

const AmendmentList = z.object({ items: z.array(OrderAmendmentView) }).meta({ id: 'OrderAmendmentList' });
const AmendmentDecided = z
  .object({ amendment: OrderAmendmentView, resumed: z.boolean().meta({ description: 'The order left its hold and its flow goes on.' }) })
  .meta({ id: 'AmendmentDecided' });

const params = { id: 'Order id (ord_…).', amendmentId: 'Amendment id (amd_…).' };
const example: z.input<typeof OrderAmendmentView> = {
  id: 'amd_01jd5q8x7m2v3k4n5p6r7s8tb6',
  orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w',
  channel: 'shopify-us',
  status: 'held',
  orderStatus: 'allocated',
  changes: { fields: [], lines: [{ sku: 'MUG', channelLineId: '466157049', from: 1, to: 40, unitPrice: '8.50' }], paid: false },
  code: 'order.amendment_stock_short',
  channelUpdatedAt: '2026-11-22T10:20:00.000Z',
  createdAt: '2026-11-22T10:20:01.000Z',
  decidedAt: null,
  decidedBy: null,
  note: null,
};
const problems = {
  'not-found': 'No such order, or no such amendment of it.',
  'amendment-not-held': 'The change was applied, rejected, reported or superseded already; amendmentStatus says which.',
} as const;

const listOperation = operation({
  operationId: 'listOrderAmendments',
  tags: ['Orders'],
  summary: "The channel's changes to an order and what became of each",
  description: 'Applied at once before release (addresses, contact; lines when the stock follows), held for review, or reported after release (docs/adr/0023).',
  auth: 'orders:read',
  params: { id: params.id },
  responses: { 200: { description: 'Oldest first.', schema: AmendmentList, example: { items: [example] } } },
  problems: { 'not-found': 'No such order.' },
});

const decide = (verb: 'apply' | 'reject') =>
  operation({
    operationId: verb === 'apply' ? 'applyOrderAmendment' : 'rejectOrderAmendment',
    tags: ['Orders'],
    summary: verb === 'apply' ? "Apply a channel's change held for review (operator)" : "Reject a channel's change held for review (operator)",
    description:
      verb === 'apply'
        ? 'Applies the held change now if the stock and the flow allow it (the reservation is resized; only the difference must be free); the order leaves its hold and goes on with the amended lines. 409 amendment-not-applicable when it still cannot be applied: it stays held.'
        : 'Keeps the order as it was: the change is dropped, the order leaves its hold and goes on. Tell the channel (or the customer) what was decided.',
    auth: 'ops:write',
    params,
    body: { schema: AmendmentDecision, example: { note: verb === 'apply' ? 'Stock arrived.' : 'Customer agreed to keep 2.' }, required: false },
    responses: { 200: { description: 'Decided.', schema: AmendmentDecided, example: { amendment: { ...example, status: verb === 'apply' ? 'applied' : 'rejected', decidedBy: 'client:ops' }, resumed: true } } },
    problems: verb === 'apply' ? { ...problems, 'amendment-not-applicable': 'Still cannot be applied (code and detail say why): it stays held.' } : problems,
  });

const view = ({ proposed: _proposed, ...amendment }: AmendmentRow) => amendment;

/**
 * A channel's changes to an order (docs/adr/0023): the list (orders:read), and an operator's
 * decision on one held for review (ops:write), audited.
 */
export async function orderAmendmentsRoutes(app: FastifyInstance, { config, db, inventory }: ApiContext): Promise<void> {
  // An applied change may hand the order to the back office: its release job goes to the order's ERP target.
  const erps = createErpRouter(config, createErpClient(connectorSettingsFromConfig(config).erp));
  const service = amendmentService(db, inventory, erps);
  const ids = (request: FastifyRequest) => {
    const { id, amendmentId } = request.params as { id: string; amendmentId?: string };
    if (!isId('order', id) || (amendmentId !== undefined && !isId('amendment', amendmentId))) throw new ProblemError('not-found', `Order ${id} has no such amendment.`);
    return { id, amendmentId: amendmentId ?? '' };
  };

  app.get('/v1/orders/:id/amendments', { schema: listOperation }, async (request) => {
    const { id } = ids(request);
    const items = await service.list(id);
    if (!items) throw new ProblemError('not-found', `No order with id ${id}.`);
    return { items: items.map(view) };
  });

  const answer = (result: DecisionResult, id: string, amendmentId: string) => {
    switch (result.kind) {
      case 'not-found':
        throw new ProblemError('not-found', `Order ${id} has no amendment ${amendmentId}.`);
      case 'not-held':
        throw new ProblemError('amendment-not-held', `Amendment ${amendmentId} is ${result.amendment.status}, not held for review.`, { amendmentStatus: result.amendment.status });
      case 'not-applicable':
        throw new ProblemError('amendment-not-applicable', `Amendment ${amendmentId} still cannot be applied (${result.code}); it stays held.`, { code: result.code, ...result.detail });
      default:
        return { amendment: view(result.amendment), resumed: result.resumed };
    }
  };
  for (const verb of ['apply', 'reject'] as const) {
    app.post(`/v1/orders/:id/amendments/:amendmentId/${verb}`, { schema: decide(verb) }, async (request) => {
      const { id, amendmentId } = ids(request);
      const body = parseBody(AmendmentDecision, request.body ?? {});
      const decision = { by: clientActor(request.principal!.clientId), note: body.note ?? null, correlationId: request.id };
      return answer(verb === 'apply' ? await service.apply(id, amendmentId, decision) : await service.reject(id, amendmentId, decision), id, amendmentId);
    });
  }
}
