import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../../src/syncline.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { ADMIN_CLIENT, fetchToken, testEnvironment } from './server.ts';

/**
 * Helpers for tests of channel connections: write a syncline.yaml, start Syncline with it on
 * a database of its own, and send signed webhooks the way Shopify and WooCommerce sign them
 * (written here from the vendors' documentation, not with the connectors' own helpers).
 */

/** Writes a connections file in a folder of its own and returns its path. */
export function writeConnectionsFile(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'syncline-connections-')), 'syncline.yaml');
  writeFileSync(path, yaml);
  return path;
}

export interface ConnectionsRig {
  database: TestDatabase;
  running: RunningSyncline;
  config: Config;
  baseUrl: string;
  /** An access token of the bootstrap admin client (every scope). */
  token: string;
  /** Every log line written, as text (the rig logs at debug). */
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts Syncline (API, and workers unless `workers: false`) with the given syncline.yaml on a
 * new database; `env` adds environment variables (the secrets the file refers to, sandbox URLs).
 */
export async function startWithConnections(yaml: string, options: { env?: Record<string, string>; workers?: boolean } = {}): Promise<ConnectionsRig> {
  const database = await createTestDatabase();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  try {
    const config = loadConfig(testEnvironment(database.url, { SYNCLINE_CONFIG: writeConnectionsFile(yaml), SYNCLINE_WORKER_POLL_MS: '100', LOG_LEVEL: 'debug', ...options.env }));
    const running = await startSyncline(config, createLogger('debug', sink), { api: true, workers: options.workers !== false });
    const baseUrl = running.url!;
    const token = await fetchToken(baseUrl, ADMIN_CLIENT);
    return {
      database,
      running,
      config,
      baseUrl,
      token,
      logs,
      async close() {
        await running.close().catch(() => {});
        await database.drop();
      },
    };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

export interface SignedDelivery {
  body: Buffer;
  headers: Record<string, string>;
}

const hmacBase64 = (secret: string, body: Buffer) => createHmac('sha256', secret).update(body).digest('base64');

/** A Shopify webhook as Shopify sends it: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body with the app's secret. */
export function shopifyDelivery(options: { secret: string; shopDomain: string; topic: string; payload: unknown; webhookId?: string; triggeredAt?: string }): SignedDelivery {
  const body = Buffer.from(typeof options.payload === 'string' ? options.payload : JSON.stringify(options.payload));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': options.topic,
      'x-shopify-hmac-sha256': hmacBase64(options.secret, body),
      'x-shopify-shop-domain': options.shopDomain,
      'x-shopify-webhook-id': options.webhookId ?? randomUUID(),
      'x-shopify-event-id': randomUUID(),
      'x-shopify-triggered-at': options.triggeredAt ?? new Date().toISOString(),
      'x-shopify-api-version': '2026-10',
    },
  };
}

/** A WooCommerce webhook: X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw body. */
export function wooDelivery(options: { secret: string; topic: string; payload: unknown; deliveryId?: string }): SignedDelivery {
  const body = Buffer.from(JSON.stringify(options.payload));
  const [resource, event] = options.topic.split('.');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-wc-webhook-signature': hmacBase64(options.secret, body),
      'x-wc-webhook-delivery-id': options.deliveryId ?? randomUUID().replaceAll('-', ''),
      'x-wc-webhook-topic': options.topic,
      'x-wc-webhook-resource': resource!,
      'x-wc-webhook-event': event!,
      'x-wc-webhook-id': '7',
      'x-wc-webhook-source': 'https://shop.example.com/',
    },
  };
}

/** Posts a delivery to Syncline's channel webhook route. */
export async function postDelivery(baseUrl: string, connector: string, connection: string, delivery: SignedDelivery): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}/webhooks/${connector}/${connection}`, { method: 'POST', headers: delivery.headers, body: delivery.body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const SHOPIFY_ORDER = new URL('../../src/connectors/shopify/fixtures/trigger.dev_Order.json', import.meta.url);
const WOO_ORDER = new URL('../../src/connectors/woocommerce/fixtures/wc-api-v3_order_retrieve_response.json', import.meta.url);

/** Shopify's published order webhook sample, with its id and every line's SKU set. */
export function shopifyOrder(id: string, sku: string): Record<string, any> {
  const order = JSON.parse(readFileSync(SHOPIFY_ORDER, 'utf8').replace(/"id": 820982911946154500/, `"id": ${id}`));
  order.admin_graphql_api_id = `gid://shopify/Order/${id}`;
  for (const line of order.line_items) line.sku = sku;
  return order;
}

/** WooCommerce's published order (REST v3 retrieve), with its id and every line's SKU set. */
export function wooOrder(id: number, sku: string): Record<string, any> {
  const order = JSON.parse(readFileSync(WOO_ORDER, 'utf8'));
  order.id = id;
  for (const line of order.line_items) line.sku = sku;
  return order;
}
