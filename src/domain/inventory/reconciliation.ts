import type { Queryable } from '../../store/database.ts';
import { lockBalanceRows } from '../../store/inventory/stock-queries.ts';
import { balancesAtLocations, insertSnapshot, markSnapshotApplied, readSnapshot, type SnapshotLineRow } from '../../store/inventory/snapshot-queries.ts';
import { newId } from '../../model/ids.ts';
import type { DriftLine, DriftReport, SnapshotSummary } from '../../model/inventory.ts';
import { applyMovements, type MovementContext, type MovementProblem } from './movements.ts';

/**
 * Reconciliation against a system of record. The drift report compares their
 * figure with our on hand per SKU and location, noting what was reserved at the
 * time; applying it writes count movements that set our levels to theirs.
 */

export interface ResolvedSnapshot {
  source: string;
  takenAt: string;
  complete: boolean;
  apply: boolean;
  lines: { sku: string; locationId: string; quantity: number }[];
}

export type ReconcileResult =
  | { kind: 'reported'; report: DriftReport & { lines: DriftLine[] } }
  | { kind: 'rejected'; problems: MovementProblem[] }
  | { kind: 'not-found' }
  | { kind: 'already-applied'; report: DriftReport };

/** Builds (and optionally applies) a drift report in the caller's transaction. */
export async function reconcile(tx: Queryable, snapshot: ResolvedSnapshot, context: MovementContext): Promise<ReconcileResult> {
  const theirs = new Map<string, number>();
  for (const line of snapshot.lines) {
    const key = `${line.sku}\n${line.locationId}`;
    // A snapshot that lists a SKU twice at one location means the sum.
    theirs.set(key, (theirs.get(key) ?? 0) + line.quantity);
  }
  if (snapshot.complete) {
    const locations = [...new Set(snapshot.lines.map((l) => l.locationId))];
    for (const held of await balancesAtLocations(tx, locations)) {
      const key = `${held.sku}\n${held.locationId}`;
      if (!theirs.has(key)) theirs.set(key, 0);
    }
  }
  // Locking gives one consistent "ours" per row, and the counts below apply to exactly these figures.
  const balances = await lockBalanceRows(
    tx,
    [...theirs.keys()].map((key) => {
      const [sku, locationId] = key.split('\n') as [string, string];
      return { sku, locationId };
    }),
  );
  const rows: SnapshotLineRow[] = balances.map((b) => ({
    sku: b.sku,
    locationId: b.locationId,
    ours: b.onHand,
    theirs: theirs.get(`${b.sku}\n${b.locationId}`)!,
    openReservations: b.reserved,
  }));
  const drifting = rows.filter((r) => r.theirs !== r.ours);
  const summary: SnapshotSummary = {
    lines: rows.length,
    drifting: drifting.length,
    unitsOver: drifting.reduce((n, r) => n + Math.max(0, r.ours - r.theirs), 0),
    unitsShort: drifting.reduce((n, r) => n + Math.max(0, r.theirs - r.ours), 0),
  };
  const id = newId('snapshot');
  await insertSnapshot(tx, { id, source: snapshot.source, takenAt: snapshot.takenAt, complete: snapshot.complete, summary }, rows);
  if (snapshot.apply) {
    const applied = await applyCounts(tx, id, drifting, snapshot.source, context);
    if (applied) return applied;
  }
  const report = await readSnapshot(tx, id);
  const { lineRows: _rows, ...rest } = report!;
  return { kind: 'reported', report: rest };
}

/** Applies a stored report: count movements to their figures, once. */
export async function applySnapshot(tx: Queryable, id: string, context: MovementContext): Promise<ReconcileResult> {
  const report = await readSnapshot(tx, id, { lock: true });
  if (!report) return { kind: 'not-found' };
  const { lineRows, lines: _lines, ...head } = report;
  if (report.appliedAt !== null) return { kind: 'already-applied', report: head };
  const applied = await applyCounts(tx, id, lineRows.filter((r) => r.theirs !== r.ours), report.source, context);
  if (applied) return applied;
  const after = await readSnapshot(tx, id);
  const { lineRows: _after, ...rest } = after!;
  return { kind: 'reported', report: rest };
}

async function applyCounts(tx: Queryable, id: string, rows: readonly SnapshotLineRow[], source: string, context: MovementContext): Promise<ReconcileResult | undefined> {
  if (rows.length > 0) {
    const result = await applyMovements(
      tx,
      rows.map((r) => ({ type: 'count' as const, sku: r.sku, locationId: r.locationId, quantity: r.theirs, reason: `reconciliation with ${source}`, reference: id })),
      context,
    );
    if (result.kind === 'rejected') return { kind: 'rejected', problems: result.problems };
  }
  await markSnapshotApplied(tx, id);
  return undefined;
}
