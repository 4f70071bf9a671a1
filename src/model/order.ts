import { z } from 'zod';
import { CountryCode } from './country.ts';
import { CurrencyCode, DecimalAmount, decimalPlaces, isCurrency, minorUnits } from './money.ts';
import { Sku } from './sku.ts';

/** Canonical customer, address and order schemas. Every connector maps to and from these. */

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const ChannelSlug = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a lowercase slug such as "shopify-us"')
  .meta({ id: 'ChannelSlug', example: 'shopify-us' });

/** ISO 8601 timestamp with a zone, from 1970 on; stored and returned in UTC. */
export const Timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a zone, such as 2026-11-22T10:15:00Z' })
  // Year 0000 and the like parse here but PostgreSQL refuses them; no business date predates 1970.
  .refine((value) => Date.parse(value) >= 0, 'must be 1970-01-01T00:00:00Z or later')
  .transform((value) => new Date(value).toISOString())
  .meta({ id: 'Timestamp', example: '2026-11-22T10:15:00Z' });

export const Address = z
  .strictObject({
    name: text(200),
    company: text(200).optional(),
    line1: text(200),
    line2: text(200).optional(),
    city: text(100),
    region: text(100).optional(),
    postalCode: text(20),
    country: CountryCode,
    phone: text(32).optional(),
  })
  .meta({ id: 'Address', description: 'A postal address.' });
export type Address = z.infer<typeof Address>;

export const CustomerRef = z
  .strictObject({
    email: z.email('must be an email address').max(254),
    name: text(200),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{4,32}$/, 'must be a phone number such as "+1 555 0100"')
      .optional(),
    channelCustomerId: text(128).optional(),
  })
  .meta({ id: 'CustomerRef', description: 'The customer who placed an order, as the channel knows them.' });
export type CustomerRef = z.infer<typeof CustomerRef>;

export const OrderLineInput = z
  .strictObject({
    sku: Sku,
    quantity: z
      .number({ message: 'must be a number' })
      .int('must be a whole number')
      .positive('must be greater than zero')
      .max(1_000_000, 'must be at most 1000000'),
    unitPrice: DecimalAmount,
    name: text(200).optional(),
    channelLineId: text(128).optional(),
  })
  .meta({ id: 'OrderLineInput' });

export const PaymentStatus = z.enum(['authorized', 'captured', 'pending']).meta({ id: 'PaymentStatus' });

export const Payment = z
  .strictObject({
    method: text(64),
    amount: DecimalAmount,
    status: PaymentStatus,
    reference: text(128),
  })
  .meta({ id: 'Payment', description: 'A payment the channel took or authorised for the order.' });
export type Payment = z.infer<typeof Payment>;

/** Checks amounts against the currency's minor units (no 19.999 USD). */
function checkCurrencyPrecision(
  order: { currency: string; lines: { unitPrice: string }[]; payments: { amount: string }[] } & Record<string, unknown>,
  ctx: z.RefinementCtx,
) {
  if (!isCurrency(order.currency)) return;
  const places = minorUnits(order.currency);
  const check = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'string' && decimalPlaces(value) > places) {
      ctx.addIssue({ code: 'custom', path, message: `must have at most ${places} decimal places for ${order.currency}` });
    }
  };
  order.lines.forEach((line, i) => check(line.unitPrice, ['lines', i, 'unitPrice']));
  order.payments.forEach((payment, i) => check(payment.amount, ['payments', i, 'amount']));
  for (const field of ['shippingTotal', 'taxTotal', 'discountTotal']) check(order[field], [field]);
}

/** How far in the future a channel's clock may be: placedAt later than now plus this is refused (24 h). */
export const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** What a channel submits to POST /v1/orders. */
export const OrderSubmission = z
  .strictObject({
    channel: ChannelSlug,
    channelOrderId: text(128),
    placedAt: Timestamp.refine((value) => Date.parse(value) <= Date.now() + MAX_CLOCK_SKEW_MS, 'must not be more than 24 hours in the future'),
    currency: CurrencyCode,
    customer: CustomerRef,
    shippingAddress: Address,
    billingAddress: Address.optional(),
    lines: z.array(OrderLineInput).min(1, 'must have at least one line').max(500, 'must have at most 500 lines'),
    payments: z.array(Payment).max(20, 'must have at most 20 payments').default([]),
    shippingTotal: DecimalAmount.optional(),
    taxTotal: DecimalAmount.optional(),
    discountTotal: DecimalAmount.optional(),
    notes: z.string().max(2000).optional(),
    metadata: z.record(z.string().max(64), z.string().max(500)).optional(),
  })
  .superRefine(checkCurrencyPrecision)
  .meta({ id: 'OrderSubmission', description: 'An order as a sales channel submits it.' });
export type OrderSubmission = z.infer<typeof OrderSubmission>;

export const OrderStatus = z
  .enum([
    'received',
    'validated',
    'on_hold',
    'pending_allocation',
    'allocated',
    'released',
    'partially_shipped',
    'shipped',
    'completed',
    'cancelled',
    'payment_failed',
  ])
  .meta({ id: 'OrderStatus' });
export type OrderStatus = z.infer<typeof OrderStatus>;

export const OrderLine = z
  .object({
    lineNumber: z.number().int(),
    sku: z.string(),
    quantity: z.number().int(),
    unitPrice: DecimalAmount,
    lineTotal: DecimalAmount,
    name: z.string().optional(),
    channelLineId: z.string().optional(),
  })
  .meta({ id: 'OrderLine' });
export type OrderLine = z.infer<typeof OrderLine>;

export const OrderTotals = z
  .object({
    subtotal: DecimalAmount,
    shipping: DecimalAmount,
    tax: DecimalAmount,
    discount: DecimalAmount,
    grandTotal: z.string().meta({ description: 'subtotal + shipping + tax - discount' }),
    paid: DecimalAmount.meta({ description: 'Sum of authorised and captured payments.' }),
  })
  .meta({ id: 'OrderTotals' });
export type OrderTotals = z.infer<typeof OrderTotals>;

/** Why a failed flow stopped an order (or, with statusKept, failed after release): the system, the step, the error and the dead letter to replay. */
export const OrderException = z
  .object({
    kind: z.literal('exception'),
    flow: z.string().meta({ example: 'order-placed' }),
    key: z.string().optional().meta({ description: "The flow's business key when it is not the order id (a shipment id)." }),
    step: z.string().nullable().meta({ example: 'erp.post' }),
    system: z.string().meta({ example: 'erp' }),
    code: z.string().meta({ example: 'erp.unknown_product' }),
    retry: z.enum(['transient', 'throttled', 'permanent']),
    message: z.string().meta({ description: 'The error message, without personal data.' }),
    deadLetterId: z.string().meta({ description: 'Replay it (POST /v1/ops/dead-letters/{id}/replay) once the cause is fixed.' }),
    resumeStatus: OrderStatus.meta({ description: 'The status the order returns to when the flow resumes.' }),
    statusKept: z
      .literal(true)
      .optional()
      .meta({ description: 'The order kept its status (a flow after release failed: it stays released or shipped); the hold only reports the exception.' }),
    since: z.string(),
  })
  .meta({ id: 'OrderException' });
export type OrderException = z.infer<typeof OrderException>;

/** Why an order waits: a validation or fraud hold, a backorder, a channel's change held for review, or a flow's exception. */
export const OrderHold = z
  .discriminatedUnion('kind', [
    z.looseObject({ kind: z.literal('validation'), problems: z.array(z.string()) }),
    z.looseObject({ kind: z.literal('fraud'), reasons: z.array(z.looseObject({ code: z.string(), message: z.string() })) }),
    z.looseObject({ kind: z.literal('backorder'), lines: z.array(z.unknown()) }),
    z.looseObject({
      kind: z.literal('amendment'),
      amendmentId: z.string().meta({ description: 'Apply or reject it: POST /v1/orders/{id}/amendments/{amendmentId}/apply or /reject.' }),
      code: z.string(),
      resumeStatus: OrderStatus.meta({ description: 'The status the order returns to once the change is decided.' }),
      lines: z.array(z.unknown()),
    }),
    OrderException,
  ])
  .meta({ id: 'OrderHold' });
export type OrderHold = z.infer<typeof OrderHold>;

/** The canonical order as Syncline stores and returns it. */
export const Order = z
  .object({
    id: z.string().meta({ example: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w' }),
    status: OrderStatus,
    channel: z.string(),
    channelOrderId: z.string(),
    placedAt: z.string(),
    currency: z.string(),
    customer: CustomerRef,
    shippingAddress: Address,
    billingAddress: Address.optional(),
    lines: z.array(OrderLine),
    payments: z.array(Payment),
    totals: OrderTotals,
    notes: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    correlationId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    hold: OrderHold.optional().meta({ description: 'Present while the order is on hold or waiting for stock, or while a flow after release has failed (an exception with statusKept).' }),
  })
  .meta({ id: 'Order', description: 'A canonical order.' });
export type Order = z.infer<typeof Order>;

export const TimelineEntry = z
  .object({
    at: z.string(),
    system: z.string().meta({ example: 'syncline' }),
    action: z.string().meta({ example: 'order.received' }),
    outcome: z.enum(['succeeded', 'failed', 'skipped', 'pending']),
    attempt: z.number().int(),
    durationMs: z.number().int().nullable(),
    correlationId: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'TimelineEntry', description: 'One thing that happened to an order.' });
export type TimelineEntry = z.infer<typeof TimelineEntry>;
