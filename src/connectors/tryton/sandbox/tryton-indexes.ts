import { INTERNAL_LOCATIONS, type Rec } from './tryton-data.ts';

/**
 * What the sandbox ERP keeps beside its tables so that the calls an order makes cost the same
 * whatever the number of orders placed before (a benchmark places thousands in one sandbox; a
 * scan of every sale, move or invoice per call grew with each).
 */

/**
 * Fields records are found by without reading every record of the model. Each is set when the
 * record is inserted and never changed after (model.write does not allow it), so an index kept
 * at insert stays true; a record deleted since is skipped when looked up.
 */
export const INDEXED_FIELDS: Record<string, readonly string[]> = {
  'sale.sale': ['reference'],
  'stock.move': ['origin'],
  'account.invoice': ['sale_origin'],
  'account.invoice.line': ['origin'],
};

/** Ids by field value: strings and numbers by their text (as a domain's "=" compares them), empty values apart, any other value with the ids always looked at. */
interface FieldIndex {
  byText: Map<string, number[]>;
  empty: number[];
  other: number[];
}

/** The indexes of INDEXED_FIELDS. */
export class FieldIndexes {
  #indexes = new Map<string, FieldIndex>();

  /** Indexes a record just inserted. */
  add(model: string, rec: Rec): void {
    for (const field of INDEXED_FIELDS[model] ?? []) {
      let index = this.#indexes.get(`${model} ${field}`);
      if (!index) this.#indexes.set(`${model} ${field}`, (index = { byText: new Map(), empty: [], other: [] }));
      const value = rec[field];
      if (typeof value === 'string' || typeof value === 'number') {
        const key = String(value);
        const ids = index.byText.get(key);
        if (ids) ids.push(rec.id);
        else index.byText.set(key, [rec.id]);
      } else (value === null || value === undefined ? index.empty : index.other).push(rec.id);
    }
  }

  /**
   * Ids of the records of model whose field may equal value as a domain's "=" compares (by
   * text): every record that does is among them, in id order; the caller checks each (and skips
   * those deleted). Undefined when the field has no index.
   */
  candidates(model: string, field: string, value: string | number): number[] | undefined {
    if (!INDEXED_FIELDS[model]?.includes(field)) return undefined;
    const index = this.#indexes.get(`${model} ${field}`);
    if (!index) return [];
    const key = String(value);
    return [...(index.byText.get(key) ?? []), ...index.other, ...(key === '' ? index.empty : [])].sort((a, b) => a - b);
  }
}

/** What a move will add to (+) or take from (-) the warehouse: 0 once done or cancelled. */
function plannedPart(move: Rec): number {
  if (move.state === 'done' || move.state === 'cancelled') return 0;
  const from = INTERNAL_LOCATIONS.has(move.from_location as number);
  const to = INTERNAL_LOCATIONS.has(move.to_location as number);
  if (from && !to) return -Number(move.quantity);
  if (!from && to) return Number(move.quantity);
  return 0;
}

/**
 * Stock moves by product: those that may still be planned, and the sum of what they will add or
 * take. The ERP calls track() after every change of a move's state or quantity. The sum is exact
 * while every move's part is a whole number; otherwise (or past 2^53) the parts are summed afresh,
 * in id order as a scan of the table would.
 */
export class PlannedStock {
  /** Moves not known to be done or cancelled, by product. Both are final in the sandbox: a move met in either is dropped for good. */
  #open = new Map<number, Set<number>>();
  #parts = new Map<number, number>();
  #sums = new Map<number, { sum: number; inexact: number; overflowed: boolean }>();

  /** A move just inserted. */
  add(move: Rec): void {
    const product = move.product as number;
    let open = this.#open.get(product);
    if (!open) this.#open.set(product, (open = new Set()));
    open.add(move.id);
    this.track(move);
  }

  /** Brings the sum of the move's product up to date with the move as it now is. */
  track(move: Rec): void {
    const before = this.#parts.get(move.id) ?? 0;
    const after = plannedPart(move);
    if (Object.is(before, after)) return;
    this.#parts.set(move.id, after);
    const product = move.product as number;
    let planned = this.#sums.get(product);
    if (!planned) this.#sums.set(product, (planned = { sum: 0, inexact: 0, overflowed: false }));
    if (!Number.isSafeInteger(before)) planned.inexact -= 1;
    if (!Number.isSafeInteger(after)) planned.inexact += 1;
    planned.sum = planned.sum - before + after;
    if (planned.inexact === 0 && !Number.isSafeInteger(planned.sum)) planned.overflowed = true;
  }

  /** The product's moves not done nor cancelled, in id order. */
  *open(productId: number, moves: Map<number, Rec>): Generator<Rec> {
    const open = this.#open.get(productId);
    if (!open) return;
    for (const id of open) {
      const move = moves.get(id);
      if (!move || move.state === 'done' || move.state === 'cancelled') open.delete(id);
      else yield move;
    }
  }

  /** What the product's moves not yet done will add (+) or take (-) from the warehouse. */
  delta(productId: number, moves: Map<number, Rec>): number {
    const planned = this.#sums.get(productId);
    if (!planned) return 0;
    if (planned.inexact === 0 && !planned.overflowed) return planned.sum;
    let delta = 0;
    for (const move of this.open(productId, moves)) delta += plannedPart(move);
    return delta;
  }
}
