import { writeFileSync } from 'node:fs';
import { CustomerService } from '../src/domain/customers/customer.service.ts';
import type { CustomerRecordInput } from '../src/model/customer.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import { generatePopulation } from './matching-population.ts';

/**
 * Records coming in again (docs/customers.md, ADR 41): what a second delivery of a population
 * costs per record, by path, through CustomerService.ingestMany in batches of 100 on PostgreSQL:
 * - unchanged: the same records again (a retried post, an overlapping pull): no new version;
 * - updated: a changed attribute (points), no new evidence: a new version, no matching;
 * - re-matched: a new phone on every record: a new version and matching again.
 * Node CPU and wall time per record, and committed transactions per record (pg_stat_database).
 */
const RECORDS = 5_000;
const BATCH = 100;

export async function run(): Promise<void> {
  const database = await createTestDatabase();
  try {
    const customers = new CustomerService(database.db);
    const population = generatePopulation({ records: RECORDS, seed: 41 }).map((r) => r.record as CustomerRecordInput);
    const commits = async () => Number((await database.db.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n);
    const pass = async (name: string, records: CustomerRecordInput[]) => {
      const outcomes: Record<string, number> = {};
      const before = await commits();
      const started = performance.now();
      const cpu = process.cpuUsage();
      for (let i = 0; i < records.length; i += BATCH) {
        for (const r of await customers.ingestMany(records.slice(i, i + BATCH), { correlationId: `bench-${name}` })) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      }
      const used = process.cpuUsage(cpu);
      const ms = performance.now() - started;
      // Stats reach pg_stat_database when a backend reports them; give the collector a moment.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const transactions = (await commits()) - before;
      const result = { pass: name, records: records.length, msPerRecord: +(ms / records.length).toFixed(3), nodeCpuMicrosecondsPerRecord: Math.round((used.user + used.system) / records.length), transactionsPerRecord: +(transactions / records.length).toFixed(3), outcomes };
      console.log(JSON.stringify(result));
      return result;
    };
    const results = [];
    results.push(await pass('first', population));
    results.push(await pass('unchanged', population));
    const later = (r: CustomerRecordInput, i: number): CustomerRecordInput => ({ ...r, observedAt: new Date(Date.parse(r.observedAt) + 86_400_000 + i).toISOString() });
    results.push(await pass('updated', population.map((r, i) => ({ ...later(r, i), attributes: { ...r.attributes, ...(r.system === 'loyalty' ? { loyaltyPoints: 1000 + i } : {}) }, givenName: r.givenName ? `${r.givenName} ` : r.givenName }))));
    results.push(await pass('re-matched', population.map((r, i) => ({ ...later(r, i + 1), phones: [...(r.phones ?? []), `+1415555${String(i % 10_000).padStart(4, '0')}`].slice(0, 10) }))));
    writeFileSync(new URL('./results/customer-records.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`);
  } finally {
    await database.drop();
  }
}
