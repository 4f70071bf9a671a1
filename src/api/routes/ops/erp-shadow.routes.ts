import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { isId } from '../../../model/ids.ts';
import { listErpShadowReports } from '../../../domain/orders/erp-routing.ts';
import type { ApiContext } from '../../api-context.ts';
import { parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';

const ShadowQuery = z.strictObject({
  outcome: z.enum(['matched', 'different', 'failed']).optional(),
  shadowErp: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().refine((v) => isId('order', v), 'must be an order id (the next of the previous page)').optional(),
});

const Sale = z
  .object({
    erpId: z.number().int(),
    number: z.string().nullable(),
    state: z.string(),
    untaxedAmount: z.string(),
    taxAmount: z.string(),
    totalAmount: z.string(),
    currency: z.string(),
    customer: z
      .object({ erpId: z.string(), code: z.string().nullable(), name: z.string(), email: z.string().nullable() })
      .nullable()
      .optional()
      .meta({ id: 'ErpShadowCustomer', description: 'The customer record the ERP matched or created (null: the connector cannot say).' }),
    lines: z
      .array(
        z
          .object({ sku: z.string(), quantity: z.string(), unitPrice: z.string(), amount: z.string(), taxPercent: z.string() })
          .meta({ id: 'ErpShadowLine', description: 'A priced line as the ERP computed it; unit price and amount without tax.' }),
      )
      .nullable()
      .optional(),
    cancel: z
      .object({ outcome: z.string(), state: z.string().nullable(), at: z.string(), error: z.object({ code: z.string(), message: z.string() }).optional() })
      .optional()
      .meta({ id: 'ErpShadowCancel', description: 'The shadow sale cancelled after the order was (shadow sale only).' }),
  })
  .meta({ id: 'ErpShadowSale' });

const ShadowReport = z
  .object({
    orderId: z.string(),
    primaryErp: z.string().meta({ description: 'The ERP connection that is the system of record for the order.' }),
    shadowErp: z.string(),
    outcome: z.enum(['matched', 'different', 'failed']),
    differences: z.array(z.object({ field: z.string(), primary: z.unknown(), shadow: z.unknown() }).meta({ id: 'ErpShadowDifference' })),
    primarySale: Sale.nullable(),
    shadowSale: Sale.nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why the shadow posting failed for good (outcome failed).' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ErpShadowReport' });

const example = {
  orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w',
  primaryErp: 'legacy',
  shadowErp: 'cloud',
  outcome: 'different',
  differences: [
    { field: 'taxAmount', primary: '7.60', shadow: '8.36' },
    { field: 'totalAmount', primary: '47.60', shadow: '48.36' },
    { field: 'lines[TEE-M].taxPercent', primary: '19.00', shadow: '20.90' },
  ],
  primarySale: {
    erpId: 41,
    number: 'SO-41',
    state: 'processing',
    untaxedAmount: '40.00',
    taxAmount: '7.60',
    totalAmount: '47.60',
    currency: 'EUR',
    customer: { erpId: '12', code: 'C12', name: 'Ada Lovelace', email: 'ada@example.com' },
    lines: [{ sku: 'TEE-M', quantity: '2', unitPrice: '20.0000', amount: '40.00', taxPercent: '19.00' }],
  },
  shadowSale: {
    erpId: 7,
    number: '101007',
    state: 'open',
    untaxedAmount: '40.00',
    taxAmount: '8.36',
    totalAmount: '48.36',
    currency: 'EUR',
    customer: { erpId: '5d115c9c-6ee9-ee11-904c-6045bde9b2f5', code: 'C00010', name: 'Ada Lovelace', email: 'ada@example.com' },
    lines: [{ sku: 'TEE-M', quantity: '2', unitPrice: '20.0000', amount: '40.00', taxPercent: '20.90' }],
  },
  error: null,
  createdAt: '2026-03-02T10:15:00.000Z',
  updatedAt: '2026-03-02T10:15:00.000Z',
};

/** GET /v1/ops/erp-shadow: what the shadow ERP computed against the system of record, per order. */
export async function erpShadowRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {
  const list = operation({
    operationId: 'listErpShadowReports',
    tags: ['Operations'],
    summary: 'Shadow-mode report: differences between the system of record and the shadow ERP, newest order first',
    auth: 'ops:read',
    query: ShadowQuery,
    responses: {
      200: {
        description: 'A page; pass next as before to continue.',
        schema: z.object({ items: z.array(ShadowReport), next: z.string().nullable() }).meta({ id: 'ErpShadowReportPage' }),
        example: { items: [example], next: null },
      },
    },
  });
  app.get('/v1/ops/erp-shadow', { schema: list }, async (request) => {
    const { limit, before, ...filter } = parseQuery(ShadowQuery, request.query);
    return listErpShadowReports(db, filter, { limit, cursor: before });
  });
}
