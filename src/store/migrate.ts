import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant works; it only has to be the same in every Syncline process.
const MIGRATION_LOCK_KEY = 7_305_311_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Lists the numbered migrations shipped with this build, in order. */
export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(dir + file, 'utf8'),
    }));
}

/**
 * Applies every migration not yet applied, each in its own transaction.
 * A transaction-scoped advisory lock makes this safe when several processes
 * start at once: the second one waits, then finds the migration already applied.
 */
export async function migrate(db: Database, migrations = listMigrations()): Promise<string[]> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS syncline_migration (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`).catch(async (error: unknown) => {
    // Two processes racing to create the table: one wins, the other sees a unique violation.
    if ((error as { code?: string }).code !== '23505') throw error;
  });
  const applied: string[] = [];
  for (const migration of migrations) {
    const didApply = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const done = await tx.query('SELECT 1 FROM syncline_migration WHERE version = $1', [migration.version]);
      if (done.rowCount > 0) return false;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO syncline_migration (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (didApply) applied.push(migration.name);
  }
  return applied;
}

/** True when every shipped migration is recorded as applied. */
export async function isMigrated(db: Database, migrations = listMigrations()): Promise<boolean> {
  const latest = migrations.at(-1)?.version ?? 0;
  const result = await db.query<{ version: number }>('SELECT max(version) AS version FROM syncline_migration');
  return (result.rows[0]?.version ?? 0) >= latest;
}
