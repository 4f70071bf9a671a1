import type { ErpProductPage } from '../../kit/contracts.ts';
import type { CallContext } from '../../kit/http-client.ts';
import { Sku } from '../../../model/sku.ts';
import { decimalOf, TrytonDateTime } from '../tryton-wire.ts';
import type { TrytonRpc } from './json-rpc.ts';
import { latestStamp, readMany, stampOf, type Row } from './tryton-reads.ts';

/**
 * Tryton's item master as canonical products (recorded on a real Tryton 6.0, see ../README.md,
 * "Products"). A variant (product.product) is a product; its name, unit, list price and account
 * category live on its template, its barcodes are its identifiers. Each of those records has its
 * own create_date / write_date: writing a template's price moves only the template's write_date,
 * so a change is "any of them at or after the cursor", and a product's modification time is the
 * latest of them.
 */

const PRODUCT_FIELDS = ['code', 'name', 'default_uom', 'list_price', 'active', 'template', 'account_category', 'identifiers', 'write_date', 'create_date'];
/** Stamp fields searched for a change, on the variant and on the records it is made of. */
const STAMPED = ['', 'template.', 'identifiers.'];

/** One page of products created or changed at or after `since` (every product when null), by id. */
export async function trytonProductsChangedSince(rpc: TrytonRpc, since: string | null, page: { offset: number; limit: number }, context: CallContext): Promise<ErpProductPage> {
  const at = since === null ? null : TrytonDateTime.fromIso(since);
  const domain = at ? ['OR', ...STAMPED.flatMap((prefix) => [[`${prefix}write_date`, '>=', at], [`${prefix}create_date`, '>=', at]])] : [];
  // active_test false: a deactivated product must reach the catalogue as inactive, not vanish.
  const rows = await rpc.call<Row[]>('model.product.product.search_read', [domain, page.offset, page.limit, [['id', 'ASC']], PRODUCT_FIELDS], context, { active_test: false });
  // One call after the other: a runtime target's caller holds one concurrency slot at a time.
  const templates = await readMany(rpc, 'product.template', rows.map((r) => r.template as number), ['write_date', 'create_date'], context);
  const identifiers = await readMany(rpc, 'product.identifier', rows.flatMap((r) => (r.identifiers as number[] | undefined) ?? []), ['code', 'write_date', 'create_date'], context);
  const units = await readMany(rpc, 'product.uom', rows.map((r) => r.default_uom as number), ['symbol'], context);
  const categories = await readMany(rpc, 'product.category', rows.flatMap((r) => (typeof r.account_category === 'number' ? [r.account_category] : [])), ['name'], context);
  const result: ErpProductPage = { products: [], skipped: [], more: rows.length === page.limit };
  for (const row of rows) {
    const externalId = String(row.id);
    const code = typeof row.code === 'string' ? row.code : '';
    if (!Sku.safeParse(code).success) {
      result.skipped.push({ externalId, reason: code ? `code ${JSON.stringify(code)} is not a valid SKU` : 'the product has no code' });
      continue;
    }
    const ids = (row.identifiers as number[] | undefined) ?? [];
    const stamps = [...stampOf(row), ...stampOf(templates.get(row.template as number)), ...ids.flatMap((id) => stampOf(identifiers.get(id)))];
    result.products.push({
      externalId,
      sku: code,
      name: String(row.name ?? code),
      unitOfMeasure: String(units.get(row.default_uom as number)?.symbol ?? ''),
      barcodes: ids.map((id) => identifiers.get(id)?.code).filter((c): c is string => typeof c === 'string' && c !== ''),
      taxCategory: typeof row.account_category === 'number' ? String(categories.get(row.account_category)?.name ?? '') || null : null,
      listPrice: decimalOf(row.list_price ?? '0'),
      // SQLite booleans come back as 1/0.
      active: row.active === true || row.active === 1,
      modifiedAt: latestStamp(stamps),
    });
  }
  return result;
}
