import type { ErpConnector } from '../../connectors/kit/contracts.ts';
import type { CallContext } from '../../connectors/kit/http-client.ts';
import type { Product } from '../../model/product.ts';
import type { Database, Queryable } from '../../store/database.ts';
import {
  catalogueLoaded,
  completeProductSync,
  failProductSync,
  findProduct,
  findProducts,
  listProducts,
  readProductSync,
  resetProductCursor,
  upsertProducts,
  type ProductQuery,
} from '../../store/products/product-queries.ts';
import { PRODUCT_HOLD_CODES, PRODUCT_SYNC_CODES, SynclineError, type ProductHoldCode } from '../errors.ts';

/**
 * The product catalogue (docs/products.md, ADR 0026): synced from the ERP connection that owns the
 * item master, read by the API, and checked by order validation.
 *
 * Glossary
 *   full load     a sync with no cursor: every product the ERP has, active or not
 *   incremental   a sync from the cursor: what the ERP created or changed since
 *   cursor        the ERP's own modification time the next run reads from (inclusive), kept back
 *                 by the run's duration plus `overlapMs`, so that a record changed while a run
 *                 paged through is read again by the next one (re-reading is harmless)
 *   in force      the catalogue holds unknown or inactive SKUs once a sync has completed
 */

/** Products read per ERP call (default: 100). */
export const DEFAULT_SYNC_PAGE_SIZE = 100;
/** How far behind the newest modification time the cursor is kept, beyond the run's own duration (default: 5000 ms). */
export const DEFAULT_SYNC_OVERLAP_MS = 5000;

export interface SyncOptions {
  /** (default: 100) */
  pageSize?: number;
  /** (default: 5000 ms) */
  overlapMs?: number;
}

export interface SyncReport {
  connectionId: string;
  kind: 'full' | 'incremental';
  /** The cursor the run read from (null: a full load) and the one the next run reads from. */
  since: string | null;
  cursor: string | null;
  read: number;
  changed: number;
  skipped: { externalId: string; reason: string }[];
  pages: number;
  durationMs: number;
}

/** A line's SKU that the catalogue does not allow, with its stable code. */
export interface CatalogueHold {
  code: ProductHoldCode;
  sku: string;
  message: string;
}

const laterOf = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : Date.parse(a) >= Date.parse(b) ? a : b);

export class ProductService {
  readonly #db: Database;
  // A catalogue sync has completed (it never stops being so).
  #loaded = false;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Reads the ERP's products changed since the connection's cursor (all of them the first time),
   * page by page, each page written in its own transaction; the cursor moves only when the run
   * completes, so a failed run is simply run again. Every ERP call goes through `context`
   * (the ERP connection's runtime target).
   */
  async sync(erp: ErpConnector, connectionId: string, context: CallContext = {}, options: SyncOptions = {}): Promise<SyncReport> {
    if (!erp.productsChangedSince) {
      throw new SynclineError(PRODUCT_SYNC_CODES.unsupported, `the ${erp.system} connector cannot list its products`, { retry: 'permanent' });
    }
    const pageSize = options.pageSize ?? DEFAULT_SYNC_PAGE_SIZE;
    const started = Date.now();
    const state = await readProductSync(this.#db, connectionId);
    const since = state?.cursor ? new Date(state.cursor).toISOString() : null;
    const report: SyncReport = { connectionId, kind: since ? 'incremental' : 'full', since, cursor: since, read: 0, changed: 0, skipped: [], pages: 0, durationMs: 0 };
    let newest: string | null = null;
    try {
      for (let offset = 0; ; ) {
        const page = await erp.productsChangedSince(since, { offset, limit: pageSize }, context);
        report.pages += 1;
        report.read += page.products.length;
        report.skipped.push(...page.skipped);
        report.changed += await this.#db.transaction((tx) => upsertProducts(tx, connectionId, page.products));
        for (const p of page.products) newest = laterOf(newest, p.modifiedAt);
        offset += page.products.length + page.skipped.length;
        if (!page.more) break;
      }
    } catch (error) {
      const failure = error instanceof SynclineError ? { code: error.code, message: error.message } : { code: 'product.sync_failed', message: (error as Error).message };
      await failProductSync(this.#db, connectionId, failure);
      throw error;
    }
    report.durationMs = Date.now() - started;
    if (newest !== null) {
      const held = new Date(Date.parse(newest) - report.durationMs - (options.overlapMs ?? DEFAULT_SYNC_OVERLAP_MS)).toISOString();
      report.cursor = laterOf(since, held);
    }
    const { skipped, ...summary } = report;
    await completeProductSync(this.#db, connectionId, report.cursor, { ...summary, skipped: skipped.length, at: new Date().toISOString() });
    return report;
  }

  /** The next sync of the connection reads every product again (a full load). */
  async resetCursor(connectionId: string): Promise<void> {
    await resetProductCursor(this.#db, connectionId);
  }

  async get(sku: string): Promise<Product | undefined> {
    return findProduct(this.#db, sku);
  }

  async list(query: ProductQuery): Promise<Product[]> {
    return listProducts(this.#db, query);
  }

  /** The connection's sync state: the cursor, the last completed run, the last failure. */
  async syncState(connectionId: string) {
    return readProductSync(this.#db, connectionId);
  }

  /**
   * The SKUs the catalogue does not allow (unknown or inactive). Until a catalogue sync has
   * completed nothing is held: without a catalogue every order would be. Read with `within`
   * when given (the caller's transaction).
   */
  async holds(skus: readonly string[], within?: Queryable): Promise<CatalogueHold[]> {
    const q = within ?? this.#db;
    // Once a sync has completed the catalogue stays in force (no completion is ever taken back): asked until then only.
    if (!this.#loaded) this.#loaded = await catalogueLoaded(q);
    if (!this.#loaded) return [];
    const known = new Map((await findProducts(q, skus)).map((p) => [p.sku, p]));
    const holds: CatalogueHold[] = [];
    for (const sku of new Set(skus)) {
      const product = known.get(sku);
      if (!product) holds.push({ code: PRODUCT_HOLD_CODES.unknownSku, sku, message: `SKU ${sku} is not in the product catalogue` });
      else if (!product.active) holds.push({ code: PRODUCT_HOLD_CODES.inactive, sku, message: `SKU ${sku} is not active in the product catalogue` });
    }
    return holds;
  }
}
