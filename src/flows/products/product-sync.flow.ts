import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { ProductService } from '../../domain/products/product.service.ts';
import type { RuntimeRegistry } from '../../runtime/registry.ts';
import type { JobSpec } from '../../runtime/runtime.ts';
import { enqueue } from '../../runtime/queue.ts';
import type { Database } from '../../store/database.ts';
import { catalogueErpId, erpTarget, type ErpRouter } from '../erp-routing/erp-router.ts';

/**
 * The product catalogue's scheduled sync (docs/products.md): one `products.sync` job per time
 * slot of `productSyncSeconds`, from the ERP connection that owns the item master
 * (`erpRouting.catalogue`, else the default ERP), on that ERP's target so that the ERP's quota
 * and breaker apply. The first runs at start; each run enqueues the next slot's job before it
 * reads anything, so a failed run (a dead letter) never ends the schedule.
 */

export const PRODUCT_JOBS = { sync: 'products.sync' } as const;

interface SyncPayload {
  connectionId: string;
}

const slotOf = (everySeconds: number, now = Date.now()) => Math.floor(now / 1000 / everySeconds);

function syncJob(config: Config, connectionId: string, everySeconds: number, slot: number, correlationId: string, runAt: Date): JobSpec {
  return {
    type: PRODUCT_JOBS.sync,
    payload: { connectionId } satisfies SyncPayload,
    lane: 'bulk',
    target: erpTarget(config, connectionId),
    jobKey: `products-sync:${connectionId}:${everySeconds}:${slot}`,
    runAt,
    correlationId,
  };
}

/** Registers the sync job's handler (a full load can take a while: 30 minutes before it is abandoned). */
export function registerProductSync(registry: RuntimeRegistry, deps: { db: Database; config: Config; erps: ErpRouter; products: ProductService }): void {
  const everySeconds = deps.config.productSyncSeconds;
  registry.register<SyncPayload>(
    PRODUCT_JOBS.sync,
    async (payload, context) => {
      // The catalogue now comes from another connection (the file changed): this schedule ends; start-up began the new one.
      if (payload.connectionId !== catalogueErpId(deps.config)) {
        context.logger.info({ connectionId: payload.connectionId }, `product sync from ${payload.connectionId} skipped: the catalogue is synced from ${catalogueErpId(deps.config)}`);
        return;
      }
      // Every attempt: its job key makes the next slot's job exist once, however often this runs.
      if (everySeconds > 0) {
        const next = slotOf(everySeconds) + 1;
        await enqueue(deps.db, syncJob(deps.config, payload.connectionId, everySeconds, next, context.correlationId, new Date(next * everySeconds * 1000)));
      }
      // The connection named in the job (a connection removed since fails permanently: erp.connection_unknown).
      const erp = deps.erps.endpoint(payload.connectionId);
      const report = await deps.products.sync(erp.client, payload.connectionId, { correlationId: context.correlationId, signal: context.signal, target: context.target(erp.target) });
      const { skipped, ...summary } = report;
      context.logger.info({ ...summary, skipped: skipped.length }, `product catalogue synced from ${payload.connectionId} (${report.kind}): ${report.read} read, ${report.changed} changed`);
    },
    { maxAttempts: 5, backoffBaseMs: 5000, timeoutMs: 1_800_000 },
  );
}

/** Enqueues the first scheduled sync (now), unless the schedule is off (productSyncSeconds 0). */
export async function startProductSyncJobs(db: Database, config: Config): Promise<void> {
  const everySeconds = config.productSyncSeconds;
  if (everySeconds <= 0) return;
  await enqueue(db, syncJob(config, catalogueErpId(config), everySeconds, slotOf(everySeconds), randomUUID(), new Date()));
}
