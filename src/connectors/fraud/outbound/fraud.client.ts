import type { CallContext, FraudConnector, Screening, ScreeningInput } from '../../kit/contracts.ts';
import { createHttpClient, type HttpClient } from '../../kit/http-client.ts';

/** The fraud screening connector (API in ../README.md). */
export class FraudClient implements FraudConnector {
  readonly system = 'fraud';
  readonly http: HttpClient;

  constructor(options: { url: string; timeoutMs?: number }) {
    this.http = createHttpClient({ system: 'fraud', baseUrl: options.url, timeoutMs: options.timeoutMs ?? 5_000 });
  }

  async screen(input: ScreeningInput, context: CallContext = {}): Promise<Screening> {
    const response = await this.http.request<Screening>({ method: 'POST', path: '/v1/screenings', body: input }, context);
    const { id, orderId, decision, reasons, score } = response.body;
    return { id, orderId, decision, reasons, score };
  }
}

/** A fraud connector. */
export function createFraudClient(options: { url: string; timeoutMs?: number }): FraudClient {
  return new FraudClient(options);
}
