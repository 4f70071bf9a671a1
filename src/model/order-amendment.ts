import { z } from 'zod';

/**
 * A change a channel reported to an order Syncline already has (docs/adr/0023): which parts
 * differ, and each line's quantity before and after. No personal data: the address itself is
 * on the order, the change names only the field.
 */

export const AmendedField = z.enum(['shippingAddress', 'billingAddress', 'contact', 'payments', 'totals', 'notes']).meta({
  id: 'AmendedField',
  description: 'A part of the order that differs: shippingAddress, billingAddress, contact (the customer e-mail, name or phone), payments (what the channel reports paid), totals (shipping, tax or discount), notes.',
});
export type AmendedField = z.infer<typeof AmendedField>;

export const LineChange = z
  .object({
    sku: z.string(),
    channelLineId: z.string().nullable(),
    from: z.number().int().meta({ description: 'Quantity on the order (0: a line the channel added).' }),
    to: z.number().int().meta({ description: 'Quantity in the channel (0: a line the channel removed).' }),
    unitPrice: z.string(),
  })
  .meta({ id: 'LineChange', description: 'One line whose quantity (or price) changed, was added or removed.' });
export type LineChange = z.infer<typeof LineChange>;

export const AmendmentChanges = z
  .object({
    fields: z.array(AmendedField),
    lines: z.array(LineChange),
    paid: z.boolean().meta({ description: 'The channel reports the order paid where it was not.' }),
  })
  .meta({ id: 'AmendmentChanges' });
export type AmendmentChanges = z.infer<typeof AmendmentChanges>;

export const AmendmentStatus = z.enum(['pending', 'unchanged', 'applied', 'held', 'reported', 'rejected', 'superseded']).meta({
  id: 'AmendmentStatus',
  description: 'pending: received, not taken in yet; unchanged: nothing that matters differed; applied: the order was changed; held: waiting for review; reported: after release, not applied; rejected: an operator kept the order as it was; superseded: a newer change came in.',
});
export type AmendmentStatus = z.infer<typeof AmendmentStatus>;

export const OrderAmendmentView = z
  .object({
    id: z.string().meta({ example: 'amd_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    orderId: z.string(),
    channel: z.string(),
    status: AmendmentStatus,
    orderStatus: z.string().meta({ description: 'The order status when the change came in.' }),
    changes: AmendmentChanges,
    code: z.string().nullable().meta({ description: 'Why it was held (order.amendment_stock_short, order.amendment_lines_locked, order.amendment_not_resizable).' }),
    channelUpdatedAt: z.string().nullable(),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedBy: z.string().nullable(),
    note: z.string().nullable(),
  })
  .meta({ id: 'OrderAmendment', description: 'A change the channel reported to an order, and what became of it.' });
export type OrderAmendmentView = z.infer<typeof OrderAmendmentView>;

export const AmendmentDecision = z
  .strictObject({ note: z.string().trim().min(1).max(1000).optional() })
  .meta({ id: 'AmendmentDecision', description: 'An operator applies or rejects a held change; the note is kept with it.' });
