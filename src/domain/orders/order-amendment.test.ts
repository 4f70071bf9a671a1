import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderSubmission } from '../../model/order.ts';
import { AMENDMENT_HOLD_CODES } from '../errors.ts';
import { buildOrder } from './order-builder.ts';
import { amendOrder, diffOrder, holdStatus, planAmendment } from './order-amendment.ts';

const submission = OrderSubmission.parse({
  channel: 'shopify-us',
  channelOrderId: '1001',
  placedAt: '2026-11-22T10:15:00Z',
  currency: 'USD',
  customer: { email: 'ada@example.com', name: 'Ada Lovelace' },
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Springfield', region: 'IL', postalCode: '12345', country: 'US' },
  lines: [
    { sku: 'TEE-M', quantity: 2, unitPrice: '10.00', channelLineId: 'L1' },
    { sku: 'MUG', quantity: 1, unitPrice: '5.00', channelLineId: 'L2' },
  ],
  payments: [{ method: 'manual', amount: '25.00', status: 'pending', reference: 'p1' }],
});
const order = buildOrder(submission, { correlationId: 'c', now: new Date('2026-11-22T10:16:00Z') });
const version = (change: (s: Record<string, any>) => void) => {
  const copy = structuredClone(submission) as Record<string, any>;
  change(copy);
  return OrderSubmission.parse(copy);
};
const facts = { status: 'allocated' as const, backOfficeStarted: false, holdsStock: true };

test('the same version again differs in nothing; an address names the field only', () => {
  assert.deepEqual(diffOrder(order, submission), { fields: [], lines: [], paid: false });
  const moved = diffOrder(order, version((s) => (s.shippingAddress.line1 = '2 Elm St')));
  assert.deepEqual(moved, { fields: ['shippingAddress'], lines: [], paid: false });
  assert.ok(!JSON.stringify(moved).includes('Elm'));
});

test('lines are matched by the channel line id: a quantity change, an added and a removed line', () => {
  const changes = diffOrder(
    order,
    version((s) => {
      s.lines = [{ ...s.lines[0], quantity: 3 }, { sku: 'CAP', quantity: 1, unitPrice: '7.00', channelLineId: 'L3' }];
    }),
  );
  assert.deepEqual(
    changes.lines.map((l) => [l.sku, l.from, l.to]),
    [
      ['TEE-M', 2, 3],
      ['MUG', 1, 0],
      ['CAP', 0, 1],
    ],
  );
});

test('pending to captured is reported as paid, once', () => {
  const paid = version((s) => (s.payments[0].status = 'captured'));
  assert.equal(diffOrder(order, paid).paid, true);
  assert.deepEqual(diffOrder(order, paid).fields, ['payments']);
  const amended = amendOrder(order, paid, { lines: true, now: new Date() });
  assert.equal(amended.totals.paid, '25.00');
  assert.equal(diffOrder(amended, paid).paid, false, 'the same news again is no change');
});

test('the policy: before release applied (stock follows the lines), back office begun held, after release reported', () => {
  const more = diffOrder(order, version((s) => (s.lines[0].quantity = 3)));
  assert.deepEqual(planAmendment(more, facts), { kind: 'apply', lines: true, resize: true });
  assert.deepEqual(planAmendment(more, { ...facts, holdsStock: false, status: 'on_hold' }), { kind: 'apply', lines: true, resize: false });
  assert.deepEqual(planAmendment(more, { ...facts, backOfficeStarted: true }), { kind: 'hold', code: AMENDMENT_HOLD_CODES.linesLocked, contact: false });
  for (const status of ['released', 'shipped', 'completed', 'cancelled'] as const) assert.deepEqual(planAmendment(more, { ...facts, status }), { kind: 'report' }, status);
  const address = diffOrder(order, version((s) => (s.shippingAddress.city = 'Shelbyville')));
  assert.deepEqual(planAmendment(address, facts), { kind: 'apply', lines: false, resize: false });
  assert.deepEqual(planAmendment({ fields: [], lines: [], paid: false }, facts), { kind: 'unchanged' });
  assert.equal(holdStatus('allocated'), 'on_hold');
  assert.equal(holdStatus('on_hold'), undefined, 'already on hold: the change waits beside the hold');
});

test('an applied change keeps line numbers of matched lines and numbers new ones after them; totals are recomputed exactly', () => {
  const amended = amendOrder(
    order,
    version((s) => {
      s.lines = [s.lines[1], { ...s.lines[0], quantity: 3 }, { sku: 'CAP', quantity: 1, unitPrice: '0.10', channelLineId: 'L3' }];
    }),
    { lines: true, now: new Date() },
  );
  assert.deepEqual(amended.lines.map((l) => [l.lineNumber, l.sku, l.quantity, l.lineTotal]), [
    [2, 'MUG', 1, '5.00'],
    [1, 'TEE-M', 3, '30.00'],
    [3, 'CAP', 1, '0.10'],
  ]);
  assert.equal(amended.totals.grandTotal, '35.10');
  assert.equal(amended.id, order.id);
  const contactOnly = amendOrder(order, version((s) => (s.lines[0].quantity = 9)), { lines: false, now: new Date() });
  assert.deepEqual(contactOnly.lines, order.lines, 'lines held for review stay as they were');
});
