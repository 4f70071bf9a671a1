import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
