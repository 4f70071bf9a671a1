import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '../test/support/postgres.ts';
import { fetchToken, spawnSyncline, testEnvironment } from '../test/support/server.ts';
import { sampleOrder } from '../test/support/orders.ts';
import { pgbenchPath, requireTool, runPgbench, runWrk, startCpuMeter, writeResult, writeWrkPostScript } from './support.ts';

/**
 * Order intake throughput, latency and CPU per order at 32 concurrent clients on the real
 * PostgreSQL server, against, in the same run: a do-it-yourself baseline (a bare Fastify route
 * inserting the body into one jsonb column; bench/intake-diy-server.ts) under the same load, the
 * HTTP floor (a bare node:http server that reads the body and answers 201, no database;
 * bench/intake-http-floor-server.ts) under the same load, and pgbench's single-row insert rate at
 * 32 clients on the same server.
 *
 * The HTTP load comes from wrk (a C load generator, as pgbench is a C client), so
 * that the client's own cost does not decide the result on a small machine.
 */
export const CLIENTS = 32;
export const WARMUP_SECONDS = 3;
export const MEASURE_SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
/** Rounds of the three measurements (BENCH_ROUNDS; default 3). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DIY_SERVER = fileURLToPath(new URL('./intake-diy-server.ts', import.meta.url));
const FLOOR_SERVER = fileURLToPath(new URL('./intake-http-floor-server.ts', import.meta.url));

/** A server under measurement: its process, its address and its database. */
interface ServerUnderTest {
  pid: number;
  baseUrl: string;
  /** Absent for the HTTP floor, which has no database. */
  databaseUrl: string | undefined;
  token: string;
  /** Orders it stored (read after the run). */
  stored(): Promise<number>;
  stop(): Promise<void>;
}

/** One wrk run of POST /v1/orders at CLIENTS clients: orders/s, latency, CPU per order of the process and of its database backends. */
async function measure(server: ServerUnderTest) {
  // Each request carries a fresh channel order id and idempotency key: every request creates an order.
  const script = writeWrkPostScript('/v1/orders');
  const [head, tail] = JSON.stringify(sampleOrder({ channelOrderId: '@ID@' })).split('@ID@') as [string, string];
  runWrk(server.baseUrl, CLIENTS, WARMUP_SECONDS, script, [server.token, `warm${randomBytes(4).toString('hex')}`, head, tail]);
  const meter = await startCpuMeter(server.databaseUrl, [server.pid]);
  const result = runWrk(server.baseUrl, CLIENTS, MEASURE_SECONDS, script, [server.token, `run${randomBytes(4).toString('hex')}`, head, tail]);
  const cpu = await meter.stop();
  const accepted = Math.max(1, result.requests - result.non2xx);
  const processCpuUsPerOrder = Math.round((cpu.processesMs * 1000) / accepted);
  const databaseCpuUsPerOrder = Math.round((cpu.databaseMs * 1000) / accepted);
  return {
    ordersPerSecond: Math.round(result.requests / (result.durationUs / 1e6)),
    p50Ms: Number((result.p50Us / 1000).toFixed(2)),
    p99Ms: Number((result.p99Us / 1000).toFixed(2)),
    requests: result.requests,
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    ordersStored: await server.stored(),
    // CPU (user + system, from /proc) per accepted order during the measured run.
    processCpuUsPerOrder,
    databaseCpuUsPerOrder,
    totalCpuUsPerOrder: processCpuUsPerOrder + databaseCpuUsPerOrder,
  };
}

/** `syncline api` on a fresh database. */
async function startSynclineApi(): Promise<ServerUnderTest> {
  const database = await createTestDatabase();
  // Request logging is off (warn): the measurement is of intake, not of writing two log lines per request.
  // The client's rate limit is raised out of reach: the limiter still counts every request (its
  // cost is in the figure), but the default 60,000 a minute would cap a fast run.
  const env = testEnvironment(database.url, { LOG_LEVEL: 'warn', SYNCLINE_CLIENT_RATE_LIMIT: '100000000' });
  const server = await spawnSyncline(['api'], env, { quiet: true, startTimeoutMs: 120_000 }).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  return {
    pid: server.child.pid!,
    baseUrl: server.baseUrl,
    databaseUrl: database.url,
    token: await fetchToken(server.baseUrl, undefined, 'orders:write'),
    stored: async () => (await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sales_order')).rows[0]!.n,
    async stop() {
      server.child.kill('SIGTERM');
      await server.exited;
      await database.drop();
    },
  };
}

/** Spawns a baseline server script and waits for its `LISTENING <url>` line. */
async function spawnBaseline(script: string, args: string[]): Promise<{ child: ReturnType<typeof spawn>; baseUrl: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`the baseline server did not start:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /LISTENING (\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`the baseline server exited:\n${output}`)));
    });
    return { child, baseUrl, exited };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** The do-it-yourself baseline (bench/intake-diy-server.ts) on a fresh, empty database. */
async function startDiyServer(): Promise<ServerUnderTest> {
  const database = await createTestDatabase({ migrated: false });
  try {
    const { child, baseUrl, exited } = await spawnBaseline(DIY_SERVER, [database.url]);
    return {
      pid: child.pid!,
      baseUrl,
      databaseUrl: database.url,
      token: 'none',
      stored: async () => (await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM diy_order')).rows[0]!.n,
      async stop() {
        child.kill('SIGTERM');
        await exited;
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** The HTTP floor (bench/intake-http-floor-server.ts): no database, so it stores nothing. */
async function startFloorServer(): Promise<ServerUnderTest> {
  const { child, baseUrl, exited } = await spawnBaseline(FLOOR_SERVER, []);
  return {
    pid: child.pid!,
    baseUrl,
    databaseUrl: undefined,
    token: 'none',
    stored: async () => 0,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** POST /v1/orders on Syncline's API at CLIENTS concurrent clients (also used by the webhooks benchmark). */
export async function measureIntake() {
  const server = await startSynclineApi();
  try {
    return await measure(server);
  } finally {
    await server.stop();
  }
}

async function measureBaseline(start: () => Promise<ServerUnderTest>) {
  const server = await start();
  try {
    return await measure(server);
  } finally {
    await server.stop();
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

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

export async function run(): Promise<void> {
  requireTool('wrk', 'install it with "apt-get install wrk"', 'intake');
  requireTool(pgbenchPath(), 'it ships with PostgreSQL (postgresql-contrib or the server package)', 'intake');
  // The host's speed moves from minute to minute: the four are measured in turn, and each ratio
  // is taken between runs next to each other (Syncline beside pgbench and beside the baseline, the
  // floor beside pgbench), their order reversed every other round so that a drift favours neither.
  type Measured = Awaited<ReturnType<typeof measure>>;
  const rounds: { syncline: Measured; diy: Measured; floor: Measured; pgbench: { tps: number; command: string } }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const steps = ['floor', 'pgbench', 'syncline', 'diy'] as const;
    const order = round % 2 === 0 ? [...steps] : [...steps].reverse();
    const measured: Partial<(typeof rounds)[number]> = {};
    for (const step of order) {
      if (step === 'syncline') measured.syncline = await measureIntake();
      else if (step === 'diy') measured.diy = await measureBaseline(startDiyServer);
      else if (step === 'floor') measured.floor = await measureBaseline(startFloorServer);
      else measured.pgbench = measurePgbench();
    }
    const r = measured as (typeof rounds)[number];
    rounds.push(r);
    console.log(
      `round ${round + 1} (${order.join(', ')}): syncline ${r.syncline.ordersPerSecond}/s p99 ${r.syncline.p99Ms} ms, CPU ${r.syncline.processCpuUsPerOrder} + ${r.syncline.databaseCpuUsPerOrder} µs; ` +
        `diy ${r.diy.ordersPerSecond}/s p99 ${r.diy.p99Ms} ms, CPU ${r.diy.processCpuUsPerOrder} + ${r.diy.databaseCpuUsPerOrder} µs; ` +
        `HTTP floor ${r.floor.ordersPerSecond}/s p99 ${r.floor.p99Ms} ms, CPU ${r.floor.processCpuUsPerOrder} µs; pgbench ${r.pgbench.tps} tps`,
    );
  }
  const summary = {
    synclineOrdersPerSecond: median(rounds.map((r) => r.syncline.ordersPerSecond)),
    diyOrdersPerSecond: median(rounds.map((r) => r.diy.ordersPerSecond)),
    pgbenchTps: median(rounds.map((r) => r.pgbench.tps)),
    ratioToDiy: median(rounds.map((r) => ratio(r.syncline.ordersPerSecond, r.diy.ordersPerSecond))),
    ratioToPgbench: median(rounds.map((r) => ratio(r.syncline.ordersPerSecond, r.pgbench.tps))),
    synclineP99Ms: median(rounds.map((r) => r.syncline.p99Ms)),
    synclineCpuUsPerOrder: { api: median(rounds.map((r) => r.syncline.processCpuUsPerOrder)), database: median(rounds.map((r) => r.syncline.databaseCpuUsPerOrder)), total: median(rounds.map((r) => r.syncline.totalCpuUsPerOrder)) },
    diyCpuUsPerOrder: { server: median(rounds.map((r) => r.diy.processCpuUsPerOrder)), database: median(rounds.map((r) => r.diy.databaseCpuUsPerOrder)), total: median(rounds.map((r) => r.diy.totalCpuUsPerOrder)) },
    floorRequestsPerSecond: median(rounds.map((r) => r.floor.ordersPerSecond)),
    floorRatioToPgbench: median(rounds.map((r) => ratio(r.floor.ordersPerSecond, r.pgbench.tps))),
    floorCpuUsPerRequest: median(rounds.map((r) => r.floor.processCpuUsPerOrder)),
    // What 0.5x pgbench's rate leaves per order on this host's cores, for API and PostgreSQL together (wrk's own share not counted).
    cpuBudgetUsPerOrderAtHalfPgbench: median(rounds.map((r) => Math.round((cpus().length * 1e6) / (0.5 * r.pgbench.tps)))),
  };
  const targets = [
    { name: 'intake / do-it-yourself', value: summary.ratioToDiy, target: '>= 1.0', met: summary.ratioToDiy >= 1.0 },
    { name: 'intake / pgbench', value: summary.ratioToPgbench, target: '>= 0.5', met: summary.ratioToPgbench >= 0.5 },
    { name: 'API + PostgreSQL CPU per order (µs)', value: summary.synclineCpuUsPerOrder.total, target: '<= 400', met: summary.synclineCpuUsPerOrder.total <= 400 },
    { name: 'p99 at 32 clients (ms)', value: summary.synclineP99Ms, target: '< 50', met: summary.synclineP99Ms < 50 },
  ];
  console.log(
    `medians of ${ROUNDS} rounds: syncline ${summary.synclineOrdersPerSecond} orders/s, diy ${summary.diyOrdersPerSecond}/s, HTTP floor ${summary.floorRequestsPerSecond}/s, pgbench ${summary.pgbenchTps} tps`,
  );
  console.log(
    `  HTTP floor (node:http, no database): ${summary.floorRatioToPgbench}x pgbench, ${summary.floorCpuUsPerRequest} µs CPU per request; ` +
      `0.5x pgbench leaves ${summary.cpuBudgetUsPerOrderAtHalfPgbench} µs of API + PostgreSQL CPU per order on ${cpus().length} cores`,
  );
  for (const t of targets) console.log(`  ${t.name}: ${t.value} (target ${t.target}) ${t.met ? 'met' : 'NOT met'}`);
  const file = writeResult('intake', { clients: CLIENTS, seconds: MEASURE_SECONDS, rounds: ROUNDS, loadGenerator: 'wrk -t 2 -c 32', summary, targets, runs: rounds });
  console.log(`written to ${file}`);
}
