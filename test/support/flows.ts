import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/config.ts';
import { startSandboxes, type RunningSandboxes } from '../../src/connectors/sandboxes.ts';
import { sandboxAdmin } from '../../src/connectors/kit/sandbox-app.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../../src/syncline.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { call, sampleOrder, submitOrder } from './orders.ts';
import { ADMIN_CLIENT, fetchToken, testEnvironment } from './server.ts';
import { waitFor } from './runtime.ts';

/**
 * An end-to-end rig for the order flows: a database of its own, the sandboxes as real
 * HTTP servers, and Syncline (API and workers, in this process or as child processes)
 * pointed at them, with the WMS sending its signed webhooks to Syncline.
 */

export const FLOW_SKUS = ['TEE-M', 'MUG', 'CAP', 'SOCKS'];

/** Environment that points Syncline at the sandboxes, with quick polling for tests. */
export function flowEnvironment(database: TestDatabase, sandboxes: RunningSandboxes, extra: Record<string, string> = {}): Record<string, string> {
  const s = sandboxes.settings;
  return testEnvironment(database.url, {
    SYNCLINE_ERP_URL: s.erp.url,
    SYNCLINE_ERP_DATABASE: s.erp.database,
    SYNCLINE_ERP_LOGIN: s.erp.login,
    SYNCLINE_ERP_PASSWORD: s.erp.password,
    SYNCLINE_WMS_URL: s.wms.url,
    SYNCLINE_WMS_WEBHOOK_SECRET: s.wms.webhookSecret,
    SYNCLINE_PAYMENT_URL: s.payment.url,
    SYNCLINE_PAYMENT_API_KEY: s.payment.apiKey,
    SYNCLINE_FRAUD_URL: s.fraud.url,
    SYNCLINE_LOYALTY_URL: s.loyalty.url,
    SYNCLINE_CRM_URL: s.crm.url,
    SYNCLINE_CRM_TOKEN: s.crm.accessToken,
    SYNCLINE_WORKER_POLL_MS: '100',
    SYNCLINE_FLOW_BACKOFF_CAP_MS: '2000',
    SYNCLINE_ROUTING_KINDS: 'warehouse,store',
    ...extra,
  });
}

export interface FlowRig {
  database: TestDatabase;
  sandboxes: RunningSandboxes;
  baseUrl: string;
  running: RunningSyncline | undefined;
  token: string;
  close(): Promise<void>;
}

/** Starts the sandboxes and Syncline (both roles in this process unless told otherwise). */
export async function startFlowRig(options: { env?: Record<string, string>; inProcess?: boolean } = {}): Promise<FlowRig> {
  const database = await createTestDatabase();
  const sandboxes = await startSandboxes({ products: FLOW_SKUS.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1000 })) });
  let running: RunningSyncline | undefined;
  try {
    const config = loadConfig(flowEnvironment(database, sandboxes, options.env));
    running = await startSyncline(config, createLogger(config.logLevel), { api: true, workers: options.inProcess !== false });
    const baseUrl = running.url!;
    await fetch(`${sandboxes.urls.wms}/_sandbox/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callbackUrl: `${baseUrl}/webhooks/wms/default`, webhookRetryDelayMs: 100 }),
    });
    const token = await fetchToken(baseUrl, ADMIN_CLIENT);
    return {
      database,
      sandboxes,
      baseUrl,
      running,
      token,
      async close() {
        await running?.close().catch(() => {});
        await sandboxes.close();
        await database.drop();
      },
    };
  } catch (error) {
    await running?.close().catch(() => {});
    await sandboxes.close();
    await database.drop();
    throw error;
  }
}

/** API helpers bound to a rig. */
export function flowApi(rig: { baseUrl: string; token: string; sandboxes: RunningSandboxes }) {
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(rig.baseUrl, method, path, { token: rig.token, ...(body !== undefined ? { body } : {}), headers });
  const wms = sandboxAdmin(rig.sandboxes.urls.wms);
  return {
    api,
    async location(code: string, kind: 'warehouse' | 'store' | '3pl') {
      const response = await api('POST', '/v1/locations', { code, name: code, kind }, { 'idempotency-key': randomUUID() });
      if (response.status !== 201 && response.status !== 409) throw new Error(`location ${code}: ${response.status} ${JSON.stringify(response.body)}`);
    },
    async stock(movements: { type: 'receipt' | 'count'; sku: string; location: string; quantity: number }[]) {
      const response = await api('POST', '/v1/inventory/movements', { movements }, { 'idempotency-key': randomUUID() });
      if (response.status !== 201 && response.status !== 200) throw new Error(`movements: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
    async submit(overrides: Record<string, unknown> = {}): Promise<string> {
      const response = await submitOrder(rig.baseUrl, rig.token, sampleOrder(overrides));
      if (response.status !== 201) throw new Error(`order: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body.id as string;
    },
    async status(orderId: string): Promise<string> {
      return (await api('GET', `/v1/orders/${orderId}`)).body.status as string;
    },
    /** Waits for the order to reach status (or any of several, where the next one may follow at once). */
    async waitForStatus(orderId: string, status: string | readonly string[], timeoutMs = 30_000) {
      const wanted = typeof status === 'string' ? [status] : status;
      let last = '';
      try {
        await waitFor(`order ${orderId} to be ${wanted.join(' or ')}`, async () => wanted.includes((last = (await api('GET', `/v1/orders/${orderId}`)).body.status)), timeoutMs, 100);
      } catch (error) {
        const timeline = (await api('GET', `/v1/orders/${orderId}/timeline`)).body;
        throw new Error(`${(error as Error).message} (last status ${last}); timeline: ${JSON.stringify(timeline.entries, null, 1)}`);
      }
    },
    /** Cancels an order over HTTP, waits for it to be cancelled and returns the finished cancellation. */
    async cancelAndWait(orderId: string, body: { reason?: string } = {}): Promise<any> {
      const cancel = await api('POST', `/v1/orders/${orderId}/cancel`, body);
      if (cancel.status !== 202) throw new Error(`cancel ${orderId}: ${cancel.status} ${JSON.stringify(cancel.body)}`);
      await this.waitForStatus(orderId, 'cancelled');
      return (await api('GET', `/v1/orders/${orderId}/cancellations/${cancel.body.id}`)).body;
    },
    async timeline(orderId: string): Promise<{ system: string; action: string; outcome: string; attempt: number; durationMs: number | null; correlationId: string; detail: any }[]> {
      return (await api('GET', `/v1/orders/${orderId}/timeline`)).body.entries;
    },
    async lifecycle(orderId: string): Promise<any> {
      return (await api('GET', `/v1/orders/${orderId}/lifecycle`)).body;
    },
    /** The WMS's fulfilment orders for an order, as the WMS itself lists them. */
    async fulfilments(orderId: string): Promise<any[]> {
      return (await wms.call<{ data: any[] }>('GET', `/v1/fulfillment-orders?orderId=${encodeURIComponent(orderId)}`)).data;
    },
    /** A warehouse operator confirms a shipment in the WMS (its own API); the WMS then sends its signed webhook. */
    async ship(fulfilmentId: string, body: { lines?: { lineNumber: number; quantity: number }[]; carrier?: string; trackingNumbers?: string[] } = {}) {
      return wms.call<any>('POST', `/v1/fulfillment-orders/${fulfilmentId}/ship`, { carrier: 'UPS', trackingNumbers: [`1Z${randomUUID().slice(0, 8).toUpperCase()}`], ...body });
    },
    erpState: () => sandboxAdmin(rig.sandboxes.urls.erp).call<any>('GET', '/_sandbox/state'),
    paymentState: () => sandboxAdmin(rig.sandboxes.urls.payment).call<any>('GET', '/_sandbox/state'),
    wms,
  };
}
