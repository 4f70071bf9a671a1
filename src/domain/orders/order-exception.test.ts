import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SynclineError } from '../errors.ts';
import { exceptionHold, isExceptionHold, resumeStatus, safeFailureMessage } from './order-exception.ts';

const failure = {
  flow: 'order-placed',
  step: 'erp.post',
  system: 'erp',
  code: 'erp.unknown_product',
  retry: 'permanent' as const,
  message: 'tryton has no product with code NEW-1',
  deadLetterId: 'dlq_1',
};

test('an exception hold names the system, step, error and dead letter, and returns to the status it interrupted', () => {
  const hold = exceptionHold('allocated', failure, new Date('2026-01-01T00:00:00Z'))!;
  assert.deepEqual(hold, { kind: 'exception', ...failure, resumeStatus: 'allocated', since: '2026-01-01T00:00:00.000Z' });
  assert.ok(isExceptionHold(hold));
  assert.equal(resumeStatus('ord_1', hold), 'allocated');
  assert.ok(!isExceptionHold({ kind: 'fraud', reasons: [] }));
});

test('no exception hold for an order a flow no longer holds (released, cancelled, already on hold)', () => {
  for (const status of ['released', 'cancelled', 'on_hold', 'shipped'] as const) assert.equal(exceptionHold(status, failure), undefined, status);
});

test('a hold that would return somewhere illegal is a coded error', () => {
  const hold = { ...exceptionHold('validated', failure)!, resumeStatus: 'released' as const };
  assert.throws(() => resumeStatus('ord_1', hold), (e: unknown) => e instanceof SynclineError && e.code === 'order.bad_exception_hold');
});

test('the failure message shown on the order has no e-mail address and a bounded length', () => {
  assert.equal(safeFailureMessage('no party for ada@example.com in tryton'), 'no party for [email] in tryton');
  assert.equal(safeFailureMessage('x'.repeat(2000)).length, 500);
});
