import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErpSale, ErpSaleLine } from '../../connectors/kit/contracts.ts';
import { compareCustomers, compareDetails, compareLines, compareSales } from './erp-shadow.flow.ts';

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

const line = (over: Partial<ErpSaleLine> = {}): ErpSaleLine => ({ sku: 'TEE-M', quantity: '2', unitPrice: '18.1727', amount: '36.35', taxPercent: '10.00', ...over });

test('lines are paired by SKU and compared on quantity, net unit price, amount and tax percentage; a line only one ERP has is named', () => {
  assert.deepEqual(compareLines([line()], [line({ quantity: '2.0', unitPrice: '18.17270', taxPercent: '10' })]), []);
  assert.deepEqual(compareLines([line(), line({ sku: 'SHIP', quantity: '1', unitPrice: '4.5455', amount: '4.55' })], [line({ unitPrice: '16.6583', amount: '33.32', taxPercent: '20.00' })]), [
    { field: 'lines[TEE-M].unitPrice', primary: '18.1727', shadow: '16.6583' },
    { field: 'lines[TEE-M].amount', primary: '36.35', shadow: '33.32' },
    { field: 'lines[TEE-M].taxPercent', primary: '10.00', shadow: '20.00' },
    { field: 'lines[SHIP]', primary: line({ sku: 'SHIP', quantity: '1', unitPrice: '4.5455', amount: '4.55' }), shadow: null },
  ]);
  // A SKU on two lines: the second pair is named with its occurrence.
  assert.deepEqual(compareLines([line(), line({ quantity: '1' })], [line(), line({ quantity: '3' })]), [{ field: 'lines[TEE-M#2].quantity', primary: '1', shadow: '3' }]);
  assert.deepEqual(compareLines(null, [line()]), [], 'an ERP that no longer shows its lines is not compared');
});

test('customers: the same person by e-mail (case aside) and name; the ERPs\' own ids are not compared', () => {
  const ada = { erpId: '12', code: 'C12', name: 'Ada Lovelace', email: 'ada@example.com' };
  assert.deepEqual(compareCustomers(ada, { erpId: 'guid', code: 'C0001', name: 'Ada Lovelace ', email: 'ADA@example.com' }), []);
  assert.deepEqual(compareCustomers(ada, { ...ada, name: 'A. Lovelace (imported)' }), [{ field: 'customer.name', primary: 'Ada Lovelace', shadow: 'A. Lovelace (imported)' }]);
  assert.deepEqual(compareCustomers(ada, null), [{ field: 'customer', primary: 'found', shadow: null }]);
  assert.deepEqual(compareDetails({ sale: sale(), customer: ada, lines: [line()] }, { sale: sale({ taxAmount: '4.10' }), customer: ada, lines: [line()] }).map((d) => d.field), ['taxAmount']);
});
