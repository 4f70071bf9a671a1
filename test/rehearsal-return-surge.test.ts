import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * `syncline rehearse return-surge`, short: the orders of a promotion are shipped, then returned
 * at once (some in part, some in two parts, some sent twice) while new orders keep coming. Every
 * return must be processed once: refunded at its amount by the payment sandbox, credited once by
 * the ERP under its quota, its resellable units back in the store's stock, none lost.
 */
describe('return-surge rehearsal', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('every return refunded, credited and restocked once; none lost; the ERP within its quota', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncline-rehearsal-test-'));
    const result = await runSyncline(
      ['rehearse', 'return-surge', '--duration', '8', '--base-rate', '1', '--promotion-orders', '12', '--erp-quota', '40', '--drain-timeout', '120', '--out', out],
      { DATABASE_URL: database.url, SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-rehearsal-data-')) },
    );
    const folders = readdirSync(out);
    assert.equal(folders.length, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(folders[0]!, /^return-surge-/);
    const folder = join(out, folders[0]!);
    const report = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'));
    assert.equal(result.code, report.passed ? 0 : 1, 'the exit code says whether every check passed');
    assert.match(result.stderr, /promotion: 12 of 12 orders shipped and completed/);
    assert.match(result.stderr, /t=\d+s returns, surging submitted=\d+/, 'progress shows the surge');

    const f = report.figures;
    assert.equal(f.promotionOrdersShipped, 12);
    assert.equal(f.returns, 15, 'twelve orders: three returned in full, three in part, three in full with a damaged line, three in two parts');
    assert.ok(f.partialReturns >= 9, JSON.stringify(f));
    assert.ok(f.duplicateSends > 0 && f.replays > 0, `some returns were sent twice and answered as replays: ${JSON.stringify(f)}`);
    assert.equal(f.refundedMinorUnits, 21000, 'the refunds are the returned lines at 10.00 each');
    assert.ok(f.restockedUnits > 0 && f.returnToCompletedMs.count === f.returns);
    assert.ok(f.newOrdersDuringSurge > 0, 'new orders kept coming during the surge');
    for (const name of [
      'promotion orders shipped before the surge',
      'returns lost',
      'returns not processed exactly once',
      'refunds off the expected amount',
      'returns not credited once by the ERP',
      'restocked units off',
      'seconds above the ERP quota',
      'backlog drained',
      'orders lost',
      'orders doubled',
      'oversold units',
    ]) {
      assert.ok(report.checks.find((c: { name: string; ok: boolean }) => c.name === name)?.ok, `check ${name}: ${JSON.stringify(report.checks)}`);
    }
    assert.ok(report.series.scenario.returnsUnfinished.some((p: { value: number }) => p.value > 0), 'the returns backlog was charted');
    assert.ok(report.series.erpRequestsPerSecond.some((p: { value: number }) => p.value > 0));

    const html = readFileSync(join(folder, 'report.html'), 'utf8');
    assert.match(html, /return-surge: returnsUnfinished/);
    assert.doesNotMatch(html, /<script|<link|src=|url\(|@import/i, 'no external assets');
    assert.ok(readdirSync(folder).includes('chart-returns-unfinished.svg'));
    console.log(JSON.stringify({ passed: report.passed, orders: report.orders, figures: f, failed: report.checks.filter((c: { ok: boolean }) => !c.ok) }));
  });
});
