import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SynclineError } from '../errors.ts';
import { OrderStatus } from '../../model/order.ts';
import { assertTransition, canTransition, ORDER_TRANSITIONS, TERMINAL_STATUSES } from './order-state.ts';

test('every status of the model has a row in the transition table, and terminal ones lead nowhere', () => {
  assert.deepEqual(Object.keys(ORDER_TRANSITIONS).sort(), [...OrderStatus.options].sort());
  for (const status of TERMINAL_STATUSES) assert.deepEqual(ORDER_TRANSITIONS[status], []);
  for (const targets of Object.values(ORDER_TRANSITIONS)) for (const t of targets) assert.ok(OrderStatus.options.includes(t));
});

test('the happy path is legal step by step', () => {
  const path = ['received', 'validated', 'allocated', 'released', 'partially_shipped', 'shipped', 'completed'] as const;
  for (let i = 1; i < path.length; i += 1) assert.ok(canTransition(path[i - 1]!, path[i]!), `${path[i - 1]} -> ${path[i]}`);
});

test('an illegal transition is a coded, permanent error naming what is allowed', () => {
  assert.throws(
    () => assertTransition('ord_x', 'shipped', 'cancelled'),
    (error: unknown) =>
      error instanceof SynclineError &&
      error.code === 'order.illegal_transition' &&
      error.retry === 'permanent' &&
      (error.details?.allowed as string[]).includes('completed'),
  );
  assert.throws(() => assertTransition('ord_x', 'completed', 'released'), /cannot go from completed to released/);
});

test('an exception stops an order before release and returns it to the same status; released orders are not stopped', () => {
  for (const status of ['received', 'validated', 'pending_allocation', 'allocated'] as const) {
    assert.ok(canTransition(status, 'on_hold'), `${status} -> on_hold`);
    assert.ok(canTransition('on_hold', status), `on_hold -> ${status}`);
  }
  assert.ok(canTransition('on_hold', 'cancelled'));
  assert.ok(!canTransition('released', 'on_hold'));
  assert.ok(!canTransition('on_hold', 'released'), 'the flow itself releases the order after it resumed');
});
