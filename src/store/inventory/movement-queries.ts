import type { Queryable } from '../database.ts';
import type { LedgerEntry, LedgerType } from '../../model/inventory.ts';

/** The movement ledger: append and read. Rows are never updated or deleted. */

export interface NewLedgerRow {
  requestId: string;
  type: LedgerType;
  sku: string;
  locationId: string;
  /** Signed change of on hand. */
  quantity: number;
  counted?: number | null;
  reason?: string | null;
  reference?: string | null;
  reservationId?: string | null;
  correlationId: string;
}

interface RawEntry {
  id: string;
  request_id: string;
  type: LedgerType;
  sku: string;
  code: string;
  quantity: string;
  counted: string | null;
  reason: string | null;
  reference: string | null;
  reservation_id: string | null;
  created_at: Date | string;
}

const toEntry = (r: RawEntry): LedgerEntry => ({
  id: String(r.id),
  requestId: r.request_id,
  type: r.type,
  sku: r.sku,
  location: r.code,
  quantity: Number(r.quantity),
  counted: r.counted === null ? null : Number(r.counted),
  reason: r.reason,
  reference: r.reference,
  reservationId: r.reservation_id,
  createdAt: new Date(r.created_at).toISOString(),
});

/** Appends ledger rows in the caller's transaction; returns them as written, in input order. */
export async function appendLedger(tx: Queryable, rows: readonly NewLedgerRow[]): Promise<LedgerEntry[]> {
  if (rows.length === 0) return [];
  const result = await tx.query<RawEntry & { n: number }>(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS m(n int, request_id text, type text, sku text, location_id text, quantity bigint,
              counted bigint, reason text, reference text, reservation_id text, correlation_id text)
     ), written AS (
       INSERT INTO inventory_movement (request_id, type, sku, location_id, quantity, counted, reason, reference, reservation_id, correlation_id)
       SELECT request_id, type, sku, location_id, quantity, counted, reason, reference, reservation_id, correlation_id FROM input ORDER BY n
       RETURNING id, request_id, type, sku, location_id, quantity, counted, reason, reference, reservation_id, created_at
     )
     SELECT w.*, l.code FROM written w JOIN inventory_location l ON l.id = w.location_id ORDER BY w.id`,
    [
      JSON.stringify(
        rows.map((r, n) => ({
          n,
          request_id: r.requestId,
          type: r.type,
          sku: r.sku,
          location_id: r.locationId,
          quantity: r.quantity,
          counted: r.counted ?? null,
          reason: r.reason ?? null,
          reference: r.reference ?? null,
          reservation_id: r.reservationId ?? null,
          correlation_id: r.correlationId,
        })),
      ),
    ],
  );
  return result.rows.map(toEntry);
}

/** Ledger entries of a SKU (optionally at one location), oldest first, after an entry id. */
export async function readLedger(q: Queryable, filter: { sku: string; locationId?: string | undefined; after?: string | undefined; limit: number }): Promise<LedgerEntry[]> {
  const result = await q.query<RawEntry>(
    `SELECT m.id, m.request_id, m.type, m.sku, l.code, m.quantity, m.counted, m.reason, m.reference, m.reservation_id, m.created_at
       FROM inventory_movement m JOIN inventory_location l ON l.id = m.location_id
      WHERE m.sku = $1 AND ($2::text IS NULL OR m.location_id = $2) AND m.id > $3::bigint
      ORDER BY m.id LIMIT $4`,
    [filter.sku, filter.locationId ?? null, filter.after ?? '0', filter.limit],
  );
  return result.rows.map(toEntry);
}

export interface BalanceDrift {
  sku: string;
  location: string;
  onHand: number;
  ledgerOnHand: number;
  reserved: number;
  openReserved: number;
}

/**
 * Recomputes every balance from the ledger (on hand) and from open reservation
 * lines (reserved) and returns the rows that disagree, including ledger or
 * reservation rows that have no balance row at all.
 */
export async function findBalanceDrift(q: Queryable): Promise<BalanceDrift[]> {
  const result = await q.query<{ sku: string; code: string; on_hand: string; ledger: string; reserved: string; held: string }>(
    `WITH ledger AS (
       SELECT sku, location_id, sum(quantity) AS on_hand FROM inventory_movement GROUP BY sku, location_id
     ), held AS (
       SELECT sku, location_id, sum(open_quantity) AS reserved FROM inventory_reservation_line WHERE open_quantity > 0 GROUP BY sku, location_id
     ), keys AS (
       SELECT sku, location_id FROM inventory_balance UNION SELECT sku, location_id FROM ledger UNION SELECT sku, location_id FROM held
     )
     SELECT k.sku, l.code, coalesce(b.on_hand, 0) AS on_hand, coalesce(g.on_hand, 0) AS ledger,
            coalesce(b.reserved, 0) AS reserved, coalesce(h.reserved, 0) AS held
       FROM keys k
       JOIN inventory_location l ON l.id = k.location_id
       LEFT JOIN inventory_balance b ON b.sku = k.sku AND b.location_id = k.location_id
       LEFT JOIN ledger g ON g.sku = k.sku AND g.location_id = k.location_id
       LEFT JOIN held h ON h.sku = k.sku AND h.location_id = k.location_id
      WHERE coalesce(b.on_hand, 0) <> coalesce(g.on_hand, 0) OR coalesce(b.reserved, 0) <> coalesce(h.reserved, 0)
      ORDER BY k.sku, l.code`,
  );
  return result.rows.map((r) => ({
    sku: r.sku,
    location: r.code,
    onHand: Number(r.on_hand),
    ledgerOnHand: Number(r.ledger),
    reserved: Number(r.reserved),
    openReserved: Number(r.held),
  }));
}

/** How many balance rows and ledger entries exist (for the verify report). */
export async function countInventory(q: Queryable): Promise<{ balances: number; movements: number }> {
  const result = await q.query<{ balances: string; movements: string }>(
    'SELECT (SELECT count(*) FROM inventory_balance) AS balances, (SELECT count(*) FROM inventory_movement) AS movements',
  );
  return { balances: Number(result.rows[0]!.balances), movements: Number(result.rows[0]!.movements) };
}
