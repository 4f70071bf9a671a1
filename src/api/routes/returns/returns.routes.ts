import type { FastifyInstance } from 'fastify';
import { ReturnRequest } from '../../../model/order-actions.ts';
import { readCustomerTimeline, readReturn } from '../../../store/orders/order-lifecycle-queries.ts';
import { requestReturn } from '../../../flows/return/return-request.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';

/** Returns: accepted at once when eligible; refund, ERP credit and restock follow in the return flow. */
export async function returnsRoutes(app: FastifyInstance, { db, tokens, inventory, config }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'orders:write');
  const canRead = authorize(tokens, 'orders:read');

  app.post('/v1/returns', { preHandler: canWrite }, async (request, reply) => {
    const body = parseBody(ReturnRequest, request.body);
    const claim = idempotencyClaim(request, { required: true });
    const result = settle(reply, await requestReturn(db, inventory, config.returnWindowDays, body, { correlationId: request.id, idempotency: claim }));
    switch (result.kind) {
      case 'order-not-found':
        throw new ProblemError('validation-failed', `No order with id ${body.orderId}.`, { errors: [{ pointer: '/orderId', detail: 'is not a known order' }] });
      case 'not-eligible':
        throw new ProblemError('return-not-eligible', `${result.problems.length} part(s) of the return are not eligible.`, { errors: result.problems });
      case 'accepted':
        return reply.code(202).header('Location', `/v1/returns/${result.return.id}`).send(result.return);
    }
  });

  app.get('/v1/returns/:id', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const found = await readReturn(db, id);
    if (!found) throw new ProblemError('not-found', `No return with id ${id}.`);
    return found;
  });

  app.get('/v1/customers/:email/timeline', { preHandler: canRead }, async (request) => {
    const { email } = request.params as { email: string };
    return { email: email.toLowerCase(), entries: await readCustomerTimeline(db, email) };
  });
}
