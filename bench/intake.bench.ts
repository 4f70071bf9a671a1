import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../test/support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment } from '../test/support/server.ts';
import { sampleOrder } from '../test/support/orders.ts';
import { pgbenchPath, processCpuMs, requireTool, runPgbench, runWrk, writeResult, WRK_REPORT_LUA } from './support.ts';

/**
 * Order intake throughput and latency at 32 concurrent clients on the real
 * PostgreSQL server, against pgbench's single-row insert rate at 32 clients on
 * the same server in the same run.
 *
 * The HTTP load comes from wrk (a C load generator, as pgbench is a C client), so
 * that the client's own cost does not decide the result on a small machine.
 */
export const CLIENTS = 32;
export const WARMUP_SECONDS = 3;
export const MEASURE_SECONDS = Number(process.env.BENCH_SECONDS ?? 15);

// Each request carries a fresh channel order id and idempotency key: every request creates an order.
const WRK_SCRIPT = `
local head, tail, token, run = nil, nil, nil, nil
local threads = 0
local counter = 0
-- prefix is a global that setup() sets in each thread's own interpreter.

function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("t%d", threads))
end

function init(args)
  head, tail, token, run = args[1], args[2], args[3], args[4]
end

function request()
  counter = counter + 1
  local id = string.format("%s-%s-%d", run, prefix, counter)
  return wrk.format("POST", "/v1/orders", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = id,
  }, head .. id .. tail)
end

${WRK_REPORT_LUA}`;

/** POST /v1/orders at CLIENTS concurrent clients on a fresh database: orders/s, latency, API CPU per order. */
export async function measureIntake() {
  const database = await createTestDatabase();
  // Request logging is off (warn): the measurement is of intake, not of writing two log lines per request.
  // The client's rate limit is raised out of reach: the limiter still counts every request (its
  // cost is in the figure), but the default 60,000 a minute would cap a fast run.
  const env = testEnvironment(database.url, { LOG_LEVEL: 'warn', SYNCLINE_CLIENT_RATE_LIMIT: '100000000' });
  const server = await spawnSyncline(['api'], env, { quiet: true });
  try {
    const token = await fetchToken(server.baseUrl, undefined, 'orders:write');
    const script = join(mkdtempSync(join(tmpdir(), 'syncline-wrk-')), 'intake.lua');
    writeFileSync(script, WRK_SCRIPT);
    const [head, tail] = JSON.stringify(sampleOrder({ channelOrderId: '@ID@' })).split('@ID@') as [string, string];
    runWrk(server.baseUrl, CLIENTS, WARMUP_SECONDS, script, [head, tail, token, `warm${randomBytes(4).toString('hex')}`]);
    const cpuBefore = processCpuMs(server.child.pid!);
    const result = runWrk(server.baseUrl, CLIENTS, MEASURE_SECONDS, script, [head, tail, token, `run${randomBytes(4).toString('hex')}`]);
    const cpuMs = processCpuMs(server.child.pid!) - cpuBefore;
    const stored = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sales_order');
    return {
      ordersPerSecond: Math.round(result.requests / (result.durationUs / 1e6)),
      p50Ms: Number((result.p50Us / 1000).toFixed(2)),
      p99Ms: Number((result.p99Us / 1000).toFixed(2)),
      requests: result.requests,
      non2xx: result.non2xx,
      socketErrors: result.socketErrors,
      ordersStored: stored.rows[0]!.n,
      // CPU the API process spent (user + system) per accepted order during the measured run.
      apiCpuUsPerOrder: Math.round((cpuMs * 1000) / Math.max(1, result.requests - result.non2xx)),
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await database.drop();
  }
}

function measurePgbench(): { tps: number; command: string } {
  return runPgbench({
    name: 'insert',
    setup: 'CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL)',
    statement: "INSERT INTO bench_insert (payload) VALUES ('x');",
    clients: CLIENTS,
    seconds: MEASURE_SECONDS,
  });
}

export async function run(): Promise<void> {
  requireTool('wrk', 'install it with "apt-get install wrk"', 'intake');
  requireTool(pgbenchPath(), 'it ships with PostgreSQL (postgresql-contrib or the server package)', 'intake');
  const intake = await measureIntake();
  const pgbench = measurePgbench();
  const ratio = Number((intake.ordersPerSecond / pgbench.tps).toFixed(2));
  console.log(`intake:  ${intake.ordersPerSecond} orders/s at ${CLIENTS} clients (p50 ${intake.p50Ms} ms, p99 ${intake.p99Ms} ms, non-2xx ${intake.non2xx}; API CPU ${intake.apiCpuUsPerOrder} µs per order)`);
  console.log(`pgbench: ${pgbench.tps} single-row inserts/s at ${CLIENTS} clients`);
  console.log(`ratio:   ${ratio}x (target >= 1.0x)`);
  const file = writeResult('intake', {
    clients: CLIENTS,
    seconds: MEASURE_SECONDS,
    loadGenerator: 'wrk -t 2 -c 32',
    intake,
    pgbench,
    ratio,
    target: '>= 1.0x pgbench single-row insert rate',
  });
  console.log(`written to ${file}`);
}
