import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SynclineError } from '../domain/errors.ts';
import { backoffDelayMs, classifyError, decideFailure, DEFAULT_JOB_POLICY, remediationFor } from './retry-policy.ts';
import { TargetError } from './targets/target-errors.ts';

const policy = { ...DEFAULT_JOB_POLICY, backoffBaseMs: 1000, backoffCapMs: 60_000 };

test('backoff doubles per attempt, is capped, and keeps half of the delay fixed', () => {
  assert.equal(backoffDelayMs(1, policy, () => 0), 500);
  assert.equal(backoffDelayMs(1, policy, () => 1), 1000);
  assert.equal(backoffDelayMs(3, policy, () => 1), 4000);
  assert.equal(backoffDelayMs(30, policy, () => 1), 60_000);
  assert.equal(backoffDelayMs(30, policy, () => 0), 30_000);
});

test('a schedule replaces the exponential backoff: one delay per attempt, the last repeating, ±10% jitter', () => {
  const scheduled = { ...policy, backoffScheduleMs: [5000, 300_000, 1_800_000] };
  assert.equal(backoffDelayMs(1, scheduled, () => 0.5), 5000);
  assert.equal(backoffDelayMs(2, scheduled, () => 0), 270_000);
  assert.equal(backoffDelayMs(3, scheduled, () => 1), 1_980_000);
  assert.equal(backoffDelayMs(9, scheduled, () => 0.5), 1_800_000);
});

test('permanent errors dead-letter at once; transient ones retry until attempts run out', () => {
  const permanent = classifyError(new SynclineError('MAPPING_FAILED', 'no mapping'));
  assert.deepEqual(decideFailure(permanent, 1, 10, policy), { kind: 'dead-letter' });
  const transient = classifyError(new Error('socket hang up'));
  assert.equal(transient.retry, 'transient');
  assert.equal(transient.code, 'UNHANDLED_ERROR');
  assert.equal(decideFailure(transient, 9, 10, policy, 0, () => 0).kind, 'retry');
  assert.deepEqual(decideFailure(transient, 10, 10, policy), { kind: 'dead-letter' });
});

test('throttled errors wait for the reset time and do not count as a failure', () => {
  const at = new Date(Date.now() + 30_000);
  const throttled = classifyError(new TargetError('TARGET_HTTP_429', 'slow down', { retry: 'throttled', retryAt: at }));
  assert.deepEqual(decideFailure(throttled, 10, 10, policy), { kind: 'defer', runAt: at });
  const noReset = decideFailure(classifyError(new TargetError('TARGET_HTTP_429', 'slow down', { retry: 'throttled' })), 1, 10, policy, 1000, () => 1);
  assert.deepEqual(noReset, { kind: 'defer', runAt: new Date(2000) });
});

test('remediation: the error\'s own hint first, else one by class', () => {
  const own = classifyError(new SynclineError('MAPPING_FAILED', 'x', { details: { remediation: 'Map SKU X-1.' } }));
  assert.equal(remediationFor(own, null, 1), 'Map SKU X-1.');
  assert.match(remediationFor(classifyError(new SynclineError('BAD', 'x')), null, 1), /permanent.*replay/);
  assert.match(remediationFor(classifyError(new Error('x')), 'erp:main', 10), /erp:main.*10 times/);
});

test('jitter spreads retries over the upper half of the delay, never earlier', () => {
  for (const attempt of [1, 3, 8]) {
    const exponential = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** (attempt - 1));
    const delays = Array.from({ length: 500 }, () => backoffDelayMs(attempt, policy));
    assert.ok(delays.every((d) => d >= exponential / 2 && d <= exponential), `attempt ${attempt}: within [${exponential / 2}, ${exponential}]`);
    // Spread, not one value: workers that failed together do not come back together.
    assert.ok(new Set(delays).size > 100, `attempt ${attempt}: ${new Set(delays).size} distinct delays`);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    assert.ok(Math.abs(mean - exponential * 0.75) < exponential * 0.05, `attempt ${attempt}: mean ${mean}`);
  }
});

test('a transient failure is retried at now + the jittered backoff of its attempt', () => {
  const transient = classifyError(new TargetError('TARGET_HTTP_503', 'down', { retry: 'transient' }));
  assert.deepEqual(decideFailure(transient, 3, 10, policy, 10_000, () => 0.5), { kind: 'retry', runAt: new Date(10_000 + 3000) });
  assert.deepEqual(decideFailure(transient, 1, 1, policy, 10_000, () => 0.5), { kind: 'dead-letter' }, 'the last attempt');
});

test('a throttle whose reset time has passed waits like a first retry; throttles never dead-letter', () => {
  const stale = classifyError(new TargetError('TARGET_HTTP_429', 'slow down', { retry: 'throttled', retryAt: new Date(500) }));
  assert.deepEqual(decideFailure(stale, 1, 10, policy, 1000, () => 0), { kind: 'defer', runAt: new Date(1500) });
  assert.equal(decideFailure(stale, 50, 1, policy, 1000).kind, 'defer', 'however many attempts were made');
});
