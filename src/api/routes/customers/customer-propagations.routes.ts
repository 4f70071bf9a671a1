import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { CustomerService } from '../../../domain/customers/customer.service.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { operation } from '../../route-kit.ts';

const Propagation = z
  .object({
    eventId: z.string(),
    eventType: z.enum(['customer.merged', 'customer.unmerged', 'customer.consent_changed', 'customer.erasure_requested']),
    customerId: z.string(),
    requestId: z.string().nullable().meta({ description: 'The data subject request of an erasure.' }),
    system: z.string().meta({ description: 'erp, crm, loyalty (or channel, whose records are the channel’s to erase).' }),
    connection: z.string(),
    status: z.enum(['pending', 'done', 'failed', 'not_applicable']),
    attempts: z.number().int(),
    lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
    detail: z.array(z.unknown()).meta({ description: "Per record, the system id and the system's answer (merged, unchanged, erased, not-found ...), or why nothing applies." }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'CustomerPropagation', description: 'Where one customer event stands in one system connection holding a record of the customer (docs/customers.md#propagation).' });

const getPropagations = operation({
  operationId: 'listCustomerPropagations',
  tags: ['Customers'],
  summary: "The customer events carried to the systems holding the customer's records, and their outcome",
  description: 'One entry per (event, system, connection): merges, unmerges, consent changes and erasures, oldest first.',
  auth: 'customers:read',
  params: { id: 'Customer id (cus_…).' },
  responses: {
    200: {
      description: 'The propagations (none yet: an empty list).',
      schema: z.object({ data: z.array(Propagation) }).meta({ id: 'CustomerPropagationList' }),
      example: {
        data: [
          {
            eventId: 'evt_01jd5q8x7m2v3k4n5p6r7s8tc8',
            eventType: 'customer.merged',
            customerId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1',
            requestId: null,
            system: 'loyalty',
            connection: 'loyalty',
            status: 'done',
            attempts: 1,
            lastError: null,
            detail: [{ into: 'LM-100' }, { sourceId: 'LM-207', result: 'merged' }],
            createdAt: '2026-11-22T10:15:03.000Z',
            updatedAt: '2026-11-22T10:15:03.400Z',
          },
        ],
      },
    },
  },
  problems: { 'not-found': 'No such customer.' },
});

/** GET /v1/customers/{id}/propagations (customers:read). */
export async function customerPropagationsRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const customers = new CustomerService(db);
  app.get('/v1/customers/:id/propagations', { schema: getPropagations }, async (request) => {
    const { id } = request.params as { id: string };
    const found = isId('customer', id) ? await customers.propagations(id) : undefined;
    if (!found) throw new ProblemError('not-found', `No customer ${id}.`);
    return { data: found };
  });
}
