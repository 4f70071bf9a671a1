import type { Product, ProductRecord } from '../../model/product.ts';
import type { Queryable } from '../database.ts';

/** The product catalogue and its sync state per ERP connection (migration 0029). */

interface ProductRow {
  sku: string;
  name: string;
  unit_of_measure: string;
  barcodes: string[];
  tax_category: string | null;
  list_price: string;
  active: boolean;
  connection_ids: Record<string, string>;
  updated_at: Date | string;
}

const COLUMNS = 'sku, name, unit_of_measure, barcodes, tax_category, list_price::text AS list_price, active, connection_ids, updated_at';

function toProduct(row: ProductRow): Product {
  return {
    sku: row.sku,
    name: row.name,
    unitOfMeasure: row.unit_of_measure,
    barcodes: row.barcodes,
    taxCategory: row.tax_category,
    listPrice: row.list_price,
    active: row.active,
    connectionIds: row.connection_ids,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * Writes the products one sync page read (idempotent: a row that did not change is left as it
 * was, its updated_at too). A SKU renamed in the ERP leaves its old row inactive: an order for
 * the old SKU is held rather than posted as a product the ERP no longer knows by that code.
 */
export async function upsertProducts(tx: Queryable, connectionId: string, records: readonly (ProductRecord & { modifiedAt: string | null })[]): Promise<number> {
  if (records.length === 0) return 0;
  await tx.query(
    `UPDATE product p SET active = false, updated_at = now()
       FROM unnest($2::text[], $3::text[]) AS r(sku, external_id)
      WHERE p.source_connection = $1 AND p.connection_ids ->> $1 = r.external_id AND p.sku <> r.sku AND p.active`,
    [connectionId, records.map((r) => r.sku), records.map((r) => r.externalId)],
  );
  const result = await tx.query(
    `INSERT INTO product AS p (sku, name, unit_of_measure, barcodes, tax_category, list_price, active, connection_ids, source_connection, source_modified_at)
     SELECT r.sku, r.name, r.uom, ARRAY(SELECT jsonb_array_elements_text(r.barcodes)), r.tax, r.price::numeric, r.active,
            jsonb_build_object($1::text, r.external_id), $1, r.modified
       FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::boolean[], $9::text[], $10::timestamptz[])
            AS r(sku, name, uom, barcodes, tax, price, active, external_id, modified)
     ON CONFLICT (sku) DO UPDATE SET
       name = excluded.name, unit_of_measure = excluded.unit_of_measure, barcodes = excluded.barcodes,
       tax_category = excluded.tax_category, list_price = excluded.list_price, active = excluded.active,
       connection_ids = p.connection_ids || excluded.connection_ids, source_connection = excluded.source_connection,
       source_modified_at = excluded.source_modified_at, updated_at = now()
     WHERE (p.name, p.unit_of_measure, p.barcodes, p.tax_category, p.list_price, p.active, p.connection_ids || excluded.connection_ids)
           IS DISTINCT FROM (excluded.name, excluded.unit_of_measure, excluded.barcodes, excluded.tax_category, excluded.list_price, excluded.active, p.connection_ids)`,
    [
      connectionId,
      records.map((r) => r.sku),
      records.map((r) => r.name),
      records.map((r) => r.unitOfMeasure),
      records.map((r) => JSON.stringify(r.barcodes)),
      records.map((r) => r.taxCategory),
      records.map((r) => r.listPrice),
      records.map((r) => r.active),
      records.map((r) => r.externalId),
      records.map((r) => r.modifiedAt),
    ],
  );
  return result.rowCount ?? 0;
}

export async function findProduct(db: Queryable, sku: string): Promise<Product | undefined> {
  const row = (await db.query<ProductRow>(`SELECT ${COLUMNS} FROM product WHERE sku = $1`, [sku])).rows[0];
  return row ? toProduct(row) : undefined;
}

/** Products of the given SKUs (those the catalogue has). */
export async function findProducts(db: Queryable, skus: readonly string[]): Promise<Product[]> {
  return (await db.query<ProductRow>(`SELECT ${COLUMNS} FROM product WHERE sku = ANY($1::text[])`, [[...new Set(skus)]])).rows.map(toProduct);
}

export interface ProductQuery {
  active?: boolean | undefined;
  skuPrefix?: string | undefined;
  /** The last SKU of the previous page. */
  after?: string | undefined;
  limit: number;
}

/** A page of the catalogue in SKU order. */
export async function listProducts(db: Queryable, query: ProductQuery): Promise<Product[]> {
  const rows = await db.query<ProductRow>(
    `SELECT ${COLUMNS} FROM product
      WHERE ($1::boolean IS NULL OR active = $1)
        AND ($2::text IS NULL OR left(sku, length($2)) = $2)
        AND ($3::text IS NULL OR sku > $3)
      ORDER BY sku LIMIT $4`,
    [query.active ?? null, query.skuPrefix ?? null, query.after ?? null, query.limit],
  );
  return rows.rows.map(toProduct);
}

export interface ProductSyncRow {
  connection_id: string;
  cursor: Date | string | null;
  completed_at: Date | string | null;
  full_load_at: Date | string | null;
  last_run: Record<string, unknown> | null;
  last_error: { code: string; message: string; at: string } | null;
}

export async function readProductSync(db: Queryable, connectionId: string): Promise<ProductSyncRow | undefined> {
  return (await db.query<ProductSyncRow>('SELECT * FROM product_sync WHERE connection_id = $1', [connectionId])).rows[0];
}

/** True when a catalogue sync has completed for any connection (the catalogue is then in force). */
export async function catalogueLoaded(db: Queryable): Promise<boolean> {
  return (await db.query('SELECT 1 FROM product_sync WHERE completed_at IS NOT NULL LIMIT 1')).rows.length > 0;
}

/** Records a completed run: the cursor the next one starts from, and what it did. */
export async function completeProductSync(db: Queryable, connectionId: string, cursor: string | null, run: Record<string, unknown>): Promise<void> {
  await db.query(
    `INSERT INTO product_sync (connection_id, cursor, completed_at, full_load_at, last_run, last_error)
     VALUES ($1, $2, now(), now(), $3::jsonb, NULL)
     ON CONFLICT (connection_id) DO UPDATE SET cursor = excluded.cursor, completed_at = now(),
       full_load_at = COALESCE(product_sync.full_load_at, now()), last_run = excluded.last_run, last_error = NULL`,
    [connectionId, cursor, JSON.stringify(run)],
  );
}

/** Records a failed run (the cursor stays where it was). */
export async function failProductSync(db: Queryable, connectionId: string, failure: { code: string; message: string }): Promise<void> {
  await db.query(
    `INSERT INTO product_sync (connection_id, last_error) VALUES ($1, $2::jsonb)
     ON CONFLICT (connection_id) DO UPDATE SET last_error = excluded.last_error`,
    [connectionId, JSON.stringify({ ...failure, at: new Date().toISOString() })],
  );
}

/** Forgets the connection's cursor: its next run is a full load (the catalogue stays in force meanwhile). */
export async function resetProductCursor(db: Queryable, connectionId: string): Promise<void> {
  await db.query('UPDATE product_sync SET cursor = NULL WHERE connection_id = $1', [connectionId]);
}
