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
