import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { SnapshotRequest } from '../../../model/inventory.ts';
import type { ReconcileResult } from '../../../domain/inventory/reconciliation.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { readTraceparent } from '../../correlation.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { known } from './unknown-locations.ts';

const ListQuery = z.strictObject({ before: z.string().min(1).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) });

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
export async function snapshotsRoutes(app: FastifyInstance, { tokens, inventory }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'inventory:write');
  const canRead = authorize(tokens, 'inventory:read');

  app.post('/v1/inventory/snapshots', { preHandler: canWrite }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(SnapshotRequest, request.body);
    const result = settle(reply, known(await inventory.reconcile(body, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim })));
    const report = reportOf(result);
    return reply.code(201).header('Location', `/v1/inventory/snapshots/${report.id}`).send(report);
  });

  app.post('/v1/inventory/snapshots/:id/apply', { preHandler: canWrite }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const claim = idempotencyClaim(request, { required: true });
    return reportOf(settle(reply, await inventory.applySnapshot(id, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim })), id);
  });

  app.get('/v1/inventory/snapshots', { preHandler: canRead }, async (request) => {
    const query = parseQuery(ListQuery, request.query);
    const reports = await inventory.listSnapshots(query);
    return { data: reports, nextBefore: reports.length === query.limit ? reports.at(-1)!.id : null };
  });

  app.get('/v1/inventory/snapshots/:id', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const report = await inventory.getSnapshot(id);
    if (!report) throw new ProblemError('not-found', `No snapshot with id ${id}.`);
    return report;
  });
}
