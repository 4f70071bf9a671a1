import type { FastifyInstance } from 'fastify';
import { ChannelPolicyInput, ChannelSkuAllocationInput, SafetyStockInput, Sku } from '../../../model/inventory.ts';
import { ChannelSlug } from '../../../model/order.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { known } from './unknown-locations.ts';

function pathParam<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProblemError('not-found', `${name} "${String(value)}" is not valid.`);
  return parsed.data;
}

/** Safety stock and channel allocation. PUTs replace the policy they name. */
export async function policiesRoutes(app: FastifyInstance, { tokens, inventory }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'inventory:write');

  app.get('/v1/inventory/policies', { preHandler: authorize(tokens, 'inventory:read') }, async () => inventory.getPolicies());

  app.put('/v1/inventory/policies/safety-stock', { preHandler: canWrite }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(SafetyStockInput, request.body);
    settle(reply, known(await inventory.setSafetyStock(body, { correlationId: request.id, idempotency: claim })));
    return body;
  });

  app.put('/v1/inventory/policies/channels/:channel', { preHandler: canWrite }, async (request, reply) => {
    const channel = pathParam(ChannelSlug, (request.params as { channel: string }).channel, 'channel');
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(ChannelPolicyInput, request.body);
    settle(reply, known(await inventory.setChannelPolicy(channel, body, { correlationId: request.id, idempotency: claim })));
    return { channel, ...body };
  });

  app.put('/v1/inventory/policies/channels/:channel/skus/:sku', { preHandler: canWrite }, async (request, reply) => {
    const params = request.params as { channel: string; sku: string };
    const channel = pathParam(ChannelSlug, params.channel, 'channel');
    const sku = pathParam(Sku, params.sku, 'sku');
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(ChannelSkuAllocationInput, request.body);
    settle(reply, await inventory.setSkuAllocation(channel, sku, body.allocation, { correlationId: request.id, idempotency: claim }));
    return { channel, sku, ...body };
  });
}
