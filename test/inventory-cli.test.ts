import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { createLogger } from '../src/observability/logger.ts';
import { InventoryService } from '../src/domain/inventory/inventory.service.ts';
import { runSyncline } from './support/cli.ts';

let database: TestDatabase;
const dir = mkdtempSync(join(tmpdir(), 'syncline-inventory-cli-'));

const cli = (args: string[]) => runSyncline(args, { DATABASE_URL: database.url, LOG_LEVEL: 'warn' });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

before(async () => {
  database = await createTestDatabase();
  const inventory = new InventoryService(database.db, createLogger('silent'));
  await inventory.createLocation({ code: 'WH-A', name: 'A', kind: 'warehouse' }, { correlationId: 'cli' });
  await inventory.recordMovements(
    {
      movements: [
        { type: 'receipt', sku: 'CSV-1', location: 'WH-A', quantity: 10 },
        { type: 'receipt', sku: 'CSV-2', location: 'WH-A', quantity: 4 },
      ],
    },
    { correlationId: 'cli' },
  );
});
after(async () => database?.drop());

test('reconcile --file prints the drift report and --apply writes counts', async () => {
  const csv = file('snapshot.csv', 'sku,location,quantity\nCSV-1,WH-A,8\nCSV-2,WH-A,4\n\n');
  const report = await cli(['inventory', 'reconcile', '--file', csv, '--source', 'erp']);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /from erp/);
  assert.match(report.stdout, /2 line\(s\) compared, 1 drifting/);
  assert.match(report.stdout, /CSV-1\s+WH-A\s+10\s+8\s+-2\s+0/);
  assert.match(report.stdout, /not applied/);
  const applied = await cli(['inventory', 'reconcile', '--file', csv, '--source', 'erp', '--apply']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /applied 20/);
  const again = await cli(['inventory', 'reconcile', '--file', csv]);
  assert.match(again.stdout, /0 drifting/);
});

test('clear errors for a missing file, a bad header, a bad quantity and an unknown location', async () => {
  const missingFlag = await cli(['inventory', 'reconcile']);
  assert.equal(missingFlag.code, 2);
  assert.match(missingFlag.stderr, /--file is required/);
  const missingFile = await cli(['inventory', 'reconcile', '--file', join(dir, 'nope.csv')]);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /cannot read .*nope\.csv: ENOENT/);
  const header = await cli(['inventory', 'reconcile', '--file', file('header.csv', 'item,where,qty\nA,WH-A,1\n')]);
  assert.equal(header.code, 2);
  assert.match(header.stderr, /header\.csv line 1: the header must name the columns sku,location,quantity/);
  const quantity = await cli(['inventory', 'reconcile', '--file', file('quantity.csv', 'sku,location,quantity\nA,WH-A,1\nB,WH-A,-3\n')]);
  assert.equal(quantity.code, 2);
  assert.match(quantity.stderr, /quantity\.csv line 3: quantity "-3" must be a whole number/);
  const location = await cli(['inventory', 'reconcile', '--file', file('location.csv', 'sku,location,quantity\nA,WH-A,1\nB,MOON,3\n')]);
  assert.equal(location.code, 2);
  assert.match(location.stderr, /location\.csv row 2 \(location\): no location with id or code "MOON"/);
  const unknown = await cli(['inventory', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown inventory command "frobnicate"/);
  for (const result of [missingFile, header, quantity, location]) assert.doesNotMatch(result.stderr, /at .*\.ts:\d+/);
});

test('verify exits 0 when balances equal the ledger and 1 with the differences when not', async () => {
  const ok = await cli(['inventory', 'verify']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok: every balance equals the ledger/);
  // Simulate corruption outside the service (a manual UPDATE) to prove verify catches it.
  await database.db.query("UPDATE inventory_balance SET on_hand = on_hand + 5 WHERE sku = 'CSV-2'");
  const bad = await cli(['inventory', 'verify']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /1 difference\(s\)/);
  assert.match(bad.stdout, /CSV-2\s+WH-A\s+9\s+4/);
});
