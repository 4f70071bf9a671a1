import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createTestDatabase } from '../test/support/postgres.ts';
import { spawnSyncline, testEnvironment } from '../test/support/server.ts';
import { restOrder, serialiseShopifyJson, ShopState, type SOrder } from '../src/connectors/shopify/sandbox/shop-state.ts';
import { SHOPIFY_API_VERSION, signShopifyWebhook } from '../src/connectors/shopify/shopify-wire.ts';
import { CLIENTS, measureIntake, MEASURE_SECONDS, WARMUP_SECONDS } from './intake.bench.ts';
import { pgbenchPath, processCpuMs, requireTool, runWrk, writeResult, WRK_REPORT_LUA } from './support.ts';

/**
 * Shopify webhook intake: signed `orders/create` deliveries accepted per second at 32
 * concurrent senders (POST /webhooks/shopify/{connection}: HMAC over the raw bytes, lossless
 * parse, one durable write of the delivery and its intake job, then 200), with p50/p99
 * acknowledgement time and API CPU per delivery; and, in the same run, the plain
 * POST /v1/orders intake rate (bench/intake.bench.ts) as the yardstick.
 *
 * Each delivery is a distinct order with its own webhook id and signature, generated before the
 * run (wrk's Lua has no HMAC) and split between wrk's two threads.
 */

const SHOP = 'bench-shop.myshopify.com';
const CONNECTION = 'bench-shop';

const WRK_SCRIPT = `
local entries = {}
local index = 0
local threads = 0
local shop, path = nil, nil
-- thread_no is a global that setup() sets in each thread's own interpreter.

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads - 1)
  thread:set("thread_count", 2)
end

function init(args)
  path, shop = args[1], args[2]
  local n = 0
  for line in io.lines(args[3]) do
    if n % thread_count == thread_no then
      local id, hmac, at, body = line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
      entries[#entries + 1] = { id, hmac, at, body }
    end
    n = n + 1
  end
end

function request()
  index = index + 1
  local e = entries[((index - 1) % #entries) + 1]
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = "orders/create",
    ["X-Shopify-Hmac-Sha256"] = e[2],
    ["X-Shopify-Shop-Domain"] = shop,
    ["X-Shopify-API-Version"] = "${SHOPIFY_API_VERSION}",
    ["X-Shopify-Webhook-Id"] = e[1],
    ["X-Shopify-Event-Id"] = e[1],
    ["X-Shopify-Triggered-At"] = e[3],
  }, e[4])
end

${WRK_REPORT_LUA}`;

/** Writes `count` signed orders/create deliveries, one per line: webhook id, HMAC, triggered-at, body. */
async function writeDeliveries(file: string, count: number, secret: string): Promise<number> {
  const state = new ShopState(['Main warehouse'], [{ sku: 'TEE-M-BLK', price: '19.99', available: 1000 }]);
  const variant = state.variantBySku('TEE-M-BLK')!;
  const out = createWriteStream(file);
  let bytes = 0;
  const triggeredAt = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = state.nextId();
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const address = { firstName: 'Ada', lastName: 'Lovelace', address1: '12 Analytical Row', city: 'Louisville', provinceCode: 'KY', province: 'Kentucky', zip: '40202', countryCode: 'US', country: 'United States' };
    const order: SOrder = {
      id,
      number: 1000 + i,
      name: `#${1000 + i}`,
      email: 'ada@example.com',
      phone: null,
      note: null,
      currency: 'USD',
      createdAt: now,
      updatedAt: now,
      cancelledAt: null,
      cancelReason: null,
      financialStatus: 'paid',
      gateway: 'shopify_payments',
      customer: { id: state.nextId(), email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', phone: null },
      shippingAddress: address,
      billingAddress: address,
      lineItems: [{ id: state.nextId(), variantId: variant.id, productId: variant.productId, sku: variant.sku, name: 'Tee', quantity: 2, price: '19.99' }],
      shippingPrice: '5.00',
      tax: '3.20',
      discount: '0.00',
      taxesIncluded: false,
      fulfillmentOrders: [],
      fulfillments: [],
      transactions: [],
      refunds: [],
    };
    const body = serialiseShopifyJson(restOrder(order));
    bytes += body.length;
    if (!out.write(`${randomUUID()}\t${signShopifyWebhook(secret, body)}\t${triggeredAt}\t${body}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return Math.round(bytes / count);
}

async function measureWebhooks(expectedRate: number) {
  const database = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'syncline-webhooks-'));
  const secret = randomBytes(24).toString('base64url');
  const configFile = join(dir, 'syncline.yaml');
  writeFileSync(
    configFile,
    [
      'connections:',
      `  - id: ${CONNECTION}`,
      '    connector: shopify',
      '    webhookMaxAgeSeconds: 86400',
      '    options:',
      `      shopDomain: ${SHOP}`,
      '      webhookSecret: ${SHOPIFY_BENCH_SECRET}',
      '',
    ].join('\n'),
  );
  // Enough distinct deliveries for the warm-up and the measured run at well above the API's rate.
  const count = Math.ceil(Math.max(expectedRate, 500) * 1.8 * (WARMUP_SECONDS + MEASURE_SECONDS));
  const warmFile = join(dir, 'warm.tsv');
  const runFile = join(dir, 'run.tsv');
  const bodyBytes = await writeDeliveries(runFile, count, secret);
  await writeDeliveries(warmFile, Math.ceil(count * (WARMUP_SECONDS / (WARMUP_SECONDS + MEASURE_SECONDS))) + 100, secret);
  const env = testEnvironment(database.url, { ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}), LOG_LEVEL: 'warn', SYNCLINE_CONFIG: configFile, SHOPIFY_BENCH_SECRET: secret, SYNCLINE_CLIENT_RATE_LIMIT: '100000000' });
  const server = await spawnSyncline(['api'], env, { quiet: true });
  try {
    const script = join(dir, 'webhooks.lua');
    writeFileSync(script, WRK_SCRIPT);
    const path = `/webhooks/shopify/${CONNECTION}`;
    runWrk(server.baseUrl, CLIENTS, WARMUP_SECONDS, script, [path, SHOP, warmFile]);
    const storedBefore = await countDeliveries(database.db);
    const cpuBefore = processCpuMs(server.child.pid!);
    const result = runWrk(server.baseUrl, CLIENTS, MEASURE_SECONDS, script, [path, SHOP, runFile]);
    const cpuMs = processCpuMs(server.child.pid!) - cpuBefore;
    const stored = (await countDeliveries(database.db)) - storedBefore;
    return {
      deliveriesPerSecond: Math.round(result.requests / (result.durationUs / 1e6)),
      p50Ms: Number((result.p50Us / 1000).toFixed(2)),
      p99Ms: Number((result.p99Us / 1000).toFixed(2)),
      requests: result.requests,
      non2xx: result.non2xx,
      socketErrors: result.socketErrors,
      // Each request carried a new delivery: stored equals requests unless the generated set ran out (duplicates answer 200 too).
      deliveriesStored: stored,
      generatedDeliveries: count,
      averageBodyBytes: bodyBytes,
      apiCpuUsPerDelivery: Math.round((cpuMs * 1000) / Math.max(1, result.requests - result.non2xx)),
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await database.drop();
  }
}

async function countDeliveries(db: { query<T>(sql: string): Promise<{ rows: T[] }> }): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM channel_delivery');
  return rows[0]!.n;
}

export async function run(): Promise<void> {
  requireTool('wrk', 'install it with "apt-get install wrk"', 'webhooks');
  requireTool(pgbenchPath(), 'it ships with PostgreSQL', 'webhooks');
  const intake = await measureIntake();
  const webhooks = await measureWebhooks(intake.ordersPerSecond);
  const ratio = Number((webhooks.deliveriesPerSecond / intake.ordersPerSecond).toFixed(2));
  console.log(
    `webhooks: ${webhooks.deliveriesPerSecond} Shopify deliveries/s at ${CLIENTS} senders (p50 ${webhooks.p50Ms} ms, p99 ${webhooks.p99Ms} ms, non-2xx ${webhooks.non2xx}, stored ${webhooks.deliveriesStored}; API CPU ${webhooks.apiCpuUsPerDelivery} µs per delivery, ${webhooks.averageBodyBytes} B bodies)`,
  );
  console.log(`intake:   ${intake.ordersPerSecond} orders/s over POST /v1/orders (p50 ${intake.p50Ms} ms, p99 ${intake.p99Ms} ms; API CPU ${intake.processCpuUsPerOrder} µs per order)`);
  console.log(`ratio:    ${ratio}x (target >= 0.8x; p99 target < 100 ms)`);
  const file = writeResult('webhooks', {
    clients: CLIENTS,
    seconds: MEASURE_SECONDS,
    loadGenerator: 'wrk -t 2 -c 32',
    webhooks,
    intake,
    ratio,
    target: 'webhook deliveries/s >= 0.8x POST /v1/orders intake; p99 acknowledgement < 100 ms',
    met: ratio >= 0.8 && webhooks.p99Ms < 100,
  });
  console.log(`written to ${file}`);
}
