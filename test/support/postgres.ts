import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { listMigrations, migrate } from '../../src/store/migrate.ts';
import { openPostgres } from '../../src/store/postgres.database.ts';
import type { Database } from '../../src/store/database.ts';

/**
 * Each test file gets a database of its own on the real PostgreSQL server, cloned
 * from a template that already has every migration applied. The template's name
 * carries a hash of the migrations, so changing one builds a new template.
 */
/**
 * Customer personal data is encrypted (docs/customers.md): every test process, the servers it
 * starts in process and the ones it spawns (which inherit the environment) share these keys,
 * so what one writes the others read. Test keys only.
 */
export const TEST_CUSTOMER_KEYS = {
  SYNCLINE_CUSTOMER_KEYS: `test=${Buffer.alloc(32, 7).toString('base64')}`,
  SYNCLINE_CUSTOMER_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
};
process.env.SYNCLINE_CUSTOMER_KEYS ??= TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_KEYS;
process.env.SYNCLINE_CUSTOMER_INDEX_KEY ??= TEST_CUSTOMER_KEYS.SYNCLINE_CUSTOMER_INDEX_KEY;

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEMPLATE_LOCK_KEY = 7_305_311_900;

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(): Promise<string> {
  const hash = createHash('sha256');
  for (const m of listMigrations()) hash.update(m.name).update(m.sql);
  const template = `syncline_template_${hash.digest('hex').slice(0, 12)}`;
  await withAdmin(async (admin) => {
    // Test files run in parallel processes: one builds the template, the others wait.
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount) return;
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      const db = openPostgres({ connectionString: databaseUrl(building), poolSize: 2 });
      try {
        await migrate(db);
      } finally {
        await db.close();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  return template;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on the test database (closed by drop()). */
  db: Database;
  drop(): Promise<void>;
}

/** A new, migrated, empty database on the real server. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `syncline_test_${randomBytes(6).toString('hex')}`;
  if (options.migrated === false) await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}`));
  else {
    const template = await ensureTemplate();
    // PostgreSQL refuses to copy a template while anyone is connected to it (SQLSTATE 55006),
    // for example a developer's psql session: try again for a while.
    for (let attempt = 1; ; attempt++) {
      try {
        await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
  const url = databaseUrl(name);
  const db = openPostgres({ connectionString: url, poolSize: 10 });
  return {
    name,
    url,
    db,
    async drop() {
      await db.close().catch(() => {});
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
