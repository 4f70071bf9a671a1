import { z } from 'zod';
import type { ChannelConnector } from '../kit/channel-connector.ts';
import type { ExternalSystems } from '../../config/config.ts';
import { shopifyConnector } from '../shopify/shopify.connector.ts';
import { woocommerceConnector } from '../woocommerce/woocommerce.connector.ts';
import { businessCentralSystem } from '../business-central/business-central.connector.ts';
import type { TargetPolicy } from '../../runtime/targets/target-policy.ts';

/**
 * The connector registry: which connectors a connection in syncline.yaml may name.
 *
 * Glossary
 *   channel connector  a sales channel (Shopify, WooCommerce): implements ChannelConnector; any
 *                      number of connections, each with its own target `<connector>:<id>`
 *   system connector   one of the systems the flows call (erp, wms, payment, fraud, loyalty, and
 *                      the crm customers propagate to); one connection of each kind for now, on the flows' own targets
 */

/** The system kinds the flows call; their connections are also set by SYNCLINE_*_URL. */
export const SYSTEM_KINDS = ['erp', 'wms', 'payment', 'fraud', 'loyalty', 'crm'] as const;
export type SystemKind = (typeof SYSTEM_KINDS)[number];

/** A system connector: options that become the ExternalSystems entry of its kind. */
export interface SystemConnector {
  connector: string;
  kind: SystemKind;
  options: z.ZodType<NonNullable<ExternalSystems[SystemKind]>>;
  secretOptions: readonly string[];
  /** The target policy of the kind's target when this connector serves it (default: the flows' built-in one). */
  defaultTargetPolicy?: TargetPolicy;
  /** An ERP connector that reads the item master, so the product catalogue can be synced from it. */
  itemMaster?: boolean;
}

const url = z.url('must be a URL such as https://erp.example.com');
const secret = (min: number) => z.string().min(min, `must be at least ${min} characters`);

/** An ERP product code a charge posts as; null: the charge is not posted as a line. */
const chargeProduct = z.string().min(1, 'must be an ERP product code').nullable().optional();

/**
 * The Tryton ERP's options (docs/connections.md): where it is, and how orders post there. `charges`
 * names the ERP products shipping and discounts post as (default: SHIP and DISC; `config check`
 * and start-up name any the ERP lacks); `paymentTerm` the ERP's payment term id for new sales
 * (default: the customer's). The SYNCLINE_ERP_* variables are the shorthand for the same.
 */
const trytonOptions = z
  .strictObject({
    url,
    database: z.string().min(1),
    login: z.string().min(1),
    password: z.string().min(1),
    charges: z.strictObject({ shipping: chargeProduct, discount: chargeProduct }).optional(),
    paymentTerm: z.number().int().min(1).optional(),
    warehouse: z.number().int().min(1).optional(),
    shortStock: z.enum(['acknowledge', 'hold']).optional(),
    pricesIncludeTax: z.union([z.literal('auto'), z.boolean()]).optional(),
  })
  .transform(({ charges, paymentTerm, warehouse, ...rest }) => ({
    ...rest,
    ...(charges ? { chargeProducts: charges } : {}),
    ...(paymentTerm !== undefined ? { paymentTermId: paymentTerm } : {}),
    ...(warehouse !== undefined ? { warehouseId: warehouse } : {}),
  }));

/** The system connectors, by connector name. */
export const SYSTEM_CONNECTORS: readonly SystemConnector[] = [
  {
    connector: 'tryton',
    kind: 'erp',
    options: trytonOptions,
    secretOptions: ['password'],
    itemMaster: true,
  },
  { connector: 'wms', kind: 'wms', options: z.strictObject({ url, webhookSecret: secret(16) }), secretOptions: ['webhookSecret'] },
  { connector: 'payment', kind: 'payment', options: z.strictObject({ url, apiKey: secret(8) }), secretOptions: ['apiKey'] },
  { connector: 'fraud', kind: 'fraud', options: z.strictObject({ url }), secretOptions: [] },
  { connector: 'loyalty', kind: 'loyalty', options: z.strictObject({ url }), secretOptions: [] },
  {
    // HubSpot CRM (src/connectors/hubspot/README.md): a private app's token; consent purposes map to subscription types.
    connector: 'hubspot',
    kind: 'crm',
    options: z.strictObject({
      url: url.default('https://api.hubapi.com'),
      accessToken: secret(8),
      subscriptions: z.partialRecord(z.enum(['email_marketing', 'sms_marketing', 'profiling']), z.record(z.string().min(1), z.string().regex(/^\d+$/, 'must be a HubSpot subscription type id'))).optional(),
    }),
    secretOptions: ['accessToken'],
    // HubSpot's own limit: 100 requests per rolling 10 seconds (Free and Starter portals).
    defaultTargetPolicy: { ratePerSecond: 9, maxConcurrency: 4, timeoutMs: 10_000, breaker: { failureThreshold: 5, cooldownMs: 30_000 } },
  },
  businessCentralSystem,
];

/** The connector of each system kind when it is set by environment variables (or served by its sandbox). */
export const SYSTEM_CONNECTOR_OF: Record<SystemKind, string> = { erp: 'tryton', wms: 'wms', payment: 'payment', fraud: 'fraud', loyalty: 'loyalty', crm: 'hubspot' };

export interface ConnectorRegistry {
  channels: ReadonlyMap<string, ChannelConnector>;
  systems: ReadonlyMap<string, SystemConnector>;
}

/** The channel connectors built into Syncline. */
export const BUILT_IN_CHANNELS: readonly ChannelConnector[] = [shopifyConnector as ChannelConnector, woocommerceConnector as ChannelConnector];

/** A registry of the given channel connectors (default: the built-in ones) and the system connectors. */
export function connectorRegistry(channels: readonly ChannelConnector[] = BUILT_IN_CHANNELS): ConnectorRegistry {
  const map = new Map<string, ChannelConnector>();
  for (const c of channels) {
    if (map.has(c.connector) || SYSTEM_CONNECTORS.some((s) => s.connector === c.connector)) throw new Error(`connector "${c.connector}" is registered twice`);
    map.set(c.connector, c);
  }
  return { channels: map, systems: new Map(SYSTEM_CONNECTORS.map((s) => [s.connector, s])) };
}

/** Every connector name a connection may use, for messages. */
export function connectorNames(registry: ConnectorRegistry): string[] {
  return [...registry.channels.keys(), ...registry.systems.keys()];
}

const MASK = '********';

/**
 * Options fit to show (API answers, logs, `config check`): each secret option that is set
 * becomes a mask, so a reader sees it is set and never what it is.
 */
export function maskSecrets(options: Record<string, unknown>, secretOptions: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [key, secretOptions.includes(key) && value !== undefined && value !== null && value !== '' ? MASK : value]));
}
