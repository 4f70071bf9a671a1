import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sandboxAdmin } from '../../src/connectors/kit/sandbox-app.ts';
import { startSandboxes, type RunningSandboxes } from '../../src/connectors/sandboxes.ts';
import { startShopifySandbox, type RunningShopifySandbox, type ShopifySandboxOptions } from '../../src/connectors/shopify/sandbox/shopify.sandbox.ts';
import { startWooSandbox, type RunningWooSandbox, type WooSandboxOptions } from '../../src/connectors/woocommerce/sandbox/woocommerce.sandbox.ts';
import { startWithConnections, type ConnectionsRig } from './connections.ts';
import { flowApi, flowEnvironment } from './flows.ts';
import type { TestDatabase } from './postgres.ts';
import { waitFor } from './runtime.ts';

/**
 * Channel end-to-end tests on one rig: the five system sandboxes, one Shopify or WooCommerce
 * sandbox per store, Syncline on a database of its own with a syncline.yaml declaring a
 * connection per store (secrets through the environment, as an operator would), each store's
 * webhooks pointed at Syncline, the WMS calling back, and a warehouse WH-EAST stocked.
 */

export interface ShopifyStore {
  connection: string;
  shopDomain: string;
  products: NonNullable<ShopifySandboxOptions['products']>;
  /** More YAML keys of the connection, e.g. `reconcile: { everySeconds: 10 }`. */
  yaml?: string[];
}

export interface WooStore {
  connection: string;
  products: NonNullable<WooSandboxOptions['products']>;
  yaml?: string[];
}

export interface ChannelRigOptions {
  /** SKUs the ERP sandbox knows and WH-EAST receives `stock` units of. */
  skus: string[];
  stock: number;
  shopify?: ShopifyStore[];
  woocommerce?: WooStore[];
}

export interface StoreSecrets {
  webhookSecret: string;
  accessToken?: string;
  consumerKey?: string;
  consumerSecret?: string;
}

export interface ChannelRig {
  systems: RunningSandboxes;
  rig: ConnectionsRig;
  f: ReturnType<typeof flowApi>;
  shops: Map<string, RunningShopifySandbox>;
  woos: Map<string, RunningWooSandbox>;
  /** The secrets of each store, by connection id. */
  secrets: Map<string, StoreSecrets>;
  /** Syncline's order id for a channel order, once the channel's delivery has made it (exactly one). */
  syncedOrder(connection: string, channelOrderId: string | number, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

const secret = (bytes: number) => randomBytes(bytes).toString('base64url');

export async function startChannelRig(options: ChannelRigOptions): Promise<ChannelRig> {
  const shops = new Map<string, RunningShopifySandbox>();
  const woos = new Map<string, RunningWooSandbox>();
  const secrets = new Map<string, StoreSecrets>();
  const env: Record<string, string> = {};
  const yaml = ['connections:'];
  let systems: RunningSandboxes | undefined;
  let rig: ConnectionsRig | undefined;
  const close = async () => {
    await rig?.close();
    for (const store of [...shops.values(), ...woos.values()]) await store.close();
    await systems?.close();
  };
  try {
    systems = await startSandboxes({ products: options.skus.map((code) => ({ code, name: code, listPrice: '10.00', quantity: 1000 })) });
    for (const [i, store] of (options.shopify ?? []).entries()) {
      const own = { webhookSecret: secret(24), accessToken: `shpat_${randomBytes(16).toString('hex')}` };
      const shop = await startShopifySandbox({ ...own, shopDomain: store.shopDomain, products: store.products });
      shops.set(store.connection, shop);
      secrets.set(store.connection, own);
      Object.assign(env, { [`SHOPIFY_${i}_TOKEN`]: own.accessToken, [`SHOPIFY_${i}_SECRET`]: own.webhookSecret, [`SHOPIFY_${i}_URL`]: shop.url });
      yaml.push(
        `  - id: ${store.connection}`,
        '    connector: shopify',
        `    options: { shopDomain: ${store.shopDomain}, accessToken: "\${SHOPIFY_${i}_TOKEN}", webhookSecret: "\${SHOPIFY_${i}_SECRET}", adminUrl: "\${SHOPIFY_${i}_URL}" }`,
        ...(store.yaml ?? []).map((line) => `    ${line}`),
      );
    }
    for (const [i, store] of (options.woocommerce ?? []).entries()) {
      const own = { webhookSecret: secret(18), consumerKey: `ck_${store.connection.replace(/-/g, '_')}`, consumerSecret: `cs_${secret(12)}` };
      const woo = await startWooSandbox({ ...own, products: store.products });
      woos.set(store.connection, woo);
      secrets.set(store.connection, own);
      Object.assign(env, { [`WOO_${i}_URL`]: woo.url, [`WOO_${i}_CS`]: own.consumerSecret, [`WOO_${i}_SECRET`]: own.webhookSecret });
      yaml.push(
        `  - id: ${store.connection}`,
        '    connector: woocommerce',
        `    options: { siteUrl: "\${WOO_${i}_URL}", consumerKey: ${own.consumerKey}, consumerSecret: "\${WOO_${i}_CS}", webhookSecret: "\${WOO_${i}_SECRET}" }`,
        ...(store.yaml ?? []).map((line) => `    ${line}`),
      );
    }
    // The systems' environment without a database of its own: the rig brings the database.
    const systemsEnv = flowEnvironment({ url: undefined } as unknown as TestDatabase, systems);
    delete systemsEnv.SYNCLINE_DATA_DIR;
    rig = await startWithConnections(yaml.join('\n') + '\n', { env: { ...systemsEnv, ...env } });
    for (const [connection, shop] of shops) await sandboxAdmin(shop.url).call('PUT', '/_sandbox/config', { webhookUrl: `${rig.baseUrl}/webhooks/shopify/${connection}`, webhookRetryDelayMs: 100 });
    for (const [connection, woo] of woos) await sandboxAdmin(woo.url).call('PUT', '/_sandbox/webhooks', { url: `${rig.baseUrl}/webhooks/woocommerce/${connection}` });
    await sandboxAdmin(systems.urls.wms).call('PUT', '/_sandbox/config', { callbackUrl: `${rig.baseUrl}/webhooks/wms/default`, webhookRetryDelayMs: 100 });
    const f = flowApi({ baseUrl: rig.baseUrl, token: rig.token, sandboxes: systems });
    await f.location('WH-EAST', 'warehouse');
    await f.stock(options.skus.map((sku) => ({ type: 'receipt' as const, sku, location: 'WH-EAST', quantity: options.stock })));
    const ordersOf = async (connection: string, channelOrderId: string | number): Promise<{ id: string }[]> =>
      (await f.api('GET', `/v1/orders?channel=${connection}&channelOrderId=${channelOrderId}`)).body.data;
    return {
      systems,
      rig,
      f,
      shops,
      woos,
      secrets,
      async syncedOrder(connection, channelOrderId, timeoutMs = 30_000) {
        let found: { id: string }[] = [];
        await waitFor(`order ${channelOrderId} of ${connection} in Syncline`, async () => (found = await ordersOf(connection, channelOrderId)).length > 0, timeoutMs, 100);
        assert.equal(found.length, 1, `one order for ${connection} ${channelOrderId}`);
        return found[0]!.id;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
