import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { runErpOutage, type ErpOutageOptions } from '../rehearsals/erp-outage.ts';
import { runFlashSale } from '../rehearsals/flash-sale.ts';
import { runReturnSurge, type ReturnSurgeOptions } from '../rehearsals/return-surge.ts';
import { runStoreReconnect, type StoreReconnectOptions } from '../rehearsals/store-reconnect.ts';

export const REHEARSE_USAGE = `  rehearse flash-sale [--duration <s>] [--time-factor <n>] [--out <folder>] [--base-rate <orders/s>]
           [--multiplier <n>] [--erp-quota <requests/s>] [--hot-stock <units>] [--drain-timeout <s>]
                                 run the flash-sale rehearsal against in-process sandboxes (embedded
                                 database, or DATABASE_URL: use one of its own) and write report.json and
                                 report.html under <folder>/flash-sale-<time>; exits 1 when a check fails
  rehearse erp-outage [the flash-sale options] [--outage-start <s>] [--outage-duration <s>]
           [--erp-breaker-cooldown <s>]
                                 the same load with the ERP down for a part of the peak (default: from a
                                 quarter of the peak, for half of it); the report shows the backlog
                                 growing and draining and checks every order was posted once
  rehearse store-reconnect [--duration <s>] [--out <folder>] [--base-rate <orders/s>] [--erp-quota <requests/s>]
           [--drain-timeout <s>] [--stores <n>] [--sales-per-store <n>] [--batch-size <n>]
                                 stores (default: 20) come back online at once and flush their offline
                                 sales as stock movements, re-sending some batches, while web orders
                                 keep coming; checks every movement applied once and the final stock
  rehearse return-surge [--duration <s>] [--out <folder>] [--base-rate <orders/s>] [--erp-quota <requests/s>]
           [--drain-timeout <s>] [--promotion-orders <n>]
                                 orders of a promotion (default: 40) are shipped, then returned at once
                                 (some in part, some sent twice) while new orders keep coming; checks
                                 every return refunded, credited and restocked once`;

/** A wrong use of the rehearse command; printed as one line, exit code 2. */
class RehearseUsageError extends Error {}

const SCENARIOS = { 'flash-sale': runFlashSale, 'erp-outage': runErpOutage, 'store-reconnect': runStoreReconnect, 'return-surge': runReturnSurge } as const;

/** Options that only some scenarios take; every other option is common to all. */
const SCENARIO_OPTIONS: Record<string, readonly (keyof typeof SCENARIOS)[]> = {
  'time-factor': ['flash-sale', 'erp-outage'],
  multiplier: ['flash-sale', 'erp-outage'],
  'hot-stock': ['flash-sale', 'erp-outage'],
  'outage-start': ['erp-outage'],
  'outage-duration': ['erp-outage'],
  'erp-breaker-cooldown': ['erp-outage'],
  stores: ['store-reconnect'],
  'sales-per-store': ['store-reconnect'],
  'batch-size': ['store-reconnect'],
  'promotion-orders': ['return-surge'],
};

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new RehearseUsageError(`--${name} must be a positive number (got "${value}")`);
  return n;
}

/** A request holds at most 1000 movements, and an offline sale is up to two. */
function atMost(limit: number, name: string, n: number | undefined): number | undefined {
  if (n !== undefined && n > limit) throw new RehearseUsageError(`--${name} must be at most ${limit} (got ${n})`);
  return n;
}

function whole(name: string, value: string | undefined): number | undefined {
  const n = positive(name, value);
  if (n !== undefined && !Number.isInteger(n)) throw new RehearseUsageError(`--${name} must be a whole number (got "${value}")`);
  return n;
}

/** Runs `syncline rehearse <scenario>`; progress on stderr, the report's folder and verdict on stdout. */
export async function runRehearseCommand(args: string[], config: Config): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        duration: { type: 'string' },
        'time-factor': { type: 'string' },
        out: { type: 'string' },
        'base-rate': { type: 'string' },
        multiplier: { type: 'string' },
        'erp-quota': { type: 'string' },
        'hot-stock': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'outage-start': { type: 'string' },
        'outage-duration': { type: 'string' },
        'erp-breaker-cooldown': { type: 'string' },
        stores: { type: 'string' },
        'sales-per-store': { type: 'string' },
        'batch-size': { type: 'string' },
        'promotion-orders': { type: 'string' },
      },
    });
    const [scenario] = positionals;
    if (!scenario || !Object.hasOwn(SCENARIOS, scenario) || positionals.length > 1) {
      throw new RehearseUsageError(`name one scenario: ${Object.keys(SCENARIOS).join(', ')} (got "${positionals.join(' ')}")`);
    }
    const run = SCENARIOS[scenario as keyof typeof SCENARIOS];
    for (const [name, scenarios] of Object.entries(SCENARIO_OPTIONS)) {
      if (values[name as keyof typeof values] !== undefined && !scenarios.includes(scenario as keyof typeof SCENARIOS)) {
        throw new RehearseUsageError(`--${name} is an option of ${scenarios.join(' and ')} only`);
      }
    }
    const outageStart = values['outage-start'] === '0' ? 0 : positive('outage-start', values['outage-start']);
    const options: ErpOutageOptions & StoreReconnectOptions & ReturnSurgeOptions = {
      ...(values.out ? { out: values.out } : {}),
      durationSeconds: positive('duration', values.duration),
      timeFactor: positive('time-factor', values['time-factor']),
      baseRate: positive('base-rate', values['base-rate']),
      multiplier: positive('multiplier', values.multiplier),
      erpQuotaPerSecond: positive('erp-quota', values['erp-quota']),
      hotStock: positive('hot-stock', values['hot-stock']),
      drainTimeoutSeconds: positive('drain-timeout', values['drain-timeout']),
      outageStartSeconds: outageStart,
      outageSeconds: positive('outage-duration', values['outage-duration']),
      erpBreakerCooldownSeconds: positive('erp-breaker-cooldown', values['erp-breaker-cooldown']),
      stores: whole('stores', values.stores),
      salesPerStore: whole('sales-per-store', values['sales-per-store']),
      batchSize: atMost(500, 'batch-size', whole('batch-size', values['batch-size'])),
      promotionOrders: whole('promotion-orders', values['promotion-orders']),
      onProgress: (line) => process.stderr.write(`${line}\n`),
    };
    for (const key of Object.keys(options) as (keyof typeof options)[]) if (options[key] === undefined) delete options[key];
    const { report, folder } = await run(config, createLogger('error'), options);
    for (const check of report.checks) console.log(`${check.ok ? 'pass' : 'FAIL'}  ${check.name}: ${check.value} (expected ${check.expected})`);
    console.log(`report: ${folder}/report.json, ${folder}/report.html (charts: ${folder}/chart-*.svg)`);
    return report.passed ? 0 : 1;
  } catch (error) {
    if (error instanceof RehearseUsageError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`syncline rehearse: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
