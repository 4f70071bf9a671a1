import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { connectorSettingsFromConfig } from '../connectors/connector-settings.ts';
import { createErpClient, erpAddress, type ConnectorSettings } from '../connectors/connectors.ts';
import { SynclineError } from '../domain/errors.ts';
import { ProductService, type SyncReport } from '../domain/products/product.service.ts';
import { TARGETS } from '../flows/flow-deps.ts';
import { DEFAULT_TARGET_POLICIES } from '../flows/flows.ts';
import { catalogueErpId, erpTarget, erpTargetPolicy } from '../flows/erp-routing/erp-router.ts';
import { createLogger } from '../observability/logger.ts';
import { createTargetCaller } from '../runtime/targets/target-caller.ts';
import { TargetError } from '../runtime/targets/target-errors.ts';
import { resolveTargetPolicy } from '../runtime/targets/target-policy.ts';
import { openDatabase } from '../syncline.ts';
import { upsertTarget } from '../store/runtime/target-queries.ts';

export const PRODUCTS_USAGE = `  products sync [--full] [--json]
                                 sync the product catalogue from the ERP now, through the ERP's rate limit
                                 (--full: read every product again, not only what changed)`;

/** How many times a run waits for the ERP's rate limit or open breaker before giving up. */
const MAX_THROTTLED_WAITS = 20;

/** Runs `syncline products <sub>`; prints its own errors and returns the exit code. */
export async function runProductsCommand(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'sync') {
    console.error(`syncline products: ${sub ? `unknown subcommand "${sub}"` : 'a subcommand is required'}\n\n${PRODUCTS_USAGE}`);
    return 2;
  }
  let values: { full?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { full: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true }));
  } catch (error) {
    console.error(`syncline products: ${(error as Error).message}`);
    return 2;
  }
  const db = await openDatabase(config, createLogger('warn'), { customerKeys: false });
  // The ERP connection that owns the item master (erpRouting.catalogue, else the default ERP), on its own target.
  const connectionId = catalogueErpId(config);
  const connection = config.connections.erpRouting ? config.connections.connections.find((c) => c.kind === 'erp' && c.id === connectionId) : undefined;
  const settings = connection ? (connection.options as ConnectorSettings['erp']) : connectorSettingsFromConfig(config).erp;
  const targetName = erpTarget(config, connectionId);
  try {
    const products = new ProductService(db);
    if (values.full) await products.resetCursor(connectionId);
    const erp = createErpClient(settings);
    const policy = resolveTargetPolicy(erpTargetPolicy(config, connectionId, DEFAULT_TARGET_POLICIES[TARGETS.erp] ?? {}));
    // The target's row and concurrency slots, as a worker registers them at start (it may not have run yet).
    await upsertTarget(db, targetName, policy, policy.maxConcurrency);
    let report: SyncReport | undefined;
    for (let waits = 0; !report; waits++) {
      // The ERP's target, as the scheduled job uses it: the quota is shared with the workers.
      const target = createTargetCaller(db, targetName, policy, `cli:products:${process.pid}`, new AbortController().signal);
      try {
        report = await products.sync(erp, connectionId, { target });
      } catch (error) {
        const retryAt = error instanceof TargetError && error.retry === 'throttled' ? error.retryAt : undefined;
        if (!retryAt || waits >= MAX_THROTTLED_WAITS) throw error;
        await sleep(Math.max(50, retryAt.getTime() - Date.now()));
      }
    }
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(
        `products sync from ${connectionId} (${erpAddress(settings)}): ${report.kind === 'full' ? 'full load' : `changes since ${report.since}`}: ` +
          `${report.read} read, ${report.changed} changed, ${report.skipped.length} skipped, in ${(report.durationMs / 1000).toFixed(1)} s; next run reads from ${report.cursor ?? 'the start'}`,
      );
      for (const s of report.skipped) console.log(`  skipped ERP product ${s.externalId}: ${s.reason}`);
    }
    return 0;
  } catch (error) {
    const code = error instanceof SynclineError ? ` [${error.code}]` : '';
    console.error(`syncline products: the sync from ${connectionId} at ${erpAddress(settings)} failed${code}: ${(error as Error).message}`);
    return 1;
  } finally {
    await db.close();
  }
}
