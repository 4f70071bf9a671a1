import { minorUnits, toScaled } from '../../model/money.ts';
import type { Order, OrderLine, OrderStatus, OrderSubmission } from '../../model/order.ts';
import type { AmendedField, AmendmentChanges, LineChange } from '../../model/order-amendment.ts';
import { AMENDMENT_HOLD_CODES, type AmendmentHoldCode } from '../errors.ts';
import { computeTotals } from './order-builder.ts';
import { BEFORE_RELEASE, canTransition } from './order-state.ts';

/**
 * Order amendments (docs/adr/0023): a channel sends a newer version of an order Syncline
 * already has. This module compares the two and decides, from the order's status, what
 * happens; order-amendment.service.ts carries it out.
 *
 *   before release, back office not begun: contact, addresses and notes are applied at once;
 *     lines, totals and payments are applied when the reservation can follow (only the
 *     difference must be free), else held for review with the proposal kept;
 *   back office begun (the ERP has the order) but not released: held for review;
 *   released or later: nothing is applied; the change is reported.
 */

/** What differs between the order and the channel's version of it. */
export function diffOrder(order: Order, submission: OrderSubmission): AmendmentChanges {
  const fields: AmendedField[] = [];
  if (!same(order.shippingAddress, submission.shippingAddress)) fields.push('shippingAddress');
  if (!same(order.billingAddress ?? null, submission.billingAddress ?? null)) fields.push('billingAddress');
  const contact = (c: Order['customer']) => ({ email: c.email.toLowerCase(), name: c.name, phone: c.phone ?? null });
  if (!same(contact(order.customer), contact(submission.customer))) fields.push('contact');
  if (!same(order.payments.map(paymentKey), submission.payments.map(paymentKey))) fields.push('payments');
  const { totals } = computeTotals(submission);
  const scale = minorUnits(order.currency);
  const money = (v: string) => toScaled(v, scale);
  if (money(totals.shipping) !== money(order.totals.shipping) || money(totals.tax) !== money(order.totals.tax) || money(totals.discount) !== money(order.totals.discount)) fields.push('totals');
  if ((order.notes ?? null) !== (submission.notes ?? null)) fields.push('notes');
  return { fields, lines: lineChanges(order, submission), paid: !isPaid(order.payments, order.totals.grandTotal, scale) && isPaid(submission.payments, totals.grandTotal, scale) };
}

/** True when nothing that matters differs. */
export const isEmpty = (changes: AmendmentChanges) => changes.fields.length === 0 && changes.lines.length === 0;

/** Lines whose quantity or price differs, added or removed; matched by the channel's line id, else by SKU. */
export function lineChanges(order: Order, submission: OrderSubmission): LineChange[] {
  const scale = minorUnits(order.currency);
  const matched = matchLines(order.lines, submission.lines);
  const changes: LineChange[] = [];
  for (const { before, after } of matched) {
    const from = before?.quantity ?? 0;
    const to = after?.quantity ?? 0;
    const price = after?.unitPrice ?? before!.unitPrice;
    if (from === to && before && after && toScaled(before.unitPrice, scale) === toScaled(after.unitPrice, scale)) continue;
    changes.push({ sku: (after ?? before)!.sku, channelLineId: (after?.channelLineId ?? before?.channelLineId) ?? null, from, to, unitPrice: price });
  }
  return changes;
}

type SubmittedLine = OrderSubmission['lines'][number];

/** Pairs each order line with the channel's line: by channel line id when both have one, else by SKU, in order. */
function matchLines(lines: readonly OrderLine[], submitted: readonly SubmittedLine[]): { before?: OrderLine; after?: SubmittedLine }[] {
  const left = [...submitted];
  const pairs: { before?: OrderLine; after?: SubmittedLine }[] = [];
  for (const line of lines) {
    let i = line.channelLineId ? left.findIndex((s) => s.channelLineId === line.channelLineId) : -1;
    if (i < 0) i = left.findIndex((s) => s.sku === line.sku && (!s.channelLineId || !line.channelLineId));
    if (i < 0) {
      pairs.push({ before: line });
      continue;
    }
    pairs.push({ before: line, after: left[i]! });
    left.splice(i, 1);
  }
  for (const after of left) pairs.push({ after });
  return pairs;
}

const paymentKey = (p: Order['payments'][number]) => [p.method, p.amount, p.status, p.reference].join('|');
const same = (a: unknown, b: unknown) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
const sorted = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)])) : v;

/** True when the payments the channel reports cover the total and none is still pending. */
function isPaid(payments: Order['payments'], grandTotal: string, scale: number): boolean {
  if (payments.length === 0 || payments.some((p) => p.status === 'pending')) return false;
  return payments.reduce((sum, p) => sum + toScaled(p.amount, scale), 0n) >= toScaled(grandTotal, scale);
}

/** What to do with a change. */
export type AmendmentPlan =
  | { kind: 'unchanged' }
  /** Released or later: nothing is applied, the change is reported. */
  | { kind: 'report' }
  /** Apply it; `resize`: the order holds stock and line quantities change, so the hold must follow first. */
  | { kind: 'apply'; lines: boolean; resize: boolean }
  /** Apply the contact and address part (when `contact`), hold the rest for review. */
  | { kind: 'hold'; code: AmendmentHoldCode; contact: boolean };

/** The facts about the order the plan depends on, beside its status. */
export interface AmendmentFacts {
  status: OrderStatus;
  /** The back-office part of the order-placed flow has begun (the ERP may have the order). */
  backOfficeStarted: boolean;
  /** The order holds reserved stock. */
  holdsStock: boolean;
}

/** Fields that apply on their own, whatever happens to the lines. */
const CONTACT_FIELDS: ReadonlySet<AmendedField> = new Set(['shippingAddress', 'billingAddress', 'contact', 'notes']);

/** True when the change touches lines, totals or payments (what moves money or stock). */
export const touchesLines = (changes: AmendmentChanges) => changes.lines.length > 0 || changes.fields.some((f) => !CONTACT_FIELDS.has(f));

/** Decides what happens to a change (the policy of docs/adr/0023). */
export function planAmendment(changes: AmendmentChanges, facts: AmendmentFacts): AmendmentPlan {
  if (isEmpty(changes)) return { kind: 'unchanged' };
  if (!BEFORE_RELEASE.has(facts.status)) return { kind: 'report' };
  if (facts.backOfficeStarted) return { kind: 'hold', code: AMENDMENT_HOLD_CODES.linesLocked, contact: false };
  const lines = touchesLines(changes);
  const resize = facts.holdsStock && changes.lines.some((l) => l.from !== l.to);
  return { kind: 'apply', lines, resize };
}

/** The status an order goes to when a change is held (on_hold), or undefined when it stays where it is (already on hold). */
export function holdStatus(status: OrderStatus): OrderStatus | undefined {
  return status !== 'on_hold' && canTransition(status, 'on_hold') ? 'on_hold' : undefined;
}

/**
 * The order with the channel's version applied: contact, addresses and notes always; lines
 * (matched lines keep their numbers, new ones come after), payments and totals when `lines`.
 */
export function amendOrder(order: Order, submission: OrderSubmission, options: { lines: boolean; now: Date }): Order {
  const contact: Order = {
    ...order,
    customer: submission.customer,
    shippingAddress: submission.shippingAddress,
    ...(submission.billingAddress ? { billingAddress: submission.billingAddress } : {}),
    ...(submission.notes === undefined ? {} : { notes: submission.notes }),
    updatedAt: options.now.toISOString(),
  };
  if (!submission.billingAddress) delete contact.billingAddress;
  if (submission.notes === undefined) delete contact.notes;
  if (!options.lines) return contact;
  const { lines, totals } = computeTotals(submission);
  const numbers = new Map<SubmittedLine, number>();
  for (const pair of matchLines(order.lines, submission.lines)) if (pair.before && pair.after) numbers.set(pair.after, pair.before.lineNumber);
  let next = Math.max(0, ...order.lines.map((l) => l.lineNumber));
  const numbered = submission.lines.map((s, i) => ({ ...lines[i]!, lineNumber: numbers.get(s) ?? ++next }));
  return {
    ...contact,
    lines: numbered,
    payments: submission.payments,
    totals,
    ...(submission.metadata === undefined ? {} : { metadata: submission.metadata }),
  };
}
