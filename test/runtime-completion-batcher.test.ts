import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { enqueue } from '../src/runtime/queue.ts';
import { CompletionBatcher } from '../src/runtime/completion-batcher.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

/**
 * The group commit of completions, on PostgreSQL: the worker renews the leases of the jobs it
 * reports by ids() and waits for idle() when it stops, so a job must stay listed until its
 * DELETE has committed, and the owner hears once per statement.
 */
let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => database?.drop());

async function remaining(ids: readonly string[]): Promise<string[]> {
  const { rows } = await database.db.query<{ id: string }>('SELECT id::text FROM runtime_job WHERE id = ANY($1::bigint[]) ORDER BY id', [ids]);
  return rows.map((r) => r.id);
}

test('completions of one turn share a DELETE; they stay listed until it commits, then the owner hears once', async () => {
  const ids = await enqueue(database.db, [1, 2, 3].map((n) => ({ type: 't.batch', payload: { n }, correlationId: `c${n}` })));
  const heard: boolean[] = [];
  const batcher = new CompletionBatcher(database.db, { committed: (notify) => heard.push(notify), failed: () => assert.fail('no DELETE should fail') });

  // Another session holds the second job's row: the DELETE waits for it.
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM runtime_job WHERE id = $1 FOR UPDATE', [ids[1]]);
    batcher.complete(ids[0]!);
    batcher.complete(ids[1]!, true);
    batcher.complete(ids[2]!);
    assert.deepEqual(batcher.ids().sort(), [...ids].sort(), 'waiting completions are listed');
    // The DELETE is sent (the next turn) and blocks on the held row.
    const waiting = async () => {
      // Asked from another session: a transaction keeps its first view of pg_stat_activity.
      const { rows } = await database.db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      return Number(rows[0]!.n) > 0;
    };
    const deadline = Date.now() + 10_000;
    while (!(await waiting())) {
      assert.ok(Date.now() < deadline, 'the DELETE reached the server and waits for the lock');
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(batcher.ids().sort(), [...ids].sort(), 'completions in flight are still listed (their leases are renewed)');
    assert.deepEqual(heard, []);
    await holder.query('COMMIT');
  } finally {
    await holder.end();
  }
  await batcher.idle();
  assert.deepEqual(await remaining(ids), [], 'all three deleted');
  assert.deepEqual(heard, [true], 'one statement, one notice, flagged because one completion asked for it');
  assert.deepEqual(batcher.ids(), []);
});

test('idle() resolves at once when nothing is pending', async () => {
  const batcher = new CompletionBatcher(database.db, { committed: () => {}, failed: () => {} });
  await batcher.idle();
  assert.deepEqual(batcher.ids(), []);
});
