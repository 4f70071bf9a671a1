import type { Queryable } from '../store/database.ts';
import { insertJobs } from '../store/runtime/insert-jobs.ts';
import { laneNumber, type JobSpec } from './runtime.ts';
import { currentCarrier } from '../observability/tracing.ts';

/**
 * Enqueues jobs inside the caller's transaction: the jobs exist if and only if the
 * caller's change commits, and idle workers are woken at commit. Pass the database
 * itself to enqueue on its own. Returns the ids of the jobs inserted (a job whose
 * job key is already queued is skipped).
 */
export async function enqueue(tx: Queryable, specs: JobSpec | readonly JobSpec[]): Promise<string[]> {
  const list = Array.isArray(specs) ? (specs as readonly JobSpec[]) : [specs as JobSpec];
  for (const spec of list) {
    if (!spec.type) throw new TypeError('a job needs a type');
    if (!spec.correlationId) throw new TypeError(`job ${spec.type} needs a correlation id`);
    if (spec.maxAttempts !== undefined && !(Number.isInteger(spec.maxAttempts) && spec.maxAttempts >= 1)) {
      throw new TypeError(`job ${spec.type}: maxAttempts must be a whole number of at least 1`);
    }
  }
  const active = currentCarrier();
  return insertJobs(
    tx,
    list.map((spec) => ({
      type: spec.type,
      lane: laneNumber(spec.lane ?? 'normal'),
      payload: spec.payload,
      orderingKey: spec.orderingKey ?? null,
      target: spec.target ?? null,
      jobKey: spec.jobKey ?? null,
      correlationId: spec.correlationId,
      runAt: spec.runAt ? spec.runAt.toISOString() : null,
      maxAttempts: spec.maxAttempts ?? null,
      traceparent: (spec.trace ?? active).traceparent ?? null,
      tracestate: (spec.trace ?? active).tracestate ?? null,
    })),
  );
}
