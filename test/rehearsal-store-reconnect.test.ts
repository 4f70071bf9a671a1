import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * `syncline rehearse store-reconnect`, short: a few stores come back online at once and flush
 * their offline sales as stock movements, some batches sent twice, while web orders keep coming.
 * Every movement must be in the ledger exactly once, every store's stock as the arithmetic says,
 * nothing negative, the last availability published equal to the final stock; the report's charts
 * are also written as standalone SVG files.
 */
describe('store-reconnect rehearsal', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('an option of another scenario is refused with exit code 2 before anything runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncline-rehearsal-test-'));
    const result = await runSyncline(['rehearse', 'store-reconnect', '--hot-stock', '3', '--out', out], { DATABASE_URL: database.url });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--hot-stock is an option of flash-sale and erp-outage only/);
    assert.deepEqual(readdirSync(out), [], 'no report');
  });

  test('every offline movement applied once, the stock as the arithmetic says, availability published', async () => {
    const out = mkdtempSync(join(tmpdir(), 'syncline-rehearsal-test-'));
    const result = await runSyncline(
      ['rehearse', 'store-reconnect', '--duration', '6', '--base-rate', '3', '--stores', '8', '--sales-per-store', '40', '--batch-size', '5', '--drain-timeout', '120', '--out', out],
      { DATABASE_URL: database.url, SYNCLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'syncline-rehearsal-data-')) },
    );
    const folders = readdirSync(out);
    assert.equal(folders.length, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(folders[0]!, /^store-reconnect-/);
    const folder = join(out, folders[0]!);
    const report = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'));
    assert.equal(result.code, report.passed ? 0 : 1, 'the exit code says whether every check passed');
    assert.match(result.stderr, /t=\d+s stores back, flushing submitted=\d+/, 'progress shows the flush');

    const f = report.figures;
    assert.equal(f.stores, 8);
    assert.equal(f.batches, 64, '40 sales in batches of 5, per store');
    assert.ok(f.duplicateSends > 0, `some batches were sent twice: ${JSON.stringify(f)}`);
    assert.ok(f.replays > 0, 'a re-sent batch is answered as a replay');
    assert.ok(f.movementsPerSecond > 0 && f.requestLatencyMs.count >= f.batches);
    for (const name of [
      'store movements not applied exactly once',
      'store batches never answered',
      'store stock off the arithmetic',
      'negative on hand or availability',
      'availability published after the flush',
      'oversold units',
      'orders lost',
      'orders doubled',
      'seconds above the ERP quota',
      'backlog drained',
    ]) {
      assert.ok(report.checks.find((c: { name: string; ok: boolean }) => c.name === name)?.ok, `check ${name}: ${JSON.stringify(report.checks)}`);
    }
    assert.ok(report.checks.some((c: { name: string }) => c.name === 'time to allocated p99 during the flush (ms)'), 'web orders during the flush are measured');
    assert.ok(!report.checks.some((c: { name: string }) => c.name === 'drain rate over the ERP quota'), 'no drain rate: the flush does not load the ERP');
    assert.ok(report.series.scenario.storeMovementsAppliedPerSecond.some((p: { value: number }) => p.value > 0));
    // The relay's lag and the host's CPU, sampled beside the process's load.
    assert.equal(report.series.relayLag.length, report.series.processLoad.length);
    assert.ok(report.series.relayLag.every((r: { behind: number; lagMs: number; oldestWriterMs: number }) => r.behind >= 0 && r.lagMs >= 0 && r.oldestWriterMs >= 0));
    assert.ok(report.series.processLoad.some((p: { hostCpuPercent: number | null }) => p.hostCpuPercent !== null && p.hostCpuPercent > 0), 'the host was busy');
    assert.ok(readdirSync(folder).includes('chart-relay-lag.svg'));

    const html = readFileSync(join(folder, 'report.html'), 'utf8');
    assert.match(html, /store-reconnect: storeMovementsAppliedPerSecond/);
    assert.doesNotMatch(html, /<script|<link|src=|url\(|@import/i, 'no external assets');
    const svg = readFileSync(join(folder, 'chart-store-movements-applied-per-second.svg'), 'utf8');
    assert.match(svg, /^<\?xml[^>]*>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>.*<\/svg>\n$/s, 'a standalone SVG document');
    assert.ok(readdirSync(folder).filter((name) => name.endsWith('.svg')).length >= 7, 'every chart as a file');
    console.log(JSON.stringify({ passed: report.passed, orders: report.orders, figures: f, failed: report.checks.filter((c: { ok: boolean }) => !c.ok) }));
  });
});
