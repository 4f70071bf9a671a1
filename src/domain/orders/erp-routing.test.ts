import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseErp } from './erp-routing.ts';

const order = (over: Partial<{ channel: string; country: string; unit: string; skus: string[] }> = {}) => ({
  channel: over.channel ?? 'web',
  shippingAddress: { country: over.country ?? 'DE' } as never,
  metadata: over.unit ? { businessUnit: over.unit } : undefined,
  lines: (over.skus ?? ['TEE-M']).map((sku) => ({ sku }) as never),
});

const routing = {
  rules: [
    { when: { businessUnit: 'outdoor' }, erp: 'cloud' },
    { when: { channel: 'pos', shipToCountry: 'fr' }, erp: 'cloud', shadow: 'legacy' },
    { when: { skuPrefix: 'MUG' }, erp: 'legacy', shadow: 'cloud' },
  ],
  default: 'legacy',
};

test('the first matching rule wins; every condition of a rule must hold; the rest take the default', () => {
  assert.deepEqual(chooseErp(order({ unit: 'outdoor', skus: ['MUG'] }), routing), { erp: 'cloud', shadow: null, rule: 0 });
  assert.deepEqual(chooseErp(order({ channel: 'pos', country: 'FR' }), routing), { erp: 'cloud', shadow: 'legacy', rule: 1 });
  assert.deepEqual(chooseErp(order({ channel: 'pos', country: 'DE' }), routing), { erp: 'legacy', shadow: null, rule: null });
  assert.deepEqual(chooseErp(order({ skus: ['TEE-M', 'MUG-RED'] }), routing), { erp: 'legacy', shadow: 'cloud', rule: 2 });
  assert.deepEqual(chooseErp(order({ unit: 'indoor' }), routing), { erp: 'legacy', shadow: null, rule: null });
});
