import { createHash } from 'node:crypto';

/**
 * The wire shapes of Business Central's API v2.0 that Syncline reads and writes, shared by the
 * client (outbound/) and the sandbox (sandbox/). Field names follow the API v2.0 reference pages
 * (fixtures/ and SOURCES.md); amounts and quantities are JSON numbers on the wire.
 *
 * Glossary
 *   tenant        the Microsoft Entra tenant (directory) id the environment belongs to
 *   environment   a Business Central environment of the tenant ("production", "sandbox", ...)
 *   company       one company of the environment; every API v2.0 resource lives under companies({id})
 *   ETag          `@odata.etag` of an entity; sent back as If-Match on PATCH and DELETE
 *   nextLink      `@odata.nextLink`, the absolute URL of the next page of a collection
 */

/** An entity as Business Central returns it: its fields plus the OData annotations. */
export interface BcEntity {
  '@odata.etag'?: string;
  id: string;
  [field: string]: unknown;
}

/** A collection page: `value` and, when more follows, `@odata.nextLink`. */
export interface BcPage<T extends BcEntity = BcEntity> {
  '@odata.context'?: string;
  value: T[];
  '@odata.nextLink'?: string;
}

/** Business Central's OData error body: `{"error":{"code","message"}}`. */
export interface BcErrorBody {
  error: { code: string; message: string };
}

/** The token answer of the Microsoft identity platform (client credentials grant). */
export interface BcTokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in?: number;
  access_token: string;
}

export interface BcSalesOrderLine extends BcEntity {
  documentId: string;
  sequence: number;
  itemId: string;
  lineType: string;
  lineObjectNumber: string;
  description: string;
  quantity: number;
  unitPrice: number;
  discountAmount: number;
  amountExcludingTax: number;
  taxPercent: number;
  totalTaxAmount: number;
  amountIncludingTax: number;
  shippedQuantity: number;
  invoicedQuantity: number;
  invoiceQuantity: number;
  shipQuantity: number;
}

export interface BcSalesOrder extends BcEntity {
  number: string;
  externalDocumentNumber: string;
  orderDate: string;
  customerId: string;
  customerNumber: string;
  currencyCode: string;
  pricesIncludeTax: boolean;
  discountAmount: number;
  totalAmountExcludingTax: number;
  totalTaxAmount: number;
  totalAmountIncludingTax: number;
  fullyShipped: boolean;
  status: string;
  salesOrderLines?: BcSalesOrderLine[];
}

/** A posted or draft sales invoice or credit memo (the fields both have). */
export interface BcSalesDocument extends BcEntity {
  number: string;
  externalDocumentNumber: string;
  invoiceDate?: string;
  creditMemoDate?: string;
  postingDate: string;
  customerId: string;
  currencyCode: string;
  totalAmountExcludingTax: number;
  totalTaxAmount: number;
  totalAmountIncludingTax: number;
  status: string;
  orderNumber?: string;
}

export interface BcItem extends BcEntity {
  number: string;
  displayName: string;
  type: string;
  blocked: boolean;
  inventory: number;
  unitPrice: number;
  priceIncludesTax: boolean;
}

export interface BcCustomer extends BcEntity {
  number: string;
  displayName: string;
  email: string;
  /** " " (not blocked), "Ship", "Invoice" or "All". */
  blocked?: string;
}

/** The nil GUID Business Central uses for "no value" in id fields. */
export const NIL_GUID = '00000000-0000-0000-0000-000000000000';

/** The OData default scope of Business Central's API for the client credentials grant. */
export const BC_SCOPE = 'https://api.businesscentral.dynamics.com/.default';

/** A string literal in an OData `$filter` (single quotes doubled). */
export const odataString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** A decimal string of a wire amount (rounded to `places`, which the API already did for money). */
export const decimalOfNumber = (value: unknown, places = 2): string => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(places) : (0).toFixed(places));

/**
 * A stable integer for a Business Central GUID: the port's `erpId` is a number (Tryton's record
 * ids) and BC's ids are GUIDs, so the first 48 bits stand for it. `number` carries BC's own
 * document number for people.
 */
export function guidToErpId(guid: string): number {
  const hex = guid.replaceAll('-', '').slice(0, 12);
  return /^[0-9a-f]{12}$/i.test(hex) ? Number.parseInt(hex, 16) : Number.parseInt(createHash('sha256').update(guid).digest('hex').slice(0, 12), 16);
}
