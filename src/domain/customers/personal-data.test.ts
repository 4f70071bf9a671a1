import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Order } from '../../model/order.ts';
import { erasedExternalId, orderValues, pseudonymiseOrder, replaceValues, searchable } from './personal-data.ts';

const order = {
  id: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w',
  channel: 'web',
  customer: { email: 'Ada@Example.com', name: 'Ada Lovelace', phone: '+1 555 0100', channelCustomerId: '7741' },
  shippingAddress: { name: 'Ada Lovelace', company: 'Analytical Ltd', line1: '12 Main Street', line2: 'Flat 3', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US', phone: '+1 555 0100' },
  lines: [{ lineNumber: 1, sku: 'TEE-M', quantity: 2, unitPrice: '19.99', lineTotal: '39.98' }],
  grandTotal: '39.98',
  notes: 'leave with Ada',
} as unknown as Order;

test('an erased order keeps amounts, lines, ids and the tax jurisdiction; the person goes', () => {
  const erased = pseudonymiseOrder(order) as unknown as Record<string, any>;
  assert.deepEqual(erased.customer, { email: `erased+${order.id}@erased.invalid`, name: '[erased]', channelCustomerId: '7741' });
  assert.deepEqual(erased.shippingAddress, { name: '[erased]', line1: '[erased]', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' });
  assert.deepEqual([erased.lines, erased.grandTotal, erased.id], [(order as any).lines, '39.98', order.id]);
  assert.equal(erased.notes, undefined);
});

test('values are replaced as whole words, case-insensitively; other words that contain them stay', () => {
  const replace = replaceValues(searchable(['Ada', 'Ada Lovelace', 'ada@example.com']));
  assert.deepEqual(replace({ a: 'Dear ADA LOVELACE (ada@example.com)', b: ['Adapter for Ada', 42], c: null }), { a: 'Dear [erased] ([erased])', b: ['Adapter for [erased]', 42], c: null });
});

test('strong values find rows; weak ones are only replaced', () => {
  const { strong, weak } = orderValues(order);
  assert.ok(strong.includes('Ada@Example.com') && strong.includes('ada@example.com') && strong.includes('Ada Lovelace') && strong.includes('+1 555 0100'));
  assert.ok(weak.includes('12 Main Street') && weak.includes('Ada') && !strong.includes('12 Main Street'));
  assert.equal(erasedExternalId('guest:ada@example.com', 'csr_1'), 'guest:erased:csr_1');
  assert.equal(erasedExternalId('LM-42', 'csr_1'), 'LM-42');
});
