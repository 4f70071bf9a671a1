import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { appendEvents, decodeCursor, readFeed, type FeedCursor } from '../src/runtime/outbox/outbox.ts';
import { newId } from '../src/model/ids.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

let ours: TestDatabase;
let theirs: TestDatabase;

before(async () => {
  ours = await createTestDatabase();
  theirs = await createTestDatabase();
});
after(async () => {
  await ours?.drop();
  await theirs?.drop();
});

const event = (subject: string) => ({
  id: newId('event'),
  type: 'test.happened',
  source: '/test',
  subject,
  time: new Date().toISOString(),
  correlationId: 'c-feed',
  data: { subject },
});

async function openTransaction(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  return client;
}

async function drain(cursor: FeedCursor | undefined): Promise<{ subjects: string[]; cursor: FeedCursor | undefined }> {
  const subjects: string[] = [];
  for (let page = 0; page < 100; page++) {
    const result = await readFeed(ours.db, cursor, 50);
    if (result.events.length === 0) break;
    subjects.push(...result.events.map((e) => e.subject!));
    cursor = decodeCursor(result.nextCursor!);
  }
  return { subjects, cursor };
}

test('a long transaction in another database does not hold the feed back', async () => {
  const elsewhere = await openTransaction(theirs.url);
  try {
    await elsewhere.query('SELECT pg_current_xact_id()');
    await ours.db.transaction((tx) => appendEvents(tx, [event('after-foreign-tx')]));
    const { subjects } = await drain(undefined);
    assert.deepEqual(subjects, ['after-foreign-tx']);
  } finally {
    await elsewhere.query('ROLLBACK');
    await elsewhere.end();
  }
});

test('an event that commits late is delivered, never skipped: later events wait for it', async () => {
  let { cursor } = await drain(undefined);
  const slow = await openTransaction(ours.url);
  try {
    const write = (e: ReturnType<typeof event>) =>
      slow.query(
        `INSERT INTO outbox_event (id, type, source, subject, time, correlation_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [e.id, e.type, e.source, e.subject, e.time, e.correlationId, JSON.stringify(e.data)],
      );
    await write(event('slow'));
    await ours.db.transaction((tx) => appendEvents(tx, [event('fast')]));

    const whileOpen = await drain(cursor);
    assert.deepEqual(whileOpen.subjects, [], 'the fast event waits behind the open transaction');
    cursor = whileOpen.cursor ?? cursor;

    await slow.query('COMMIT');
    const afterCommit = await drain(cursor);
    assert.deepEqual(afterCommit.subjects, ['slow', 'fast']);
  } finally {
    await slow.end();
  }
});
