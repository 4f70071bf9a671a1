import type { CustomerPostalAddress, CustomerRecordData, CustomerSystem, GoldenRecord } from '../../model/customer.ts';

/**
 * Survivorship (ADR 0036): for each attribute of the golden record, one configured rule
 * picks the value among the customer's source records; attributes a system owns are taken
 * from that system's records only.
 *
 * Rules:
 * - source-priority: the first system in `order` that has a value (ties: most recent);
 * - most-recent: the value of the record the system changed last;
 * - most-complete: the longest value (a full name over an initial; ties: most recent);
 * - verified-first: a verified value before an unverified one (ties: most recent).
 */

export type SurvivorshipRule =
  | { rule: 'source-priority'; order: readonly CustomerSystem[] }
  | { rule: 'most-recent' }
  | { rule: 'most-complete' }
  | { rule: 'verified-first' };

export type GoldenAttribute = keyof GoldenRecord;

export interface SurvivorshipConfig {
  rules: Record<GoldenAttribute, SurvivorshipRule>;
  /** Attributes only one system may give (default: ERP account, tax and credit; CRM engagement; loyalty points and tier). */
  owners: Partial<Record<GoldenAttribute, CustomerSystem>>;
}

const BY_AUTHORITY: readonly CustomerSystem[] = ['erp', 'crm', 'loyalty', 'channel'];

/** The default rules (docs/customers.md). */
export const DEFAULT_SURVIVORSHIP: SurvivorshipConfig = {
  rules: {
    givenName: { rule: 'most-complete' },
    familyName: { rule: 'source-priority', order: BY_AUTHORITY },
    email: { rule: 'verified-first' },
    phone: { rule: 'most-recent' },
    address: { rule: 'most-recent' },
    legalAccount: { rule: 'most-recent' },
    taxId: { rule: 'most-recent' },
    paymentTerms: { rule: 'most-recent' },
    creditLimit: { rule: 'most-recent' },
    engagement: { rule: 'most-recent' },
    loyaltyPoints: { rule: 'most-recent' },
    loyaltyTier: { rule: 'most-recent' },
  },
  owners: {
    legalAccount: 'erp',
    taxId: 'erp',
    paymentTerms: 'erp',
    creditLimit: 'erp',
    engagement: 'crm',
    loyaltyPoints: 'loyalty',
    loyaltyTier: 'loyalty',
  },
};

/** A source record as survivorship reads it. */
export interface SurvivorRecord {
  id: string;
  data: CustomerRecordData;
}

interface Offer<T> {
  value: T;
  recordId: string;
  system: CustomerSystem;
  observedAt: string;
  verified: boolean;
  size: number;
}

const offersOf = <T>(records: readonly SurvivorRecord[], pick: (data: CustomerRecordData) => { value: T; verified?: boolean; size?: number }[]): Offer<T>[] =>
  records.flatMap((r) => pick(r.data).map((o) => ({ value: o.value, recordId: r.id, system: r.data.system, observedAt: r.data.observedAt, verified: o.verified ?? false, size: o.size ?? 0 })));

const newestFirst = <T>(x: Offer<T>, y: Offer<T>) => y.observedAt.localeCompare(x.observedAt) || x.recordId.localeCompare(y.recordId);

function choose<T>(offers: Offer<T>[], rule: SurvivorshipRule): Offer<T> | undefined {
  const sorted = [...offers].sort((x, y) => {
    switch (rule.rule) {
      case 'source-priority':
        return rank(rule.order, x.system) - rank(rule.order, y.system) || newestFirst(x, y);
      case 'most-complete':
        return y.size - x.size || newestFirst(x, y);
      case 'verified-first':
        return Number(y.verified) - Number(x.verified) || newestFirst(x, y);
      case 'most-recent':
        return newestFirst(x, y);
    }
  });
  return sorted[0];
}

const rank = (order: readonly CustomerSystem[], system: CustomerSystem) => (order.includes(system) ? order.indexOf(system) : order.length);
const one = <T>(value: T | undefined, size = 0) => (value === undefined ? [] : [{ value, size }]);

/** The golden record of a customer from its source records. */
export function goldenRecord(records: readonly SurvivorRecord[], config: SurvivorshipConfig = DEFAULT_SURVIVORSHIP): GoldenRecord {
  const golden: Record<string, unknown> = {};
  const pick = <T>(attribute: GoldenAttribute, of: (data: CustomerRecordData) => { value: T; verified?: boolean; size?: number }[]) => {
    const owner = config.owners[attribute];
    const rule = config.rules[attribute];
    const offers = offersOf(owner ? records.filter((r) => r.data.system === owner) : records, of);
    const chosen = choose(offers, rule);
    if (chosen) golden[attribute] = { value: chosen.value, recordId: chosen.recordId, rule: owner ? `owned by ${owner}, ${rule.rule}` : rule.rule };
  };
  pick('givenName', (d) => one(d.givenName, d.givenName?.length));
  pick('familyName', (d) => one(d.familyName, d.familyName?.length));
  pick('email', (d) => d.emails.map((e) => ({ value: e.address, verified: e.verified })));
  pick('phone', (d) => d.phones.slice(0, 1).map((value) => ({ value })));
  pick<CustomerPostalAddress>('address', (d) => d.addresses.slice(0, 1).map((value) => ({ value })));
  pick('legalAccount', (d) => one(d.attributes.legalAccount));
  pick('taxId', (d) => one(d.attributes.taxId));
  pick('paymentTerms', (d) => one(d.attributes.paymentTerms));
  pick('creditLimit', (d) => one(d.attributes.creditLimit));
  pick('engagement', (d) => one(d.attributes.engagement));
  pick('loyaltyPoints', (d) => one(d.attributes.loyaltyPoints));
  pick('loyaltyTier', (d) => one(d.attributes.loyaltyTier));
  return golden as GoldenRecord;
}
