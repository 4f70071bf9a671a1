import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.ts';
import { acquireDataFolderLock } from './data-folder-lock.ts';

/**
 * A Database backed by embedded PGlite (PostgreSQL compiled to WASM) in a data folder.
 * PGlite is a single connection: every statement and transaction is serialised
 * through one queue here, so a transaction never interleaves with another caller.
 * A data folder is opened by one process only: this process takes its lock first
 * (data-folder-lock.ts) and a folder held by another live process is refused.
 */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const lock = dataDir ? acquireDataFolderLock(dataDir) : undefined;
  // Same exactness as the server path: BIGINT and NUMERIC stay strings.
  const parsers = { 20: (v: string) => v, 1700: (v: string) => v };
  let db: PGlite;
  try {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    db = dataDir ? await PGlite.create(dataDir, { parsers }) : await PGlite.create({ parsers });
  } catch (error) {
    lock?.release();
    throw error;
  }
  let tail: Promise<unknown> = Promise.resolve();

  // Chains work so that exactly one query or transaction runs at a time.
  function serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  }

  const direct = async <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const result = await db.query<R>(sql, params as unknown[] | undefined);
    // PGlite reports affectedRows as 0 for a SELECT; rows returned count as well.
    return { rows: result.rows, rowCount: result.rows.length || (result.affectedRows ?? 0) };
  };

  const exec = async (sql: string): Promise<void> => {
    await db.exec(sql);
  };

  return {
    kind: 'pglite',
    // PGlite has no statement cache worth managing: `prepare` is accepted and ignored.
    query: (sql, params) => serialised(() => direct(sql, params)),
    exec: (sql) => serialised(() => exec(sql)),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return serialised(async () => {
        await db.query('BEGIN');
        try {
          const value = await fn({ query: direct, exec });
          await db.query('COMMIT');
          return value;
        } catch (error) {
          await db.query('ROLLBACK');
          throw error;
        }
      });
    },
    // In-process: the listening connection cannot be lost, so `onLost` never runs.
    async listen(channel, onNotify) {
      const unsubscribe = await serialised(() => db.listen(channel, onNotify));
      return () => serialised(() => unsubscribe());
    },
    async close() {
      try {
        await serialised(() => db.close());
      } finally {
        lock?.release();
      }
    },
  };
}
