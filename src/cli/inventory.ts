import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { openDatabase } from '../syncline.ts';
import { InventoryService } from '../domain/inventory/inventory.service.ts';
import { SnapshotRequest, type DriftReport, type DriftLine } from '../model/inventory.ts';
import { fieldErrors } from '../api/validation.ts';

export const INVENTORY_USAGE = `  inventory verify               recompute balances from the ledger; exit 1 on any difference
  inventory reconcile --file <snapshot.csv> [--source <name>] [--complete] [--apply]
                                 drift report against a system of record's snapshot
                                 (CSV columns: sku,location,quantity); --apply writes counts`;

/** A wrong use of an inventory command; printed as one line, exit code 2. */
class InventoryUsageError extends Error {}

/** Runs `syncline inventory <sub>`; prints its own errors and returns the exit code. */
export async function runInventoryCommand(args: string[], config: Config): Promise<number> {
  try {
    return await run(args, config);
  } catch (error) {
    if (error instanceof InventoryUsageError) {
      console.error(`syncline inventory: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

async function run(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'verify': {
      parseArgs({ args: rest, options: {}, strict: true });
      return withInventory(config, async (inventory) => {
        const report = await inventory.verify();
        console.log(`checked ${report.balances} balance(s) against ${report.movements} ledger movement(s) and open reservations`);
        if (report.drift.length === 0) {
          console.log('ok: every balance equals the ledger');
          return 0;
        }
        console.log(`${report.drift.length} difference(s):`);
        console.log(table(['sku', 'location', 'on hand', 'ledger', 'reserved', 'open holds'], report.drift.map((d) => [d.sku, d.location, d.onHand, d.ledgerOnHand, d.reserved, d.openReserved])));
        return 1;
      });
    }
    case 'reconcile': {
      const { values } = parseArgs({
        args: rest,
        options: { file: { type: 'string' }, source: { type: 'string' }, complete: { type: 'boolean' }, apply: { type: 'boolean' }, 'taken-at': { type: 'string' } },
        strict: true,
      });
      if (!values.file) throw new InventoryUsageError('--file is required, for example --file snapshot.csv');
      let text: string;
      try {
        text = readFileSync(values.file, 'utf8');
      } catch (error) {
        throw new InventoryUsageError(`cannot read ${values.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      const parsed = SnapshotRequest.safeParse({
        source: values.source ?? 'file',
        complete: values.complete ?? false,
        apply: values.apply ?? false,
        ...(values['taken-at'] ? { takenAt: values['taken-at'] } : {}),
        lines: parseSnapshotCsv(text, values.file),
      });
      if (!parsed.success) {
        throw new InventoryUsageError(fieldErrors(parsed.error).map((e) => describePointer(e.pointer, values.file!) + ' ' + e.detail).join('; '));
      }
      return withInventory(config, async (inventory) => {
        const outcome = await inventory.reconcile(parsed.data, { correlationId: `cli-reconcile-${Date.now()}` });
        if (outcome.kind === 'unknown-locations') {
          throw new InventoryUsageError(outcome.problems.map((p) => `${describePointer(p.pointer, values.file!)}: ${p.detail}`).join('; '));
        }
        if (outcome.kind !== 'done') throw new Error(`unexpected outcome ${outcome.kind}`);
        const result = outcome.result;
        if (result.kind === 'rejected') {
          console.error(`syncline inventory: the counts cannot be applied: ${result.problems.map((p) => p.detail).join('; ')}`);
          return 1;
        }
        if (result.kind !== 'reported') throw new Error(`unexpected result ${result.kind}`);
        printReport(result.report);
        return 0;
      });
    }
    default:
      throw new InventoryUsageError(`unknown inventory command "${sub ?? ''}"; try "syncline inventory verify" or "syncline inventory reconcile --file snapshot.csv"`);
  }
}

async function withInventory(config: Config, work: (inventory: InventoryService) => Promise<number>): Promise<number> {
  const logger = createLogger('warn');
  const db = await openDatabase(config, logger, { customerKeys: false });
  try {
    return await work(new InventoryService(db, logger));
  } finally {
    await db.close();
  }
}

/** Data rows of the CSV, in order; the first line must be a header naming sku, location and quantity. */
export function parseSnapshotCsv(text: string, file: string): { sku: string; location: string; quantity: unknown }[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
  const at = { sku: header.indexOf('sku'), location: header.indexOf('location'), quantity: header.indexOf('quantity') };
  const missing = Object.entries(at).filter(([, i]) => i < 0).map(([name]) => name);
  if (missing.length > 0) throw new InventoryUsageError(`${file} line 1: the header must name the columns sku,location,quantity (missing: ${missing.join(', ')})`);
  const rows: { sku: string; location: string; quantity: unknown }[] = [];
  lines.slice(1).forEach((line, n) => {
    if (line.trim() === '') return;
    const cells = line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    const raw = cells[at.quantity] ?? '';
    if (!/^\d+$/.test(raw)) throw new InventoryUsageError(`${file} line ${n + 2}: quantity "${raw}" must be a whole number of 0 or more`);
    rows.push({ sku: cells[at.sku] ?? '', location: cells[at.location] ?? '', quantity: Number(raw) });
  });
  if (rows.length === 0) throw new InventoryUsageError(`${file} has no data rows`);
  return rows;
}

/** Turns /lines/3/sku into "snapshot.csv row 4 (sku)": the 4th data row, not counting the header or blank lines. */
function describePointer(pointer: string, file: string): string {
  const match = /^\/lines\/(\d+)\/?(.*)$/.exec(pointer);
  return match ? `${file} row ${Number(match[1]) + 1}${match[2] ? ` (${match[2]})` : ''}` : `${file} ${pointer}`;
}

function printReport(report: DriftReport & { lines?: DriftLine[] }): void {
  const s = report.summary;
  console.log(`snapshot ${report.id} from ${report.source} taken ${report.takenAt}${report.appliedAt ? `, applied ${report.appliedAt}` : ', not applied'}`);
  console.log(`${s.lines} line(s) compared, ${s.drifting} drifting; we hold ${s.unitsOver} unit(s) more and ${s.unitsShort} fewer than the snapshot`);
  if ((report.lines ?? []).length > 0) {
    console.log(table(['sku', 'location', 'ours', 'theirs', 'difference', 'open reservations'], report.lines!.map((l) => [l.sku, l.location, l.ours, l.theirs, l.difference, l.openReservations])));
  }
}

function table(head: string[], rows: (string | number)[][]): string {
  const all = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
