import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import { isCustomerRecordSource, type CustomerRecordSource } from '../../connectors/kit/customer-source.ts';
import { CustomerService } from '../../domain/customers/customer.service.ts';
import { CustomerRecordSync } from '../../domain/customers/record-sync.ts';
import { SynclineError } from '../../domain/errors.ts';
import type { CustomerSystem } from '../../model/customer.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { JobSpec } from '../../runtime/runtime.ts';
import { enqueue } from '../../runtime/queue.ts';
import type { Database } from '../../store/database.ts';
import { TARGETS } from '../flow-deps.ts';
import { erpTarget, type ErpRouter } from '../erp-routing/erp-router.ts';

/**
 * Customer records pulled on a schedule (docs/customers.md, ADR 0041): one `customers.sync` job per
 * connection and time slot of `customerSyncSeconds`: each ERP connection whose connector lists its
 * customers (Tryton parties) on that ERP's target, and the loyalty service's members on the
 * loyalty target, so each system's quota and breaker apply. As the product sync does, each run
 * enqueues the next slot's job before it reads anything, so a failed run never ends the schedule.
 */

export const CUSTOMER_RECORD_JOBS = { sync: 'customers.sync' } as const;

/** The loyalty service's connection id (one loyalty service per installation). */
export const LOYALTY_CONNECTION = 'loyalty';

interface SyncPayload {
  system: 'erp' | 'loyalty';
  connection: string;
}

interface SourceDeps {
  config: Config;
  erps: ErpRouter;
  loyalty: object;
}

const slotOf = (everySeconds: number, now = Date.now()) => Math.floor(now / 1000 / everySeconds);

/** The connections customer records are pulled from: ERPs that can list customers, and loyalty. */
export function customerRecordSources(deps: SourceDeps): { payload: SyncPayload; target: string; source: CustomerRecordSource }[] {
  const erps = deps.erps.endpoints.filter((e) => isCustomerRecordSource(e.client)).map((e) => ({ payload: { system: 'erp' as const, connection: e.id }, target: erpTarget(deps.config, e.id), source: e.client as unknown as CustomerRecordSource }));
  const loyalty = isCustomerRecordSource(deps.loyalty) ? [{ payload: { system: 'loyalty' as const, connection: LOYALTY_CONNECTION }, target: TARGETS.loyalty, source: deps.loyalty }] : [];
  return [...erps, ...loyalty];
}

function syncJob(payload: SyncPayload, target: string, everySeconds: number, slot: number, correlationId: string, runAt: Date): JobSpec {
  return { type: CUSTOMER_RECORD_JOBS.sync, payload, lane: 'bulk', target, jobKey: `customers-sync:${payload.connection}:${everySeconds}:${slot}`, runAt, correlationId };
}

/** Registers the pull job's handler. */
export function registerCustomerRecordSync(registry: RuntimeRegistry, deps: SourceDeps & { db: Database; customers?: CustomerService }): void {
  const everySeconds = deps.config.customerSyncSeconds;
  const sync = new CustomerRecordSync(deps.db, deps.customers ?? new CustomerService(deps.db));
  registry.register<SyncPayload>(
    CUSTOMER_RECORD_JOBS.sync,
    async (payload, context) => {
      const found = customerRecordSources(deps).find((s) => s.payload.connection === payload.connection && s.payload.system === payload.system);
      if (!found) throw new SynclineError('customer.source_unknown', `no ${payload.system} connection ${payload.connection} lists its customers`, { retry: 'permanent' });
      if (everySeconds > 0) {
        const next = slotOf(everySeconds) + 1;
        await enqueue(deps.db, syncJob(payload, found.target, everySeconds, next, context.correlationId, new Date(next * everySeconds * 1000)));
      }
      const report = await sync.sync(found.source, payload.connection, payload.system as CustomerSystem, { correlationId: context.correlationId, signal: context.signal, target: context.target(found.target) });
      const { skipped, ...summary } = report;
      context.logger.info({ ...summary, skipped: skipped.length }, `customer records pulled from ${payload.connection} (${report.kind}): ${report.read} read`);
    },
    { maxAttempts: 5, backoffBaseMs: 5000, timeoutMs: 1_800_000 },
  );
}

/** Enqueues the first scheduled pull of each source (now), unless the schedule is off (customerSyncSeconds 0). */
export async function startCustomerRecordSyncJobs(db: Database, deps: SourceDeps): Promise<void> {
  const everySeconds = deps.config.customerSyncSeconds;
  if (everySeconds <= 0) return;
  for (const { payload, target } of customerRecordSources(deps)) await enqueue(db, syncJob(payload, target, everySeconds, slotOf(everySeconds), randomUUID(), new Date()));
}
