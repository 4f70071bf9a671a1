import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * `syncline rehearse erp-outage`, short: the flash sale's load with the ERP down for part of the
 * peak. Orders must still be allocated while it is down, the ERP backlog must grow during the
 * outage and drain after it, and every released order must be in the ERP's sales exactly once;
 * nothing oversold, lost or doubled, the ERP never above its quota.
 */
describe('erp-outage rehearsal', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('the backlog grows while the ERP is down and drains after; every order posted once', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncline-rehearsal-test-'));
    const result = await runSyncline(
      ['rehearse', 'erp-outage', '--duration', '6', '--base-rate', '1', '--outage-start', '1', '--outage-duration', '4', '--erp-breaker-cooldown', '1', '--erp-quota', '40', '--drain-timeout', '120', '--out', out],
      { DATABASE_URL: database.url, SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-rehearsal-data-')) },
    );
    const folders = readdirSync(out);
    assert.equal(folders.length, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(folders[0]!, /^erp-outage-/);
    const report = JSON.parse(readFileSync(join(out, folders[0]!, 'report.json'), 'utf8'));
    assert.equal(result.code, report.passed ? 0 : 1, 'the exit code says whether every check passed');
    assert.match(result.stderr, /t=\d+s peak, ERP down submitted=\d+/, 'progress shows the outage');

    // The outage happened during the peak, and orders kept coming and being allocated.
    const f = report.figures;
    assert.ok(f.erpDownFromSecond !== null && f.erpUpAtSecond > f.erpDownFromSecond, JSON.stringify(f));
    assert.ok(report.series.scenario.erpDown.some((p: { value: number }) => p.value === 1), 'the ERP-down series marks the outage');
    assert.ok(f.ordersSubmittedDuringOutage > 0);
    assert.equal(f.timeToAllocatedDuringOutageMs.count, f.ordersSubmittedDuringOutage, 'every order submitted during the outage was allocated');
    assert.ok(f.erpBacklogMaxDuringOutage > f.erpBacklogAtOutageStart, `the backlog grew while the ERP was down: ${JSON.stringify(f)} ${JSON.stringify(report.series.erpBacklog)}`);

    // Afterwards: drained, every released order posted exactly once, by the ERP's own sales.
    assert.equal(report.orders.accepted, report.orders.submitted, 'every order accepted');
    assert.equal(report.orders.released, report.orders.accepted, 'with stock for every order, every one released');
    assert.equal(f.releasedOrdersPostedOnce, report.orders.released);
    assert.ok(report.drainedAfterSeconds !== null, 'the ERP backlog drained');
    assert.equal(report.oversoldUnits, 0);
    assert.equal(report.lostOrders, 0);
    assert.equal(report.doubledOrders, 0);
    assert.equal(report.quotaExceededSeconds, 0);
    for (const name of ['oversold units', 'orders lost', 'orders doubled', 'seconds above the ERP quota', 'backlog drained', 'the ERP went down and came back', 'backlog grew during the outage', 'time to allocated p99 during the outage (ms)', 'released orders not posted exactly once']) {
      assert.ok(report.checks.find((c: { name: string; ok: boolean }) => c.name === name)?.ok, `check ${name}: ${JSON.stringify(report.checks)}`);
    }

    const html = readFileSync(join(out, folders[0]!, 'report.html'), 'utf8');
    assert.match(html, /erp-outage: erpDown/);
    assert.doesNotMatch(html, /<script|<link|src=|url\(|@import/i, 'no external assets');
    console.log(JSON.stringify({ passed: report.passed, orders: report.orders, figures: f, drainedAfterSeconds: report.drainedAfterSeconds, drainRatio: report.drainRatio, checks: report.checks.filter((c: { ok: boolean }) => !c.ok) }));
  });
});
