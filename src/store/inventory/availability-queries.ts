import type { Queryable } from '../database.ts';

/** Change markers and the last published availability figures. */

/**
 * Takes up to `limit` change markers (skipping markers another publisher holds)
 * and deletes them; returns the distinct SKUs they named. The caller computes
 * availability after this statement, so every change whose marker was taken is
 * visible to that computation; markers committed later stay for the next round.
 */
export async function takeAvailabilityChanges(tx: Queryable, limit: number): Promise<string[]> {
  const result = await tx.query<{ sku: string }>(
    `WITH taken AS (
       DELETE FROM inventory_availability_change
        WHERE id IN (SELECT id FROM inventory_availability_change ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING sku
     )
     SELECT DISTINCT sku FROM taken ORDER BY sku`,
    [limit],
  );
  return result.rows.map((r) => r.sku);
}

/**
 * Serialises publishers per SKU for the rest of the transaction, so that a later
 * computation is also the later write and the last figure published is the newest.
 */
export async function lockSkusForPublishing(tx: Queryable, skus: readonly string[]): Promise<void> {
  if (skus.length === 0) return;
  await tx.query(
    `SELECT pg_advisory_xact_lock(hashtextextended('availability' || chr(10) || k, 0))
       FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS sorted`,
    [[...skus].sort()],
  );
}

export interface PublishedFigure {
  sku: string;
  channel: string;
  available: number;
  onHand: number;
  reserved: number;
}

export async function readPublished(q: Queryable, skus: readonly string[]): Promise<Map<string, PublishedFigure>> {
  if (skus.length === 0) return new Map();
  const result = await q.query<{ sku: string; channel: string; available: string; on_hand: string; reserved: string }>(
    'SELECT sku, channel, available, on_hand, reserved FROM inventory_availability_published WHERE sku = ANY($1::text[])',
    [[...skus]],
  );
  return new Map(
    result.rows.map((r) => [
      `${r.sku}\n${r.channel}`,
      { sku: r.sku, channel: r.channel, available: Number(r.available), onHand: Number(r.on_hand), reserved: Number(r.reserved) },
    ]),
  );
}

export async function writePublished(tx: Queryable, figures: readonly PublishedFigure[]): Promise<void> {
  if (figures.length === 0) return;
  await tx.query(
    `INSERT INTO inventory_availability_published (sku, channel, available, on_hand, reserved)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
     ON CONFLICT (sku, channel) DO UPDATE
       SET available = EXCLUDED.available, on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved, published_at = now()`,
    [figures.map((f) => f.sku), figures.map((f) => f.channel), figures.map((f) => f.available), figures.map((f) => f.onHand), figures.map((f) => f.reserved)],
  );
}

/** Marks every SKU that has stock anywhere as changed (after a policy change that may affect them all). */
export async function markAllSkusChanged(tx: Queryable): Promise<void> {
  await tx.query('INSERT INTO inventory_availability_change (sku) SELECT DISTINCT sku FROM inventory_balance');
}

/** Changes not yet published (for tests and health). */
export async function pendingChanges(q: Queryable): Promise<number> {
  const result = await q.query<{ n: string }>('SELECT count(*) AS n FROM inventory_availability_change');
  return Number(result.rows[0]!.n);
}
