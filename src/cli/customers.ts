import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { connectorSettingsFromConfig } from '../connectors/connector-settings.ts';
import { createErpClient } from '../connectors/connectors.ts';
import { createLoyaltyClient } from '../connectors/loyalty/outbound/loyalty.client.ts';
import { CustomerService } from '../domain/customers/customer.service.ts';
import { CustomerRecordSync, type RecordSyncReport } from '../domain/customers/record-sync.ts';
import { SynclineError } from '../domain/errors.ts';
import { customerRecordSources } from '../flows/customers/record-sync.flow.ts';
import { TARGETS } from '../flows/flow-deps.ts';
import { DEFAULT_TARGET_POLICIES } from '../flows/flows.ts';
import { createErpRouter, erpTargetPolicy } from '../flows/erp-routing/erp-router.ts';
import { createLogger } from '../observability/logger.ts';
import { createTargetCaller } from '../runtime/targets/target-caller.ts';
import { TargetError } from '../runtime/targets/target-errors.ts';
import { resolveTargetPolicy } from '../runtime/targets/target-policy.ts';
import { openDatabase } from '../syncline.ts';
import { upsertTarget } from '../store/runtime/target-queries.ts';

import { currentKeyring } from '../store/customers/customer-crypto.ts';
import { rotateCustomerKeys } from '../store/customers/customer-keys.ts';
import { ClientsUsageError, handleUsage, withDatabase } from './clients.ts';

export const CUSTOMERS_USAGE = `  customers sync [--from <connection>] [--full] [--json]
                                 pull customer records now (ERP parties, loyalty members) into identity
                                 resolution, through each system's rate limit and breaker
                                 (--from: one connection, e.g. erp or loyalty; --full: read every record again)
  customers rotate-key           re-wrap every customer data key under SYNCLINE_CUSTOMER_ACTIVE_KEY, while
                                 Syncline runs; then an older key nothing is wrapped by is retired and may be
                                 removed from SYNCLINE_CUSTOMER_KEYS (docs/customers.md, Encryption at rest)`;

/** How many times a pull waits for a system's rate limit or open breaker before giving up. */
const MAX_THROTTLED_WAITS = 20;

/** Runs `syncline customers <sub>`; prints its own errors and returns the exit code. */
export async function runCustomersCommand(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'rotate-key') return rotateKey(rest, config);
  if (sub !== 'sync') {
    console.error(`syncline customers: ${sub ? `unknown subcommand "${sub}"` : 'a subcommand is required'}\n\n${CUSTOMERS_USAGE}`);
    return 2;
  }
  let values: { from?: string; full?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { from: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true }));
  } catch (error) {
    console.error(`syncline customers: ${(error as Error).message}`);
    return 2;
  }
  const settings = connectorSettingsFromConfig(config);
  const sources = customerRecordSources({ config, erps: createErpRouter(config, createErpClient(settings.erp)), loyalty: createLoyaltyClient(settings.loyalty) }).filter((s) => !values.from || s.payload.connection === values.from);
  if (sources.length === 0) {
    console.error(`syncline customers: ${values.from ? `no connection "${values.from}" lists its customers` : 'no configured connection lists its customers'}`);
    return 2;
  }
  const db = await openDatabase(config, createLogger('warn'));
  const sync = new CustomerRecordSync(db, new CustomerService(db, config.connections.customers));
  const reports: RecordSyncReport[] = [];
  try {
    for (const { payload, target: targetName, source } of sources) {
      if (values.full) await sync.resetCursor(payload.connection);
      const base = DEFAULT_TARGET_POLICIES[payload.system === 'erp' ? TARGETS.erp : TARGETS.loyalty] ?? {};
      const policy = resolveTargetPolicy(payload.system === 'erp' ? erpTargetPolicy(config, payload.connection, base) : { ...base, ...(config.targetPolicies[targetName] ?? {}) });
      // The target's row and concurrency slots, as a worker registers them at start (it may not have run yet).
      await upsertTarget(db, targetName, policy, policy.maxConcurrency);
      let report: RecordSyncReport | undefined;
      for (let waits = 0; !report; waits++) {
        const target = createTargetCaller(db, targetName, policy, `cli:customers:${process.pid}`, new AbortController().signal);
        try {
          report = await sync.sync(source, payload.connection, payload.system, { target });
        } catch (error) {
          const retryAt = error instanceof TargetError && error.retry === 'throttled' ? error.retryAt : undefined;
          if (!retryAt || waits >= MAX_THROTTLED_WAITS) throw error;
          await sleep(Math.max(50, retryAt.getTime() - Date.now()));
        }
      }
      reports.push(report);
      if (!values.json) {
        const o = report.outcomes;
        console.log(
          `customers sync from ${payload.connection}: ${report.kind === 'full' ? 'full load' : `changes since ${report.since}`}: ${report.read} read, ` +
            `${o.created} new, ${o.merged} merged, ${o.updated} updated, ${o.unchanged} unchanged, ${report.queued} to stewardship, ${report.skipped.length} skipped, in ${(report.durationMs / 1000).toFixed(1)} s`,
        );
        for (const s of report.skipped) console.log(`  skipped ${payload.system} record ${s.externalId}: ${s.reason}`);
      }
    }
    if (values.json) console.log(JSON.stringify(reports, null, 2));
    return 0;
  } catch (error) {
    const code = error instanceof SynclineError ? ` [${error.code}]` : '';
    console.error(`syncline customers: the sync failed${code}: ${(error as Error).message}`);
    return 1;
  } finally {
    await db.close();
  }
}

/** `syncline customers rotate-key`: the rotation of the key-encryption key, online (ADR 0042). */
async function rotateKey(args: string[], config: Config): Promise<number> {
  return handleUsage('customers', async () => {
    parseArgs({ args, options: {}, strict: true });
    const result = await withDatabase(config, async (db) => {
      const keyring = currentKeyring();
      return { ...(await rotateCustomerKeys(db, keyring)), active: keyring.activeKekId };
    }, { customerKeys: true });
    console.log(`customer data keys re-wrapped under "${result.active}": ${result.records} records, ${result.customers} golden records; retired: ${result.retired.join(', ') || 'none'}`);
    return 0;
  });
}
