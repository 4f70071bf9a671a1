import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendEvents, type NewEvent } from '../src/runtime/outbox/outbox.ts';
import { testEnvironment } from './support/server.ts';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { workerTestBed } from './support/runtime-workers.ts';
import { natsEnvironment, NatsProbe, testNatsSettings } from './support/nats.ts';

/**
 * The NATS relay in real `syncline worker` processes: one is killed with SIGKILL while it
 * publishes (between PubAcks and the commit of its cursor), two more take over, one of them
 * is killed too, and the stream holds exactly one message per event, in commit order, none missing.
 */
describe('NATS relay across a crash', () => {
  const bed = workerTestBed('');
  const { workers, count } = bed;
  const settings = testNatsSettings();
  let probe: NatsProbe;
  before(async () => {
    probe = await NatsProbe.open();
  });
  after(async () => {
    await probe.deleteStream(settings.stream);
    await probe.close();
  });

  test('the stream holds exactly one message per event after relays are killed mid-publish and restarted', async (t) => {
    const { db, url } = bed.database;
    const env = testEnvironment(url, { ...natsEnvironment(settings), SYNCLINE_WORKER_POLL_MS: '200' });
    let n = 0;
    const event = (subject: string, seq: number): NewEvent => ({
      id: `evt_${++n}_${subject}_${seq}`,
      type: seq % 2 ? 'order.created' : 'inventory.adjusted',
      source: '/test/nats-crash',
      subject,
      time: new Date().toISOString(),
      correlationId: `corr-${subject}`,
      data: { seq },
    });

    // Three writers commit concurrently, some transactions with several events, so that the
    // relay always has a full batch in flight.
    let writing = true;
    const writer = async (subjects: string[]) => {
      for (let round = 0; writing; round++) {
        const subject = subjects[round % subjects.length]!;
        const events = Array.from({ length: 1 + (round % 4) }, (_, i) => event(subject, round * 10 + i));
        await db.transaction((tx) => appendEvents(tx, events));
        await sleep(2);
      }
    };
    const writers = Promise.all([writer(['a1', 'a2']), writer(['b1', 'b2']), writer(['c1', 'c2'])]);

    const first = await spawnWorker(env);
    workers.push(first);
    await waitFor('the first relay to publish', async () => (await probe.count(settings.stream)) >= 300, 60_000, 20);
    first.child.kill('SIGKILL');
    await first.exited;
    const atCrash = await probe.count(settings.stream);
    const cursorAtCrash = await count("SELECT count(*) AS n FROM outbox_event e, runtime_relay_cursor c WHERE c.name = $1 AND (e.tx_id, e.position) <= (c.tx_id, c.position)", [`nats:${settings.stream}`]);
    await sleep(300);
    // The restarted processes log in with a user and password (the server has no auth and takes
    // any): they must appear in no log line.
    const password = 'nats-password-not-for-logs';
    const withLogin = { ...env, SYNCLINE_NATS_USER: 'syncline', SYNCLINE_NATS_PASSWORD: password };
    const [second, third] = await Promise.all([spawnWorker(withLogin), spawnWorker(withLogin)]);
    workers.push(second, third);
    await waitFor('the relay to resume', async () => (await probe.count(settings.stream)) >= atCrash + 300, 60_000);
    // Another SIGKILL, of one of the two (the leader or not): the other carries on.
    second.child.kill('SIGKILL');
    await second.exited;
    const atSecondCrash = await probe.count(settings.stream);
    await waitFor('the third process to carry on', async () => (await probe.count(settings.stream)) >= atSecondCrash + 300, 60_000);
    writing = false;
    await writers;

    const total = await count('SELECT count(*) AS n FROM outbox_event');
    await waitFor('every event in the stream', async () => (await probe.count(settings.stream)) >= total, 60_000, 100);
    const stored = await probe.messages(settings.stream);
    const output = second.output() + third.output();
    t.diagnostic(`${total} events; at the crash ${atCrash} in the stream, the cursor past ${cursorAtCrash}; ${output.match(/dropped as duplicates/g)?.length ?? 0} batches with duplicates after the restart`);
    assert.ok(atCrash > 0 && atCrash < total, 'the crash came mid-stream');
    assert.ok(cursorAtCrash <= atCrash, 'the cursor never ran ahead of the PubAcks');

    // Exactly one message per event id, none missing, and in commit order.
    const perId = new Map<string, number>();
    for (const m of stored) perId.set(m.msgId!, (perId.get(m.msgId!) ?? 0) + 1);
    assert.deepEqual([...perId.entries()].filter(([, k]) => k !== 1), [], 'no event twice');
    assert.equal(stored.length, total);
    const order = (await db.query<{ id: string }>('SELECT id FROM outbox_event ORDER BY tx_id, position')).rows.map((r) => r.id);
    assert.deepEqual(stored.map((m) => m.event.id), order, 'stream order is commit order');
    for (const m of stored) {
      assert.equal(m.msgId, m.event.id);
      assert.equal(m.subject, `${settings.subjectPrefix}.${m.event.type}`);
    }
    // The cursor stands on the last event.
    await waitFor('the cursor to reach the end', async () =>
      (await count("SELECT count(*) AS n FROM runtime_relay_cursor c WHERE c.name = $1 AND (c.tx_id, c.position) = (SELECT tx_id, position FROM outbox_event ORDER BY tx_id DESC, position DESC LIMIT 1)", [`nats:${settings.stream}`])) === 1,
      10_000);

    // SIGTERM stops the NATS relay with the rest; the credentials were never logged.
    third.child.kill('SIGTERM');
    assert.equal(await third.exited, 0, third.output());
    assert.ok(!(second.output() + third.output()).includes(password), 'the NATS password is not logged');
  });
});
