import { foldText, normalizeAddress, normalizeEmail, normalizePhone, normalizePostalCode } from '../../model/contact-points.ts';
import type { CustomerRecordData, CustomerSystem } from '../../model/customer.ts';
import { canonicalGivenName } from './nicknames.ts';

/**
 * A source record prepared for matching: every contact point in its comparison form,
 * the ids that decide at once, and the blocking keys under which its candidates are found.
 */
export interface MatchRecord {
  id: string;
  system: CustomerSystem;
  /** Given and family name, folded (accents, case, punctuation). */
  given: string | undefined;
  family: string | undefined;
  emails: { address: string; verified: boolean }[];
  phones: string[];
  /** Address comparison keys (normalizeAddress). */
  addresses: string[];
  /** country|postcode of each address. */
  postcodes: string[];
  loyaltyIds: string[];
  erpIds: string[];
}

const unique = <T>(values: Iterable<T>) => [...new Set(values)];

/** The phone's country when a number is written without its calling code: the record's first address country. */
const defaultCountryOf = (record: CustomerRecordData) => record.addresses[0]?.country;

/** Prepares a source record for matching. */
export function toMatchRecord(id: string, record: CustomerRecordData): MatchRecord {
  const given = record.givenName ? foldText(record.givenName) || undefined : undefined;
  const family = record.familyName ? foldText(record.familyName) || undefined : undefined;
  const emails = new Map<string, boolean>();
  for (const email of record.emails) {
    const normalized = normalizeEmail(email.address);
    if (normalized) emails.set(normalized, (emails.get(normalized) ?? false) || email.verified);
  }
  const country = defaultCountryOf(record);
  return {
    id,
    system: record.system,
    given,
    family,
    emails: [...emails].map(([address, verified]) => ({ address, verified })),
    phones: unique(record.phones.map((phone) => normalizePhone(phone, country)).filter((phone): phone is string => !!phone)),
    addresses: unique(record.addresses.map(normalizeAddress)),
    postcodes: unique(record.addresses.map((a) => `${a.country}|${normalizePostalCode(a.postalCode)}`)),
    loyaltyIds: unique([...(record.system === 'loyalty' ? [record.externalId] : []), ...(record.references.loyaltyId ? [record.references.loyaltyId] : [])]),
    erpIds: unique([...(record.system === 'erp' ? [record.externalId] : []), ...(record.references.erpPartyId ? [record.references.erpPartyId] : [])]),
  };
}

/**
 * The blocking keys of a record: a candidate is any record sharing one. Ids and contact
 * points are keys of their own; names are keyed with a postcode (family name + postcode,
 * formal given name + postcode), so a typo in one name part still finds the other. No key
 * is a name alone: those blocks grow with the population (ADR 0036).
 */
export function blockingKeys(record: MatchRecord): string[] {
  const keys: string[] = [];
  for (const email of record.emails) keys.push(`e:${email.address}`);
  for (const phone of record.phones) keys.push(`p:${phone}`);
  for (const id of record.loyaltyIds) keys.push(`l:${id}`);
  for (const id of record.erpIds) keys.push(`r:${id}`);
  for (const address of record.addresses) keys.push(`a:${address}`);
  for (const postcode of record.postcodes) {
    if (record.family) keys.push(`f:${record.family}|${postcode}`);
    if (record.given) keys.push(`g:${canonicalGivenName(record.given.split(' ')[0]!)}|${postcode}`);
  }
  return keys;
}

/** The look-up key of an e-mail (GET /v1/customers?email=), or undefined when the text is not one. */
export function emailKey(address: string): string | undefined {
  const normalized = normalizeEmail(address);
  return normalized ? `e:${normalized}` : undefined;
}

/** The look-up key of a phone number (GET /v1/customers?phone=), or undefined when it is not a valid number. */
export function phoneKey(text: string, defaultCountry?: string): string | undefined {
  const normalized = normalizePhone(text, defaultCountry);
  return normalized ? `p:${normalized}` : undefined;
}
