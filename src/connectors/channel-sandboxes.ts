import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { checkConnectionsText, type ConnectionSettings } from '../config/connections-file.ts';
import type { ConnectorRegistry } from './registry/connector-registry.ts';
import { startShopifySandbox, type RunningShopifySandbox } from './shopify/sandbox/shopify.sandbox.ts';
import { startWooSandbox, type RunningWooSandbox } from './woocommerce/sandbox/woocommerce.sandbox.ts';
import type { ProductSeed } from './tryton/sandbox/tryton-data.ts';

/**
 * The storefront sandboxes `syncline start` runs when syncline.yaml declares no channel
 * connection: a Shopify store and a WooCommerce store, each declared as a connection
 * (`shopify-sandbox`, `woocommerce-sandbox`) through the same checks as a file's, selling
 * the products the ERP sandbox stocks. Orders placed in them (POST /_sandbox/orders) reach
 * Syncline as signed webhooks, so a bare laptop runs the whole channel flow.
 */

/** Port of each storefront sandbox after the system sandboxes (basePort + 5, + 6). */
export const CHANNEL_SANDBOX_PORT_OFFSETS = { shopify: 5, woocommerce: 6 } as const;

export const SHOPIFY_SANDBOX_CONNECTION = 'shopify-sandbox';
export const WOOCOMMERCE_SANDBOX_CONNECTION = 'woocommerce-sandbox';

export interface RunningChannelSandboxes {
  /** The connections that point at the sandboxes, as the connections file would declare them. */
  connections: ConnectionSettings[];
  /** Each sandbox's address, by connection id. */
  urls: Record<string, string>;
  /** Tells both stores where Syncline takes their webhooks (`base`: Syncline's address). */
  sendWebhooksTo(base: string): Promise<void>;
  close(): Promise<void>;
}

const secret = () => randomBytes(24).toString('base64url');

/** Starts the Shopify and WooCommerce sandboxes (all or none) and declares their connections. */
export async function startChannelSandboxes(options: {
  host: string;
  /** Shopify on basePort + 5, WooCommerce on basePort + 6 (0: free ports). */
  basePort: number;
  products: readonly ProductSeed[];
  registry: ConnectorRegistry;
}): Promise<RunningChannelSandboxes> {
  const port = (offset: number) => (options.basePort ? options.basePort + offset : 0);
  const shopifySecret = secret();
  const shopifyToken = `shpat_${randomBytes(16).toString('hex')}`;
  const woo = { consumerKey: `ck_${randomBytes(20).toString('hex')}`, consumerSecret: `cs_${randomBytes(20).toString('hex')}`, webhookSecret: secret() };
  let shopify: RunningShopifySandbox | undefined;
  let woocommerce: RunningWooSandbox | undefined;
  const close = async () => {
    await Promise.allSettled([shopify?.close(), woocommerce?.close()]);
  };
  try {
    shopify = await startShopifySandbox({
      host: options.host,
      port: port(CHANNEL_SANDBOX_PORT_OFFSETS.shopify),
      webhookSecret: shopifySecret,
      accessToken: shopifyToken,
      products: options.products.map((p) => ({ sku: p.code, title: p.name, price: p.listPrice, available: p.quantity })),
    });
    woocommerce = await startWooSandbox({
      host: options.host,
      port: port(CHANNEL_SANDBOX_PORT_OFFSETS.woocommerce),
      ...woo,
      products: options.products.map((p) => ({ sku: p.code, name: p.name, price: p.listPrice, stock: p.quantity })),
    });
    // Through the file's own checks: the sandboxes' connections are ones a user could have written.
    const file = stringify({
      connections: [
        { id: SHOPIFY_SANDBOX_CONNECTION, connector: 'shopify', options: { shopDomain: shopify.shopDomain, accessToken: shopifyToken, webhookSecret: shopifySecret, adminUrl: shopify.url } },
        { id: WOOCOMMERCE_SANDBOX_CONNECTION, connector: 'woocommerce', options: { siteUrl: woocommerce.url, ...woo } },
      ],
    });
    const checked = checkConnectionsText(file, options.registry, {});
    if (checked.problems.length > 0) throw new Error(`the storefront sandboxes' connections are invalid: ${checked.problems.join('; ')}`);
    const running = { shopify, woocommerce };
    return {
      connections: checked.connections,
      urls: { [SHOPIFY_SANDBOX_CONNECTION]: shopify.url, [WOOCOMMERCE_SANDBOX_CONNECTION]: woocommerce.url },
      async sendWebhooksTo(base) {
        running.woocommerce.state.config.webhookUrl = `${base}/webhooks/woocommerce/${WOOCOMMERCE_SANDBOX_CONNECTION}`;
        const response = await fetch(`${running.shopify.url}/_sandbox/config`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ webhookUrl: `${base}/webhooks/shopify/${SHOPIFY_SANDBOX_CONNECTION}` }),
        });
        if (!response.ok) throw new Error(`the Shopify sandbox refused its webhook address (${response.status})`);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
