import { normalizeEmail, normalizePhone } from '../../model/contact-points.ts';
import type { CustomerRecordData } from '../../model/customer.ts';
import type { Order } from '../../model/order.ts';

/**
 * What erasure removes (ADR 0039): the personal values of a customer (names, e-mails, phones,
 * street lines, company) and the objects that describe a person in an order (its customer,
 * shipping and billing address). What finance must keep stays: amounts, taxes, lines, dates,
 * ids, currency, and the city, region, postcode and country of each address (tax jurisdiction).
 */

export const ERASED = '[erased]';

/** The e-mail an erased order carries: valid, unique per order, and nobody's. */
export const erasedEmail = (orderId: string) => `erased+${orderId}@erased.invalid`;

/**
 * A customer's personal values, in two kinds. strong: values that single the customer out
 * (e-mails, phones, the full name): a row holding one is about them. weak: values others
 * share (a given name, a street, a recipient's name): replaced only in a row that holds a
 * strong value or names the customer, one of its records or orders, so a neighbour's address
 * or a namesake's first name elsewhere is left alone.
 */
export interface PersonalValues {
  strong: string[];
  weak: string[];
}

const defined = (values: readonly (string | undefined | null)[]) => values.filter((v): v is string => typeof v === 'string');

/** The personal values found in a customer record (any version received). */
export function recordValues(data: Partial<CustomerRecordData> | null | undefined): PersonalValues {
  if (!data) return { strong: [], weak: [] };
  const country = data.addresses?.[0]?.country;
  return {
    strong: defined([
      data.givenName && data.familyName ? `${data.givenName} ${data.familyName}` : undefined,
      ...(data.emails ?? []).flatMap((e) => [e.address, normalizeEmail(e.address)]),
      ...(data.phones ?? []).flatMap((p) => [p, normalizePhone(p, country)]),
      data.externalId?.startsWith('guest:') ? data.externalId.slice('guest:'.length) : undefined,
    ]),
    weak: defined([data.givenName, data.familyName, ...(data.addresses ?? []).flatMap((a) => [a.line1, a.line2])]),
  };
}

/** The personal values an order carries: its customer, and the name, company, street and phone of its addresses. */
export function orderValues(order: Order): PersonalValues {
  const { customer } = order;
  const country = order.shippingAddress.country;
  const addresses = [order.shippingAddress, order.billingAddress].filter((a) => a !== undefined);
  return {
    strong: defined([
      customer.email,
      normalizeEmail(customer.email),
      customer.name,
      customer.phone,
      customer.phone ? normalizePhone(customer.phone, country) : undefined,
      ...addresses.flatMap((a) => [a.phone, a.phone ? normalizePhone(a.phone, a.country) : undefined]),
    ]),
    weak: defined([...customer.name.trim().split(/\s+/), ...addresses.flatMap((a) => [a.name, ...a.name.trim().split(/\s+/), a.company, a.line1, a.line2])]),
  };
}

/** The distinct values worth searching for: at least two characters, the longest first (so a full name goes before its words). */
export function searchable(values: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const value of values) {
    const trimmed = value.trim();
    if (trimmed.length >= 2 && !seen.has(trimmed.toLowerCase())) seen.set(trimmed.toLowerCase(), trimmed);
  }
  return [...seen.values()].sort((a, b) => b.length - a.length);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replaces every whole-word occurrence of the values in any string inside value (keys kept). */
export function replaceValues(values: readonly string[]): (value: unknown) => unknown {
  if (values.length === 0) return (value) => value;
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${values.map(escape).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(pattern, ERASED);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk;
}

// Objects that describe a person, wherever an order was copied: every string in them goes,
// except what finance and tax keep.
const PERSON = /^(customer|shippingAddress|billingAddress|address)$/;
const KEPT_IN_PERSON = /^(country|region|postalCode|city|channelCustomerId|id)$/;

function pseudonymisePerson(person: Record<string, unknown>, orderId: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(person)) {
    if (KEPT_IN_PERSON.test(key) || typeof value !== 'string') out[key] = value;
    else if (/email/i.test(key)) out[key] = erasedEmail(orderId);
    else if (key === 'name' || key === 'line1') out[key] = ERASED;
    // phone, company, line2 and anything else: dropped (optional fields)
  }
  return out;
}

/** The objects describing a person in a copy of one of the orders, pseudonymised (the order's notes dropped). */
export function pseudonymiseOrderCopy(value: unknown, orderId: string): unknown {
  if (Array.isArray(value)) return value.map((item) => pseudonymiseOrderCopy(item, orderId));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (PERSON.test(key) && v && typeof v === 'object' && !Array.isArray(v)) out[key] = pseudonymisePerson(v as Record<string, unknown>, orderId);
    else if (key === 'notes' && typeof v === 'string') continue;
    else out[key] = pseudonymiseOrderCopy(v, orderId);
  }
  return out;
}

/** The order as finance keeps it once its customer is erased. */
export function pseudonymiseOrder(order: Order): Order {
  return pseudonymiseOrderCopy(order, order.id) as Order;
}

/** A source record with no personal data: the system ids and references stay (to ask the systems to erase theirs). */
export function erasedRecordData(data: CustomerRecordData, externalId: string): CustomerRecordData {
  return {
    system: data.system,
    connection: data.connection,
    externalId,
    emails: [],
    phones: [],
    addresses: [],
    references: data.references,
    attributes: {},
    observedAt: data.observedAt,
  };
}

/** A guest's id is their e-mail (guest:<e-mail>): it becomes guest:erased:<record id>. Other system ids stay. */
export function erasedExternalId(externalId: string, recordId: string): string {
  return externalId.startsWith('guest:') || externalId.includes('@') ? `guest:erased:${recordId}` : externalId;
}
