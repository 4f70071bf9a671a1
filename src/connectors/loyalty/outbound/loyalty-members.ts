import type { CustomerRecordPage, PulledCustomerRecord } from '../../kit/customer-source.ts';
import type { CallContext, HttpClient } from '../../kit/http-client.ts';

/** A member as GET /v1/members lists them (../README.md, "Members"). */
interface MemberWire {
  id: string;
  givenName: string;
  familyName: string;
  email: string;
  emailVerified: boolean;
  phone: string | null;
  address: { line1: string; line2?: string; city: string; postalCode: string; country: string } | null;
  tier: string;
  erpAccount: string | null;
  balance: number;
  updatedAt: string;
}

/**
 * One page of loyalty members changed at or after `since` (every member when null) as customer
 * records: the programme's e-mail is verified when the member confirmed it; points and tier are
 * the attributes loyalty owns. A balance below zero (points spent, then reversed) has no
 * canonical value: the record carries no points then, rather than a wrong number.
 */
export async function loyaltyMembersChangedSince(http: HttpClient, since: string | null, page: { offset: number; limit: number }, context: CallContext): Promise<CustomerRecordPage> {
  const query = new URLSearchParams({ offset: String(page.offset), limit: String(page.limit), ...(since ? { changedSince: since } : {}) });
  const response = await http.request<{ members: MemberWire[]; more: boolean }>({ method: 'GET', path: `/v1/members?${query}` }, context);
  const records = response.body.members.map(
    (m): PulledCustomerRecord => ({
      system: 'loyalty',
      externalId: m.id,
      givenName: m.givenName,
      familyName: m.familyName,
      emails: [{ address: m.email, verified: m.emailVerified }],
      phones: m.phone ? [m.phone] : [],
      addresses: m.address ? [m.address] : [],
      references: m.erpAccount ? { erpPartyId: m.erpAccount } : {},
      attributes: { loyaltyTier: m.tier, ...(m.balance >= 0 ? { loyaltyPoints: m.balance } : {}) },
      observedAt: m.updatedAt,
      modifiedAt: m.updatedAt,
    }),
  );
  return { records, skipped: [], more: response.body.more };
}
