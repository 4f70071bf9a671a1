import { z } from 'zod';
import { DecimalAmount } from './money.ts';
import { Sku } from './sku.ts';

/**
 * The canonical Product: one entry of Syncline's catalogue, filled from the ERP that owns the
 * item master (docs/products.md). Prices are exact decimal strings, never floats.
 *
 * Glossary
 *   catalogue        every Product Syncline knows, one per SKU
 *   owner            the ERP connection the catalogue is synced from (one today)
 *   cursor           the ERP's own modification mark up to which the catalogue has been read
 *   connection ids   the id each connection knows the product by (the ERP's product id ...)
 */
export const Product = z
  .object({
    sku: Sku,
    name: z.string(),
    /** The unit of measure the ERP sells the product in, e.g. "u" (unit) or "kg". */
    unitOfMeasure: z.string(),
    barcodes: z.array(z.string()),
    /** The ERP's tax (account) category name; null when the product has none. */
    taxCategory: z.string().nullable(),
    /** The list price, tax excluded, in the ERP company's currency. */
    listPrice: DecimalAmount,
    active: z.boolean(),
    /** The id each connection knows the product by, by connection id (e.g. { "erp": "12" }). */
    connectionIds: z.record(z.string(), z.string()),
    /** When Syncline last changed this entry (UTC). */
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Product' });
export type Product = z.infer<typeof Product>;

/** A product as the owning ERP reports it, before Syncline stores it. */
export type ProductRecord = Omit<Product, 'connectionIds' | 'updatedAt'> & { externalId: string };
