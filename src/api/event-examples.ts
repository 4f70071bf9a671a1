import type { EventType } from './asyncapi.ts';
import { movementReceiptExample, orderExample, reservationExample } from './routes/examples.ts';

/**
 * An example `data` for every event type, for the AsyncAPI document. The contract
 * test parses each one with its payload schema, so an example that drifts fails.
 */

const orderId = orderExample.id;
const since = '2026-11-22T10:17:41.502Z';
const shipmentLines = [
  { lineNumber: 1, sku: 'TEE-M-BLK', quantity: 2 },
  { lineNumber: 2, sku: 'MUG', quantity: 1 },
];
const exception = {
  flow: 'order-placed',
  step: 'erp.post',
  system: 'erp',
  code: 'erp.unknown_product',
  retry: 'permanent',
  message: 'The ERP has no product MUG',
  deadLetterId: 'dlq_01jd5q8x7m2v3k4n5p6r7s8tb1',
  since,
};
const heldLine = reservationExample.lines[0]!;

/** Example payloads by event type. */
export const EVENT_DATA_EXAMPLES: Record<EventType, unknown> = {
  'order.created': orderExample,
  'order.on_hold': { orderId, reason: 'exception', exception: { ...exception, resumeStatus: 'allocated' } },
  'order.exception': {
    orderId,
    exception: { ...exception, flow: 'invoice', step: 'erp.invoice', code: 'erp.unavailable', retry: 'transient', message: 'The ERP did not answer', status: 'shipped', shownOnOrder: true },
  },
  'order.backordered': { orderId, lines: [{ lineNumber: 2, sku: 'MUG', requested: 1, available: 0 }] },
  'order.released': { orderId, fulfilments: [{ location: 'WH-EAST', id: 'ful_5521' }] },
  'order.partially_shipped': { orderId, shipmentId: 'shp_01jd5q8x7m2v3k4n5p6r7s8tb2', location: 'WH-EAST', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: shipmentLines.slice(0, 1) },
  'order.shipped': { orderId, shipmentId: 'shp_01jd5q8x7m2v3k4n5p6r7s8tb3', location: 'WH-EAST', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: shipmentLines },
  'order.invoiced': { orderId, invoices: [{ erpId: 812, number: 'INV/2026/0412', state: 'posted', totalAmount: '48.48', currency: 'USD', invoiceDate: '2026-11-23' }] },
  'order.completed': { orderId },
  'order.cancelled': {
    orderId,
    cancellationId: 'can_01jd5q8x7m2v3k4n5p6r7s8tb4',
    compensated: [
      { step: 'payment.authorize', detail: { paymentId: 'pay_7f3k', voided: true } },
      { step: 'inventory.allocate', detail: { released: [reservationExample.id] } },
    ],
  },
  'order.payment_failed': { orderId, at: 'authorize', code: 'card_declined' },
  'order.returned': {
    orderId,
    returnId: 'ret_01jd5q8x7m2v3k4n5p6r7s8tb5',
    refundId: 're_3k9d',
    refundAmount: '8.50',
    creditNote: { erpId: 815, number: 'RINV/2026/0031', state: 'posted', totalAmount: '-8.50' },
    location: 'STORE-NYC',
    lines: [{ lineNumber: 2, sku: 'MUG', quantity: 1, condition: 'resellable', unitPrice: '8.50' }],
  },
  'order.channel_refunded': {
    orderId,
    channel: 'shopify-us',
    channelRefundId: '509562969',
    amount: '41.94',
    currency: 'USD',
    lines: [{ channelLineId: '466157049', quantity: 1, restock: true }],
    note: 'wrong size',
  },
  'order.amended': {
    orderId,
    amendmentId: 'amd_01jd5q8x7m2v3k4n5p6r7s8tb6',
    channel: 'shopify-us',
    changes: { fields: ['shippingAddress'], lines: [{ sku: 'MUG', channelLineId: '466157049', from: 1, to: 2, unitPrice: '8.50' }], paid: false },
    by: 'channel:shopify-us',
    resumed: false,
  },
  'order.channel_update_after_release': {
    orderId,
    amendmentId: 'amd_01jd5q8x7m2v3k4n5p6r7s8tb7',
    channel: 'shopify-us',
    status: 'released',
    changes: { fields: ['shippingAddress'], lines: [], paid: false },
  },
  'inventory.adjusted': { ...movementReceiptExample, sku: 'TEE-M-BLK' },
  'inventory.reserved': reservationExample,
  'inventory.released': {
    reservationId: reservationExample.id,
    reference: reservationExample.reference,
    channel: reservationExample.channel,
    reason: 'released',
    lines: [{ sku: heldLine.sku, location: heldLine.location, quantity: heldLine.quantity }],
  },
  'inventory.availability.changed': { sku: 'TEE-M-BLK', channel: 'shopify-us', available: 93, previousAvailable: 95, onHand: 100, reserved: 5 },
  'subscription.paused': { subscriptionId: 'sub_01jd5q8x7m2v3k4n5p6r7s8t9y', reason: 'every delivery failed for longer than 259200 s' },
  'subscription.disabled': { subscriptionId: 'sub_01jd5q8x7m2v3k4n5p6r7s8t9y', reason: 'the subscriber answered 410 Gone' },
  'customer.created': { customerId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1', recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2', system: 'channel', connection: 'shopify-us' },
  'customer.merged': {
    mergeId: 'cmg_01jd5q8x7m2v3k4n5p6r7s8tc3',
    survivorId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1',
    mergedId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc4',
    recordIds: ['csr_01jd5q8x7m2v3k4n5p6r7s8tc5'],
    decision: 'automatic',
    rule: 'score',
    score: 0.9526,
    evidence: [
      { kind: 'given name', detail: 'nickname (bill / william)', points: 1.8 },
      { kind: 'family name', detail: 'same (lovelace / lovelace)', points: 2 },
      { kind: 'email', detail: 'same address', points: 4 },
    ],
  },
  'customer.unmerged': {
    mergeId: 'cmg_01jd5q8x7m2v3k4n5p6r7s8tc3',
    survivorId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1',
    restoredId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc4',
    recordIds: ['csr_01jd5q8x7m2v3k4n5p6r7s8tc5'],
  },
  'customer.consent_changed': {
    consentId: 'cns_01jd5q8x7m2v3k4n5p6r7s8tc6',
    customerId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1',
    purpose: 'email_marketing',
    channel: 'email',
    status: 'withdrawn',
    source: { system: 'channel', connection: 'shopify-us' },
    at: '2026-11-22T10:14:58.000Z',
    proof: 'unsubscribe link in order confirmation e-mail',
  },
  'customer.erasure_requested': {
    requestId: 'dsr_01jd5q8x7m2v3k4n5p6r7s8tc7',
    customerId: 'cus_01jd5q8x7m2v3k4n5p6r7s8tc1',
    records: [
      { recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc2', system: 'crm', connection: 'crm', sourceId: '1001' },
      { recordId: 'csr_01jd5q8x7m2v3k4n5p6r7s8tc5', system: 'erp', connection: 'erp', sourceId: '7' },
    ],
  },
};
