import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SynclineError } from '../errors.ts';
import { exceptionHold, isExceptionHold, isHoldOf, keptStatusException, resumeStatus, safeFailureMessage } from './order-exception.ts';

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

test('a flow after release keeps the status: the exception is attached to a released or shipped order, never to one not released or finished', () => {
  const invoice = { ...failure, flow: 'invoice', step: 'erp.invoice', code: 'erp.unavailable', retry: 'transient' as const };
  const hold = keptStatusException('shipped', invoice, new Date('2026-01-01T00:00:00Z'))!;
  assert.deepEqual(hold, { kind: 'exception', ...invoice, resumeStatus: 'shipped', statusKept: true, since: '2026-01-01T00:00:00.000Z' });
  for (const status of ['allocated', 'on_hold', 'cancelled', 'completed'] as const) assert.equal(keptStatusException(status, invoice), undefined, status);
  const shipment = keptStatusException('released', { ...invoice, flow: 'shipment', key: 'wms:shp_1' })!;
  assert.ok(isHoldOf(shipment, 'ord_1', 'shipment', 'wms:shp_1'));
  assert.ok(!isHoldOf(shipment, 'ord_1', 'shipment', 'wms:shp_2'));
  assert.ok(isHoldOf(hold, 'ord_1', 'invoice', 'ord_1'), 'the key defaults to the order id');
});
