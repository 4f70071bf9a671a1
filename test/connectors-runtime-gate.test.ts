import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/store/database.ts';
import { openPglite } from '../src/store/pglite.database.ts';
import { migrate } from '../src/store/migrate.ts';
import { createTargetCaller } from '../src/runtime/targets/target-caller.ts';
import { resolveTargetPolicy } from '../src/runtime/targets/target-policy.ts';
import { TargetError } from '../src/runtime/targets/target-errors.ts';
import { canonicalOrder, expectSynclineError } from '../src/connectors/kit/contract-fixtures.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startTrytonSandbox, type RunningTrytonSandbox } from '../src/connectors/tryton/sandbox/tryton.sandbox.ts';
import { createTrytonClient } from '../src/connectors/tryton/outbound/tryton.client.ts';

// The connector behind the runtime's real target caller (rate limit and breaker kept in the
// database), against the ERP sandbox: what the ERP receives is what the policy allows.
describe('Tryton connector behind the runtime target caller', () => {
  let db: Database;
  let erp: RunningTrytonSandbox;
  before(async () => {
    db = await openPglite(undefined);
    await migrate(db);
    erp = await startTrytonSandbox({ products: [{ code: 'SKU-RED', listPrice: '25.00', quantity: 1000 }] });
  });
  after(async () => {
    await erp?.close();
    await db?.close();
  });

  test('a rate of 8 per second holds at the ERP while several orders post at once', async () => {
    const client = createTrytonClient({ url: erp.url, database: 'syncline', login: 'admin', password: 'admin' });
    const policy = resolveTargetPolicy({ ratePerSecond: 8, maxWaitMs: 10_000, timeoutMs: 5000 });
    const admin = sandboxAdmin(erp.url);
    await client.postOrder(canonicalOrder({ email: 'gate@example.com' }));
    await admin.resetStats();
    const orders = Array.from({ length: 4 }, () => canonicalOrder({ email: 'gate@example.com' }));
    const results = await Promise.all(
      orders.map((order, i) => {
        const target = createTargetCaller(db, 'erp-gate-test', policy, `holder-${i}`, new AbortController().signal);
        return client.postOrder(order, { target });
      }),
    );
    assert.ok(results.every((r) => r.sale.state === 'processing' && r.created));
    const stats = await admin.stats();
    assert.ok(stats.totals.accepted >= 4 * 6, `the postings took ${stats.totals.accepted} requests`);
    assert.ok(stats.maxAcceptedPerSecond <= 8, `the ERP served ${stats.maxAcceptedPerSecond} requests in one second`);
  });

  test('an ERP that is down opens the breaker: later calls are throttled without reaching it', async () => {
    const client = createTrytonClient({ url: erp.url, database: 'syncline', login: 'admin', password: 'admin' });
    const policy = resolveTargetPolicy({ breaker: { failureThreshold: 3, cooldownMs: 60_000 } });
    const target = createTargetCaller(db, 'erp-breaker-test', policy, 'holder', new AbortController().signal);
    const admin = sandboxAdmin(erp.url);
    await client.stockLevels(['SKU-RED']);
    await admin.setFaults({ down: true });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await expectSynclineError(client.stockLevels(['SKU-RED'], { target }))).retry, 'transient');
      await admin.resetStats();
      const open = await expectSynclineError(client.stockLevels(['SKU-RED'], { target }));
      assert.equal(open.retry, 'throttled');
      assert.equal(open.code, 'TARGET_BREAKER_OPEN');
      assert.ok(open instanceof TargetError && open.retryAt);
      assert.equal((await admin.stats()).totals.unavailable, 0, 'the open breaker kept the call from the ERP');
    } finally {
      await admin.clearFaults();
    }
  });
});
