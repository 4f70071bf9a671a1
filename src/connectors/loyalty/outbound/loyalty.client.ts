import type { CallContext, LoyaltyConnector, PointsAward, PointsReversal } from '../../kit/contracts.ts';
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

  async awardPoints(input: { orderId: string; email: string; amount: string; currency: string }, context: CallContext = {}): Promise<PointsAward> {
    const response = await this.http.request<{ id: string; orderId: string; email: string; points: number; balance: number }>(
      { method: 'POST', path: '/v1/awards', body: input },
      context,
    );
    const { id, orderId, email, points, balance } = response.body;
    return { id, orderId, email, points, balance, created: response.status === 201 };
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

  /** Members enrolled or changed since the cursor, as customer records (docs/customers.md). */
  async customersChangedSince(since: string | null, page: { offset: number; limit: number }, context: CallContext = {}): Promise<CustomerRecordPage> {
    return loyaltyMembersChangedSince(this.http, since, page, context);
  }

  async balance(email: string, context: CallContext = {}): Promise<number> {
    const response = await this.http.request<{ balance: number }>({ method: 'GET', path: `/v1/members/${encodeURIComponent(email)}`, accept: [404] }, context);
    return response.status === 404 ? 0 : response.body.balance;
  }
}

/** A loyalty connector. */
export function createLoyaltyClient(options: { url: string; timeoutMs?: number }): LoyaltyClient {
  return new LoyaltyClient(options);
}
