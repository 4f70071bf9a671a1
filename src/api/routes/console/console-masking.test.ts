import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forBrowser, maskEmail } from './console-masking.ts';

const order = {
  id: 'ord_1',
  channel: 'shopify-us',
  customer: { email: 'ada@example.com', name: 'Ada Lovelace', phone: '+1 555 0100' },
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Springfield', postalCode: '62701', country: 'US' },
  notes: 'call ada@example.com before delivery',
  lines: [{ sku: 'TEE-M', quantity: 2 }],
  excerpt: { headers: { authorization: 'Bearer abc', 'x-api-key': 'k' }, clientSecret: 's', status: 500 },
  targets: [{ name: 'erp', policy: { ratePerSecond: 5 } }],
};

test('maskEmail keeps the first letters and the top-level domain only', () => {
  assert.equal(maskEmail('ada@example.com'), 'a***@e***.com');
  assert.equal(maskEmail('nonsense'), '***');
});

test('viewers get the customer, addresses and e-mails in text masked; ids, SKUs, system names and the country stay', () => {
  const masked = forBrowser(order, true);
  const text = JSON.stringify(masked);
  for (const personal of ['ada@example.com', 'Lovelace', '555 0100', '1 Main St', 'Springfield', '62701']) assert.ok(!text.includes(personal), `${personal} is masked`);
  assert.equal(masked.customer.email, 'a***@e***.com');
  assert.equal(masked.shippingAddress.country, 'US');
  assert.equal(masked.notes, 'call a***@e***.com before delivery');
  assert.equal(masked.lines[0]!.sku, 'TEE-M');
  assert.equal(masked.targets[0]!.name, 'erp', 'a target name is not personal data');
});

test('operators see personal data; nobody gets a credential', () => {
  for (const mask of [false, true]) {
    const shown = forBrowser(order, mask);
    assert.deepEqual(shown.excerpt, { headers: {}, status: 500 });
  }
  assert.equal(forBrowser(order, false).customer.email, 'ada@example.com');
});
