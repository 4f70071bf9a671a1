import { z } from 'zod';
import type { ChannelConnector } from '../kit/channel-connector.ts';
import { mapShopifyDelivery, mapShopifyGraphqlOrder, shopifyRefundsListed, verifyShopifyWebhook } from './inbound/shopify.inbound.ts';
import { ShopifyClient } from './outbound/shopify.client.ts';
import { SHOPIFY_API_VERSION } from './shopify-wire.ts';

/** A Shopify connection's options, once `${VAR}` and `*_FILE` references are resolved. */
export const ShopifyOptions = z
  .strictObject({
    /** The store's permanent domain, `acme.myshopify.com`: webhooks naming another shop are refused. */
    shopDomain: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$/, 'must be the store\'s permanent domain, such as "acme.myshopify.com"'),
    /** Admin API access token; without it the connection takes webhooks in but makes no outbound calls. */
    accessToken: z.string().min(1).optional(),
    /** The app's client secret that signs webhooks; a list while it rotates (Shopify takes up to an hour to switch). */
    webhookSecret: z.union([z.string().min(8), z.array(z.string().min(8)).min(1).max(4)]),
    /** GraphQL Admin API version (default: the pinned SHOPIFY_API_VERSION). */
    apiVersion: z
      .string()
      .regex(/^\d{4}-(01|04|07|10)$/, 'must be a stable version such as "2026-10"')
      .default(SHOPIFY_API_VERSION),
    /** Base URL of the Admin API instead of https://{shopDomain} (the sandbox's URL). */
    adminUrl: z.url().optional(),
    /** Oldest delivery accepted, from X-Shopify-Triggered-At (default: the kit's maximum age). */
    maxWebhookAgeSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
  })
  .meta({ id: 'ShopifyConnectionOptions' });
export type ShopifyOptions = z.infer<typeof ShopifyOptions>;

/** Shopify, on the GraphQL Admin API (pinned version) with REST-shaped webhooks. */
export const shopifyConnector: ChannelConnector<ShopifyOptions> = {
  connector: 'shopify',
  options: ShopifyOptions,
  secretOptions: ['accessToken', 'webhookSecret'],
  // Shopify paces by query cost (the client waits for its bucket); the target only caps requests
  // in flight and opens the breaker when the shop keeps failing.
  defaultTargetPolicy: { ratePerSecond: 20, maxConcurrency: 4, timeoutMs: 20_000, maxWaitMs: 5000, breaker: { failureThreshold: 5, cooldownMs: 30_000 } },
  inbound: {
    verify: (rawBody, headers, options, now, maxAgeSeconds) => verifyShopifyWebhook(rawBody, headers, options, now, maxAgeSeconds),
    map: (delivery, connectionId) => mapShopifyDelivery(delivery, connectionId),
    mapOrder: (order, connectionId) => mapShopifyGraphqlOrder(order, connectionId),
    refundsListed: (payload) => shopifyRefundsListed(payload),
  },
  client: (options) =>
    options.accessToken
      ? new ShopifyClient({ shopDomain: options.shopDomain, accessToken: options.accessToken, apiVersion: options.apiVersion, adminUrl: options.adminUrl })
      : null,
};
