import { fork, spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DBOSClient } from '@dbos-inc/dbos-sdk';
import { startSandboxes, type RunningSandboxes } from '../src/connectors/sandboxes.ts';
import { InventoryService } from '../src/domain/inventory/inventory.service.ts';
import { buildOrder } from '../src/domain/orders/order-builder.ts';
import { EVENT_TYPES } from '../src/model/cloud-event.ts';
import { newId } from '../src/model/ids.ts';
import type { OrderSubmission } from '../src/model/order.ts';
import { createLogger } from '../src/observability/logger.ts';
import { insertOrders } from '../src/store/orders/insert-orders.ts';
import { flowEnvironment } from '../test/support/flows.ts';
import { sampleOrder } from '../test/support/orders.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { percentile, stopAll, writeResult } from './support.ts';

/**
 * Orders per second through the whole order-placed flow (validate, fraud, authorise,
 * route + reserve, post to the ERP, capture, fulfilment request: placed to released),
 * on Syncline's flow engine and on DBOS Transact running the same steps, against the
 * same sandboxes (real HTTP servers in this process, no added latency, no quota), each
 * with 1 and 4 worker processes, on fresh databases of the same PostgreSQL server.
 *
 * Syncline: `syncline worker` processes as deployed (outbox relay → order-placed job →
 * saga runner: every step recorded with its local effects and timeline entry in one
 * transaction). The orders are committed in one statement (with their order.created
 * events) after the workers are ready; the clock runs from that commit until every order
 * is released.
 * DBOS: bench/flow-dbos-worker.ts processes (the same step code as DBOS steps, workflow
 * id = order id), started through a DBOS queue (DBOSClient.enqueue from here) and directly
 * (DBOS.startWorkflow in each worker); the clock runs from the first enqueue or start
 * until every order is released.
 *
 * CPU per order: user + system time of every process involved during the measured
 * window — the worker processes, this process (the sandboxes and the driver) and the
 * PostgreSQL backends connected to the run's databases (sampled from /proc at both ends;
 * backends that exit in between are missed, the server's shared background processes
 * are not counted).
 *
 * A reference row, "bare": the same steps and writes called one after another with no
 * durability at all (bench/flow-dbos-worker.ts with BARE=1), the floor both engines stand on.
 *
 * Settings (environment): BENCH_FLOW_ORDERS per run (default: 100), BENCH_FLOW_ROUNDS
 * (default: 3), BENCH_FLOW_CONCURRENCY orders at once per process (default: 10),
 * BENCH_FLOW_PROCESSES (default: 1,4), BENCH_FLOW_SYSTEMS (default:
 * syncline,dbos-queue,dbos-direct,bare), BENCH_FLOW_POOL_SIZE connections per process and
 * database (default: 4), BENCH_FLOW_CPU_PROF=<dir> (V8 profiles of the Syncline workers),
 * BENCH_FLOW_DEBUG=1 (Syncline's step durations from the order timelines).
 */
const ORDERS = Number(process.env.BENCH_FLOW_ORDERS ?? 100);
const ROUNDS = Number(process.env.BENCH_FLOW_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_FLOW_CONCURRENCY ?? 10);
const PROCESSES = (process.env.BENCH_FLOW_PROCESSES ?? '1,4').split(',').map(Number);
const SYSTEMS = (process.env.BENCH_FLOW_SYSTEMS ?? 'syncline,dbos-queue,dbos-direct,bare').split(',');
// Small pools: the server's max_connections (100 here) is shared with everything else on the machine.
const POOL_SIZE = Number(process.env.BENCH_FLOW_POOL_SIZE ?? 4);
// BENCH_FLOW_CPU_PROF=<dir>: the Syncline workers write V8 CPU profiles there (node --cpu-prof).
const PROFILE = process.env.BENCH_FLOW_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_FLOW_CPU_PROF}`] : [];
// BENCH_FLOW_COUNT=<dir>: each Syncline worker counts its statements and transactions by call site (bench/pg-counter.ts).
const COUNT_DIR = process.env.BENCH_FLOW_COUNT;
const COUNTER = fileURLToPath(new URL('./pg-counter.ts', import.meta.url));
const SKUS = ['TEE-M', 'MUG'];
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const DBOS_WORKER = fileURLToPath(new URL('./flow-dbos-worker.ts', import.meta.url));
// No quota on the Syncline side either: rate limits and concurrency caps off; timeouts and breakers stay.
const NO_QUOTA = JSON.stringify(Object.fromEntries(['erp', 'wms', 'payment', 'fraud', 'loyalty'].map((t) => [t, { ratePerSecond: 0, maxConcurrency: 0 }])));
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

type System = 'syncline' | 'dbos-queue' | 'dbos-direct' | 'bare';

interface Measurement {
  system: System;
  processes: number;
  orders: number;
  seconds: number;
  ordersPerSecond: number;
  cpuMsPerOrder: { workers: number; driverAndSandboxes: number; postgres: number; total: number };
  /**
   * PostgreSQL's own counters (pg_stat_database) for the run's databases, per order: commits and
   * rows written; of those transactions, the driver's own (the orders' insert, its polls for the end);
   * and the sessions opened in the window (each costs the server one transaction of its own).
   * The count also holds transactions no client sent: a backend that LISTENs reads each
   * notification it is woken for in a transaction of its own, so every NOTIFY costs one
   * transaction per listening process (Syncline: one listener per worker process).
   */
  database: { transactionsPerOrder: number; rowsWrittenPerOrder: number; driverTransactionsPerOrder: number; sessions: number };
}

/**
 * PostgreSQL 15 flushes a backend's counters to pg_stat_database at most once a second: read at
 * once after the workers start, the counts would leave their start-up statements to the window.
 */
const settleStats = () => new Promise((resolve) => setTimeout(resolve, 1500));

/** Commits and rows written in these databases so far (read after the backends have exited, so their counts are flushed). */
async function databaseCounters(databases: string[]): Promise<{ transactions: number; rows: number; sessions: number }> {
  const [row] = await adminQuery<{ transactions: string; rows: string; sessions: string }>(
    `SELECT sum(xact_commit + xact_rollback) AS transactions, sum(tup_inserted + tup_updated + tup_deleted) AS rows, sum(sessions) AS sessions
       FROM pg_stat_database WHERE datname = ANY($1::text[])`,
    [databases],
  );
  return { transactions: Number(row!.transactions ?? 0), rows: Number(row!.rows ?? 0), sessions: Number(row!.sessions ?? 0) };
}

/** User + system CPU of a process so far, in ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

async function adminQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** CPU of the PostgreSQL backends serving these databases, by pid. */
async function backendCpu(databases: string[]): Promise<Map<number, number>> {
  const rows = await adminQuery<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])', [databases]);
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
}

/** Starts the CPU clocks of a measured window; the returned function stops them. */
async function cpuWindow(workers: ChildProcess[], databases: string[]) {
  const driverBefore = process.cpuUsage();
  const workersBefore = workers.map((w) => cpuMs(w.pid!));
  const backendsBefore = await backendCpu(databases);
  return async () => {
    const driver = process.cpuUsage(driverBefore);
    const workerMs = workers.reduce((sum, w, i) => sum + cpuMs(w.pid!) - workersBefore[i]!, 0);
    let postgresMs = 0;
    for (const [pid, ms] of await backendCpu(databases)) postgresMs += ms - (backendsBefore.get(pid) ?? 0);
    return { workers: workerMs, driverAndSandboxes: (driver.user + driver.system) / 1000, postgres: postgresMs };
  };
}

function startProcess(child: ChildProcess, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      if (ready.test(output)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        // Keep draining so a chatty worker never blocks on a full pipe.
        child.stdout!.resume();
        child.stderr!.on('data', (c: Buffer) => process.stderr.write(c));
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
}


/** A fresh application database with a warehouse holding plenty of every SKU. */
async function seededDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  const inventory = new InventoryService(database.db, createLogger('warn'));
  await inventory.createLocation({ code: 'WH-BENCH', name: 'Bench warehouse', kind: 'warehouse' }, { correlationId: 'bench-seed' });
  await inventory.recordMovements(
    { movements: SKUS.map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-BENCH', quantity: 10_000_000 })) },
    { correlationId: 'bench-seed' },
  );
  return database;
}

type OrderInsert = Parameters<typeof insertOrders>[1][number];

/** ORDERS orders, each with its order.created event, built and ready to commit. */
function buildOrders(run: string): OrderInsert[] {
  const now = new Date();
  return Array.from({ length: ORDERS }, (_, i) => {
    const order = buildOrder(sampleOrder({ channelOrderId: `${run}-${i}` }) as unknown as OrderSubmission, { correlationId: `${run}-${i}`, now });
    return {
      order,
      idempotency: undefined,
      event: { id: newId('event'), type: EVENT_TYPES.orderCreated, source: '/syncline/orders', subject: order.id, time: order.createdAt, correlationId: `${run}-${i}` },
    };
  });
}

/** Commits the orders (built beforehand, out of the measured window) in one statement; returns their ids. */
async function placeOrders(database: TestDatabase, inserts: OrderInsert[]): Promise<string[]> {
  const outcomes = await insertOrders(database.db, inserts);
  if (outcomes.some((o) => o.kind !== 'created')) throw new Error(`orders not created: ${JSON.stringify(outcomes.find((o) => o.kind !== 'created'))}`);
  return inserts.map((i) => i.order.id);
}

/**
 * Waits until every order is released; fails if one stops elsewhere or a worker exits. Returns the
 * polls (transactions) it took. Each poll is a transaction and CPU in this process and the
 * server, counted in the run's figures: it polls every 25 ms only near the end (the end is known
 * to within 25 ms), and before that every quarter of the time left at the pace so far, at most 100 ms.
 */
async function released(database: TestDatabase, workers: ChildProcess[], timeoutMs = 600_000): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (let polls = 1; ; polls++) {
    const gone = workers.find((w) => w.exitCode !== null || w.signalCode !== null);
    if (gone) throw new Error(`worker ${gone.pid} exited (${gone.exitCode ?? gone.signalCode}) before every order was released`);
    const { rows } = await database.db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM sales_order GROUP BY status');
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    if ((byStatus.released ?? 0) === ORDERS) return polls;
    for (const stuck of ['on_hold', 'pending_allocation', 'payment_failed']) {
      if (byStatus[stuck]) throw new Error(`${byStatus[stuck]} orders went to ${stuck}: ${JSON.stringify(byStatus)}`);
    }
    if (Date.now() > deadline) throw new Error(`not every order was released: ${JSON.stringify(byStatus)}`);
    const done = byStatus.released ?? 0;
    const left = done === 0 ? Infinity : ((Date.now() - started) / done) * (ORDERS - done);
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(25, left / 4))));
  }
}

/** What both sides must have done for every order: a requested fulfilment with the WMS's id, an ERP sale recorded, an active reservation. */
async function checkEffects(database: TestDatabase, ids: string[]): Promise<void> {
  const { rows } = await database.db.query<{ fulfilments: number; sales: number; reservations: number }>(
    `SELECT (SELECT count(*)::int FROM order_fulfilment WHERE order_id = ANY($1::text[]) AND status = 'requested' AND external_id IS NOT NULL) AS fulfilments,
            (SELECT count(*)::int FROM order_flow WHERE order_id = ANY($1::text[]) AND erp_sale IS NOT NULL AND payment_id IS NOT NULL) AS sales,
            (SELECT count(DISTINCT reference)::int FROM inventory_reservation WHERE reference = ANY($1::text[]) AND status = 'active') AS reservations`,
    [ids],
  );
  const found = rows[0]!;
  if (found.fulfilments !== ids.length || found.sales !== ids.length || found.reservations !== ids.length) {
    throw new Error(`effects missing for ${ids.length} orders: ${JSON.stringify(found)}`);
  }
}

function measurement(
  system: System,
  processes: number,
  seconds: number,
  cpu: { workers: number; driverAndSandboxes: number; postgres: number },
  counted: { transactions: number; rows: number; driver: number; sessions: number },
): Measurement {
  const per = (ms: number) => Math.round((ms / ORDERS) * 100) / 100;
  return {
    system,
    processes,
    orders: ORDERS,
    seconds: Math.round(seconds * 1000) / 1000,
    ordersPerSecond: Math.round((ORDERS / seconds) * 10) / 10,
    cpuMsPerOrder: {
      workers: per(cpu.workers),
      driverAndSandboxes: per(cpu.driverAndSandboxes),
      postgres: per(cpu.postgres),
      total: per(cpu.workers + cpu.driverAndSandboxes + cpu.postgres),
    },
    database: { transactionsPerOrder: per(counted.transactions), rowsWrittenPerOrder: per(counted.rows), driverTransactionsPerOrder: per(counted.driver), sessions: counted.sessions },
  };
}

async function measureSyncline(sandboxes: RunningSandboxes, processes: number, round: number): Promise<Measurement> {
  const database = await seededDatabase();
  const env = flowEnvironment(database, sandboxes, {
    LOG_LEVEL: 'info',
    SYNCLINE_WORKER_POLL_MS: '1000',
    SYNCLINE_WORKER_CONCURRENCY: String(CONCURRENCY),
    SYNCLINE_DB_POOL_SIZE: String(POOL_SIZE),
    SYNCLINE_TARGET_POLICIES: NO_QUOTA,
  });
  const workers: ChildProcess[] = [];
  try {
    const counting = COUNT_DIR ? ['--import', COUNTER] : [];
    const countEnv = COUNT_DIR ? { SYNCLINE_PG_COUNT_DIR: COUNT_DIR } : {};
    for (let i = 0; i < processes; i++) {
      workers.push(await startProcess(spawn(process.execPath, [...PROFILE, ...counting, MAIN, 'worker'], { env: { ...process.env, ...env, ...countEnv }, stdio: ['ignore', 'pipe', 'pipe'] }), /worker ready/));
    }
    const orders = buildOrders(`syncline-${processes}-${round}`);
    await settleStats();
    const countersBefore = await databaseCounters([database.name]);
    const stop = await cpuWindow(workers, [database.name]);
    if (COUNT_DIR) for (const w of workers) w.kill('SIGUSR2');
    const started = performance.now();
    const ids = await placeOrders(database, orders);
    const polls = await released(database, workers);
    const seconds = (performance.now() - started) / 1000;
    const cpu = await stop();
    if (COUNT_DIR) await workerCounts(workers, `syncline-x${processes}-r${round}`);
    await stopAll(workers);
    const counters = await databaseCounters([database.name]);
    await checkEffects(database, ids);
    if (process.env.BENCH_FLOW_DEBUG) {
      const steps = await database.db.query('SELECT action, outcome, count(*)::int AS n, round(avg(duration_ms))::int AS avg_ms, max(duration_ms) AS max_ms FROM order_timeline GROUP BY 1, 2 ORDER BY 1');
      console.log(steps.rows);
    }
    return measurement('syncline', processes, seconds, cpu, { transactions: counters.transactions - countersBefore.transactions, rows: counters.rows - countersBefore.rows, driver: polls + 1, sessions: counters.sessions - countersBefore.sessions });
  } finally {
    await stopAll(workers);
    await database.drop();
  }
}

async function measureDbos(sandboxes: RunningSandboxes, processes: number, mode: 'queue' | 'direct' | 'bare', round: number): Promise<Measurement> {
  const database = await seededDatabase();
  const systemName = `${database.name}_dbos`;
  const url = new URL(database.url);
  url.pathname = `/${systemName}`;
  const systemUrl = url.toString();
  await adminQuery(`DROP DATABASE IF EXISTS ${systemName} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${systemName}`);
  const workers: ChildProcess[] = [];
  let client: DBOSClient | undefined;
  try {
    const ids = await placeOrders(database, buildOrders(`dbos-${mode}-${processes}-${round}`));
    const env = {
      ...process.env,
      APP_DATABASE_URL: database.url,
      DBOS_SYSTEM_DATABASE_URL: systemUrl,
      BENCH_CONNECTORS: JSON.stringify(sandboxes.settings),
      CONCURRENCY: String(CONCURRENCY),
      POOL_SIZE: String(POOL_SIZE),
      POLL_MS: '50',
      BARE: mode === 'bare' ? '1' : '0',
    };
    // One at a time: the first launch creates DBOS's system tables.
    for (let i = 0; i < processes; i++) {
      const child = fork(DBOS_WORKER, [], { env: { ...env, EXECUTOR_ID: `bench-${i}` }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      workers.push(await startProcess(child, /^ready$/m));
    }
    if (mode === 'queue') client = await DBOSClient.create({ systemDatabaseUrl: systemUrl });
    await settleStats();
    const countersBefore = await databaseCounters([database.name, systemName]);
    const stop = await cpuWindow(workers, [database.name, systemName]);
    const started = performance.now();
    if (client) {
      const queue = [...ids];
      const lane = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          await client!.enqueue({ queueName: 'orders', workflowName: 'placeOrder', workflowID: id, appVersion: 'bench' }, id);
        }
      };
      await Promise.all(Array.from({ length: 8 }, lane));
    } else {
      workers.forEach((w, i) => w.send({ ids: ids.filter((_, n) => n % processes === i) }));
    }
    const polls = await released(database, workers);
    const seconds = (performance.now() - started) / 1000;
    const cpu = await stop();
    await client?.destroy();
    client = undefined;
    await stopAll(workers);
    const counters = await databaseCounters([database.name, systemName]);
    await checkEffects(database, ids);
    const counted = { transactions: counters.transactions - countersBefore.transactions, rows: counters.rows - countersBefore.rows, driver: polls, sessions: counters.sessions - countersBefore.sessions };
    return measurement(mode === 'bare' ? 'bare' : mode === 'queue' ? 'dbos-queue' : 'dbos-direct', processes, seconds, cpu, counted);
  } finally {
    await client?.destroy();
    await stopAll(workers);
    await database.drop();
    await adminQuery(`DROP DATABASE IF EXISTS ${systemName} WITH (FORCE)`);
  }
}

/**
 * Ends the workers' counting window (bench/pg-counter.ts), waits for their counts and prints,
 * per order, each process's transactions, claims and the call sites that opened the most.
 */
async function workerCounts(workers: ChildProcess[], label: string): Promise<void> {
  for (const w of workers) w.kill('SIGUSR2');
  const files = workers.map((w) => `${COUNT_DIR}/${w.pid}.json`);
  const deadline = Date.now() + 10_000;
  while (files.some((f) => !existsSync(f)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  interface Counted { transactions: number; statements: number; rollbacks: number; claims: { calls: number; empty: number; jobs: number }; byOpener: Record<string, number> }
  const all = files.filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Counted);
  const per = (n: number) => Math.round((n / ORDERS) * 100) / 100;
  const openers: Record<string, number> = {};
  for (const c of all) for (const [k, n] of Object.entries(c.byOpener)) openers[k] = (openers[k] ?? 0) + n;
  const summary = {
    label,
    perProcess: all.map((c) => ({ transactionsPerOrder: per(c.transactions), statementsPerOrder: per(c.statements), rollbacks: c.rollbacks, claims: c.claims })),
    transactionsPerOrder: per(all.reduce((s, c) => s + c.transactions, 0)),
    statementsPerOrder: per(all.reduce((s, c) => s + c.statements, 0)),
    openersPerOrder: Object.fromEntries(Object.entries(openers).sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, n]) => [k, per(n)])),
  };
  writeFileSync(`${COUNT_DIR}/${label}.json`, JSON.stringify(summary, null, 2));
  console.log(JSON.stringify({ ...summary, openersPerOrder: undefined }));
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

export async function run(): Promise<void> {
  const sandboxes = await startSandboxes({ products: SKUS.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 100_000_000 })) });
  const all: Measurement[] = [];
  const failures: { round: number; system: System; processes: number; error: string }[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const processes of PROCESSES) {
        // Interleaved, and the order rotates each round so that no side always runs first.
        const runs: (() => Promise<Measurement>)[] = [
          () => measureSyncline(sandboxes, processes, round),
          () => measureDbos(sandboxes, processes, 'queue', round),
          () => measureDbos(sandboxes, processes, 'direct', round),
          () => measureDbos(sandboxes, processes, 'bare', round),
        ];
        for (let k = 0; k < runs.length; k++) {
          const index = (k + round - 1) % runs.length;
          const system = (['syncline', 'dbos-queue', 'dbos-direct', 'bare'] as const)[index]!;
          if (!SYSTEMS.includes(system)) continue;
          let m: Measurement;
          try {
            m = await runs[index]!();
          } catch (error) {
            // A shared machine: another session can take the server's last connections. The run is reported, not hidden.
            failures.push({ round, system, processes, error: String((error as Error).message).slice(0, 300) });
            console.log(`round ${round}: ${system} x${processes}: FAILED ${String((error as Error).message).slice(0, 300)}`);
            continue;
          }
          all.push(m);
          console.log(
            `round ${round}: ${m.system} x${m.processes}: ${m.ordersPerSecond} orders/s (${m.seconds} s; CPU ${m.cpuMsPerOrder.total} ms/order: workers ${m.cpuMsPerOrder.workers}, ` +
              `sandboxes+driver ${m.cpuMsPerOrder.driverAndSandboxes}, postgres ${m.cpuMsPerOrder.postgres}; ${m.database.transactionsPerOrder} transactions (driver ${m.database.driverTransactionsPerOrder}) and ${m.database.rowsWrittenPerOrder} rows written per order; ${m.database.sessions} sessions opened)`,
          );
        }
      }
    }
  } finally {
    await sandboxes.close();
  }
  const rows = PROCESSES.map((processes) => {
    const of = (system: System) => all.filter((m) => m.system === system && m.processes === processes);
    const summary = (system: System) => {
      const ms = of(system);
      if (ms.length === 0) return undefined;
      const rates = ms.map((m) => m.ordersPerSecond);
      return {
        medianOrdersPerSecond: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        medianCpuMsPerOrder: median(ms.map((m) => m.cpuMsPerOrder.total)),
        medianWorkerCpuMsPerOrder: median(ms.map((m) => m.cpuMsPerOrder.workers)),
        medianPostgresCpuMsPerOrder: median(ms.map((m) => m.cpuMsPerOrder.postgres)),
        transactionsPerOrder: median(ms.map((m) => m.database.transactionsPerOrder)),
        rowsWrittenPerOrder: median(ms.map((m) => m.database.rowsWrittenPerOrder)),
      };
    };
    const syncline = summary('syncline');
    const queue = summary('dbos-queue');
    const direct = summary('dbos-direct');
    const bare = summary('bare');
    const dbosBest = [queue && { start: 'queue', ...queue }, direct && { start: 'direct', ...direct }]
      .filter((d) => d !== undefined)
      .sort((x, y) => y.medianOrdersPerSecond - x.medianOrdersPerSecond)[0];
    const ratio = syncline && dbosBest ? Math.round((syncline.medianOrdersPerSecond / dbosBest.medianOrdersPerSecond) * 100) / 100 : null;
    const cpuRatio = syncline && dbosBest ? Math.round((dbosBest.medianCpuMsPerOrder / syncline.medianCpuMsPerOrder) * 100) / 100 : null;
    console.log(
      `${processes} process(es): syncline ${syncline?.medianOrdersPerSecond} orders/s (CPU ${syncline?.medianCpuMsPerOrder} ms/order), ` +
        `DBOS best (${dbosBest?.start}) ${dbosBest?.medianOrdersPerSecond} orders/s (CPU ${dbosBest?.medianCpuMsPerOrder} ms/order); ratio ${ratio}x (target >= 2x); ` +
        `DBOS CPU / Syncline CPU ${cpuRatio}x; no engine at all ${bare?.medianOrdersPerSecond} orders/s (CPU ${bare?.medianCpuMsPerOrder} ms/order)`,
    );
    return { processes, syncline, dbosQueue: queue, dbosDirect: direct, dbosBest: dbosBest?.start, noEngine: bare, ratio, cpuRatio };
  });
  const file = writeResult('flow', {
    orders: ORDERS,
    rounds: ROUNDS,
    concurrencyPerProcess: CONCURRENCY,
    dbos: '@dbos-inc/dbos-sdk 5.3.0',
    poolSizePerProcess: POOL_SIZE,
    results: rows,
    runs: all,
    failures,
    target: 'syncline >= 2x the better DBOS start',
  });
  console.log(`written to ${file}`);
}
