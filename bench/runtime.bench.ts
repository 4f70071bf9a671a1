import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runMigrations } from 'graphile-worker';
import { migrate } from '../src/store/migrate.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { enqueue } from '../src/runtime/queue.ts';
import { writeResult } from './support.ts';

/**
 * Jobs per second for 20,000 trivial jobs, with 1 and with 4 worker processes, on
 * Syncline's runtime and on graphile-worker, each in a fresh database on the same server.
 * Workers start on an empty queue and report ready; the clock runs from the commit of
 * one transaction that enqueues all jobs until the queue is empty.
 */
const JOBS = Number(process.env.BENCH_RUNTIME_JOBS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_RUNTIME_CONCURRENCY ?? 10);
const PROCESSES = (process.env.BENCH_RUNTIME_PROCESSES ?? '1,4').split(',').map(Number);
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./runtime-handlers.ts', import.meta.url));
const GRAPHILE_WORKER = fileURLToPath(new URL('./runtime-graphile-worker.ts', import.meta.url));

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

function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
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

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.removeAllListeners('exit');
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

async function drain(url: string, table: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      if (Number(rows[0]!.n) === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${table} did not drain within ${timeoutMs} ms`);
  } finally {
    await client.end();
  }
}

interface Measurement {
  system: 'syncline' | 'graphile-worker';
  processes: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
}

async function measureSyncline(processes: number): Promise<Measurement> {
  const url = await freshDatabase('syncline_bench_runtime');
  const db = openPostgres({ connectionString: url, poolSize: 2 });
  await migrate(db);
  const env = {
    DATABASE_URL: url,
    SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-bench-')),
    SYNCLINE_BOOTSTRAP_CLIENT_ID: 'bench-admin',
    SYNCLINE_BOOTSTRAP_CLIENT_SECRET: 'bench-admin-secret-0123456789',
    SYNCLINE_HANDLER_MODULES: HANDLERS,
    SYNCLINE_WORKER_CONCURRENCY: String(CONCURRENCY),
    SYNCLINE_DB_POOL_SIZE: '8',
    LOG_LEVEL: 'info',
  };
  const children = await Promise.all(Array.from({ length: processes }, () => startProcess([MAIN, 'worker'], env, /worker ready/)));
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ type: 'bench.noop', payload: { i }, correlationId: `bench-${i}` }));
    await db.transaction((tx) => enqueue(tx, jobs));
    const started = performance.now();
    await drain(url, 'runtime_job', 300_000);
    const seconds = (performance.now() - started) / 1000;
    return { system: 'syncline', processes, jobs: JOBS, seconds: round(seconds), jobsPerSecond: Math.round(JOBS / seconds) };
  } finally {
    await stopAll(children);
    await db.close();
    await admin('DROP DATABASE IF EXISTS syncline_bench_runtime WITH (FORCE)');
  }
}

async function measureGraphile(processes: number, localQueue?: number): Promise<Measurement & { variant: string }> {
  const url = await freshDatabase('graphile_bench_runtime');
  await runMigrations({ connectionString: url });
  const env: Record<string, string> = { DATABASE_URL: url, CONCURRENCY: String(CONCURRENCY), POOL_SIZE: '8', ...(localQueue ? { LOCAL_QUEUE: String(localQueue) } : {}) };
  const children = await Promise.all(Array.from({ length: processes }, () => startProcess([GRAPHILE_WORKER], env, /ready/)));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const specs = JSON.stringify(Array.from({ length: JOBS }, (_, i) => ({ identifier: 'bench.noop', payload: { i } })));
    await client.query(
      `SELECT count(*) FROM graphile_worker.add_jobs(
         ARRAY(SELECT ROW(s.identifier, s.payload, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
                 FROM json_to_recordset($1::json) AS s(identifier text, payload json)))`,
      [specs],
    );
    const started = performance.now();
    await drain(url, 'graphile_worker._private_jobs', 300_000);
    const seconds = (performance.now() - started) / 1000;
    return {
      system: 'graphile-worker',
      variant: localQueue ? `localQueue ${localQueue}, batched completion` : 'defaults',
      processes,
      jobs: JOBS,
      seconds: round(seconds),
      jobsPerSecond: Math.round(JOBS / seconds),
    };
  } finally {
    await client.end();
    await stopAll(children);
    await admin('DROP DATABASE IF EXISTS graphile_bench_runtime WITH (FORCE)');
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export async function run(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const processes of PROCESSES) {
    const syncline = await measureSyncline(processes);
    const graphile = await measureGraphile(processes);
    const graphileTuned = await measureGraphile(processes, CONCURRENCY * 5);
    const row = {
      processes,
      concurrencyPerProcess: CONCURRENCY,
      jobs: JOBS,
      synclineJobsPerSecond: syncline.jobsPerSecond,
      graphileJobsPerSecond: graphile.jobsPerSecond,
      ratio: round(syncline.jobsPerSecond / graphile.jobsPerSecond),
      graphileLocalQueueJobsPerSecond: graphileTuned.jobsPerSecond,
      ratioToLocalQueue: round(syncline.jobsPerSecond / graphileTuned.jobsPerSecond),
      seconds: { syncline: syncline.seconds, graphile: graphile.seconds, graphileLocalQueue: graphileTuned.seconds },
    };
    rows.push(row);
    console.log(
      `${processes} process(es) x ${CONCURRENCY}: syncline ${syncline.jobsPerSecond} jobs/s, graphile-worker ${graphile.jobsPerSecond} jobs/s ` +
        `(ratio ${row.ratio}); graphile-worker with localQueue ${graphileTuned.jobsPerSecond} jobs/s (ratio ${row.ratioToLocalQueue})`,
    );
  }
  const file = writeResult('runtime', { jobs: JOBS, concurrencyPerProcess: CONCURRENCY, results: rows });
  console.log(`written to ${file}`);
}
