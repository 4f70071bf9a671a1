import { z } from 'zod';

/**
 * Money is a decimal string and an ISO 4217 currency. Arithmetic is done on
 * scaled BigInts so that no amount ever passes through a binary float.
 */

const DECIMAL = /^-?(0|[1-9]\d{0,17})(\.\d{1,6})?$/;
const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** ISO 4217 currency code known to the runtime (USD, EUR, JPY ...). */
export const CurrencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code in capitals')
  .refine((code) => isCurrency(code), 'is not an ISO 4217 currency code')
  .meta({ id: 'CurrencyCode', example: 'USD' });

/** A non-negative decimal amount as a string, e.g. "19.99". */
export const DecimalAmount = z
  .string()
  .regex(DECIMAL, 'must be a decimal string such as "19.99"')
  .refine((value) => !value.startsWith('-'), 'must not be negative')
  .meta({ id: 'DecimalAmount', example: '19.99' });

export const Money = z
  .strictObject({ amount: DecimalAmount, currency: CurrencyCode })
  .meta({ id: 'Money', description: 'An exact amount in a currency.' });
export type Money = z.infer<typeof Money>;

const minorUnitsByCurrency = new Map<string, number>();

/** True when the code is an ISO 4217 currency known to the runtime. */
export function isCurrency(code: string): boolean {
  return KNOWN_CURRENCIES.has(code);
}

/** Digits after the decimal point for a currency (2 for USD, 0 for JPY, 3 for KWD). */
export function minorUnits(currency: string): number {
  // Building an Intl.NumberFormat is costly; the answer never changes for a currency.
  let digits = minorUnitsByCurrency.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorUnitsByCurrency.set(currency, digits);
  }
  return digits;
}

/** Decimal places in a decimal string. */
export function decimalPlaces(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

/** Parses a decimal string into an integer of the given scale (fails if it has more places). */
export function toScaled(value: string, scale: number): bigint {
  const negative = value.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? value.slice(1) : value).split('.');
  if (fraction.length > scale) throw new RangeError(`${value} has more than ${scale} decimal places`);
  const scaled = BigInt(whole + fraction.padEnd(scale, '0'));
  return negative ? -scaled : scaled;
}

/** Formats a scaled integer back into a decimal string with exactly `scale` places. */
export function fromScaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
