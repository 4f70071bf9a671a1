import { createTestDatabase } from '../test/support/postgres.ts';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { Database, Queryable } from '../src/store/database.ts';
import type { LabelledRecord } from './matching-population.ts';
import { startCpuMeter } from './support.ts';

/**
 * The store path of the matching benchmark: records through CustomerService.ingestMany
 * (batches of 100) on a fresh migrated PostgreSQL database (the project's test databases on
 * 127.0.0.1:5432), every row, key, history entry and event written, personal data encrypted.
 * Run twice: one caller, then `callers` callers at once, each sending its share of the batches
 * (matching locks per key, so callers wait for each other only on shared keys).
 * Beside the rate: CPU per record of this process and of the PostgreSQL backends serving the
 * database (/proc), and statements per record.
 */
/** Records per transaction (CustomerService.ingestMany), as a bulk load sends them. */
const BATCH = 100;

export interface StorePathRun {
  callers: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  nodeCpuMicrosecondsPerRecord: number;
  postgresCpuMicrosecondsPerRecord: number;
  statementsPerRecord: number;
  outcomes: Record<string, number>;
  pendingPairs: number;
  customers: number;
}

/** Counts the statements run through a database and its transactions. */
function counting(db: Database): { db: Database; statements: () => number } {
  let statements = 0;
  const wrap = (q: Queryable): Queryable => ({ query: (sql, params, options) => (statements++, q.query(sql, params, options)), exec: (sql) => q.exec(sql) });
  const counted: Database = { ...wrap(db), kind: db.kind, transaction: (fn) => (statements += 2, db.transaction((tx) => fn(wrap(tx)))), listen: db.listen.bind(db), close: db.close.bind(db) };
  return { db: counted, statements: () => statements };
}

async function run(population: readonly LabelledRecord[], callers: number): Promise<StorePathRun> {
  const database = await createTestDatabase();
  try {
    const { db, statements } = counting(database.db);
    const customers = new CustomerService(db);
    const outcomes: Record<string, number> = {};
    const batches: (typeof population)[] = [];
    for (let i = 0; i < population.length; i += BATCH) batches.push(population.slice(i, i + BATCH));
    // Open the pool's connections first, so the meter sees every backend.
    await Promise.all(Array.from({ length: callers }, () => database.db.query('SELECT 1')));
    const meter = await startCpuMeter(database.url, [process.pid]);
    const before = statements();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          for (const result of await customers.ingestMany(batch.map((r) => r.record), { correlationId: 'bench-matching' })) outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = await meter.stop();
    const count = statements() - before;
    const pending = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_stewardship WHERE status = 'pending'");
    const active = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM customer WHERE status = 'active'");
    const n = population.length;
    return {
      callers,
      records: n,
      seconds,
      recordsPerSecond: n / seconds,
      nodeCpuMicrosecondsPerRecord: (cpu.processesMs * 1000) / n,
      postgresCpuMicrosecondsPerRecord: (cpu.databaseMs * 1000) / n,
      statementsPerRecord: count / n,
      outcomes,
      pendingPairs: pending.rows[0]!.n,
      customers: active.rows[0]!.n,
    };
  } finally {
    await database.drop();
  }
}

export async function runStorePath(population: readonly LabelledRecord[], callers = 4): Promise<StorePathRun & { concurrent: StorePathRun }> {
  const one = await run(population, 1);
  const concurrent = await run(population, callers);
  return { ...one, concurrent };
}
