import { createTestDatabase } from '../test/support/postgres.ts';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { LabelledRecord } from './matching-population.ts';

/**
 * The store path of the matching benchmark: records one at a time through
 * CustomerService.ingestMany (batches of 100) on a fresh migrated PostgreSQL database (the project's test
 * databases on 127.0.0.1:5432), every row, key, history entry and event written.
 * Matching is serialised (one advisory lock), so one caller is the honest measure.
 */
/** Records per transaction (CustomerService.ingestMany), as a bulk load sends them. */
const BATCH = 100;

export async function runStorePath(population: readonly LabelledRecord[]): Promise<{ records: number; seconds: number; recordsPerSecond: number; nodeCpuMicrosecondsPerRecord: number; outcomes: Record<string, number>; pendingPairs: number }> {
  const database = await createTestDatabase();
  try {
    const customers = new CustomerService(database.db);
    const outcomes: Record<string, number> = {};
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    for (let i = 0; i < population.length; i += BATCH) {
      const results = await customers.ingestMany(population.slice(i, i + BATCH).map((r) => r.record), { correlationId: 'bench-matching' });
      for (const result of results) outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const pending = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_stewardship WHERE status = 'pending'");
    return { records: population.length, seconds, recordsPerSecond: population.length / seconds, nodeCpuMicrosecondsPerRecord: ((cpu.user + cpu.system) / population.length), outcomes, pendingPairs: pending.rows[0]!.n };
  } finally {
    await database.drop();
  }
}
