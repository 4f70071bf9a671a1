import { createLogger } from '../../src/observability/logger.ts';
import { enqueue } from '../../src/runtime/queue.ts';
import { RuntimeRegistry } from '../../src/runtime/registry.ts';
import type { JobSpec } from '../../src/runtime/runtime.ts';
import type { TargetPolicy } from '../../src/runtime/targets/target-policy.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { openPostgres } from '../../src/store/postgres.database.ts';
import { register } from './runtime-handlers.ts';
import { waitFor } from './runtime.ts';

/**
 * Produces real dead letters: enqueues the jobs and runs them on an in-process Worker with
 * the test handlers (test.needs-fix fails permanently until test_fix has 'mapping'; test.http
 * follows its target's answer) until every job has left the queue, then stops the worker,
 * so whatever the test enqueues or replays next stays queued where it can be seen.
 * The database needs RUNTIME_TEST_TABLES.
 */
export async function runUntilDeadLettered(databaseUrl: string, jobs: readonly JobSpec[], targets: Record<string, TargetPolicy> = {}): Promise<void> {
  const db = openPostgres({ connectionString: databaseUrl, poolSize: 4 });
  const logger = createLogger('silent');
  const registry = new RuntimeRegistry();
  register(registry, { db, config: undefined as never, logger });
  for (const [name, policy] of Object.entries(targets)) registry.defineTarget(name, policy);
  const worker = new Worker(db, registry, logger, { concurrency: 4, pollMs: 100, relay: false });
  await worker.start();
  try {
    const keys = jobs.map((j) => j.jobKey);
    await enqueue(db, jobs);
    await waitFor(
      'the jobs to leave the queue',
      async () => (await db.query('SELECT 1 FROM runtime_job WHERE job_key = ANY($1::text[])', [keys])).rowCount === 0,
      20_000,
    );
  } finally {
    await worker.stop(2000);
    await db.close();
  }
}
