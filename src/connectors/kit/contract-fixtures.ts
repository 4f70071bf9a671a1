import type { Order, OrderLine } from '../../model/order.ts';
import { fromScaled, toScaled } from '../../model/money.ts';
import { newId } from '../../model/ids.ts';
import { SynclineError } from '../../domain/errors.ts';

/**
 * Canonical orders for connector contract tests and rehearsals. Totals are
 * computed exactly from the lines, as the order builder does.
 */
export function canonicalOrder(
  input: {
    id?: string;
    email?: string;
    lines?: { sku: string; quantity: number; unitPrice: string }[];
    shipping?: string;
    discount?: string;
    currency?: string;
    notes?: string;
    country?: string;
  } = {},
): Order {
  const lines: OrderLine[] = (input.lines ?? [{ sku: 'SKU-RED', quantity: 2, unitPrice: '25.00' }]).map((line, index) => ({
    lineNumber: index + 1,
    sku: line.sku,
    quantity: line.quantity,
    unitPrice: line.unitPrice,
    lineTotal: fromScaled(toScaled(line.unitPrice, 2) * BigInt(line.quantity), 2),
    name: `Product ${line.sku}`,
  }));
  const subtotal = lines.reduce((sum, l) => sum + toScaled(l.lineTotal, 2), 0n);
  const shipping = input.shipping ?? '0.00';
  const discount = input.discount ?? '0.00';
  const grand = subtotal + toScaled(shipping, 2) - toScaled(discount, 2);
  const now = new Date().toISOString();
  const id = input.id ?? newId('order');
  return {
    id,
    status: 'allocated',
    channel: 'webshop',
    channelOrderId: `WEB-${id.slice(-8)}`,
    placedAt: now,
    currency: input.currency ?? 'USD',
    customer: { email: input.email ?? 'ada@example.com', name: 'Ada Lovelace' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'Springfield', postalCode: '12345', country: input.country ?? 'US' },
    lines,
    payments: [{ method: 'card', amount: fromScaled(grand, 2), status: 'authorized', reference: `pay-${id.slice(-8)}` }],
    totals: {
      subtotal: fromScaled(subtotal, 2),
      shipping,
      tax: '0.00',
      discount,
      grandTotal: fromScaled(grand, 2),
      paid: fromScaled(grand, 2),
    },
    ...(input.notes ? { notes: input.notes } : {}),
    correlationId: `corr-${id.slice(-8)}`,
    createdAt: now,
    updatedAt: now,
  };
}

/** Awaits a call that must fail with a SynclineError and returns the error, for assertions on its code and class. */
export async function expectSynclineError(promise: Promise<unknown>): Promise<SynclineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SynclineError) return error;
    throw new Error(`expected a SynclineError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected the call to fail with a SynclineError, but it succeeded');
}
