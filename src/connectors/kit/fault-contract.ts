import assert from 'node:assert/strict';
import { TargetError } from '../../runtime/targets/target-errors.ts';
import { expectSynclineError } from './contract-fixtures.ts';
import { sandboxAdmin } from './sandbox-app.ts';

/**
 * The fault-control contract every sandbox and its client must meet, one exported
 * function per behaviour, run against all of them by test/connectors-fault-contract.test.ts.
 * `call` is one representative read through the system's outbound client that sends
 * exactly one request once warmed up (the ERP logs in on its first call).
 */
export interface FaultTarget {
  system: string;
  url: string;
  call: () => Promise<unknown>;
}

async function withFaults(target: FaultTarget, settings: Parameters<ReturnType<typeof sandboxAdmin>['setFaults']>[0], run: () => Promise<void>): Promise<void> {
  const admin = sandboxAdmin(target.url);
  await target.call();
  await admin.setFaults(settings);
  try {
    await run();
  } finally {
    await admin.clearFaults();
  }
}

/** Added latency delays the client's call. */
export async function latencyDelaysCalls(target: FaultTarget): Promise<void> {
  await withFaults(target, { latencyMs: 120 }, async () => {
    const started = performance.now();
    await target.call();
    assert.ok(performance.now() - started >= 110, `${target.system}: the call took the added latency`);
  });
}

/** An error rate fails that share of calls, each as a transient error. */
export async function errorRateFailsTransiently(target: FaultTarget): Promise<void> {
  await withFaults(target, { errorRate: 0.5 }, async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await target.call();
        outcomes.push('ok');
      } catch (error) {
        const e = await expectSynclineError(Promise.reject(error));
        assert.equal(e.retry, 'transient', `${target.system}: ${e.code}`);
        outcomes.push('failed');
      }
    }
    assert.deepEqual(outcomes, ['ok', 'failed', 'ok', 'failed'], target.system);
  });
}

/** A forced 429 is a throttled error carrying the Retry-After delay. */
export async function throttleCarriesRetryAfter(target: FaultTarget): Promise<void> {
  await withFaults(target, { throttle: { retryAfterSeconds: 7 } }, async () => {
    const error = await expectSynclineError(target.call());
    assert.equal(error.retry, 'throttled', target.system);
    assert.equal(error.details?.retryAfterMs, 7000, target.system);
    assert.ok(error instanceof TargetError && error.retryAt instanceof Date, target.system);
  });
}

/** With a quota, the system never serves more than the quota in any second; callers that wait get through. */
export async function quotaIsRespectedAtTheReceivingSide(target: FaultTarget): Promise<void> {
  const admin = sandboxAdmin(target.url);
  await withFaults(target, { quotaPerSecond: 3 }, async () => {
    await admin.resetStats();
    const once = async () => {
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          return await target.call();
        } catch (error) {
          const e = await expectSynclineError(Promise.reject(error));
          assert.equal(e.retry, 'throttled', `${target.system}: ${e.code}`);
          await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
        }
      }
      assert.fail(`${target.system}: never got through`);
    };
    await Promise.all(Array.from({ length: 7 }, () => once()));
    const stats = await admin.stats();
    assert.equal(stats.totals.accepted, 7, target.system);
    assert.ok(stats.maxAcceptedPerSecond <= 3, `${target.system} served ${stats.maxAcceptedPerSecond} in one second`);
  });
}

/** Down (503, or a dropped connection) is transient, and the system serves again when up. */
export async function downIsTransient(target: FaultTarget): Promise<void> {
  await withFaults(target, { down: true }, async () => {
    const unavailable = await expectSynclineError(target.call());
    assert.equal(unavailable.retry, 'transient', target.system);
    assert.equal(unavailable.details?.status, 503, target.system);
  });
  await withFaults(target, { down: true, downMode: 'reset' }, async () => {
    const reset = await expectSynclineError(target.call());
    assert.equal(reset.retry, 'transient', target.system);
    assert.equal(reset.code, 'connector.unreachable', target.system);
  });
  await target.call();
}

/** Every behaviour of the contract by name, for a test to run against each system. */
export const FAULT_CONTRACT = {
  'added latency delays calls': latencyDelaysCalls,
  'an error rate fails that share of calls, as transient': errorRateFailsTransiently,
  'a forced 429 is throttled with its Retry-After delay': throttleCarriesRetryAfter,
  'a quota per second is respected at the receiving side': quotaIsRespectedAtTheReceivingSide,
  'down is transient and up serves again': downIsTransient,
} as const;
