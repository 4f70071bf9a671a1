import type { Queryable } from '../database.ts';
import { saveResultsParam, saveResultsSql, type IdempotencyClaim } from '../idempotency/idempotency-records.ts';
import type { Reservation, ReservationStatus } from '../../model/inventory.ts';
import { appendEventsParam, appendEventsSql, type NewEvent } from '../../runtime/outbox/outbox.ts';

/** Reservations and their lines. Callers change balances alongside, in the same transaction. */

export interface NewReservation {
  id: string;
  reference: string;
  channel: string;
  expiresAt: string | null;
  createdAt: string;
  correlationId: string;
  lines: { lineNumber: number; sku: string; locationId: string; quantity: number }[];
}

/**
 * Writes everything a batch of reservations changes in one statement (one round
 * trip while the balance rows are locked): the reservations and their lines, the
 * new balance figures, the availability change markers, the idempotency results and the
 * outbox events.
 */
export async function writeReservationBatch(
  tx: Queryable,
  batch: {
    reservations: readonly NewReservation[];
    balances: readonly { sku: string; locationId: string; onHand: number; reserved: number }[];
    changedSkus: readonly string[];
    results: readonly { claim: IdempotencyClaim; result: unknown }[];
    events: readonly NewEvent[];
  },
): Promise<void> {
  const { reservations, balances } = batch;
  await tx.query(
    `WITH new_reservations AS (
       INSERT INTO inventory_reservation (id, reference, channel, status, expires_at, created_at, correlation_id)
       SELECT r.id, r.reference, r.channel, 'active', r.expires_at, r.created_at, r.correlation_id
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, reference text, channel text, expires_at timestamptz, created_at timestamptz, correlation_id text)
     ), new_lines AS (
       INSERT INTO inventory_reservation_line (reservation_id, line_number, sku, location_id, channel, quantity, open_quantity)
       SELECT l.reservation_id, l.line_number, l.sku, l.location_id, l.channel, l.quantity, l.quantity
         FROM jsonb_to_recordset($2::jsonb) AS l(reservation_id text, line_number int, sku text, location_id text, channel text, quantity bigint)
     ), new_balances AS (
       UPDATE inventory_balance b SET on_hand = t.on_hand, reserved = t.reserved, updated_at = now()
         FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS t(sku, location_id, on_hand, reserved)
        WHERE b.sku = t.sku AND b.location_id = t.location_id
     ), changes AS (
       INSERT INTO inventory_availability_change (sku) SELECT unnest($7::text[])
     ), results AS (
       ${saveResultsSql('$8')}
     ), events AS (
       ${appendEventsSql('$9')}
     )
     SELECT 1`,
    [
      JSON.stringify(
        reservations.map((r) => ({ id: r.id, reference: r.reference, channel: r.channel, expires_at: r.expiresAt, created_at: r.createdAt, correlation_id: r.correlationId })),
      ),
      JSON.stringify(
        reservations.flatMap((r) =>
          r.lines.map((l) => ({ reservation_id: r.id, line_number: l.lineNumber, sku: l.sku, location_id: l.locationId, channel: r.channel, quantity: l.quantity })),
        ),
      ),
      balances.map((b) => b.sku),
      balances.map((b) => b.locationId),
      balances.map((b) => b.onHand),
      balances.map((b) => b.reserved),
      [...new Set(batch.changedSkus)],
      saveResultsParam(batch.results),
      appendEventsParam(batch.events),
    ],
  );
}

export interface HeldLine {
  lineNumber: number;
  sku: string;
  locationId: string;
  code: string;
  quantity: number;
  open: number;
  consumed: number;
}

export interface HeldReservation {
  id: string;
  reference: string;
  channel: string;
  status: ReservationStatus;
  expiresAt: string | null;
  createdAt: string;
  closedAt: string | null;
  lines: HeldLine[];
}

interface RawReservation {
  id: string;
  reference: string;
  channel: string;
  status: ReservationStatus;
  expires_at: Date | string | null;
  created_at: Date | string;
  closed_at: Date | string | null;
  lines: { line_number: number; sku: string; location_id: string; code: string; quantity: number; open_quantity: number; consumed: number }[];
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

const toHeld = (r: RawReservation): HeldReservation => ({
  id: r.id,
  reference: r.reference,
  channel: r.channel,
  status: r.status,
  expiresAt: iso(r.expires_at),
  createdAt: iso(r.created_at)!,
  closedAt: iso(r.closed_at),
  lines: r.lines
    .map((l) => ({
      lineNumber: l.line_number,
      sku: l.sku,
      locationId: l.location_id,
      code: l.code,
      quantity: Number(l.quantity),
      open: Number(l.open_quantity),
      consumed: Number(l.consumed),
    }))
    .sort((a, b) => a.lineNumber - b.lineNumber || (a.code < b.code ? -1 : 1)),
});

const SELECT_RESERVATION = `
  SELECT r.id, r.reference, r.channel, r.status, r.expires_at, r.created_at, r.closed_at,
         (SELECT coalesce(json_agg(json_build_object('line_number', l.line_number, 'sku', l.sku, 'location_id', l.location_id, 'code', loc.code,
                                                     'quantity', l.quantity, 'open_quantity', l.open_quantity, 'consumed', l.consumed)), '[]')
            FROM inventory_reservation_line l JOIN inventory_location loc ON loc.id = l.location_id
           WHERE l.reservation_id = r.id) AS lines
    FROM inventory_reservation r`;

/** Reads reservations by id; with lock, the reservation rows are locked FOR UPDATE in id order. */
export async function readReservations(q: Queryable, ids: readonly string[], options: { lock: boolean }): Promise<HeldReservation[]> {
  if (ids.length === 0) return [];
  const result = await q.query<RawReservation>(
    `${SELECT_RESERVATION} WHERE r.id = ANY($1::text[]) ORDER BY r.id ${options.lock ? 'FOR UPDATE OF r' : ''}`,
    [[...new Set(ids)]],
  );
  return result.rows.map(toHeld);
}

/** Reservations of a reference (order or cart id), newest first. */
export async function findReservationsByReference(q: Queryable, reference: string): Promise<HeldReservation[]> {
  const result = await q.query<RawReservation>(`${SELECT_RESERVATION} WHERE r.reference = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 100`, [reference]);
  return result.rows.map(toHeld);
}

/**
 * Claims active reservations whose expiry has passed, locking them; rows locked
 * by another process (already being expired or released) are skipped.
 */
export async function claimExpired(tx: Queryable, limit: number): Promise<string[]> {
  const result = await tx.query<{ id: string }>(
    `SELECT id FROM inventory_reservation
      WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= now()
      ORDER BY expires_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return result.rows.map((r) => r.id).sort();
}

/** The earliest expiry of an active hold, if any. */
export async function nextExpiry(q: Queryable): Promise<Date | undefined> {
  const result = await q.query<{ at: Date | string | null }>(
    "SELECT min(expires_at) AS at FROM inventory_reservation WHERE status = 'active' AND expires_at IS NOT NULL",
  );
  const at = result.rows[0]?.at;
  return at ? new Date(at) : undefined;
}

/** Writes the new open and consumed quantities of reservation lines. */
export async function writeLineQuantities(
  tx: Queryable,
  rows: readonly { reservationId: string; lineNumber: number; locationId: string; open: number; consumed: number }[],
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE inventory_reservation_line l SET open_quantity = t.open, consumed = t.consumed
       FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[]) AS t(rid, ln, lid, open, consumed)
      WHERE l.reservation_id = t.rid AND l.line_number = t.ln AND l.location_id = t.lid`,
    [rows.map((r) => r.reservationId), rows.map((r) => r.lineNumber), rows.map((r) => r.locationId), rows.map((r) => r.open), rows.map((r) => r.consumed)],
  );
}

export async function closeReservations(tx: Queryable, closes: readonly { id: string; status: ReservationStatus }[]): Promise<void> {
  if (closes.length === 0) return;
  await tx.query(
    `UPDATE inventory_reservation r SET status = t.status, closed_at = now()
       FROM unnest($1::text[], $2::text[]) AS t(id, status) WHERE r.id = t.id`,
    [closes.map((c) => c.id), closes.map((c) => c.status)],
  );
}

/** The API shape of a reservation. */
export function toReservation(held: HeldReservation): Reservation {
  const byLine = new Map<number, HeldLine[]>();
  for (const line of held.lines) byLine.set(line.lineNumber, [...(byLine.get(line.lineNumber) ?? []), line]);
  return {
    id: held.id,
    reference: held.reference,
    channel: held.channel,
    status: held.status,
    expiresAt: held.expiresAt,
    createdAt: held.createdAt,
    closedAt: held.closedAt,
    lines: [...byLine.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([lineNumber, parts]) => {
        const main = [...parts].sort((a, b) => b.quantity - a.quantity)[0]!;
        return {
          lineNumber,
          sku: main.sku,
          quantity: parts.reduce((n, p) => n + p.quantity, 0),
          location: main.code,
          allocations: parts.map((p) => ({ location: p.code, quantity: p.quantity, open: p.open, consumed: p.consumed })),
        };
      }),
  };
}

/**
 * Replaces the lines of an active reservation none of whose units has shipped (a hold resized
 * before release): its old lines go, the new ones are held in full. The caller has locked the
 * reservation and the balance rows, and writes the balances alongside.
 */
export async function replaceReservationLines(
  tx: Queryable,
  reservationId: string,
  channel: string,
  lines: readonly { lineNumber: number; sku: string; locationId: string; quantity: number }[],
): Promise<void> {
  await tx.query('DELETE FROM inventory_reservation_line WHERE reservation_id = $1', [reservationId]);
  if (lines.length === 0) return;
  await tx.query(
    `INSERT INTO inventory_reservation_line (reservation_id, line_number, sku, location_id, channel, quantity, open_quantity)
     SELECT $1, l.line_number, l.sku, l.location_id, $2, l.quantity, l.quantity
       FROM jsonb_to_recordset($3::jsonb) AS l(line_number int, sku text, location_id text, quantity bigint)`,
    [reservationId, channel, JSON.stringify(lines.map((l) => ({ line_number: l.lineNumber, sku: l.sku, location_id: l.locationId, quantity: l.quantity })))],
  );
}

/** An active reservation's open lines for one SKU (per location), as the console lists them. */
export interface OpenSkuReservation {
  id: string;
  reference: string;
  channel: string;
  createdAt: string;
  expiresAt: string | null;
  lines: { lineNumber: number; location: string; quantity: number; open: number }[];
}

/**
 * Active reservations holding a SKU, newest first, keyset-paged on the reservation id (a page
 * is whole reservations, never half of one's lines). Reads the open-line index by SKU.
 */
export async function openReservationsOfSku(q: Queryable, sku: string, page: { before?: string | undefined; limit: number }): Promise<OpenSkuReservation[]> {
  const result = await q.query<{ id: string; reference: string; channel: string; created_at: Date | string; expires_at: Date | string | null; line_number: number; code: string; quantity: string; open_quantity: string }>(
    `WITH page AS (
       SELECT DISTINCT l.reservation_id FROM inventory_reservation_line l
        WHERE l.sku = $1 AND l.open_quantity > 0 AND ($2::text IS NULL OR l.reservation_id < $2)
        ORDER BY l.reservation_id DESC LIMIT $3
     )
     SELECT r.id, r.reference, r.channel, r.created_at, r.expires_at, l.line_number, loc.code, l.quantity, l.open_quantity
       FROM page p
       JOIN inventory_reservation r ON r.id = p.reservation_id AND r.status = 'active'
       JOIN inventory_reservation_line l ON l.reservation_id = r.id AND l.sku = $1 AND l.open_quantity > 0
       JOIN inventory_location loc ON loc.id = l.location_id
      ORDER BY r.id DESC, l.line_number, loc.code`,
    [sku, page.before ?? null, page.limit],
  );
  const byId = new Map<string, OpenSkuReservation>();
  for (const row of result.rows) {
    let reservation = byId.get(row.id);
    if (!reservation) {
      reservation = {
        id: row.id,
        reference: row.reference,
        channel: row.channel,
        createdAt: new Date(row.created_at).toISOString(),
        expiresAt: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
        lines: [],
      };
      byId.set(row.id, reservation);
    }
    reservation.lines.push({ lineNumber: row.line_number, location: row.code, quantity: Number(row.quantity), open: Number(row.open_quantity) });
  }
  return [...byId.values()];
}
