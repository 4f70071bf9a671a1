import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runMigrations } from 'graphile-worker';
import { migrate } from '../src/store/migrate.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { enqueue } from '../src/runtime/queue.ts';
import { backendPids, cpuTicks, stopAll, TICK_US, writeResult } from './support.ts';

/**
 * Jobs per second for 20,000 trivial jobs, with 1 and with 4 worker processes, on
 * Syncline's runtime and on graphile-worker (its defaults and several tuned configurations),
 * each in a fresh database on the same server. Workers start on an empty queue and report
 * ready; the clock runs from the commit of one transaction that enqueues all jobs until the
 * queue is empty. The machine is shared, so the systems run interleaved, several rounds,
 * and the medians are compared; each measurement also records the CPU time the worker
 * processes and the database's backends spent per job.
 */
const JOBS = Number(process.env.BENCH_RUNTIME_JOBS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_RUNTIME_CONCURRENCY ?? 10);
const PROCESSES = (process.env.BENCH_RUNTIME_PROCESSES ?? '1,4').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_RUNTIME_ROUNDS ?? 5);
// graphile-worker's defaults are four times slower; a single round shows it.
const DEFAULTS_ROUNDS = Number(process.env.BENCH_RUNTIME_DEFAULTS_ROUNDS ?? 1);
const POOL_SIZE = 8;
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./runtime-handlers.ts', import.meta.url));
const GRAPHILE_WORKER = fileURLToPath(new URL('./runtime-graphile-worker.ts', import.meta.url));
// Scratch databases are named <prefix>syncline_... and <prefix>graphile_... (a shared server: each user its own prefix).
const DB_PREFIX = process.env.BENCH_DB_PREFIX ?? '';
// BENCH_RUNTIME_COUNT=<dir>: each Syncline worker counts what it sends to PostgreSQL during the drain (bench/pg-counter.ts).
const COUNT_DIR = process.env.BENCH_RUNTIME_COUNT;
const COUNTER = fileURLToPath(new URL('./pg-counter.ts', import.meta.url));
// BENCH_RUNTIME_BASELINE=<dir>: a checkout of another revision (its src/ beside a node_modules), measured
// in the same rounds as "syncline-baseline", to compare a change before and after on the same host.
const BASELINE = process.env.BENCH_RUNTIME_BASELINE;

function urlOf(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freshDatabase(name: string): Promise<string> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  return urlOf(name);
}

const workerErrors = new WeakMap<ChildProcess, string[]>();
function errorsOf(child: ChildProcess): string[] {
  let list = workerErrors.get(child);
  if (!list) workerErrors.set(child, (list = []));
  return list;
}

function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      // Errors a worker logs during the run (a lost connection, a failed claim) go with the measurement.
      for (const line of text.split('\n')) if (/"level":50|Error:/.test(line)) errorsOf(child).push(line.slice(0, 300));
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
}


/** A graphile-worker configuration: `preset.worker` options and the pool size. */
interface GraphileVariant {
  name: string;
  preset: Record<string, unknown>;
  poolSize: number;
}

// Batching as graphile-worker's performance page runs it (localQueue, completeJobBatchDelay
// and failJobBatchDelay 0), with local queues from its release notes' `concurrency + 1` up
// to the 500 of that page. The best median of these is "graphile-worker's best".
const batched = (size: number, extra: Record<string, unknown> = {}) => ({ localQueue: { size }, completeJobBatchDelay: 0, failJobBatchDelay: 0, ...extra });
const GRAPHILE_VARIANTS: GraphileVariant[] = [
  { name: 'defaults', preset: {}, poolSize: POOL_SIZE },
  { name: 'localQueue 11, batched completions', preset: batched(CONCURRENCY + 1), poolSize: POOL_SIZE },
  { name: 'localQueue 50, batched completions', preset: batched(CONCURRENCY * 5), poolSize: POOL_SIZE },
  { name: 'localQueue 200, batched completions', preset: batched(200), poolSize: POOL_SIZE },
  { name: 'localQueue 500, batched completions', preset: batched(500), poolSize: POOL_SIZE },
  { name: 'localQueue 1000, batched completions', preset: batched(1000), poolSize: POOL_SIZE },
  { name: 'localQueue 50, batched completions, pool 11', preset: batched(CONCURRENCY * 5), poolSize: CONCURRENCY + 1 },
  { name: 'localQueue 50, completeJobBatchDelay 5', preset: batched(CONCURRENCY * 5, { completeJobBatchDelay: 5, failJobBatchDelay: 5 }), poolSize: POOL_SIZE },
];
const SELECTED = process.env.BENCH_RUNTIME_GRAPHILE
  ? GRAPHILE_VARIANTS.filter((v) => process.env.BENCH_RUNTIME_GRAPHILE!.split(',').some((n) => v.name.startsWith(n.trim())))
  : GRAPHILE_VARIANTS.filter((v) => ['defaults', 'localQueue 500, batched completions', 'localQueue 1000, batched completions'].includes(v.name));

interface Measurement {
  system: string;
  processes: number;
  seconds: number;
  jobsPerSecond: number;
  /** CPU (user + system) per job, in microseconds, of the worker processes and of the database backends. */
  workerCpuUsPerJob: number;
  databaseCpuUsPerJob: number;
  /** Error lines the workers logged during the run, and the first of them. */
  workerErrors: number;
  firstWorkerError?: string;
}

/** Times the drain of the queue and the CPU spent by workers and backends meanwhile. */
async function timeDrain(url: string, table: string, system: string, children: ChildProcess[], enqueue: (client: pg.Client) => Promise<void>): Promise<Measurement> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await enqueue(client);
    const started = performance.now();
    const workerBefore = children.reduce((sum, c) => sum + cpuTicks(c.pid!), 0);
    const backendsBefore = new Map((await backendPids(client)).map((pid) => [pid, cpuTicks(pid)]));
    const deadline = Date.now() + 300_000;
    for (;;) {
      // Only the benchmark's jobs: a worker also schedules its own (the catalogue sync, retrying without an ERP here).
      const { rows } = await client.query<{ n: string }>(table === 'runtime_job' ? "SELECT count(*) AS n FROM runtime_job WHERE type = 'bench.noop'" : `SELECT count(*) AS n FROM ${table}`);
      if (Number(rows[0]!.n) === 0) break;
      if (Date.now() > deadline) throw new Error(`${table} did not drain within 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const workerCpu = children.reduce((sum, c) => sum + cpuTicks(c.pid!), 0) - workerBefore;
    let databaseCpu = 0;
    for (const pid of await backendPids(client)) databaseCpu += cpuTicks(pid) - (backendsBefore.get(pid) ?? 0);
    return {
      system,
      processes: children.length,
      seconds: round(seconds),
      jobsPerSecond: Math.round(JOBS / seconds),
      workerCpuUsPerJob: Math.round((workerCpu * TICK_US) / JOBS),
      databaseCpuUsPerJob: Math.round((databaseCpu * TICK_US) / JOBS),
      workerErrors: children.reduce((n, c) => n + errorsOf(c).length, 0),
      firstWorkerError: children.flatMap((c) => errorsOf(c))[0],
    };
  } finally {
    await client.end();
  }
}

async function measureSyncline(processes: number, main = MAIN, system = 'syncline'): Promise<Measurement> {
  const name = `${DB_PREFIX}syncline_bench_runtime_${process.pid}`;
  const url = await freshDatabase(name);
  const db = openPostgres({ connectionString: url, poolSize: 2 });
  await migrate(db);
  const env = {
    DATABASE_URL: url,
    SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-bench-')),
    SYNCLINE_BOOTSTRAP_CLIENT_ID: 'bench-admin',
    SYNCLINE_BOOTSTRAP_CLIENT_SECRET: 'bench-admin-secret-0123456789',
    SYNCLINE_HANDLER_MODULES: HANDLERS,
    SYNCLINE_WORKER_CONCURRENCY: String(CONCURRENCY),
    SYNCLINE_DB_POOL_SIZE: String(POOL_SIZE),
    LOG_LEVEL: 'info',
  };
  const profiling = process.env.BENCH_RUNTIME_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_RUNTIME_CPU_PROF}`] : [];
  const counting = COUNT_DIR ? ['--import', COUNTER] : [];
  const countEnv: Record<string, string> = COUNT_DIR ? { SYNCLINE_PG_COUNT_DIR: COUNT_DIR } : {};
  const args = [...profiling, ...counting, main, 'worker'];
  const children = await Promise.all(Array.from({ length: processes }, () => startProcess(args, { ...env, ...countEnv }, /worker ready/)));
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ type: 'bench.noop', payload: { i }, correlationId: `bench-${i}` }));
    if (COUNT_DIR) for (const c of children) c.kill('SIGUSR2');
    const measured = await timeDrain(url, 'runtime_job', system, children, () => db.transaction((tx) => enqueue(tx, jobs)).then(() => undefined));
    if (COUNT_DIR) await printCounts(children);
    return measured;
  } finally {
    await stopAll(children);
    await db.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

/** Ends the workers' counting window and prints, per job, the transactions and statements they sent and their claims. */
async function printCounts(children: ChildProcess[]): Promise<void> {
  for (const c of children) c.kill('SIGUSR2');
  const files = children.map((c) => `${COUNT_DIR}/${c.pid}.json`);
  const deadline = Date.now() + 10_000;
  while (files.some((f) => !existsSync(f)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  interface Counted { transactions: number; statements: number; claims: { calls: number; empty: number; jobs: number }; byStatement: Record<string, number> }
  const all = files.filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Counted);
  const per = (n: number) => Math.round((n / JOBS) * 10_000) / 10_000;
  const statements: Record<string, number> = {};
  for (const c of all) for (const [k, n] of Object.entries(c.byStatement)) statements[k] = (statements[k] ?? 0) + n;
  const claims = all.reduce((s, c) => ({ calls: s.calls + c.claims.calls, empty: s.empty + c.claims.empty, jobs: s.jobs + c.claims.jobs }), { calls: 0, empty: 0, jobs: 0 });
  console.log(JSON.stringify({
    transactionsPerJob: per(all.reduce((s, c) => s + c.transactions, 0)),
    statementsPerJob: per(all.reduce((s, c) => s + c.statements, 0)),
    claims,
    byStatement: Object.fromEntries(Object.entries(statements).sort((a, b) => b[1] - a[1]).slice(0, 12)),
  }));
}

async function measureGraphile(processes: number, variant: GraphileVariant): Promise<Measurement> {
  const name = `${DB_PREFIX}graphile_bench_runtime_${process.pid}`;
  const url = await freshDatabase(name);
  await runMigrations({ connectionString: url });
  const env: Record<string, string> = { DATABASE_URL: url, CONCURRENCY: String(CONCURRENCY), POOL_SIZE: String(variant.poolSize), GRAPHILE_PRESET: JSON.stringify(variant.preset) };
  const children = await Promise.all(Array.from({ length: processes }, () => startProcess([GRAPHILE_WORKER], env, /ready/)));
  try {
    const specs = JSON.stringify(Array.from({ length: JOBS }, (_, i) => ({ identifier: 'bench.noop', payload: { i } })));
    return await timeDrain(url, 'graphile_worker._private_jobs', `graphile-worker, ${variant.name}`, children, async (client) => {
      await client.query(
        `SELECT count(*) FROM graphile_worker.add_jobs(
           ARRAY(SELECT ROW(s.identifier, s.payload, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
                   FROM json_to_recordset($1::json) AS s(identifier text, payload json)))`,
        [specs],
      );
    });
  } finally {
    await stopAll(children);
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

/** Runs a measurement again when the shared server had no connection to spare (53300). */
async function retryWhenCrowded(measure: () => Promise<Measurement>): Promise<Measurement> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await measure();
    } catch (error) {
      if (attempt >= 3 || !String((error as Error).message).includes('too many clients')) throw error;
      console.log('  the server had no connection to spare; measuring again in 10 s');
      await new Promise((r) => setTimeout(r, 10_000));
    }
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Summary {
  system: string;
  runs: number;
  medianJobsPerSecond: number;
  minJobsPerSecond: number;
  maxJobsPerSecond: number;
  medianWorkerCpuUsPerJob: number;
  medianDatabaseCpuUsPerJob: number;
}

function summarise(system: string, runs: Measurement[]): Summary {
  const rates = runs.map((r) => r.jobsPerSecond);
  return {
    system,
    runs: runs.length,
    medianJobsPerSecond: Math.round(median(rates)),
    minJobsPerSecond: Math.min(...rates),
    maxJobsPerSecond: Math.max(...rates),
    medianWorkerCpuUsPerJob: Math.round(median(runs.map((r) => r.workerCpuUsPerJob))),
    medianDatabaseCpuUsPerJob: Math.round(median(runs.map((r) => r.databaseCpuUsPerJob))),
  };
}

export async function run(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const processes of PROCESSES) {
    const runs = new Map<string, Measurement[]>();
    const record = (m: Measurement) => {
      runs.set(m.system, [...(runs.get(m.system) ?? []), m]);
      console.log(`  ${processes} x ${CONCURRENCY}  ${m.system}: ${m.jobsPerSecond} jobs/s (${m.seconds} s), CPU per job: workers ${m.workerCpuUsPerJob} µs, database ${m.databaseCpuUsPerJob} µs` + (m.workerErrors ? `; ${m.workerErrors} worker errors, first: ${m.firstWorkerError}` : ''));
    };
    for (let r = 0; r < ROUNDS; r += 1) {
      // Interleaved, and the order rotates each round, so that a busy moment of the shared machine hits each system in turn.
      const contenders: (() => Promise<Measurement>)[] = [
        () => measureSyncline(processes),
        ...(BASELINE ? [() => measureSyncline(processes, join(BASELINE, 'src/cli/main.ts'), 'syncline-baseline')] : []),
        ...SELECTED.filter((v) => v.name !== 'defaults' || r < DEFAULTS_ROUNDS).map((v) => () => measureGraphile(processes, v)),
      ];
      for (let i = 0; i < contenders.length; i += 1) record(await retryWhenCrowded(contenders[(i + r) % contenders.length]!));
    }
    const summaries = [...runs.entries()].map(([system, list]) => summarise(system, list));
    const syncline = summaries.find((s) => s.system === 'syncline')!;
    const tuned = summaries.filter((s) => s.system.startsWith('graphile-worker') && !s.system.endsWith('defaults'));
    const best = tuned.reduce<Summary | undefined>((a, b) => (a && a.medianJobsPerSecond >= b.medianJobsPerSecond ? a : b), undefined);
    const defaults = summaries.find((s) => s.system === 'graphile-worker, defaults');
    const row = {
      processes,
      concurrencyPerProcess: CONCURRENCY,
      jobs: JOBS,
      rounds: ROUNDS,
      synclineJobsPerSecond: syncline.medianJobsPerSecond,
      graphileDefaultsJobsPerSecond: defaults?.medianJobsPerSecond,
      ratioToDefaults: defaults ? round(syncline.medianJobsPerSecond / defaults.medianJobsPerSecond) : undefined,
      graphileBest: best?.system,
      graphileBestJobsPerSecond: best?.medianJobsPerSecond,
      ratioToBest: best ? round(syncline.medianJobsPerSecond / best.medianJobsPerSecond) : undefined,
      summaries,
      runs: [...runs.values()].flat(),
    };
    rows.push(row);
    console.log(`${processes} process(es) x ${CONCURRENCY}: syncline ${row.synclineJobsPerSecond} jobs/s (median of ${ROUNDS}); graphile-worker best (${row.graphileBest}) ${row.graphileBestJobsPerSecond} jobs/s: ratio ${row.ratioToBest}`);
    for (const s of summaries) console.log(`    ${s.system}: median ${s.medianJobsPerSecond} (${s.minJobsPerSecond}-${s.maxJobsPerSecond}) jobs/s, CPU/job workers ${s.medianWorkerCpuUsPerJob} µs, database ${s.medianDatabaseCpuUsPerJob} µs`);
  }
  const file = writeResult(process.env.BENCH_RUNTIME_RESULT ?? 'runtime', { jobs: JOBS, concurrencyPerProcess: CONCURRENCY, rounds: ROUNDS, results: rows });
  console.log(`written to ${file}`);
}

