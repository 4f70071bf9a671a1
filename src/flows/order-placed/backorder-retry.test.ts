import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CloudEvent } from '../../model/cloud-event.ts';
import { skusFreedBy } from './order-placed.flow.ts';

const event = (type: string, data: unknown) => ({ specversion: '1.0', id: 'evt_1', type, source: '/syncline/inventory', subject: 's', data }) as unknown as CloudEvent;

test('only stock that comes in or is released frees units for backordered orders', () => {
  // A sale in a store: stock went out; nothing to retry.
  assert.deepEqual(skusFreedBy(event('inventory.adjusted', { sku: 'POS-1', entries: [{ sku: 'POS-1', quantity: -2 }] })), []);
  // A receipt and a return free their SKU.
  assert.deepEqual(skusFreedBy(event('inventory.adjusted', { sku: 'TEE', entries: [{ sku: 'TEE', quantity: 5 }] })), ['TEE']);
  // A transfer: out of one location, into another; the receiving side frees units there.
  assert.deepEqual(skusFreedBy(event('inventory.adjusted', { sku: 'MUG', entries: [{ sku: 'MUG', quantity: -3 }, { sku: 'MUG', quantity: 3 }] })), ['MUG']);
  // A shipment consuming its reservation frees nothing.
  assert.deepEqual(skusFreedBy(event('inventory.adjusted', { reservationId: 'res_1', entries: [{ sku: 'TEE', quantity: -1 }] })), []);
  // A released or lapsed reservation frees its lines.
  assert.deepEqual(skusFreedBy(event('inventory.released', { reservationId: 'res_1', lines: [{ sku: 'TEE', location: 'WH', quantity: 1 }, { sku: 'MUG', location: 'WH', quantity: 2 }] })).sort(), ['MUG', 'TEE']);
});
