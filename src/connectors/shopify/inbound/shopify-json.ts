/**
 * Lossless JSON for Shopify bodies. Shopify ids are 64-bit integers written as bare JSON
 * numbers; JSON.parse rounds any integer above 2^53 (820982911946154508 → …500). This parse
 * keeps such integers as their exact decimal text (a string), using the reviver's access to
 * the source text, so an id is never rounded on its way in or when stored and read back.
 */
export function parseShopifyJson(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source !== undefined ? context.source : value,
  );
}

type Untrusted = Record<string, unknown>;

/** The plain object at key, or undefined. */
export function objectAt(value: unknown, key: string): Untrusted | undefined {
  const member = isObject(value) ? value[key] : undefined;
  return isObject(member) ? member : undefined;
}

export function isObject(value: unknown): value is Untrusted {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The array at key (objects only), or []. */
export function arrayAt(value: unknown, key: string): Untrusted[] {
  const member = isObject(value) ? value[key] : undefined;
  return Array.isArray(member) ? member.filter(isObject) : [];
}

/** A non-empty trimmed string at key, or undefined. */
export function textAt(value: unknown, key: string): string | undefined {
  const member = isObject(value) ? value[key] : undefined;
  if (typeof member !== 'string') return undefined;
  const trimmed = member.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** An id at key as its exact decimal text: a safe integer, or a string of digits (already lossless). */
export function idAt(value: unknown, key: string): string | undefined {
  const member = isObject(value) ? value[key] : undefined;
  if (typeof member === 'number' && Number.isSafeInteger(member) && member > 0) return String(member);
  if (typeof member === 'string' && /^\d{1,20}$/.test(member)) return member;
  return undefined;
}

const DECIMAL = /^\d{1,18}(\.\d{1,6})?$/;

/** A non-negative amount at key as a decimal string ("199.00" or 199 → "199"), or undefined. */
export function amountAt(value: unknown, key: string): string | undefined {
  const member = isObject(value) ? value[key] : undefined;
  const text = typeof member === 'number' && Number.isFinite(member) && member >= 0 ? String(member) : typeof member === 'string' ? member.trim() : undefined;
  return text !== undefined && DECIMAL.test(text) ? text : undefined;
}

/** The shop-currency amount of a Shopify money bag (`*_set` in REST, `*Set` in GraphQL). */
export function shopMoney(bag: unknown): string | undefined {
  return amountAt(objectAt(bag, 'shop_money') ?? objectAt(bag, 'shopMoney'), 'amount');
}
