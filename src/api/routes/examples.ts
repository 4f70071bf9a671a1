/**
 * Example requests and responses for the OpenAPI document, shared by the routes
 * that use them. The contract test lints the document with examples checked
 * against their schemas, so an example that drifts from its schema fails.
 */

const at = '2026-11-22T10:15:02.120Z';
const correlationId = '01JD5Q8X7M2V3K4N5P6R7S8T9W';
const orderId = 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w';

export const submissionExample = {
  channel: 'shopify-us',
  channelOrderId: 'SO-1001',
  placedAt: '2026-11-22T10:15:00Z',
  currency: 'USD',
  customer: { email: 'ada@example.com', name: 'Ada Lovelace', phone: '+1 555 0100' },
  shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' },
  lines: [
    { sku: 'TEE-M-BLK', quantity: 2, unitPrice: '19.99' },
    { sku: 'MUG', quantity: 1, unitPrice: '8.50' },
  ],
  payments: [{ method: 'card', amount: '48.48', status: 'authorized', reference: 'pi_123' }],
};

export const orderExample = {
  id: orderId,
  status: 'received',
  channel: 'shopify-us',
  channelOrderId: 'SO-1001',
  placedAt: '2026-11-22T10:15:00.000Z',
  currency: 'USD',
  customer: submissionExample.customer,
  shippingAddress: submissionExample.shippingAddress,
  lines: [
    { lineNumber: 1, sku: 'TEE-M-BLK', quantity: 2, unitPrice: '19.99', lineTotal: '39.98' },
    { lineNumber: 2, sku: 'MUG', quantity: 1, unitPrice: '8.50', lineTotal: '8.50' },
  ],
  payments: submissionExample.payments,
  totals: { subtotal: '48.48', shipping: '0.00', tax: '0.00', discount: '0.00', grandTotal: '48.48', paid: '48.48' },
  correlationId,
  createdAt: at,
  updatedAt: at,
};

export const timelineExample = {
  orderId,
  entries: [
    { at, system: 'syncline', action: 'order.received', outcome: 'succeeded', attempt: 1, durationMs: null, correlationId, detail: null },
    { at: '2026-11-22T10:15:02.480Z', system: 'payment', action: 'payment.authorize', outcome: 'succeeded', attempt: 1, durationMs: 84, correlationId, detail: { paymentId: 'pay_7f3k' } },
  ],
};

export const eventExample = {
  specversion: '1.0',
  id: 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x',
  source: '/syncline/orders',
  type: 'order.created',
  subject: orderId,
  time: at,
  datacontenttype: 'application/json',
  correlationid: correlationId,
  data: orderExample,
};

export const locationExample = { id: 'loc_01jd5q8x7m2v3k4n5p6r7s8t9y', code: 'WH-EAST', name: 'East warehouse', kind: 'warehouse', createdAt: at };

const ledgerEntry = {
  id: '1042',
  requestId: 'mvr_01jd5q8x7m2v3k4n5p6r7s8t9z',
  type: 'receipt',
  sku: 'TEE-M-BLK',
  location: 'WH-EAST',
  quantity: 120,
  counted: null,
  reason: 'PO 4471',
  reference: 'PO-4471',
  reservationId: null,
  createdAt: at,
};

export const movementRequestExample = {
  movements: [
    { type: 'receipt', sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 120, reason: 'PO 4471', reference: 'PO-4471' },
    { type: 'transfer', sku: 'TEE-M-BLK', location: 'WH-EAST', toLocation: 'STORE-NYC', quantity: 20 },
  ],
};

export const movementReceiptExample = {
  requestId: ledgerEntry.requestId,
  entries: [ledgerEntry],
  balances: [{ sku: 'TEE-M-BLK', location: 'WH-EAST', onHand: 120, reserved: 0 }],
};

export const ledgerPageExample = { data: [ledgerEntry], nextAfter: null };

export const availabilityExample = {
  sku: 'TEE-M-BLK',
  channel: 'shopify-us',
  location: null,
  available: 95,
  onHand: 100,
  reserved: 3,
  safetyStock: 2,
  locations: [{ location: 'WH-EAST', locationId: locationExample.id, kind: 'warehouse', onHand: 100, reserved: 3, safetyStock: 2, available: 95, included: true }],
  explanation: {
    locations: ['WH-EAST'],
    excludedLocations: [],
    deductions: { reserved: 3, locationSafetyStock: 2, skuSafetyStock: 0 },
    pool: 95,
    allocation: { rule: { mode: 'shared' }, source: 'default', sellableBase: null, allocated: null, channelReserved: 3, remaining: null },
    steps: ['on hand 100 at WH-EAST', 'minus 3 reserved and 2 safety stock: pool 95', 'shared allocation: 95 available'],
  },
};

export const reservationRequestExample = { reference: orderId, channel: 'shopify-us', lines: [{ sku: 'TEE-M-BLK', quantity: 2 }] };

export const reservationExample = {
  id: 'res_01jd5q8x7m2v3k4n5p6r7s8ta0',
  reference: orderId,
  channel: 'shopify-us',
  status: 'active',
  expiresAt: null,
  createdAt: at,
  closedAt: null,
  lines: [{ lineNumber: 1, sku: 'TEE-M-BLK', quantity: 2, location: 'WH-EAST', allocations: [{ location: 'WH-EAST', quantity: 2, open: 2, consumed: 0 }] }],
};

export const consumeReceiptExample = {
  reservation: { ...reservationExample, status: 'consumed', closedAt: at, lines: [{ ...reservationExample.lines[0]!, allocations: [{ location: 'WH-EAST', quantity: 2, open: 0, consumed: 2 }] }] },
  entries: [{ ...ledgerEntry, id: '1043', type: 'sale', quantity: -2, reason: null, reference: 'SHP-88', reservationId: reservationExample.id }],
};

export const policySetExample = {
  safetyStock: [{ sku: 'TEE-M-BLK', location: null, quantity: 2 }],
  channels: [{ channel: 'shopify-us', allocation: { mode: 'percentage', percent: 60 }, excludedLocations: ['STORE-NYC'], skuAllocations: [{ sku: 'MUG', allocation: { mode: 'cap', quantity: 10 } }] }],
};

export const snapshotRequestExample = {
  source: 'erp',
  takenAt: '2026-11-22T06:00:00Z',
  complete: false,
  apply: false,
  lines: [{ sku: 'TEE-M-BLK', location: 'WH-EAST', quantity: 118 }],
};

export const driftReportExample = {
  id: 'snp_01jd5q8x7m2v3k4n5p6r7s8ta1',
  source: 'erp',
  takenAt: '2026-11-22T06:00:00.000Z',
  createdAt: at,
  appliedAt: null,
  complete: false,
  summary: { lines: 1, drifting: 1, unitsOver: 0, unitsShort: 2 },
  lines: [{ sku: 'TEE-M-BLK', location: 'WH-EAST', ours: 120, theirs: 118, difference: -2, openReservations: 0 }],
};

export const productExample = {
  sku: 'SKU-RED',
  name: 'Red mug',
  unitOfMeasure: 'u',
  barcodes: ['4006381333931'],
  taxCategory: 'Retail goods',
  listPrice: '25.00',
  active: true,
  connectionIds: { erp: '2' },
  updatedAt: at,
};
