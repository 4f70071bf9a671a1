import { z } from 'zod';
import { BUSINESS_CENTRAL_TARGET_POLICY, type BusinessCentralClientOptions } from './outbound/business-central.client.ts';

/** The connector name a `business-central` connection of syncline.yaml uses. */
export const BUSINESS_CENTRAL = 'business-central';

/** The ERP settings of a Business Central connection: the client's options, marked with the connector. */
export type BusinessCentralErpSettings = BusinessCentralClientOptions & { connector: typeof BUSINESS_CENTRAL };

const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID such as 6a7c1f0e-...');
const itemNumber = z.string().min(1).max(20, 'must be a Business Central item number (at most 20 characters)');

/** A Business Central connection's options, once `${VAR}` and `{ file }` references are resolved. */
export const BusinessCentralOptions = z
  .strictObject({
    /** Microsoft Entra tenant: its id (GUID) or a verified domain such as contoso.onmicrosoft.com. */
    tenantId: z.string().regex(/^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-z0-9][a-z0-9.-]*\.[a-z]{2,})$/i, 'must be the tenant id (a GUID) or its domain, such as contoso.onmicrosoft.com'),
    /** The environment's name, e.g. "production" or "sandbox". */
    environment: z.string().regex(/^[A-Za-z0-9_-]{1,30}$/, 'must be an environment name such as "production"'),
    /** The company's id (GET .../api/v2.0/companies lists them). */
    companyId: guid,
    /** The app registration's application (client) id. */
    clientId: guid,
    /** The app registration's client secret: give it as "${VAR}" or { file: ... }, never inline. */
    clientSecret: z.string().min(8, 'must be the client secret (at least 8 characters)'),
    /** API host instead of https://api.businesscentral.dynamics.com (the sandbox's URL). */
    baseUrl: z.url().optional(),
    /** Token endpoint instead of https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token. */
    tokenUrl: z.url().optional(),
    /** BC items the order's charges post as (default: shipping "SHIP"; discount unset: BC's invoice discount). */
    chargeItems: z.strictObject({ shipping: itemNumber.nullable().optional(), discount: itemNumber.nullable().optional() }).optional(),
    /** auto | true | false (default: auto: prices include tax when the order reports no separate tax). */
    pricesIncludeTax: z.union([z.literal('auto'), z.boolean()]).optional(),
  })
  .transform((options): BusinessCentralErpSettings => ({ connector: BUSINESS_CENTRAL, ...options }) as BusinessCentralErpSettings)
  .meta({ id: 'BusinessCentralConnectionOptions' });

/** Business Central as one of the systems the flows call: the ERP. */
export const businessCentralSystem = {
  connector: BUSINESS_CENTRAL,
  kind: 'erp',
  options: BusinessCentralOptions,
  secretOptions: ['clientSecret'],
  defaultTargetPolicy: BUSINESS_CENTRAL_TARGET_POLICY,
} as const;
