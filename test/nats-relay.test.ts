import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { appendEvents, type NewEvent } from '../src/runtime/outbox/outbox.ts';
import { CLOUDEVENTS_JSON, NatsRelay } from '../src/runtime/outbox/nats-relay.ts';
import { STREAM_DUPLICATE_WINDOW_MS, STREAM_MAX_AGE_MS } from '../src/runtime/outbox/nats-stream.ts';
import { readRelayCursor } from '../src/store/runtime/relay-cursor.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { NatsOutage, NatsProbe, testNatsSettings, type StoredEvent } from './support/nats.ts';
import { waitFor } from './support/runtime.ts';
import { startTestServer } from './support/server.ts';

/**
 * The NATS relay in this process, on the real PostgreSQL and the real NATS server (JetStream):
 * what a message looks like, order, a NATS that goes away and comes back, and a cursor that
 * never moves past an event JetStream did not acknowledge.
 */
describe('NATS relay', () => {
  let database: TestDatabase;
  let probe: NatsProbe;
  const streams: string[] = [];
  const relays: NatsRelay[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });

  before(async () => {
    database = await createTestDatabase();
    probe = await NatsProbe.open();
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    for (const stream of streams) await probe.deleteStream(stream);
    await probe.close();
    await database.drop();
  });

  let counter = 0;
  const event = (type: string, subject: string, seq: number): NewEvent => ({
    id: `evt_${++counter}_${subject}_${seq}`,
    type,
    source: '/test/nats',
    subject,
    time: new Date().toISOString(),
    correlationId: `corr-${subject}`,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    data: { seq },
  });
  const settings = () => {
    const s = testNatsSettings();
    streams.push(s.stream);
    return s;
  };
  const relay = (s: ReturnType<typeof settings>, options = {}) => {
    const r = new NatsRelay(database.db, s, logger, { pollMs: 50, minBackoffMs: 50, maxBackoffMs: 200, ackTimeoutMs: 1000, ...options });
    relays.push(r);
    return r;
  };
  // Every relay here has a stream and cursor of its own, so each publishes the whole outbox.
  const outboxOrder = async () => (await database.db.query<{ id: string }>('SELECT id FROM outbox_event ORDER BY tx_id, position')).rows.map((r) => r.id);
  const checkMessages = (stored: StoredEvent[], prefix: string) => {
    for (const m of stored) {
      assert.equal(m.subject, `${prefix}.${m.event.type}`);
      assert.equal(m.msgId, m.event.id, 'Nats-Msg-Id is the event id');
      assert.equal(m.contentType, CLOUDEVENTS_JSON);
      assert.deepEqual(m.headerNames.filter((h) => /^ce-/i.test(h)), [], 'structured mode: no ce- headers');
      assert.equal(m.event.specversion, '1.0');
      assert.equal(m.event.source, '/test/nats');
      assert.equal(m.event.datacontenttype, 'application/json');
      assert.ok(m.event.correlationid.startsWith('corr-'));
      assert.equal(m.event.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
  };

  test('creates the stream with the documented defaults and publishes every event as a structured CloudEvent, in commit order', async () => {
    const s = settings();
    const written: NewEvent[] = [];
    // Several transactions, some with more than one event, of two types and three subjects.
    for (let i = 0; i < 30; i++) {
      const batch = [event(i % 2 ? 'order.created' : 'inventory.adjusted', `s${i % 3}`, i)];
      if (i % 4 === 0) batch.push(event('order.created', `s${i % 3}`, i + 1000));
      await database.db.transaction((tx) => appendEvents(tx, batch));
      written.push(...batch);
    }
    const r = relay(s);
    r.start();
    await waitFor('every event in the stream', async () => (await probe.count(s.stream)) >= written.length, 20_000);
    await waitFor('the cursor to move past the last event', async () => r.status().published >= written.length, 10_000);

    const config = await probe.config(s.stream);
    assert.deepEqual(config?.subjects, [`${s.subjectPrefix}.>`]);
    assert.equal(config?.storage, 'file');
    assert.equal(config?.retention, 'limits');
    assert.equal(config?.max_age, STREAM_MAX_AGE_MS * 1_000_000);
    assert.equal(config?.duplicate_window, STREAM_DUPLICATE_WINDOW_MS * 1_000_000);

    const stored = await probe.messages(s.stream);
    assert.equal(stored.length, written.length, 'one message per event');
    checkMessages(stored, s.subjectPrefix);
    assert.deepEqual(stored.map((m) => m.event.id), await outboxOrder(), 'stream order is commit order');
    const first = stored.find((m) => m.event.id === written[0]!.id)!;
    assert.deepEqual(first.event.data, written[0]!.data);
    assert.equal(first.subject, `${s.subjectPrefix}.inventory.adjusted`);
    await r.stop();
    assert.equal(r.status().state, 'stopped');
  });

  test('NATS unreachable for a while: the cursor waits, then every event arrives once, in order', async () => {
    const outage = await NatsOutage.start();
    try {
      const s = { ...settings(), servers: [outage.url] };
      outage.down();
      const cursorBefore = await database.db.transaction((tx) => readRelayCursor(tx, `nats:${s.stream}`));
      assert.equal(cursorBefore, undefined);
      const written: NewEvent[] = [];
      for (let i = 0; i < 20; i++) {
        const e = event('order.created', `o${i % 4}`, i);
        await database.db.transaction((tx) => appendEvents(tx, [e]));
        written.push(e);
      }
      const r = relay(s);
      r.start();
      await waitFor('the relay to fail a few times', async () => r.status().consecutiveFailures >= 3, 20_000);
      assert.equal(r.status().state, 'failing');
      assert.equal(await database.db.transaction((tx) => readRelayCursor(tx, r.cursorName)), undefined, 'no ack, no cursor');
      assert.ok(logs.some((l) => l.msg === 'NATS relay could not publish; the cursor waits and the batch is retried'));

      // More events commit during the outage; then NATS comes back.
      for (let i = 20; i < 30; i++) {
        const e = event('order.created', `o${i % 4}`, i);
        await database.db.transaction((tx) => appendEvents(tx, [e]));
        written.push(e);
      }
      outage.up();
      const all = await outboxOrder();
      await waitFor('every event in the stream', async () => (await probe.count(s.stream)) >= all.length, 30_000);
      await waitFor('the relay to catch up', async () => r.status().state === 'publishing' && r.status().consecutiveFailures === 0, 10_000);
      const stored = await probe.messages(s.stream);
      assert.deepEqual(stored.map((m) => m.event.id), all, 'everything, once, in commit order');
      assert.ok(written.every((e) => all.includes(e.id)));
      checkMessages(stored, s.subjectPrefix);
      await r.stop();
    } finally {
      await outage.close();
    }
  });

  test('a stream of other settings is left alone, and without a PubAck the cursor does not move', async () => {
    const s = settings();
    // The operator made the stream, for other subjects: our publishes find no stream to take them.
    await probe.createStream(s.stream, [`${s.subjectPrefix}.elsewhere.>`], { max_age: 60 * 1_000_000_000 });
    const e = event('order.created', 'x1', 1);
    await database.db.transaction((tx) => appendEvents(tx, [e]));
    const r = relay(s);
    await assert.rejects(r.relayOnce());
    assert.equal(await database.db.transaction((tx) => readRelayCursor(tx, r.cursorName)), undefined, 'no ack, no cursor');
    const warned = logs.find((l) => l.msg === 'NATS stream exists with other settings; left as it is' && l.stream === s.stream) as { differs: Record<string, unknown> } | undefined;
    assert.ok(warned, 'the differences are logged');
    assert.deepEqual(Object.keys(warned.differs).sort(), ['duplicate_window', 'max_age', 'subjects']);
    const config = await probe.config(s.stream);
    assert.deepEqual(config?.subjects, [`${s.subjectPrefix}.elsewhere.>`], 'the stream was not changed');
    assert.equal(await probe.count(s.stream), 0);

    // Once the operator fixes the stream (here: deletes it), the relay creates it and goes on.
    await probe.deleteStream(s.stream);
    assert.ok((await r.relayOnce()) >= 1);
    const stored = await probe.messages(s.stream);
    assert.ok(stored.some((m) => m.event.id === e.id));
    assert.ok(await database.db.transaction((tx) => readRelayCursor(tx, r.cursorName)));

    // Operators see the cursor over the ops API: at the end, then two events behind.
    const server = await startTestServer(database.url);
    try {
      const token = await server.token('ops:read');
      const relays = async () => {
        const response = await fetch(`${server.baseUrl}/v1/ops/relays`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(response.status, 200);
        return ((await response.json()) as { items: { name: string; behind: number; updatedAt: string }[] }).items.find((i) => i.name === r.cursorName);
      };
      while ((await r.relayOnce()) > 0);
      assert.equal((await relays())?.behind, 0);
      await database.db.transaction((tx) => appendEvents(tx, [event('order.created', 'x1', 2), event('order.created', 'x1', 3)]));
      const waiting = await relays();
      assert.equal(waiting?.behind, 2);
      assert.ok(!Number.isNaN(Date.parse(waiting.updatedAt)));
    } finally {
      await server.close();
    }
  });
});
