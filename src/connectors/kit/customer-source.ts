import type { CustomerRecordInput } from '../../model/customer.ts';
import type { CallContext } from './http-client.ts';

/**
 * A system whose customers Syncline pulls into identity resolution (docs/customers.md, ADR 0041):
 * an ERP's parties or customers, a loyalty service's members. The connector maps each to the
 * canonical customer record at the edge; the sync adds the connection it read them from.
 *
 * Glossary:
 * - modifiedAt: the system's own latest modification time of the record (ISO 8601 UTC): the
 *   cursor of the next pull is taken from it.
 */

/** A customer record as a connector reads it: the canonical record without its connection. */
export type PulledCustomerRecord = Omit<CustomerRecordInput, 'connection'> & { modifiedAt: string | null };

/** A page of the system's customers changed at or after the cursor. */
export interface CustomerRecordPage {
  records: PulledCustomerRecord[];
  /** Records the system has but Syncline cannot take (no name nor contact point, say), with why. */
  skipped: { externalId: string; reason: string }[];
  more: boolean;
}

export interface CustomerRecordSource {
  readonly system: string;
  /** One page of the customers created or changed at or after `since` (every one when null), in a stable order. */
  customersChangedSince(since: string | null, page: { offset: number; limit: number }, context?: CallContext): Promise<CustomerRecordPage>;
}

/** True when the connector can list its customers. */
export function isCustomerRecordSource(connector: object): connector is CustomerRecordSource {
  return typeof (connector as Partial<CustomerRecordSource>).customersChangedSince === 'function';
}

/** A full name split at its last word, as systems with one name field (an ERP party, a checkout) give it. */
export function splitFullName(name: string): { givenName?: string; familyName?: string } {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return {};
  if (words.length === 1) return { givenName: words[0]! };
  return { givenName: words.slice(0, -1).join(' '), familyName: words.at(-1)! };
}
