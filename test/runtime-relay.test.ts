import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendEvents, type NewEvent } from '../src/runtime/outbox/outbox.ts';
import { testEnvironment } from './support/server.ts';
import { RELAY_TEST_TABLES } from './support/runtime-relay-handlers.ts';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { workerTestBed } from './support/runtime-workers.ts';

const RELAY_HANDLERS = fileURLToPath(new URL('./support/runtime-relay-handlers.ts', import.meta.url));

/**
 * The outbox relay in real `syncline worker` processes: committed events become jobs for
 * their subscribers at least once, run in commit order per subject, and the cursor survives
 * a crash and a restart: no event is dispatched twice or skipped.
 */
describe('outbox relay', () => {
  const bed = workerTestBed(RELAY_TEST_TABLES);
  const { workers, count } = bed;
  const dispatched = () => count('SELECT count(*) AS n FROM test_dispatch');

  test('events reach their subscriber once each, in commit order per subject, across a crash and a restart of the relay', async (t) => {
    const { db, url } = bed.database;
    const env = testEnvironment(url, { SYNCLINE_HANDLER_MODULES: RELAY_HANDLERS, SYNCLINE_WORKER_LEASE_MS: '2000', SYNCLINE_WORKER_POLL_MS: '200' });
    const event = (subject: string, seq: number, type = 'test.relay.step'): NewEvent => ({
      id: `evt-${subject}-${seq}-${type}`,
      type,
      source: '/test/relay',
      subject,
      time: new Date().toISOString(),
      correlationId: `corr-${subject}`,
      data: { seq },
    });

    // Three writers commit concurrently, each owning two subjects; some transactions hold two
    // events of one subject, and some events are of a type nobody subscribed to.
    let writing = true;
    const written = new Map<string, number>();
    const writer = async (subjects: string[]) => {
      for (let round = 0; writing; round++) {
        const subject = subjects[round % subjects.length]!;
        const seq = written.get(subject) ?? 0;
        const events = round % 3 === 0 ? [event(subject, seq + 1), event(subject, seq + 2)] : [event(subject, seq + 1)];
        if (round % 5 === 0) events.push(event(subject, seq, 'test.unrelated'));
        await db.transaction((tx) => appendEvents(tx, events));
        written.set(subject, seq + events.filter((e) => e.type === 'test.relay.step').length);
        await sleep(10);
      }
    };
    const writers = Promise.all([writer(['s1', 's2']), writer(['s3', 's4']), writer(['s5', 's6'])]);

    const first = await spawnWorker(env);
    workers.push(first);
    await waitFor('the first relay to dispatch and its jobs to run', async () => (await count('SELECT count(*) AS n FROM test_relay_effect')) >= 100, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const atCrash = await dispatched();
    // Events keep committing while no relay runs; then two processes compete to relay.
    await sleep(500);
    const [second, third] = await Promise.all([spawnWorker(env), spawnWorker(env)]);
    workers.push(second, third);
    await waitFor('the relay to resume', async () => (await dispatched()) >= atCrash + 150, 30_000);
    // (A process is only sent SIGTERM once it has run a job: "worker ready" is logged a moment
    // before the signal handlers are installed, and a SIGTERM in between kills it outright.)
    await waitFor('the second process to run jobs', async () => (await count(`SELECT count(*) AS n FROM test_relay_run WHERE worker = 'pid-${second.child.pid}'`)) > 0, 30_000);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.output());
    await sleep(300);
    writing = false;
    await writers;

    const total = [...written.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`${total} events; ${atCrash} dispatched when the first relay was killed`);
    assert.ok(atCrash > 0 && atCrash < total, `the crash came mid-stream: ${atCrash} of ${total} dispatched`);
    await waitFor('every event to take effect', async () => (await count('SELECT count(*) AS n FROM test_relay_effect')) === total, 30_000, 100);

    // Dispatch: one job per subscribed event, none missing, none twice, none for other types.
    assert.equal(await dispatched(), total, 'no event dispatched twice');
    const missing = await count(`SELECT count(*) AS n FROM outbox_event e WHERE e.type = 'test.relay.step'
                                   AND NOT EXISTS (SELECT 1 FROM test_dispatch d WHERE d.job_key = 'relay-probe:' || e.id)`);
    assert.equal(missing, 0, 'no event skipped');
    assert.equal(await count("SELECT count(*) AS n FROM test_dispatch WHERE ordering_key NOT LIKE 'relay-probe:s_' OR lane <> 1"), 0);

    // Order: per subject, effects were applied in commit order, and no run of a later event
    // came before a run of an earlier one (runs repeat only after the crash: at least once).
    for (const [subject, n] of written) {
      const applied = (await db.query<{ seq: number }>('SELECT seq FROM test_relay_effect WHERE subject = $1 ORDER BY applied', [subject])).rows.map((r) => r.seq);
      assert.deepEqual(applied, Array.from({ length: n }, (_, i) => i + 1), `effects of ${subject} in commit order`);
      const runs = (await db.query<{ seq: number }>('SELECT seq FROM test_relay_run WHERE subject = $1 ORDER BY id', [subject])).rows.map((r) => r.seq);
      assert.ok(runs.every((seq, i) => i === 0 || seq >= runs[i - 1]!), `runs of ${subject} in order: ${runs.join(',')}`);
    }
    const relays = await count("SELECT count(DISTINCT worker) AS n FROM test_relay_run");
    assert.ok(relays >= 2, `jobs ran in ${relays} processes`);

    // The cursor stands on the last event.
    const cursor = await db.query<{ at_end: boolean }>(
      `SELECT (c.tx_id, c.position) = (SELECT tx_id, position FROM outbox_event ORDER BY tx_id DESC, position DESC LIMIT 1) AS at_end
         FROM runtime_relay_cursor c WHERE c.name = 'default'`,
    );
    assert.equal(cursor.rows[0]?.at_end, true);
    third.child.kill('SIGTERM');
    assert.equal(await third.exited, 0);
    assert.equal(await count('SELECT count(*) AS n FROM runtime_job'), 0);
  });
});
