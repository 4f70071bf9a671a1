import { randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment } from '../test/support/server.ts';
import { createLogger } from '../src/observability/logger.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { InventoryService } from '../src/domain/inventory/inventory.service.ts';
import { percentile, requireTool, runPgbench, runWrk, startCpuMeter, writeResult, writeWrkPostScript } from './support.ts';

/**
 * Reservations per second at 32 concurrent clients on the real PostgreSQL server:
 * on one hot SKU, and spread over 10,000 SKUs; then pgbench's single-row hot
 * update (`update ... set qty = qty - 1 where ... and qty >= 1`) at 32 clients on
 * the same server in the same run. Every reservation carries an idempotency key,
 * is decided under the service's own row locks and writes its reservation, lines,
 * balance, outbox event and idempotency record. After each phase the balances are
 * verified against the ledger and a sell-out checks that exactly the stock on
 * hand was reserved (zero oversell).
 *
 * Clients: 32 concurrent callers of the inventory service in one process (the
 * headline figure), and 32 HTTP connections from wrk to a separate API process.
 */
const CLIENTS = 32;
const WARMUP_SECONDS = 2;
const MEASURE_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SPREAD_SKUS = 10_000;
const SELL_OUT_UNITS = 5_000;

interface Phase {
  reservationsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  reservations: number;
  refused: number;
}

const logger = createLogger('warn');
const ctx = (n: number) => ({ correlationId: `bench-${n}`, idempotency: { scope: 'bench', key: randomUUID(), fingerprint: 'bench' } });

/** Runs `clients` loops calling `once` until the time is up; measures after the warm-up. */
async function drive(once: (n: number) => Promise<boolean>): Promise<Phase> {
  const latencies: number[] = [];
  let refused = 0;
  let n = 0;
  const measureFrom = Date.now() + WARMUP_SECONDS * 1000;
  const stopAt = measureFrom + MEASURE_SECONDS * 1000;
  const client = async () => {
    while (Date.now() < stopAt) {
      const started = performance.now();
      const ok = await once((n += 1));
      const elapsed = performance.now() - started;
      if (Date.now() < measureFrom) continue;
      if (ok) latencies.push(elapsed);
      else refused += 1;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  latencies.sort((a, b) => a - b);
  return {
    reservationsPerSecond: Math.round(latencies.length / MEASURE_SECONDS),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
    reservations: latencies.length,
    refused,
  };
}

async function receive(inventory: InventoryService, lines: { sku: string; quantity: number }[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 1000) {
    const movements = lines.slice(i, i + 1000).map((l) => ({ type: 'receipt' as const, sku: l.sku, location: 'DC', quantity: l.quantity }));
    const outcome = await inventory.recordMovements({ movements }, ctx(i));
    if (outcome.kind !== 'done' || outcome.result.kind !== 'recorded') throw new Error(`receipt failed: ${JSON.stringify(outcome)}`);
  }
}

async function assertNoDrift(inventory: InventoryService, database: TestDatabase, phase: string): Promise<void> {
  const report = await inventory.verify();
  if (report.drift.length > 0) throw new Error(`${phase}: balances differ from the ledger: ${JSON.stringify(report.drift.slice(0, 5))}`);
  const over = await database.db.query<{ n: string }>('SELECT count(*) AS n FROM inventory_balance WHERE reserved > on_hand');
  if (Number(over.rows[0]!.n) > 0) throw new Error(`${phase}: a location holds more than it has`);
}

async function measureService(): Promise<{ hot: Phase; spread: Phase; sellOut: { units: number; reserved: number; refused: number } }> {
  const database = await createTestDatabase();
  const db = openPostgres({ connectionString: database.url, poolSize: 20 });
  const inventory = new InventoryService(db, logger, {});
  try {
    const location = await inventory.createLocation({ code: 'DC', name: 'Distribution centre', kind: 'warehouse' }, ctx(0));
    if (location.kind !== 'done') throw new Error('could not create the location');
    await receive(inventory, [{ sku: 'HOT', quantity: 100_000_000 }]);
    const hot = await drive(async (n) => {
      const outcome = await inventory.reserve({ reference: `cart-${n}`, channel: 'web', lines: [{ sku: 'HOT', quantity: 1 }] }, ctx(n));
      return outcome.kind === 'done' && outcome.result.kind === 'reserved';
    });
    await assertNoDrift(inventory, database, 'hot SKU');

    await receive(inventory, Array.from({ length: SPREAD_SKUS }, (_, i) => ({ sku: `SKU-${i}`, quantity: 10_000 })));
    const spread = await drive(async (n) => {
      const sku = `SKU-${Math.floor(Math.random() * SPREAD_SKUS)}`;
      const outcome = await inventory.reserve({ reference: `cart-${n}`, channel: 'web', lines: [{ sku, quantity: 1 }] }, ctx(n));
      return outcome.kind === 'done' && outcome.result.kind === 'reserved';
    });
    await assertNoDrift(inventory, database, 'spread');

    // Sell-out: 32 clients keep reserving one unit until refused; exactly the stock must be reserved.
    await receive(inventory, [{ sku: 'SELL-OUT', quantity: SELL_OUT_UNITS }]);
    let reserved = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < SELL_OUT_UNITS; i += 1) {
          const outcome = await inventory.reserve({ reference: `sell-out-${c}-${i}`, channel: 'web', lines: [{ sku: 'SELL-OUT', quantity: 1 }] }, ctx(i));
          if (outcome.kind === 'done' && outcome.result.kind === 'reserved') reserved += 1;
          else {
            refused += 1;
            return;
          }
        }
      }),
    );
    if (reserved !== SELL_OUT_UNITS) throw new Error(`sell-out reserved ${reserved} of ${SELL_OUT_UNITS} units`);
    await assertNoDrift(inventory, database, 'sell-out');
    return { hot, spread, sellOut: { units: SELL_OUT_UNITS, reserved, refused } };
  } finally {
    await db.close();
    await database.drop();
  }
}

/**
 * One hot SKU over HTTP to one API process. The load comes from wrk, as in the intake
 * benchmark: a load generator written in JavaScript would take a large share of the two cores
 * it shares with the API process and PostgreSQL. CPU per reservation of the API process and of
 * its database backends is read from /proc around the measured window.
 */
async function measureHttp(): Promise<Phase & { apiCpuUs: number; databaseCpuUs: number }> {
  const database = await createTestDatabase();
  const server = await spawnSyncline(['api'], testEnvironment(database.url, { LOG_LEVEL: 'warn', SYNCLINE_CLIENT_RATE_LIMIT: '100000000' }), { quiet: true, startTimeoutMs: 120_000 });
  const db = openPostgres({ connectionString: database.url, poolSize: 2 });
  try {
    const token = await fetchToken(server.baseUrl);
    const post = async (path: string, body: unknown) => {
      const response = await fetch(server.baseUrl + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify(body),
      });
      await response.text();
      return response.status;
    };
    await post('/v1/locations', { code: 'DC', name: 'Distribution centre', kind: 'warehouse' });
    await post('/v1/inventory/movements', { movements: [{ type: 'receipt', sku: 'HOT', location: 'DC', quantity: 100_000_000 }] });
    // Each request reserves one unit of HOT under a fresh cart reference and idempotency key.
    const script = writeWrkPostScript('/v1/inventory/reservations');
    const [head, tail] = ['{"reference":"cart-', '","channel":"web","lines":[{"sku":"HOT","quantity":1}]}'];
    runWrk(server.baseUrl, CLIENTS, WARMUP_SECONDS, script, [token, `warm${randomBytes(4).toString('hex')}`, head, tail]);
    const meter = await startCpuMeter(database.url, [server.child.pid!]);
    const result = runWrk(server.baseUrl, CLIENTS, MEASURE_SECONDS, script, [token, `run${randomBytes(4).toString('hex')}`, head, tail]);
    const cpu = await meter.stop();
    const reserved = Math.max(1, result.requests - result.non2xx);
    await assertNoDrift(new InventoryService(db, logger, {}), database, 'hot SKU over HTTP');
    return {
      reservationsPerSecond: Math.round(reserved / (result.durationUs / 1e6)),
      p50Ms: Number((result.p50Us / 1000).toFixed(2)),
      p99Ms: Number((result.p99Us / 1000).toFixed(2)),
      reservations: reserved,
      refused: result.non2xx,
      apiCpuUs: Math.round((cpu.processesMs * 1000) / reserved),
      databaseCpuUs: Math.round((cpu.databaseMs * 1000) / reserved),
    };
  } finally {
    await db.close();
    server.child.kill('SIGTERM');
    await server.exited;
    await database.drop();
  }
}

function measurePgbenchHotRow(): { tps: number; command: string } {
  return runPgbench({
    name: 'hot-row',
    setup: "CREATE TABLE stock (sku text PRIMARY KEY, qty bigint NOT NULL); INSERT INTO stock VALUES ('HOT', 1000000000)",
    statement: "UPDATE stock SET qty = qty - 1 WHERE sku = 'HOT' AND qty >= 1;",
    clients: CLIENTS,
    seconds: MEASURE_SECONDS,
  });
}

export async function run(): Promise<void> {
  requireTool('wrk', 'install it with "apt-get install wrk"', 'inventory');
  const service = await measureService();
  const http = await measureHttp();
  const pgbench = measurePgbenchHotRow();
  const ratio = Number((service.hot.reservationsPerSecond / pgbench.tps).toFixed(2));
  const httpRatio = Number((http.reservationsPerSecond / pgbench.tps).toFixed(2));
  const line = (name: string, p: Phase) =>
    `${name}${p.reservationsPerSecond} reservations/s at ${CLIENTS} clients (p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, ${p.refused} refused)`;
  console.log(line('hot SKU (service):      ', service.hot));
  console.log(line(`${SPREAD_SKUS} SKUs (service):  `, service.spread));
  console.log(line('hot SKU (HTTP, 1 proc): ', http));
  console.log(`pgbench hot-row update: ${pgbench.tps} tps at ${CLIENTS} clients`);
  console.log(`HTTP CPU per reservation: API ${http.apiCpuUs} µs, PostgreSQL ${http.databaseCpuUs} µs`);
  console.log(`ratio hot SKU / pgbench: ${ratio}x service (target >= 1.5x), ${httpRatio}x HTTP (target >= 1.0x)`);
  console.log(`sell-out: ${service.sellOut.reserved} of ${service.sellOut.units} units reserved, ${service.sellOut.refused} clients refused after; balances equal the ledger`);
  const file = writeResult('inventory', {
    clients: CLIENTS,
    seconds: MEASURE_SECONDS,
    hotSku: service.hot,
    spread: { skus: SPREAD_SKUS, ...service.spread },
    hotSkuHttp: http,
    pgbenchHotRow: pgbench,
    ratio,
    httpRatio,
    sellOut: service.sellOut,
    loadGenerator: { service: '32 async callers in the benchmark process', http: 'wrk -t 2 -c 32' },
    target: 'service >= 1.5x and HTTP >= 1.0x pgbench single-row hot update rate, zero oversell',
  });
  console.log(`written to ${file}`);
}
