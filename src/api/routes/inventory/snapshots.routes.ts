import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { DriftReport, SnapshotRequest } from '../../../model/inventory.ts';
import type { ReconcileResult } from '../../../domain/inventory/reconciliation.ts';
import type { ApiContext } from '../../api-context.ts';
import { currentTraceContext } from '../../../observability/tracing.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { known } from './unknown-locations.ts';
import { operation } from '../../route-kit.ts';
import { driftReportExample, snapshotRequestExample } from '../examples.ts';

const ListQuery = z.strictObject({
  before: z.string().min(1).optional().meta({ description: 'Report id from nextBefore of the previous page.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const DriftReportList = z.object({ data: z.array(DriftReport), nextBefore: z.string().nullable() }).meta({ id: 'DriftReportList' });
const snapshotId = { id: 'Snapshot id (snp_…).' };
const { lines: _lines, ...reportInListExample } = driftReportExample;

const reconcileSnapshot = operation({
  operationId: 'reconcileSnapshot',
  tags: ['Inventory'],
  summary: "Compare a system of record's stock snapshot with ours (and apply it as counts when asked)",
  auth: 'inventory:write',
  idempotencyKey: 'required',
  body: { schema: SnapshotRequest, example: snapshotRequestExample },
  responses: {
    201: {
      description: 'The drift report (lines that differ).',
      schema: DriftReport,
      example: driftReportExample,
      headers: { Location: { description: 'The report: /v1/inventory/snapshots/{id}.' } },
    },
  },
  problems: {
    'validation-failed': 'errors names each failing field, including unknown locations.',
    'movement-rejected': 'apply: true, and the counts cannot be applied; nothing was recorded.',
  },
});

const applySnapshot = operation({
  operationId: 'applySnapshot',
  tags: ['Inventory'],
  summary: "Write count movements that set our stock to the snapshot's figures",
  auth: 'inventory:write',
  idempotencyKey: 'required',
  params: snapshotId,
  responses: { 200: { description: 'Applied.', schema: DriftReport, example: { ...driftReportExample, appliedAt: '2026-11-22T10:30:00.000Z' } } },
  problems: {
    'not-found': 'No such snapshot.',
    'snapshot-already-applied': 'appliedAt says when.',
    'movement-rejected': 'The counts cannot be applied; nothing was recorded.',
  },
});

const listSnapshots = operation({
  operationId: 'listSnapshots',
  tags: ['Inventory'],
  summary: 'Drift reports, newest first',
  auth: 'inventory:read',
  query: ListQuery,
  responses: {
    200: {
      description: 'A page of reports (without their lines); pass nextBefore as before to continue.',
      schema: DriftReportList,
      example: { data: [reportInListExample], nextBefore: null },
    },
  },
});

const getSnapshot = operation({
  operationId: 'getSnapshot',
  tags: ['Inventory'],
  summary: 'A drift report with its drifting lines',
  auth: 'inventory:read',
  params: snapshotId,
  responses: { 200: { description: 'The report.', schema: DriftReport, example: driftReportExample } },
  problems: { 'not-found': 'No such snapshot.' },
});

function reportOf(result: ReconcileResult, id?: string) {
  switch (result.kind) {
    case 'reported':
      return result.report;
    case 'rejected':
      throw new ProblemError('movement-rejected', 'The counts of this snapshot cannot be applied; nothing was recorded.', { errors: result.problems });
    case 'not-found':
      throw new ProblemError('not-found', `No snapshot with id ${id}.`);
    case 'already-applied':
      throw new ProblemError('snapshot-already-applied', `Snapshot ${result.report.id} was applied at ${result.report.appliedAt}.`, { appliedAt: result.report.appliedAt });
  }
}

/** Reconciliation: snapshots from a system of record and their drift reports. */
export async function snapshotsRoutes(app: FastifyInstance, { inventory }: ApiContext): Promise<void> {

  app.post('/v1/inventory/snapshots', { schema: reconcileSnapshot }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(SnapshotRequest, request.body);
    const result = settle(reply, known(await inventory.reconcile(body, { correlationId: request.id, ...currentTraceContext(), idempotency: claim })));
    const report = reportOf(result);
    return reply.code(201).header('Location', `/v1/inventory/snapshots/${report.id}`).send(report);
  });

  app.post('/v1/inventory/snapshots/:id/apply', { schema: applySnapshot }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: true });
    return reportOf(settle(reply, await inventory.applySnapshot(id, { correlationId: request.id, ...currentTraceContext(), idempotency: claim })), id);
  });

  app.get('/v1/inventory/snapshots', { schema: listSnapshots }, async (request) => {
    const query = parseQuery(ListQuery, request.query);
    const reports = await inventory.listSnapshots(query);
    return { data: reports, nextBefore: reports.length === query.limit ? reports.at(-1)!.id : null };
  });

  app.get('/v1/inventory/snapshots/:id', { schema: getSnapshot }, async (request) => {
    const { id } = request.params as { id: string };
    const report = await inventory.getSnapshot(id);
    if (!report) throw new ProblemError('not-found', `No snapshot with id ${id}.`);
    return report;
  });
}
