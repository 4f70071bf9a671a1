import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderSubmission } from '../../model/order.ts';
import { buildOrder } from './order-builder.ts';

const submission = OrderSubmission.parse({
  channel: 'shopify-us',
  channelOrderId: '1001',
  placedAt: '2026-11-22T10:15:00+01:00',
  currency: 'USD',
  customer: { email: 'ada@example.com', name: 'Ada Lovelace' },
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
  lines: [
    { sku: 'TEE-M', quantity: 3, unitPrice: '0.1' },
    { sku: 'MUG', quantity: 1, unitPrice: '12.20' },
  ],
  payments: [
    { method: 'card', amount: '20.00', status: 'authorized', reference: 'pi_1' },
    { method: 'gift_card', amount: '5.00', status: 'pending', reference: 'gc_1' },
  ],
  shippingTotal: '4.99',
  taxTotal: '1.01',
  discountTotal: '2',
});

test('totals are exact and include shipping, tax and discount', () => {
  const order = buildOrder(submission, { correlationId: 'c-1', now: new Date('2026-11-22T10:00:00Z') });
  assert.match(order.id, /^ord_[0-9a-z]{26}$/);
  assert.equal(order.status, 'received');
  assert.deepEqual(
    order.lines.map((l) => [l.lineNumber, l.unitPrice, l.lineTotal]),
    [
      [1, '0.10', '0.30'],
      [2, '12.20', '12.20'],
    ],
  );
  assert.deepEqual(order.totals, {
    subtotal: '12.50',
    shipping: '4.99',
    tax: '1.01',
    discount: '2.00',
    grandTotal: '16.50',
    paid: '20.00',
  });
  assert.equal(order.placedAt, '2026-11-22T09:15:00.000Z');
});

test('a zero-decimal currency keeps whole amounts', () => {
  const yen = OrderSubmission.parse({ ...submission, currency: 'JPY', lines: [{ sku: 'A', quantity: 2, unitPrice: '1500' }], payments: [], shippingTotal: undefined, taxTotal: undefined, discountTotal: undefined });
  assert.equal(buildOrder(yen, { correlationId: 'c', now: new Date() }).totals.grandTotal, '3000');
});

test('amounts finer than the currency allows are rejected with the field path', () => {
  const result = OrderSubmission.safeParse({ ...submission, currency: 'JPY' });
  assert.equal(result.success, false);
  assert.ok(result.error!.issues.some((i) => i.path.join('/') === 'lines/0/unitPrice'));
});
