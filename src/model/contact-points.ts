import { parsePhoneNumberFromString, type CountryCode as PhoneCountry } from 'libphonenumber-js/max';

/**
 * Contact points normalised for comparison (docs/customers.md). Two spellings of the same
 * e-mail, phone or postal address normalise to the same text, so equality of the
 * normalised form is what matching and look-ups compare; the form as received is kept
 * beside it in the source record.
 */

/**
 * Providers that ignore dots in the local part and everything after a plus sign
 * (Gmail documents both); googlemail.com is the same mailbox as gmail.com. Other
 * providers keep dots and plus tags: for them only case is folded.
 */
const DOT_AND_TAG_BLIND: Readonly<Record<string, string>> = { 'gmail.com': 'gmail.com', 'googlemail.com': 'gmail.com' };

/** The comparison form of an e-mail address (lower case; provider rules applied), or undefined when it is not one. */
export function normalizeEmail(address: string): string | undefined {
  const trimmed = address.trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  let local = trimmed.slice(0, at);
  let domain = trimmed.slice(at + 1);
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  const canonical = DOT_AND_TAG_BLIND[domain];
  if (canonical) {
    local = local.split('+')[0]!.replaceAll('.', '');
    domain = canonical;
    if (local === '') return undefined;
  }
  return `${local}@${domain}`;
}

/**
 * The E.164 form of a phone number (`+12133734253`), read with libphonenumber's metadata;
 * a national number is read in defaultCountry. Undefined when the number is not a valid one.
 */
export function normalizePhone(text: string, defaultCountry?: string): string | undefined {
  const parsed = parsePhoneNumberFromString(text, defaultCountry ? { defaultCountry: defaultCountry as PhoneCountry } : {});
  return parsed?.isValid() ? parsed.number : undefined;
}

/** Letters without accents, lower case, runs of anything else as one space. */
export function foldText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** Street words written in full or abbreviated; both compare as the short form (USPS Publication 28 style). */
const STREET_WORDS: Readonly<Record<string, string>> = {
  street: 'st', avenue: 'ave', av: 'ave', road: 'rd', drive: 'dr', lane: 'ln', boulevard: 'blvd', court: 'ct', place: 'pl',
  square: 'sq', terrace: 'ter', highway: 'hwy', parkway: 'pkwy', circle: 'cir', apartment: 'apt', suite: 'ste', north: 'n',
  south: 's', east: 'e', west: 'w', strasse: 'str', straße: 'str', rue: 'r',
};

/** A postal address as compared: what line1/line2/postcode/country say, whatever the spelling. */
export interface AddressParts {
  line1: string;
  line2?: string | undefined;
  city?: string | undefined;
  postalCode: string;
  country: string;
}

/** The postcode as compared: capitals and digits only (`sw1a 1aa` → `SW1A1AA`). */
export function normalizePostalCode(postalCode: string): string {
  return postalCode.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/**
 * The comparison key of a postal address: country, postcode, then the street lines folded
 * (accents, case, punctuation) with street words shortened (`12 Main Street, Apt 4` and
 * `12 main st apt. 4` are equal). The city is left out: the postcode says more, and
 * cities are spelt in too many ways.
 */
export function normalizeAddress(address: AddressParts): string {
  const street = foldText(`${address.line1} ${address.line2 ?? ''}`)
    .split(' ')
    .filter(Boolean)
    .map((word) => STREET_WORDS[word] ?? word)
    .join(' ');
  return `${address.country.toUpperCase()}|${normalizePostalCode(address.postalCode)}|${street}`;
}
