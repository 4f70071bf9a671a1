import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Bench-only: counts what a process sends to PostgreSQL, loaded with
 * `node --import ./bench/pg-counter.ts` (the flow benchmark does so with BENCH_FLOW_COUNT=<dir>).
 * The server's own per-statement view (pg_stat_statements) needs a preloaded library and a
 * restart of a server other people use; this counts on the client instead, per process:
 *
 * - transactions: every BEGIN, and every statement sent outside one (an autocommit transaction),
 *   each attributed to the code that opened it (the first frames of the stack inside src/);
 * - statements by their text (whitespace folded, first 90 characters);
 * - claims (`runtime_claim_jobs`): how many, how many came back empty, jobs claimed.
 *
 * Written to <dir>/<pid>.json when the process exits. Capturing a stack per transaction costs
 * CPU: a counted run's timings are not the benchmark's.
 */
const dir = process.env.SYNCLINE_PG_COUNT_DIR;
const stackDepth = Number(process.env.SYNCLINE_PG_COUNT_FRAMES ?? 3);

interface Counts {
  transactions: number;
  begins: number;
  autocommit: number;
  rollbacks: number;
  statements: number;
  claims: { calls: number; empty: number; jobs: number };
  byOpener: Record<string, number>;
  byStatement: Record<string, number>;
}

const counts: Counts = { transactions: 0, begins: 0, autocommit: 0, rollbacks: 0, statements: 0, claims: { calls: 0, empty: 0, jobs: 0 }, byOpener: {}, byStatement: {} };
const inTransaction = new WeakSet<object>();
// Statements sent through pool.query: counted (with their caller) there, where the stack still shows it.
const viaPool = new WeakSet<object>();

function opener(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const ours = frames
    .filter((f) => f.includes('/src/') && !f.includes('postgres.database.ts') && !f.includes('node_modules'))
    .slice(0, stackDepth)
    .map((f) => f.trim().replace(/^at (async )?/, '').replace(/\(?file:\/\/.*\/src\//, '').replace(/\)$/, '').replace(/:\d+$/, ''));
  return ours.join(' < ') || '(outside src)';
}

const textOf = (config: unknown): string => (typeof config === 'string' ? config : ((config as { text?: string })?.text ?? ''));

if (dir) {
  Error.stackTraceLimit = 40;
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: object, ...args: unknown[]) {
    const text = textOf(args[0]).replace(/\s+/g, ' ').trim();
    const head = text.slice(0, 12).toUpperCase();
    counts.statements += 1;
    const key = text.slice(0, 90);
    counts.byStatement[key] = (counts.byStatement[key] ?? 0) + 1;
    if (head.startsWith('BEGIN')) {
      counts.begins += 1;
      counts.transactions += 1;
      inTransaction.add(this);
      const at = `BEGIN ${opener()}`;
      counts.byOpener[at] = (counts.byOpener[at] ?? 0) + 1;
    } else if (head.startsWith('COMMIT') || head.startsWith('ROLLBACK')) {
      if (head.startsWith('ROLLBACK')) counts.rollbacks += 1;
      inTransaction.delete(this);
    } else if (!inTransaction.has(this) && !viaPool.has(args[0] as object)) {
      counts.autocommit += 1;
      counts.transactions += 1;
      const at = `${key.slice(0, 40)} | ${opener()}`;
      counts.byOpener[at] = (counts.byOpener[at] ?? 0) + 1;
    }
    if (text.includes('runtime_claim_jobs(')) {
      counts.claims.calls += 1;
      const note = (rows: number) => {
        counts.claims.jobs += rows;
        if (rows === 0) counts.claims.empty += 1;
      };
      const callback = args[args.length - 1];
      if (typeof callback === 'function') {
        args[args.length - 1] = (error: unknown, result: { rowCount?: number } | undefined) => {
          if (!error) note(result?.rowCount ?? 0);
          (callback as (e: unknown, r: unknown) => void)(error, result);
        };
      } else {
        const returned = original.apply(this, args) as Promise<{ rowCount?: number }>;
        returned.then((r) => note(r?.rowCount ?? 0), () => {});
        return returned;
      }
    }
    return original.apply(this, args);
  };
  // The measured window: the first SIGUSR2 starts it (counts so far are start-up), the second
  // ends it and writes the counts (SIGUSR1 belongs to Node's inspector).
  let windows = 0;
  const reset = () => {
    Object.assign(counts, { transactions: 0, begins: 0, autocommit: 0, rollbacks: 0, statements: 0, claims: { calls: 0, empty: 0, jobs: 0 }, byOpener: {}, byStatement: {} });
  };
  const poolPrototype = pg.Pool.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const poolQuery = poolPrototype.query;
  poolPrototype.query = function (this: object, ...args: unknown[]) {
    if (typeof args[0] === 'string') args[0] = { text: args[0] };
    if (args[0] && typeof args[0] === 'object') {
      viaPool.add(args[0]);
      counts.autocommit += 1;
      counts.transactions += 1;
      const at = `${textOf(args[0]).replace(/\s+/g, ' ').trim().slice(0, 40)} | ${opener()}`;
      counts.byOpener[at] = (counts.byOpener[at] ?? 0) + 1;
    }
    return poolQuery.apply(this, args);
  };
  process.on('SIGUSR2', () => {
    windows += 1;
    if (windows === 1) {
      writeFileSync(join(dir, `${process.pid}.start-up.json`), JSON.stringify(counts));
      reset();
    }
    else {
      writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(counts));
      reset();
      // What the process still sends after the window (jobs left running, shutdown), written at exit.
      process.on('exit', () => writeFileSync(join(dir, `${process.pid}.after.json`), JSON.stringify(counts)));
    }
  });
}
