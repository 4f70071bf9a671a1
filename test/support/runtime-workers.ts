import { after, before } from 'node:test';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import type { WorkerProcess } from './runtime.ts';

export interface WorkerTestBed {
  /** The file's database (set in `before`). */
  readonly database: TestDatabase;
  /** Worker processes to SIGKILL, if still running, when the file ends. */
  readonly workers: WorkerProcess[];
  /** Runs a `SELECT count(*) AS n ...` and returns n. */
  count(sql: string, params?: unknown[]): Promise<number>;
}

/**
 * Registers the hooks of a test file that runs real worker processes: a database of its own
 * with `setupSql` applied before the tests, and afterwards every worker killed and the
 * database dropped. Call it inside the file's describe().
 */
export function workerTestBed(setupSql: string): WorkerTestBed {
  let database: TestDatabase | undefined;
  const workers: WorkerProcess[] = [];
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(setupSql);
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await database?.drop();
  });
  return {
    get database() {
      if (!database) throw new Error('the test database is created in before()');
      return database;
    },
    workers,
    count: async (sql, params = []) => Number((await database!.db.query<{ n: string }>(sql, params)).rows[0]!.n),
  };
}
