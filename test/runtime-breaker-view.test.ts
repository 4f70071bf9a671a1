import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/store/database.ts';
import { openPostgres } from '../src/store/postgres.database.ts';
import { BreakerView } from '../src/runtime/targets/breaker-view.ts';
import { createTargetCaller } from '../src/runtime/targets/target-caller.ts';
import { resolveTargetPolicy } from '../src/runtime/targets/target-policy.ts';
import { TargetError } from '../src/runtime/targets/target-errors.ts';
import { upsertTarget } from '../src/store/runtime/target-queries.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { waitFor } from './support/runtime.ts';

// Two worker processes' views of one target with no quota, each on its own pool of the real
// PostgreSQL (docs/adr/0034): calls skip the grant only while the breaker is known closed, and
// a breaker opened by the other process's failures stops this one's calls.
describe('breaker view of an unmetered target', () => {
  let database: TestDatabase;
  let dbA: Database;
  let dbB: Database;
  let viewA: BreakerView;
  let viewB: BreakerView;
  const policy = resolveTargetPolicy({ breaker: { failureThreshold: 3, cooldownMs: 60_000, minCalls: 1000 } });
  const signal = new AbortController().signal;
  const unwell = () => new TargetError('TARGET_HTTP_503', 'down', { retry: 'transient', target: 'crm' });
  const row = async () =>
    (await database.db.query<{ breaker_state: string; window_calls: number; consecutive_failures: number }>("SELECT breaker_state, window_calls, consecutive_failures FROM runtime_target WHERE name = 'crm'")).rows[0]!;

  before(async () => {
    database = await createTestDatabase();
    dbA = openPostgres({ connectionString: database.url, poolSize: 3 });
    dbB = openPostgres({ connectionString: database.url, poolSize: 3 });
    await upsertTarget(database.db, 'crm', policy, 0);
    viewA = new BreakerView(dbA);
    viewB = new BreakerView(dbB);
    await viewA.start();
    await viewB.start();
  });
  after(async () => {
    await viewA?.stop();
    await viewB?.stop();
    await dbA?.close();
    await dbB?.close();
    await database?.drop();
  });

  test('calls skip the grant once the breaker is known closed, and are still counted in the ratio window', async () => {
    const caller = createTargetCaller(dbB, 'crm', policy, 'holder-b', signal, viewB);
    assert.equal(viewB.healthy('crm'), false, 'nothing known before the first grant');
    await caller.call(async () => 'first');
    assert.equal((await row()).window_calls, 1, 'the first call took a grant');
    assert.equal(viewB.healthy('crm'), true);
    for (let i = 0; i < 9; i++) await caller.call(async () => i);
    assert.equal((await row()).window_calls, 1, 'the next nine went without a grant');
    await viewB.flush();
    assert.equal((await row()).window_calls, 10, 'and were counted at the flush');
  });

  test("a breaker opened by another process's failures stops this process's calls", async () => {
    const callerA = createTargetCaller(dbA, 'crm', policy, 'holder-a', signal, viewA);
    const callerB = createTargetCaller(dbB, 'crm', policy, 'holder-b2', signal, viewB);
    await callerB.call(async () => 'warm');
    assert.equal(viewB.healthy('crm'), true);
    for (let i = 0; i < 3; i++) await assert.rejects(callerA.call(async () => Promise.reject(unwell())), /down/);
    assert.equal((await row()).breaker_state, 'open');
    // The failures were announced at their commits: B asks PostgreSQL again, which says open.
    await waitFor('process B to hear of the failures', async () => !viewB.healthy('crm'), 5000, 5);
    let reached = false;
    const refused = await callerB.call(async () => (reached = true)).then(
      () => undefined,
      (error: unknown) => error as TargetError,
    );
    assert.equal(reached, false, 'the call did not reach the target');
    assert.equal(refused?.code, 'TARGET_BREAKER_OPEN');
    assert.equal(refused?.retry, 'throttled');
  });

  test('an answer asked for before an announcement is not believed', async () => {
    const before = viewA.asked('crm');
    await database.db.query("SELECT pg_notify('syncline_target', 'crm')");
    await waitFor('process A to hear the announcement', async () => viewA.asked('crm') !== before, 5000, 5);
    // The answer of a statement sent before the failure was announced may not have seen it.
    viewA.note('crm', true, before);
    assert.equal(viewA.healthy('crm'), false);
    viewA.note('crm', true, viewA.asked('crm'));
    assert.equal(viewA.healthy('crm'), true, 'an answer asked for after it is');
  });

  test('a lost listening connection makes every target unhealthy until the view listens again', async () => {
    await database.db.query("UPDATE runtime_target SET breaker_state = 'closed', blocked_until = NULL, consecutive_failures = 0 WHERE name = 'crm'");
    const caller = createTargetCaller(dbA, 'crm', policy, 'holder-a2', signal, viewA);
    await caller.call(async () => 'warm');
    assert.equal(viewA.healthy('crm'), true);
    const listeners = async () =>
      (await database.db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")).rows;
    const before = await listeners();
    assert.equal(before.length, 2, "both views' listening connections");
    // Both views lose their listening connections (as in a network cut).
    await database.db.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before.map((r) => r.pid)]);
    await waitFor('the views to notice their lost connections', async () => !viewA.healthy('crm'), 5000, 5);
    // Listening again: a grant makes the target healthy, and an announcement is heard again.
    await waitFor('the views to listen again', async () => (await listeners()).length === 2, 10_000, 50);
    await caller.call(async () => 'again');
    assert.equal(viewA.healthy('crm'), true);
    await database.db.query("SELECT pg_notify('syncline_target', 'crm')");
    await waitFor('process A to hear the announcement on its new connection', async () => !viewA.healthy('crm'), 5000, 5);
  });
});
