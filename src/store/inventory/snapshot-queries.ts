import type { Queryable } from '../database.ts';
import type { DriftLine, DriftReport, SnapshotSummary } from '../../model/inventory.ts';

/** Reconciliation snapshots and their drift reports. */

export interface SnapshotLineRow {
  sku: string;
  locationId: string;
  ours: number;
  theirs: number;
  openReservations: number;
}

export async function insertSnapshot(
  tx: Queryable,
  snapshot: { id: string; source: string; takenAt: string; complete: boolean; summary: SnapshotSummary },
  lines: readonly SnapshotLineRow[],
): Promise<void> {
  await tx.query('INSERT INTO inventory_snapshot (id, source, taken_at, complete, summary) VALUES ($1, $2, $3, $4, $5)', [
    snapshot.id,
    snapshot.source,
    snapshot.takenAt,
    snapshot.complete,
    JSON.stringify(snapshot.summary),
  ]);
  if (lines.length === 0) return;
  await tx.query(
    `INSERT INTO inventory_snapshot_line (snapshot_id, sku, location_id, ours, theirs, open_reservations)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])`,
    [snapshot.id, lines.map((l) => l.sku), lines.map((l) => l.locationId), lines.map((l) => l.ours), lines.map((l) => l.theirs), lines.map((l) => l.openReservations)],
  );
}

interface RawSnapshot {
  id: string;
  source: string;
  taken_at: Date | string;
  created_at: Date | string;
  applied_at: Date | string | null;
  complete: boolean;
  summary: SnapshotSummary;
}

const toReport = (r: RawSnapshot): DriftReport => ({
  id: r.id,
  source: r.source,
  takenAt: new Date(r.taken_at).toISOString(),
  createdAt: new Date(r.created_at).toISOString(),
  appliedAt: r.applied_at === null ? null : new Date(r.applied_at).toISOString(),
  complete: r.complete,
  summary: r.summary,
});

/** Reports, newest first, before a report id (keyset pagination). */
export async function listSnapshots(q: Queryable, options: { before?: string | undefined; limit: number }): Promise<DriftReport[]> {
  const result = await q.query<RawSnapshot>(
    `SELECT id, source, taken_at, created_at, applied_at, complete, summary FROM inventory_snapshot
      WHERE $1::text IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`,
    [options.before ?? null, options.limit],
  );
  return result.rows.map(toReport);
}

/** A report with its drifting lines; with lock, the snapshot row is locked (to apply it once). */
export async function readSnapshot(q: Queryable, id: string, options: { lock: boolean } = { lock: false }): Promise<(DriftReport & { lines: DriftLine[]; lineRows: SnapshotLineRow[] }) | undefined> {
  const head = await q.query<RawSnapshot>(
    `SELECT id, source, taken_at, created_at, applied_at, complete, summary FROM inventory_snapshot WHERE id = $1 ${options.lock ? 'FOR UPDATE' : ''}`,
    [id],
  );
  if (!head.rows[0]) return undefined;
  const lines = await q.query<{ sku: string; location_id: string; code: string; ours: string; theirs: string; open_reservations: string }>(
    `SELECT s.sku, s.location_id, l.code, s.ours, s.theirs, s.open_reservations
       FROM inventory_snapshot_line s JOIN inventory_location l ON l.id = s.location_id
      WHERE s.snapshot_id = $1 ORDER BY s.sku, l.code`,
    [id],
  );
  const lineRows = lines.rows.map((r) => ({ sku: r.sku, locationId: r.location_id, ours: Number(r.ours), theirs: Number(r.theirs), openReservations: Number(r.open_reservations) }));
  const drift = lines.rows
    .map((r) => ({ sku: r.sku, location: r.code, ours: Number(r.ours), theirs: Number(r.theirs), difference: Number(r.theirs) - Number(r.ours), openReservations: Number(r.open_reservations) }))
    .filter((l) => l.difference !== 0);
  return { ...toReport(head.rows[0]), lines: drift, lineRows };
}

export async function markSnapshotApplied(tx: Queryable, id: string): Promise<void> {
  await tx.query('UPDATE inventory_snapshot SET applied_at = now() WHERE id = $1', [id]);
}

/** Balance rows at some locations (for complete snapshots: what we hold that they did not list). */
export async function balancesAtLocations(q: Queryable, locationIds: readonly string[]): Promise<{ sku: string; locationId: string }[]> {
  const result = await q.query<{ sku: string; location_id: string }>(
    'SELECT sku, location_id FROM inventory_balance WHERE location_id = ANY($1::text[]) AND (on_hand <> 0 OR reserved <> 0)',
    [[...locationIds]],
  );
  return result.rows.map((r) => ({ sku: r.sku, locationId: r.location_id }));
}

/** One SKU's drifting line in a reconciliation report. */
export interface SkuDrift extends DriftLine {
  snapshotId: string;
  source: string;
  takenAt: string;
  appliedAt: string | null;
}

/** The SKU's drifting lines across reports, newest report first (index inventory_snapshot_line_sku_idx). */
export async function driftOfSku(q: Queryable, sku: string, limit: number): Promise<SkuDrift[]> {
  const result = await q.query<{ snapshot_id: string; source: string; taken_at: Date | string; applied_at: Date | string | null; code: string; ours: string; theirs: string; open_reservations: string }>(
    `SELECT s.id AS snapshot_id, s.source, s.taken_at, s.applied_at, loc.code, sl.ours, sl.theirs, sl.open_reservations
       FROM inventory_snapshot_line sl
       JOIN inventory_snapshot s ON s.id = sl.snapshot_id
       JOIN inventory_location loc ON loc.id = sl.location_id
      WHERE sl.sku = $1 AND sl.ours <> sl.theirs
      ORDER BY sl.snapshot_id DESC, loc.code LIMIT $2`,
    [sku, limit],
  );
  return result.rows.map((r) => ({
    snapshotId: r.snapshot_id,
    source: r.source,
    takenAt: new Date(r.taken_at).toISOString(),
    appliedAt: r.applied_at === null ? null : new Date(r.applied_at).toISOString(),
    sku,
    location: r.code,
    ours: Number(r.ours),
    theirs: Number(r.theirs),
    difference: Number(r.theirs) - Number(r.ours),
    openReservations: Number(r.open_reservations),
  }));
}
