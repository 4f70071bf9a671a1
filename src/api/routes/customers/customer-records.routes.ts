import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { CustomerRecordInput } from '../../../model/customer.ts';
import type { CustomerService, IngestResult } from '../../../domain/customers/customer.service.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';

/** Records in one post (default: 100): one transaction and one matching lock for all of them. */
export const MAX_RECORDS_PER_POST = 100;

const RecordBatch = z
  .strictObject({ records: z.array(CustomerRecordInput).min(1, 'must hold at least one record').max(MAX_RECORDS_PER_POST, `must hold at most ${MAX_RECORDS_PER_POST} records`) })
  .meta({ id: 'CustomerRecordBatch', description: `Up to ${MAX_RECORDS_PER_POST} records, matched in order, each against those before it.` });

const RecordDecision = z
  .enum(['new', 'merged-by-rule', 'merged-by-score', 'sent-to-stewardship', 'updated', 'unchanged'])
  .meta({
    id: 'CustomerRecordDecision',
    description:
      'new: a customer of its own; merged-by-rule / merged-by-score: joined a customer (a deterministic rule, or the automatic score); sent-to-stewardship: ' +
      'a pair (or a review of a past merge) waits for a steward; updated: a known record changed, its customer kept; unchanged: the record as stored already, or older than it.',
  });

const RecordResult = z
  .object({
    recordId: z.string().meta({ example: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2' }),
    customerId: z.string().meta({ description: 'The customer the record belongs to now.' }),
    decision: RecordDecision,
    rule: z.string().nullable().meta({ description: 'The deterministic rule of a merge by rule (same-loyalty-id, same-erp-account, same-verified-email).' }),
    stewardshipPairs: z.number().int().meta({ description: 'Pairs this record sent to the stewardship queue (reviews of past merges included).' }),
    newEvidence: z.array(z.string()).meta({ description: 'For a known record: what its new version brought that made it matched again (empty: not matched again).' }),
  })
  .meta({ id: 'CustomerRecordResult' });
const RecordResults = z.object({ results: z.array(RecordResult) }).meta({ id: 'CustomerRecordResults' });

const recordExample = {
  system: 'loyalty',
  connection: 'loyalty',
  externalId: 'M-1001',
  givenName: 'Ada',
  familyName: 'Lovelace',
  emails: [{ address: 'ada@example.com', verified: true }],
  phones: ['+12133734253'],
  addresses: [{ line1: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'US' }],
  references: { erpPartyId: '41' },
  attributes: { loyaltyPoints: 340, loyaltyTier: 'gold' },
  observedAt: '2026-11-22T10:15:00.000Z',
};

const postRecords = operation({
  operationId: 'postCustomerRecords',
  tags: ['Customers'],
  summary: 'Send customer records into identity resolution',
  description:
    `One record (CustomerRecordInput) or a batch (\`{"records": [...]}\`, at most ${MAX_RECORDS_PER_POST}). A record is known by system, connection and ` +
    'externalId: sent again unchanged it is unchanged (no new version), so a retry is harmless; changed, it gets a new version and, when it brings new ' +
    'evidence (an e-mail, a verified e-mail, a phone, a loyalty id, an ERP account, an address), it is matched again (docs/customers.md).',
  auth: 'customers:write',
  body: { schema: z.union([CustomerRecordInput, RecordBatch]), example: recordExample },
  responses: {
    200: {
      description: 'Each record with the customer it resolved to and the decision, in the order sent.',
      schema: RecordResults,
      example: { results: [{ recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2', customerId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1', decision: 'merged-by-rule', rule: 'same-verified-email', stewardshipPairs: 0, newEvidence: [] }] },
    },
  },
});

/** The decision a caller sees for one ingested record. */
export function recordDecision(result: IngestResult): z.infer<typeof RecordDecision> {
  if (result.outcome === 'unchanged') return 'unchanged';
  if (result.decision === 'deterministic') return 'merged-by-rule';
  if (result.decision === 'automatic') return 'merged-by-score';
  if (result.queued > 0 || (result.reviews ?? 0) > 0) return 'sent-to-stewardship';
  return result.outcome === 'updated' ? 'updated' : 'new';
}

/** POST /v1/customers/records (customers:write). */
export function registerRecordRoutes(app: FastifyInstance, customers: CustomerService): void {
  app.post('/v1/customers/records', { schema: postRecords }, async (request) => {
    const body = request.body as Record<string, unknown> | undefined;
    const inputs = body && typeof body === 'object' && 'records' in body ? parseBody(RecordBatch, body).records : [parseBody(CustomerRecordInput, body)];
    const results = await customers.ingestMany(inputs, { correlationId: request.id });
    return {
      results: results.map((r) => ({
        recordId: r.recordId,
        customerId: r.customerId,
        decision: recordDecision(r),
        rule: r.rule ?? null,
        stewardshipPairs: r.queued + (r.reviews ?? 0),
        newEvidence: r.newEvidence ?? [],
      })),
    };
  });
}
