import { randomUUID } from 'node:crypto';

/** A valid order submission; override fields per test. */
export function sampleOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    channel: 'shopify-us',
    channelOrderId: `SO-${randomUUID()}`,
    placedAt: '2026-11-22T10:15:00Z',
    currency: 'USD',
    customer: { email: 'ada@example.com', name: 'Ada Lovelace', phone: '+1 555 0100' },
    shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Springfield', region: 'IL', postalCode: '62701', country: 'US' },
    lines: [
      { sku: 'TEE-M', quantity: 2, unitPrice: '19.99' },
      { sku: 'MUG', quantity: 1, unitPrice: '8.50' },
    ],
    payments: [{ method: 'card', amount: '48.48', status: 'authorized', reference: 'pi_123' }],
    ...overrides,
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** Sends a JSON request and parses the JSON (or problem+json) answer. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** POST /v1/orders with an Idempotency-Key. */
export function submitOrder(baseUrl: string, token: string, order: unknown, key: string = randomUUID(), headers: Record<string, string> = {}) {
  return call(baseUrl, 'POST', '/v1/orders', { token, body: order, headers: { 'idempotency-key': key, ...headers } });
}
