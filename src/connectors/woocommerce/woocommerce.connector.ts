import { z } from 'zod';
import type { ChannelConnector } from '../kit/channel-connector.ts';
import { mapWooDelivery, mapWooOrder, verifyWooWebhook, wooRefundsListed } from './inbound/woocommerce.inbound.ts';
import { WooCommerceClient } from './outbound/woocommerce.client.ts';

/** Loopback hosts, the only ones where the consumer secret may travel over plain HTTP (the sandbox). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

const secret = z.string().min(8, 'must be at least 8 characters');

/** A WooCommerce connection's options, once `${VAR}` and `*_FILE` references are resolved. */
export const WooOptions = z
  .strictObject({
    /** The store's address; without it the connection takes webhooks in but makes no calls. */
    siteUrl: z
      .url()
      .refine((url) => {
        const parsed = new URL(url);
        // The REST API's Basic authentication sends the secret in every request: HTTPS only.
        return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname));
      }, 'must be an https:// address (http:// only for localhost)')
      .optional(),
    /** REST API consumer key (ck_…), required with siteUrl. */
    consumerKey: z.string().min(1).optional(),
    /** REST API consumer secret (cs_…), required with siteUrl. */
    consumerSecret: z.string().min(1).optional(),
    /** The webhooks' secret; a list while it is rotated (a delivery signed with any of them is accepted). */
    webhookSecret: z.union([secret, z.array(secret).min(1).max(5)]),
    /** Orders per page of the reconciliation poll (default: 50, at most 100). */
    pageSize: z.number().int().min(1).max(100).optional(),
  })
  .superRefine((options, ctx) => {
    if (!options.siteUrl) return;
    for (const key of ['consumerKey', 'consumerSecret'] as const) {
      if (!options[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when siteUrl is set' });
    }
  });
export type WooOptions = z.infer<typeof WooOptions>;

/** The WooCommerce (REST API v3) channel connector. */
export const woocommerceConnector: ChannelConnector<WooOptions> = {
  connector: 'woocommerce',
  options: WooOptions,
  secretOptions: ['consumerKey', 'consumerSecret', 'webhookSecret'],
  // WooCommerce publishes no rate limit for its REST API; the store is often on shared hosting,
  // so calls are kept few and serial enough not to hurt the shop's own traffic.
  defaultTargetPolicy: { ratePerSecond: 5, maxConcurrency: 2, timeoutMs: 30_000, maxWaitMs: 2000, breaker: { failureThreshold: 5, cooldownMs: 30_000 } },
  inbound: {
    // WooCommerce signs no timestamp, so a delivery's age cannot be checked (maxAgeSeconds unused):
    // a replayed delivery is stopped by its idempotency key and by the order's own identity.
    verify: (rawBody, headers, options) => verifyWooWebhook(rawBody, headers, { secret: options.webhookSecret }),
    map: (delivery, connectionId) => mapWooDelivery(delivery, connectionId),
    mapOrder: (order, connectionId) => mapWooOrder(order, connectionId),
    refundsListed: (payload) => wooRefundsListed(payload),
  },
  client: (options) =>
    options.siteUrl && options.consumerKey && options.consumerSecret
      ? new WooCommerceClient({
          siteUrl: options.siteUrl,
          consumerKey: options.consumerKey,
          consumerSecret: options.consumerSecret,
          ...(options.pageSize ? { pageSize: options.pageSize } : {}),
        })
      : null,
};
