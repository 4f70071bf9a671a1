import { z } from 'zod';

/**
 * ISO 3166-1 alpha-2 country codes, checked against the CLDR data that ships
 * with Node (Intl), so the list stays current without a hand-typed copy.
 * CLDR also names regions that are not officially assigned ISO 3166-1 codes:
 * deprecated aliases (SU, UK, ...) are caught by canonicalisation (SU -> RU), and
 * the rest are the short list below (user-assigned X*, macro-regions, reserved
 * codes such as IC and EA). What remains is the 249 assigned codes.
 */
const NOT_ISO_3166_1 = new Set(['AC', 'CP', 'CQ', 'DG', 'EA', 'EU', 'EZ', 'IC', 'QO', 'TA', 'UN', 'XA', 'XB', 'XK', 'ZZ']);
const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

// Asking Intl costs microseconds on every address of every order; there are only 676 candidates.
const known = new Map<string, boolean>();

/** True when code is an officially assigned ISO 3166-1 alpha-2 code (capitals). */
export function isCountryCode(code: string): boolean {
  if (!/^[A-Z]{2}$/.test(code)) return false;
  let answer = known.get(code);
  if (answer === undefined) {
    answer = !NOT_ISO_3166_1.has(code) && regionNames.of(code) !== undefined && Intl.getCanonicalLocales(`und-${code}`)[0] === `und-${code}`;
    known.set(code, answer);
  }
  return answer;
}

export const CountryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code in capitals, such as "US"')
  .refine(isCountryCode, 'is not an assigned ISO 3166-1 alpha-2 country code')
  .meta({ id: 'CountryCode', example: 'US' });
