import type { CallContext, Fulfilment, FulfilmentCancelResult, FulfilmentInput, WmsConnector } from '../../kit/contracts.ts';
import { createHttpClient, type HttpClient } from '../../kit/http-client.ts';
import type { WireFulfilmentOrder } from '../wms-wire.ts';

/** The WMS connector: fulfilment requests per location over the WMS's REST API (../README.md). */

export interface WmsClientOptions {
  url: string;
  /** (default: 10000 ms) */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer …` when set (the sandbox accepts any). */
  apiKey?: string;
}

type WireFulfilment = WireFulfilmentOrder;

const toFulfilment = (wire: WireFulfilment): Fulfilment => ({
  id: wire.id,
  orderId: wire.orderId,
  locationId: wire.locationId,
  status: wire.status,
  lines: wire.lines.map((l) => ({ lineNumber: l.lineNumber, sku: l.sku, quantity: l.quantity, shippedQuantity: l.shippedQuantity })),
  createdAt: wire.createdAt,
  updatedAt: wire.updatedAt,
});

/** The WMS connector over the WMS's REST API. */
export class WmsClient implements WmsConnector {
  readonly system = 'wms';
  readonly http: HttpClient;

  constructor(options: WmsClientOptions) {
    this.http = createHttpClient({
      system: 'wms',
      baseUrl: options.url,
      timeoutMs: options.timeoutMs ?? 10_000,
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    });
  }

  async createFulfilment(input: FulfilmentInput, context: CallContext = {}): Promise<{ fulfilment: Fulfilment; created: boolean }> {
    const response = await this.http.request<WireFulfilment>(
      {
        method: 'POST',
        path: '/v1/fulfillment-orders',
        body: { orderId: input.orderId, locationId: input.locationId, shipTo: input.shipTo, ...(input.customer ? { customer: input.customer } : {}), lines: input.lines },
      },
      context,
    );
    return { fulfilment: toFulfilment(response.body), created: response.status === 201 };
  }

  async getFulfilment(fulfilmentId: string, context: CallContext = {}): Promise<Fulfilment | undefined> {
    const response = await this.http.request<WireFulfilment>({ method: 'GET', path: `/v1/fulfillment-orders/${encodeURIComponent(fulfilmentId)}`, accept: [404] }, context);
    return response.status === 404 ? undefined : toFulfilment(response.body);
  }

  async findFulfilments(orderId: string, context: CallContext = {}): Promise<Fulfilment[]> {
    const response = await this.http.request<{ data: WireFulfilment[] }>({ method: 'GET', path: `/v1/fulfillment-orders?orderId=${encodeURIComponent(orderId)}` }, context);
    return response.body.data.map(toFulfilment);
  }

  async cancelFulfilment(fulfilmentId: string, context: CallContext = {}): Promise<FulfilmentCancelResult> {
    const response = await this.http.request<WireFulfilment | { fulfillmentOrder: WireFulfilment }>(
      { method: 'POST', path: `/v1/fulfillment-orders/${encodeURIComponent(fulfilmentId)}/cancel`, accept: [404, 409] },
      context,
    );
    if (response.status === 404) return { outcome: 'not_found' };
    if (response.status === 409) return { outcome: 'already_shipped', fulfilment: toFulfilment((response.body as { fulfillmentOrder: WireFulfilment }).fulfillmentOrder) };
    return { outcome: 'cancelled', fulfilment: toFulfilment(response.body as WireFulfilment) };
  }
}

/** A WMS connector. */
export function createWmsClient(options: WmsClientOptions): WmsClient {
  return new WmsClient(options);
}
