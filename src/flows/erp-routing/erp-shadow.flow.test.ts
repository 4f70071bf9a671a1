import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErpSale } from '../../connectors/kit/contracts.ts';
import { compareSales } from './erp-shadow.flow.ts';

const sale = (over: Partial<ErpSale> = {}): ErpSale => ({
  reference: 'ord_x',
  erpId: 1,
  number: 'SO1',
  state: 'processing',
  shipmentState: 'waiting',
  invoiceState: 'none',
  untaxedAmount: '40.00',
  taxAmount: '4.00',
  totalAmount: '44.00',
  currency: 'USD',
  shipmentIds: [],
  returnShipmentIds: [],
  invoiceIds: [],
  ...over,
});

test('amounts are compared as exact decimals: 44.0 and 44.00 match; a tax difference is named with both values', () => {
  assert.deepEqual(compareSales(sale(), sale({ totalAmount: '44.0', untaxedAmount: '40', erpId: 9, state: 'open' })), []);
  assert.deepEqual(compareSales(sale(), sale({ taxAmount: '8.00', totalAmount: '48.00' })), [
    { field: 'taxAmount', primary: '4.00', shadow: '8.00' },
    { field: 'totalAmount', primary: '44.00', shadow: '48.00' },
  ]);
  assert.deepEqual(compareSales(sale(), sale({ currency: 'EUR', untaxedAmount: '40.01' })), [
    { field: 'untaxedAmount', primary: '40.00', shadow: '40.01' },
    { field: 'currency', primary: 'USD', shadow: 'EUR' },
  ]);
});
