import { setTimeout as sleep } from 'node:timers/promises';
import { SynclineError } from '../../src/domain/errors.ts';
import type { RuntimeRegistry } from '../../src/runtime/registry.ts';
import type { HandlerModuleContext } from '../../src/runtime/handler-modules.ts';
import { targetErrorFromResponse } from '../../src/runtime/targets/target-errors.ts';

/**
 * Job handlers for runtime tests, loaded by real `syncline worker` processes through
 * SYNCLINE_HANDLER_MODULES. Effects land in tables the test creates (see RUNTIME_TEST_TABLES),
 * idempotent by job key, so a job that runs twice still has one effect.
 */
export const RUNTIME_TEST_TABLES = `
  CREATE TABLE IF NOT EXISTS test_effect (job_key text PRIMARY KEY, worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS test_execution (id bigserial PRIMARY KEY, job_key text NOT NULL, worker text NOT NULL, attempt integer NOT NULL,
                                             at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS test_fix (name text PRIMARY KEY);
`;

interface EffectPayload {
  sleepMs?: number;
}

interface HttpPayload {
  url: string;
}

export function register(registry: RuntimeRegistry, { db }: HandlerModuleContext): void {
  const worker = `pid-${process.pid}`;
  if (process.env.TEST_TARGETS) {
    for (const [name, policy] of Object.entries(JSON.parse(process.env.TEST_TARGETS) as Record<string, object>)) registry.defineTarget(name, policy);
  }

  registry.register<EffectPayload>('test.effect', async (payload, ctx) => {
    await db.query('INSERT INTO test_execution (job_key, worker, attempt) VALUES ($1, $2, $3)', [ctx.job.jobKey, worker, ctx.attempt]);
    if (payload.sleepMs) await sleep(payload.sleepMs);
    await db.query('INSERT INTO test_effect (job_key, worker) VALUES ($1, $2) ON CONFLICT (job_key) DO NOTHING', [ctx.job.jobKey, worker]);
  });

  // Calls the job's target; the target's answer decides success, retry or dead letter.
  registry.register<HttpPayload>(
    'test.http',
    async (payload, ctx) => {
      await ctx.target().call(async (signal) => {
        const response = await fetch(payload.url, { method: 'POST', body: JSON.stringify({ jobKey: ctx.job.jobKey }), headers: { 'content-type': 'application/json' }, signal });
        if (!response.ok) throw await targetErrorFromResponse(ctx.job.target!, response, { method: 'POST', url: payload.url });
        await response.body?.cancel();
      });
      await db.query('INSERT INTO test_effect (job_key, worker) VALUES ($1, $2) ON CONFLICT (job_key) DO NOTHING', [ctx.job.jobKey, worker]);
    },
    { backoffBaseMs: 100, backoffCapMs: 1000, maxAttempts: 5 },
  );

  // Fails permanently until the test "deploys the fix" by inserting into test_fix.
  registry.register('test.needs-fix', async (_payload, ctx) => {
    const fixed = await db.query('SELECT 1 FROM test_fix WHERE name = $1', ['mapping']);
    if (fixed.rowCount === 0) {
      throw new SynclineError('MAPPING_FAILED', 'SKU "X-1" has no ERP item mapping', { details: { remediation: 'Add the ERP item mapping for SKU X-1, then replay.' } });
    }
    await db.query('INSERT INTO test_effect (job_key, worker) VALUES ($1, $2) ON CONFLICT (job_key) DO NOTHING', [ctx.job.jobKey, worker]);
  });
}
