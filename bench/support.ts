import { execFileSync, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Facts about the machine a benchmark ran on, recorded with every result. */
export function machine(): Record<string, unknown> {
  let postgres = 'unknown';
  try {
    postgres = execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-tAc', 'show server_version'], { encoding: 'utf8' }).trim();
  } catch {
    // psql missing: the result still records everything else.
  }
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    at: new Date().toISOString(),
  };
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${name}.json`;
  writeFileSync(file, JSON.stringify({ benchmark: name, machine: machine(), ...result }, null, 2) + '\n');
  return file;
}

/** The pgbench binary of the local PostgreSQL installation. */
export function pgbenchPath(): string {
  const found = execFileSync('bash', ['-c', 'ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1 || true'], { encoding: 'utf8' }).trim();
  return found || 'pgbench';
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface PgbenchRun {
  /** Names the scratch database and the script file in the recorded command. */
  name: string;
  /** SQL that creates the table the script works on, run in a fresh database. */
  setup: string;
  /** The one statement every pgbench transaction runs. */
  statement: string;
  clients: number;
  seconds: number;
}

/**
 * Runs pgbench with a one-statement custom script against a scratch database on the local
 * server, dropped afterwards; returns transactions per second and the command as recorded.
 */
export function runPgbench(run: PgbenchRun): { tps: number; command: string } {
  const dir = mkdtempSync(join(tmpdir(), 'syncline-pgbench-'));
  const script = join(dir, `${run.name}.sql`);
  writeFileSync(script, `${run.statement}\n`);
  const database = `syncline_pgbench_${run.name.replaceAll('-', '_')}_${process.pid}`;
  const psql = (sql: string, db = 'postgres') => execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-qtAc', sql], { stdio: ['ignore', 'pipe', 'ignore'] });
  psql(`DROP DATABASE IF EXISTS ${database}`);
  psql(`CREATE DATABASE ${database}`);
  try {
    psql(run.setup, database);
    const options = ['-n', '-c', String(run.clients), '-j', '2', '-T', String(run.seconds)];
    const output = execFileSync(pgbenchPath(), ['-h', '127.0.0.1', '-U', 'postgres', ...options, '-f', script, database], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const match = /tps = ([\d.]+)/.exec(output);
    if (!match) throw new Error(`could not read tps from pgbench output:\n${output}`);
    return { tps: Math.round(Number(match[1])), command: `pgbench ${options.join(' ')} -f ${run.name}.sql  # ${run.statement}` };
  } finally {
    psql(`DROP DATABASE IF EXISTS ${database}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws with a hint when a command-line tool a benchmark needs is missing. */
export function requireTool(name: string, hint: string, benchmark: string): void {
  try {
    execFileSync('bash', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`bench ${benchmark} needs ${name}: ${hint}`);
  }
}

/** What a wrk script's done() prints after "RESULT ". */
export interface WrkResult {
  requests: number;
  durationUs: number;
  non2xx: number;
  socketErrors: number;
  p50Us: number;
  p99Us: number;
}

/** The Lua done() every wrk script ends with: prints the RESULT line runWrk reads. */
export const WRK_REPORT_LUA = `function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/**
 * Writes a wrk script that POSTs `head + id + tail` to `path` with each request, where id is
 * unique in the run (run name, wrk thread, counter) and is also the Idempotency-Key; the bearer
 * token, the run name, head and tail are the script's arguments, in that order. Returns its path.
 */
export function writeWrkPostScript(path: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'syncline-wrk-')), 'post.lua');
  writeFileSync(
    file,
    `
local token, run, head, tail = nil, nil, nil, nil
local threads = 0
local counter = 0
-- prefix is a global that setup() sets in each thread's own interpreter.

function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("t%d", threads))
end

function init(args)
  token, run, head, tail = args[1], args[2], args[3], args[4]
end

function request()
  counter = counter + 1
  local id = string.format("%s-%s-%d", run, prefix, counter)
  return wrk.format("POST", "${path}", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = id,
  }, head .. id .. tail)
end

${WRK_REPORT_LUA}`,
  );
  return file;
}

/** Runs wrk (2 threads, `connections` open) with a Lua script ending with WRK_REPORT_LUA. */
export function runWrk(url: string, connections: number, seconds: number, script: string, args: string[]): WrkResult {
  const output = execFileSync('wrk', ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '-s', script, url, '--', ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = output.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`could not read wrk's result:\n${output}`);
  return JSON.parse(line.slice('RESULT '.length)) as WrkResult;
}

/** Microseconds per clock tick of /proc's CPU times (USER_HZ). */
export const TICK_US = 1_000_000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU ticks (user + system) a process has used so far; 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** User + system CPU time of a process so far, in ms (Linux /proc). */
export function processCpuMs(pid: number): number {
  return (cpuTicks(pid) * TICK_US) / 1000;
}

/** The PostgreSQL backends serving a database (other than the asking session). */
export async function backendPids(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  return rows.map((r) => r.pid);
}

/**
 * Starts counting the CPU that some processes and the backends of one database use; `stop()`
 * gives both in ms. Backends opened meanwhile count from zero (their whole life is inside).
 */
export async function startCpuMeter(databaseUrl: string | undefined, pids: readonly number[]): Promise<{ stop(): Promise<{ processesMs: number; databaseMs: number }> }> {
  // No database (a server that has none): the processes alone, databaseMs 0.
  if (databaseUrl === undefined) {
    const before = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    return { stop: async () => ({ processesMs: ((pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) - before) * TICK_US) / 1000, databaseMs: 0 }) };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const processesBefore = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const backendsBefore = new Map((await backendPids(client)).map((pid) => [pid, cpuTicks(pid)]));
  return {
    async stop() {
      try {
        const processes = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) - processesBefore;
        let database = 0;
        for (const pid of await backendPids(client)) database += cpuTicks(pid) - (backendsBefore.get(pid) ?? 0);
        return { processesMs: (processes * TICK_US) / 1000, databaseMs: (database * TICK_US) / 1000 };
      } finally {
        await client.end();
      }
    },
  };
}

/** Stops child processes: SIGTERM, then SIGKILL after 10 s; resolves when every one has exited. */
export async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.removeAllListeners('exit');
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}
