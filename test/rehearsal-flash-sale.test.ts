import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * `syncline rehearse flash-sale`, short: a normal rate, a peak at 8 times it, a few hot SKUs
 * with less stock than the peak wants, the ERP at its quota. The report must hold its
 * invariants: nothing oversold, lost or doubled, the ERP never above its quota, the backlog
 * drained; the exit code says whether every check passed.
 */
describe('flash-sale rehearsal', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('a short run writes report.json and a self-contained report.html whose invariants hold', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncline-rehearsal-test-'));
    const result = await runSyncline(['rehearse', 'flash-sale', '--duration', '3', '--base-rate', '1', '--hot-stock', '3', '--erp-quota', '40', '--drain-timeout', '120', '--out', out], {
      DATABASE_URL: database.url,
      SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-rehearsal-data-')),
    });
    const folders = readdirSync(out);
    assert.equal(folders.length, 1, `${result.stdout}\n${result.stderr}`);
    const folder = folders[0]!;
    assert.match(folder, /^flash-sale-/);
    const report = JSON.parse(readFileSync(join(out, folder, 'report.json'), 'utf8'));
    assert.equal(result.code, report.passed ? 0 : 1, 'the exit code says whether every check passed');
    assert.match(result.stderr, /t=\d+s peak submitted=\d+/, 'progress is shown while it runs');

    // The run was a flash sale: a peak above the normal rate, more demand for the hot SKUs than stock.
    assert.ok(report.orders.submitted >= 20, JSON.stringify(report.orders));
    assert.equal(report.orders.accepted, report.orders.submitted, 'every order accepted');
    assert.ok(report.orders.backordered > 0, 'the hot SKUs ran out: some orders wait for stock');
    assert.ok(report.orders.released > 0);
    assert.equal(report.orders.released + report.orders.backordered + report.orders.onHold + report.orders.other, report.orders.accepted);
    const peak = Math.max(...report.series.acceptedPerSecond.map((p: { value: number }) => p.value));
    assert.ok(peak >= 4, `the peak accepted ${peak} orders in its busiest second`);

    // The invariants.
    assert.equal(report.oversoldUnits, 0);
    assert.equal(report.lostOrders, 0);
    assert.equal(report.doubledOrders, 0);
    assert.equal(report.quotaExceededSeconds, 0);
    assert.ok(report.drainedAfterSeconds !== null, 'the ERP backlog drained');
    assert.ok(report.timeToAllocatedMs.count > 0 && report.timeToAllocatedMs.p50 <= report.timeToAllocatedMs.p99);
    assert.ok(report.series.erpBacklog.some((p: { value: number }) => p.value > 0), 'orders queued for the ERP during the peak');
    for (const name of ['oversold units', 'orders lost', 'orders doubled', 'seconds above the ERP quota', 'backlog drained']) {
      assert.ok(report.checks.find((c: { name: string; ok: boolean }) => c.name === name)?.ok, `check ${name}`);
    }

    const html = readFileSync(join(out, folder, 'report.html'), 'utf8');
    assert.ok((html.match(/<svg /g) ?? []).length >= 4, 'charts inline as SVG');
    assert.doesNotMatch(html, /<script|<link|src=|url\(|@import/i, 'no external assets');
    assert.match(html, /oversold units/);
    console.log(JSON.stringify({ passed: report.passed, orders: report.orders, timeToAllocatedMs: report.timeToAllocatedMs, drainedAfterSeconds: report.drainedAfterSeconds, drainRatio: report.drainRatio }));
  });
});
