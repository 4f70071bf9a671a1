import type { CallContext, LoyaltyConnector, LoyaltyMember, PointsAward, PointsReversal } from '../../kit/contracts.ts';
import { createHttpClient, type HttpClient } from '../../kit/http-client.ts';
import type { CustomerRecordPage, CustomerRecordSource } from '../../kit/customer-source.ts';
import { loyaltyMembersChangedSince } from './loyalty-members.ts';

/** The loyalty connector (API in ../README.md). Non-critical: flows isolate its failures. */
export class LoyaltyClient implements LoyaltyConnector, CustomerRecordSource {
  readonly system = 'loyalty';
  readonly http: HttpClient;

  constructor(options: { url: string; timeoutMs?: number }) {
    this.http = createHttpClient({ system: 'loyalty', baseUrl: options.url, timeoutMs: options.timeoutMs ?? 5_000 });
  }

  async awardPoints(input: { orderId: string; email: string; amount: string; currency: string; memberId?: string }, context: CallContext = {}): Promise<PointsAward> {
    const response = await this.http.request<{ id: string; orderId: string; email: string; memberId: string | null; points: number; balance: number }>(
      { method: 'POST', path: '/v1/awards', body: input },
      context,
    );
    const { id, orderId, email, memberId, points, balance } = response.body;
    return { id, orderId, email, memberId: memberId ?? undefined, points, balance, created: response.status === 201 };
  }

  async reversePoints(input: { orderId: string; reason?: string; amount?: string; reference?: string }, context: CallContext = {}): Promise<PointsReversal | undefined> {
    const response = await this.http.request<{ id: string; orderId: string; awardId: string; email: string; points: number; balance: number }>(
      { method: 'POST', path: '/v1/reversals', body: input, accept: [404] },
      context,
    );
    if (response.status === 404) return undefined;
    const { id, orderId, awardId, email, points, balance } = response.body;
    return { id, orderId, awardId, email, points, balance, created: response.status === 201 };
  }

  async mergeMember(memberId: string, into: string, context: CallContext = {}): Promise<'merged' | 'unchanged' | 'not-found'> {
    const response = await this.http.request({ method: 'POST', path: `/v1/members/${encodeURIComponent(memberId)}/merge`, body: { into }, accept: [404] }, context);
    return response.status === 404 ? 'not-found' : response.status === 201 ? 'merged' : 'unchanged';
  }

  async unmergeMember(memberId: string, context: CallContext = {}): Promise<'unmerged' | 'unchanged' | 'not-found'> {
    const response = await this.http.request({ method: 'POST', path: `/v1/members/${encodeURIComponent(memberId)}/unmerge`, accept: [404] }, context);
    return response.status === 404 ? 'not-found' : response.status === 201 ? 'unmerged' : 'unchanged';
  }

  async eraseMember(memberId: string, context: CallContext = {}): Promise<'erased' | 'not-found'> {
    const response = await this.http.request({ method: 'DELETE', path: `/v1/members/${encodeURIComponent(memberId)}`, accept: [404] }, context);
    return response.status === 404 ? 'not-found' : 'erased';
  }

  async setMemberConsent(memberId: string, consent: { purpose: string; channel: string | null; status: 'granted' | 'withdrawn'; at: string }, context: CallContext = {}): Promise<'changed' | 'not-found'> {
    const { purpose, ...body } = consent;
    const response = await this.http.request({ method: 'PUT', path: `/v1/members/${encodeURIComponent(memberId)}/consents/${encodeURIComponent(purpose)}`, body, accept: [404] }, context);
    return response.status === 404 ? 'not-found' : 'changed';
  }

  /** Members enrolled or changed since the cursor, as customer records (docs/customers.md). */
  async customersChangedSince(since: string | null, page: { offset: number; limit: number }, context: CallContext = {}): Promise<CustomerRecordPage> {
    return loyaltyMembersChangedSince(this.http, since, page, context);
  }

  async balance(email: string, context: CallContext = {}): Promise<number> {
    const response = await this.http.request<{ balance: number }>({ method: 'GET', path: `/v1/members/${encodeURIComponent(email)}`, accept: [404] }, context);
    return response.status === 404 ? 0 : response.body.balance;
  }

  async member(key: string, context: CallContext = {}): Promise<LoyaltyMember | undefined> {
    const response = await this.http.request<LoyaltyMember>({ method: 'GET', path: `/v1/members/${encodeURIComponent(key)}`, accept: [404] }, context);
    if (response.status === 404) return undefined;
    const { id, email, balance, tier } = response.body;
    return { id, email, balance, tier };
  }
}

/** A loyalty connector. */
export function createLoyaltyClient(options: { url: string; timeoutMs?: number }): LoyaltyClient {
  return new LoyaltyClient(options);
}
