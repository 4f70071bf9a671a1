/**
 * The same SKU twice in one reservation request is merged: lines with the same SKU
 * and the same location (or both without one) become one line at the position of
 * the first, holding the sum of their quantities. A reservation then has one line
 * per SKU and location, so a consume by SKU is never ambiguous, and an order that
 * lists a SKU on two lines (a gift and a paid unit) still reserves all of it.
 * Lines of one SKU pinned to different locations stay apart: that split is meant.
 */

/** A requested line once its location reference is resolved. */
export interface RequestedLine {
  sku: string;
  quantity: number;
  locationId: string | undefined;
  locationCode: string | undefined;
}

/** Merges lines of the same SKU and location, keeping first-seen order. */
export function mergeSameSkuLines<L extends RequestedLine>(lines: readonly L[]): L[] {
  const merged = new Map<string, L>();
  for (const line of lines) {
    const key = `${line.sku}\n${line.locationId ?? ''}`;
    const seen = merged.get(key);
    if (seen) merged.set(key, { ...seen, quantity: seen.quantity + line.quantity });
    else merged.set(key, { ...line });
  }
  return [...merged.values()];
}
