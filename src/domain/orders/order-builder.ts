import { newId } from '../../model/ids.ts';
import { fromScaled, minorUnits, toScaled } from '../../model/money.ts';
import type { Order, OrderLine, OrderSubmission, OrderTotals } from '../../model/order.ts';

/** Computes line totals and order totals exactly, in the currency's minor units. */
export function computeTotals(submission: OrderSubmission): { lines: OrderLine[]; totals: OrderTotals } {
  const scale = minorUnits(submission.currency);
  const amount = (value: string | undefined) => toScaled(value ?? '0', scale);
  let subtotal = 0n;
  const lines = submission.lines.map((line, index): OrderLine => {
    const unitPrice = amount(line.unitPrice);
    const lineTotal = unitPrice * BigInt(line.quantity);
    subtotal += lineTotal;
    return {
      lineNumber: index + 1,
      sku: line.sku,
      quantity: line.quantity,
      unitPrice: fromScaled(unitPrice, scale),
      lineTotal: fromScaled(lineTotal, scale),
      ...(line.name === undefined ? {} : { name: line.name }),
      ...(line.channelLineId === undefined ? {} : { channelLineId: line.channelLineId }),
    };
  });
  const shipping = amount(submission.shippingTotal);
  const tax = amount(submission.taxTotal);
  const discount = amount(submission.discountTotal);
  const paid = submission.payments
    .filter((payment) => payment.status !== 'pending')
    .reduce((sum, payment) => sum + amount(payment.amount), 0n);
  return {
    lines,
    totals: {
      subtotal: fromScaled(subtotal, scale),
      shipping: fromScaled(shipping, scale),
      tax: fromScaled(tax, scale),
      discount: fromScaled(discount, scale),
      grandTotal: fromScaled(subtotal + shipping + tax - discount, scale),
      paid: fromScaled(paid, scale),
    },
  };
}

/** Turns a validated submission into a new canonical order in status `received`. */
export function buildOrder(submission: OrderSubmission, context: { correlationId: string; now: Date }): Order {
  const { lines, totals } = computeTotals(submission);
  const now = context.now.toISOString();
  return {
    id: newId('order'),
    status: 'received',
    channel: submission.channel,
    channelOrderId: submission.channelOrderId,
    placedAt: submission.placedAt,
    currency: submission.currency,
    customer: submission.customer,
    shippingAddress: submission.shippingAddress,
    ...(submission.billingAddress ? { billingAddress: submission.billingAddress } : {}),
    lines,
    payments: submission.payments,
    totals,
    ...(submission.notes === undefined ? {} : { notes: submission.notes }),
    ...(submission.metadata === undefined ? {} : { metadata: submission.metadata }),
    correlationId: context.correlationId,
    createdAt: now,
    updatedAt: now,
  };
}
