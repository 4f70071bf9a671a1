import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { runUntilDeadLettered } from './support/runtime-dead-letters.ts';
import { runSyncline } from './support/cli.ts';
import { startCountingServer } from './support/counting-server.ts';

/** `syncline dlq list|show|replay|discard` as an operator runs it, against a real database. */
describe('syncline dlq', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
    const erp = await startCountingServer();
    erp.respondWith(400);
    try {
      await runUntilDeadLettered(database.url, [
        ...[1, 2, 3].map((n) => ({ type: 'test.needs-fix', payload: { n }, jobKey: `map-${n}`, correlationId: `corr-map-${n}` })),
        { type: 'test.http', payload: { url: erp.url }, target: 'erp:refuses', jobKey: 'erp-1', correlationId: 'corr-erp-1' },
      ]);
    } finally {
      await erp.close();
    }
    env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
  });
  after(async () => database?.drop());

  const dlq = (...args: string[]) => runSyncline(['dlq', ...args], env);
  const idOf = async (jobKey: string) => (await database.db.query<{ id: string }>('SELECT id FROM runtime_dead_letter WHERE job_key = $1', [jobKey])).rows[0]!.id;
  const listed = async (...args: string[]) => {
    const result = await dlq('list', '--json', ...args);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { jobKey: string }[]).map((d) => d.jobKey).sort();
  };

  test('list: a table of open dead letters, filters, and --json', async () => {
    const table = await dlq('list');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^id\s+failed at\s+type\s+target\s+error\s+attempts\s+reason$/);
    assert.equal(lines.length, 5);
    const erpId = await idOf('erp-1');
    const erpLine = lines.find((l) => l.startsWith(`${erpId} `));
    assert.match(erpLine!, /test\.http\s+erp:refuses\s+permanent\/TARGET_HTTP_400\s+1\s+Permanent failure on attempt 1: erp:refuses answered 400/);

    const [all, byType, byTarget, byReason, later, discarded] = await Promise.all([
      listed(),
      listed('--type', 'test.needs-fix'),
      listed('--target', 'erp:refuses'),
      listed('--reason', '"x-1" HAS NO'),
      listed('--since', '2999-01-01T00:00:00Z'),
      listed('--status', 'discarded'),
    ]);
    assert.deepEqual(all, ['erp-1', 'map-1', 'map-2', 'map-3']);
    assert.deepEqual(byType, ['map-1', 'map-2', 'map-3']);
    assert.deepEqual(byTarget, ['erp-1']);
    assert.deepEqual(byReason, ['map-1', 'map-2', 'map-3']);
    assert.deepEqual(later, []);
    assert.deepEqual(discarded, []);
    const none = await dlq('list', '--status', 'discarded');
    assert.equal(none.stdout.trim(), 'no discarded dead letters match');
    const limited = await dlq('list', '--limit', '2');
    assert.match(limited.stdout, /\(more: narrow the filter or raise --limit\)/);
  });

  test('show: the whole dead letter as JSON', async () => {
    const id = await idOf('map-1');
    const shown = await dlq('show', id);
    assert.equal(shown.code, 0, shown.stderr);
    const letter = JSON.parse(shown.stdout);
    assert.equal(letter.id, id);
    assert.equal(letter.reason, 'Permanent failure on attempt 1: SKU "X-1" has no ERP item mapping');
    assert.equal(letter.errorClass, 'permanent');
    assert.equal(letter.errorCode, 'MAPPING_FAILED');
    assert.equal(letter.correlationId, 'corr-map-1');
    assert.equal(letter.remediation, 'Add the ERP item mapping for SKU X-1, then replay.');
    assert.deepEqual(letter.payload, { n: 1 });
    assert.deepEqual(letter.audit, []);
    const refused = JSON.parse((await dlq('show', await idOf('erp-1'))).stdout);
    assert.equal(refused.excerpt.response.status, 400);
  });

  test('replay by id and by filter, discard with a reason; each is audited with the operator', async () => {
    const one = await idOf('map-1');
    const replayed = await dlq('replay', one);
    assert.equal(replayed.code, 0, replayed.stderr);
    const jobId = /^replayed (\S+) as job (\d+)$/.exec(replayed.stdout.trim());
    assert.ok(jobId, replayed.stdout);
    assert.equal(jobId[1], one);
    const job = await database.db.query<{ job_key: string; replay_of: string }>('SELECT job_key, replay_of FROM runtime_job WHERE id = $1', [jobId[2]]);
    assert.deepEqual(job.rows[0], { job_key: 'map-1', replay_of: one });
    const letter = await database.db.query<{ status: string; resolved_by: string }>('SELECT status, resolved_by FROM runtime_dead_letter WHERE id = $1', [one]);
    assert.deepEqual(letter.rows[0], { status: 'replayed', resolved_by: `cli:${userInfo().username}` });

    const twice = await dlq('replay', one);
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr.trim(), `syncline dlq: dead letter ${one} is already replayed`);

    const many = await dlq('replay', '--type', 'test.needs-fix', '--limit', '1', '--actor', 'ops:bob');
    assert.equal(many.code, 0, many.stderr);
    assert.match(many.stdout, /^replayed 1 dead letter\(s\)\n {2}dlq_\S+ -> job \d+\n$/);
    // map-2 and map-3 failed concurrently in one worker: the oldest is whichever was dead-lettered first.
    const [older, newer] = (await database.db.query<{ job_key: string }>("SELECT job_key FROM runtime_dead_letter WHERE job_key IN ('map-2', 'map-3') ORDER BY id")).rows.map((r) => r.job_key);
    assert.deepEqual(await listed('--type', 'test.needs-fix'), [newer], 'the limit held; the oldest went first');
    assert.deepEqual(await listed('--status', 'replayed'), ['map-1', older!].sort());

    const erp = await idOf('erp-1');
    const discarded = await dlq('discard', erp, '--reason', 'order cancelled in the ERP by hand', '--actor', 'ops:alice');
    assert.equal(discarded.code, 0, discarded.stderr);
    assert.equal(discarded.stdout.trim(), `discarded ${erp}`);
    const audit = JSON.parse((await dlq('show', erp)).stdout).audit as { actor: string; action: string; detail: unknown; at: string }[];
    assert.deepEqual(audit.map((a) => [a.actor, a.action, a.detail]), [['ops:alice', 'discard', { reason: 'order cancelled in the ERP by hand' }]]);
    assert.ok(Math.abs(Date.parse(audit[0]!.at) - Date.now()) < 60_000);
    const again = await dlq('discard', erp, '--reason', 'once more');
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim(), `syncline dlq: dead letter ${erp} is not open`);
    assert.equal((await database.db.query("SELECT 1 FROM runtime_ops_audit WHERE action = 'replay'")).rowCount, 2);
  });

  test('bad arguments are one clear line and exit code 2; unknown ids exit 1', async () => {
    const unknownId = 'dlq_01jd0000000000000000000000';
    const cases: [string[], number, RegExp][] = [
      [[], 2, /unknown dlq command ""; use list, show, replay or discard/],
      [['purge'], 2, /unknown dlq command "purge"/],
      [['list', '--since', 'yesterday'], 2, /--since must be an ISO 8601 date or date-time, for example 2026-01-31T12:00:00Z \(got "yesterday"\)/],
      [['list', '--status', 'lost'], 2, /--status must be open, replayed or discarded \(got "lost"\)/],
      [['list', '--limit', '0'], 2, /--limit must be a whole number from 1 to 500 \(got "0"\)/],
      [['list', '--colour', 'red'], 2, /Unknown option '--colour'/],
      [['show'], 2, /show takes one dead letter id/],
      [['show', 'job-42'], 2, /"job-42" is not a dead letter id/],
      [['show', unknownId], 1, new RegExp(`no dead letter with id ${unknownId}`)],
      [['replay'], 2, /name a dead letter id, or a filter/],
      [['replay', unknownId, '--type', 'test.needs-fix'], 2, /either a dead letter id or a filter, not both/],
      [['replay', '--type', 'x', '--limit', 'many'], 2, /--limit must be a whole number from 1 to 1000/],
      [['replay', unknownId], 1, new RegExp(`no dead letter with id ${unknownId}`)],
      [['discard', unknownId], 2, /--reason is required/],
      [['discard', unknownId, '--reason', 'ok'], 2, /--reason is required \(at least 3 characters\)/],
      [['discard', unknownId, '--reason', 'not needed'], 1, new RegExp(`no dead letter with id ${unknownId}`)],
    ];
    const before = (await database.db.query('SELECT id, status FROM runtime_dead_letter ORDER BY id')).rows;
    const results = await Promise.all(cases.map(([args]) => dlq(...args)));
    for (const [i, [args, code, message]] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, code, `dlq ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, `dlq ${args.join(' ')}`);
      assert.match(result.stderr, /^syncline dlq: /);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line, no stack trace: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
    assert.deepEqual((await database.db.query('SELECT id, status FROM runtime_dead_letter ORDER BY id')).rows, before, 'nothing changed');
  });
});
