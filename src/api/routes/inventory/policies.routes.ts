import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { Allocation, ChannelPolicyInput, ChannelSkuAllocationInput, PolicySet, SafetyStockInput, Sku } from '../../../model/inventory.ts';
import { ChannelSlug } from '../../../model/order.ts';
import type { ApiContext } from '../../api-context.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { known } from './unknown-locations.ts';
import { operation } from '../../route-kit.ts';
import { policySetExample } from '../examples.ts';

// The PUTs answer with what they saved.
const ChannelPolicy = z
  .object({ channel: z.string(), allocation: Allocation, excludedLocations: z.array(z.string()) })
  .meta({ id: 'ChannelPolicy' });
const ChannelSkuAllocation = z.object({ channel: z.string(), sku: z.string(), allocation: Allocation }).meta({ id: 'ChannelSkuAllocation' });

const getPolicies = operation({
  operationId: 'getPolicies',
  tags: ['Inventory'],
  summary: 'Every safety stock and channel policy',
  auth: 'inventory:read',
  responses: { 200: { description: 'The policies.', schema: PolicySet, example: policySetExample } },
});

const setSafetyStock = operation({
  operationId: 'setSafetyStock',
  tags: ['Inventory'],
  summary: 'Set safety stock for a SKU, or a SKU at a location',
  auth: 'inventory:write',
  idempotencyKey: 'optional',
  body: { schema: SafetyStockInput, example: { sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 2 } },
  responses: { 200: { description: 'Saved.', schema: SafetyStockInput, example: { sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 2 } } },
  problems: { 'validation-failed': 'errors names each failing field, including an unknown location.' },
});

const setChannelPolicy = operation({
  operationId: 'setChannelPolicy',
  tags: ['Inventory'],
  summary: "Set a channel's allocation and excluded locations",
  auth: 'inventory:write',
  idempotencyKey: 'optional',
  params: { channel: 'Channel slug.' },
  body: { schema: ChannelPolicyInput, example: { allocation: { mode: 'percentage', percent: 60 }, excludedLocations: ['STORE-NYC'] } },
  responses: {
    200: {
      description: 'Saved.',
      schema: ChannelPolicy,
      example: { channel: 'shopify-us', allocation: { mode: 'percentage', percent: 60 }, excludedLocations: ['STORE-NYC'] },
    },
  },
  problems: { 'not-found': 'The channel is not a valid slug.', 'validation-failed': 'errors names each failing field, including unknown locations.' },
});

const setChannelSkuAllocation = operation({
  operationId: 'setChannelSkuAllocation',
  tags: ['Inventory'],
  summary: "Override a channel's allocation for one SKU",
  auth: 'inventory:write',
  idempotencyKey: 'optional',
  params: { channel: 'Channel slug.', sku: 'SKU.' },
  body: { schema: ChannelSkuAllocationInput, example: { allocation: { mode: 'cap', quantity: 10 } } },
  responses: {
    200: { description: 'Saved.', schema: ChannelSkuAllocation, example: { channel: 'shopify-us', sku: 'MUG', allocation: { mode: 'cap', quantity: 10 } } },
  },
  problems: { 'not-found': 'The channel or SKU is not valid.' },
});

function pathParam<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProblemError('not-found', `${name} "${String(value)}" is not valid.`);
  return parsed.data;
}

/** Safety stock and channel allocation. PUTs replace the policy they name. */
export async function policiesRoutes(app: FastifyInstance, { inventory }: ApiContext): Promise<void> {

  app.get('/v1/inventory/policies', { schema: getPolicies }, async () => inventory.getPolicies());

  app.put('/v1/inventory/policies/safety-stock', { schema: setSafetyStock }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(SafetyStockInput, request.body);
    settle(reply, known(await inventory.setSafetyStock(body, { correlationId: request.id, idempotency: claim })));
    return body;
  });

  app.put('/v1/inventory/policies/channels/:channel', { schema: setChannelPolicy }, async (request, reply) => {
    const channel = pathParam(ChannelSlug, (request.params as { channel: string }).channel, 'channel');
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(ChannelPolicyInput, request.body);
    settle(reply, known(await inventory.setChannelPolicy(channel, body, { correlationId: request.id, idempotency: claim })));
    return { channel, ...body };
  });

  app.put('/v1/inventory/policies/channels/:channel/skus/:sku', { schema: setChannelSkuAllocation }, async (request, reply) => {
    const params = request.params as { channel: string; sku: string };
    const channel = pathParam(ChannelSlug, params.channel, 'channel');
    const sku = pathParam(Sku, params.sku, 'sku');
    const claim = idempotencyClaim(request, { required: false });
    const body = parseBody(ChannelSkuAllocationInput, request.body);
    settle(reply, await inventory.setSkuAllocation(channel, sku, body.allocation, { correlationId: request.id, idempotency: claim }));
    return { channel, sku, ...body };
  });
}
