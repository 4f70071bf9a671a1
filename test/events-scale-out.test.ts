import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { call, type ApiResponse } from './support/orders.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { fetchToken, spawnSyncline, testEnvironment } from './support/server.ts';
import { natsEnvironment, NatsProbe, testNatsSettings } from './support/nats.ts';
import { startWebhookReceiver, verifyStandardWebhook, type WebhookReceiver } from './support/webhook-receiver.ts';

interface Child {
  child: { kill(signal: NodeJS.Signals): boolean; exitCode: number | null };
  exited: Promise<number | null>;
}

/**
 * Scale-out (issue 13): two `syncline api` and two `syncline worker` processes on one database
 * and NATS; one of each is killed with SIGKILL while events are written through the API, and
 * replacements start. Every event reaches each matching subscription and the stream, none
 * missing, first arrivals in commit order per subject, duplicates only with the same ids.
 */
describe('events across several API and worker processes, some killed with SIGKILL', () => {
  const settings = testNatsSettings();
  const children: Child[] = [];
  let database: TestDatabase;
  let probe: NatsProbe;
  const receivers: WebhookReceiver[] = [];
  before(async () => {
    database = await createTestDatabase();
    probe = await NatsProbe.open();
  });
  after(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    await probe?.deleteStream(settings.stream).catch(() => {});
    await probe?.close().catch(() => {});
    for (const r of receivers) await r.close();
    await database?.drop();
  });

  test('every event reaches each subscription and the stream, in order per subject, none missing', async (t) => {
    const env = testEnvironment(database.url, {
      ...natsEnvironment(settings),
      SYNCLINE_HANDLER_MODULES: '',
      SYNCLINE_WORKER_POLL_MS: '50',
      SYNCLINE_WORKER_LEASE_MS: '1000',
      SYNCLINE_WEBHOOK_RETRY_SCHEDULE_MS: '100,200,400',
      SYNCLINE_WEBHOOK_BREAKER_COOLDOWN_MS: '300',
      SYNCLINE_WEBHOOK_TIMEOUT_MS: '2000',
      SYNCLINE_WEBHOOK_PAUSE_AFTER_MS: '3600000',
    });
    const startApi = async () => {
      const server = await spawnSyncline(['api'], env);
      children.push(server);
      return server;
    };
    const startWorker = async () => {
      const worker = await spawnWorker(env);
      children.push(worker);
      return worker;
    };
    const kill = async (c: Child) => {
      c.child.kill('SIGKILL');
      await c.exited;
    };

    const apis = await Promise.all([startApi(), startApi()]);
    const workers = await Promise.all([startWorker(), startWorker()]);
    const token = await fetchToken(apis[0]!.baseUrl);
    let next = 0;
    let resent = 0;
    /** One request, sent to the live API processes in turn; one cut by a kill is sent again with the same key, as a client would. */
    const send = async (method: string, path: string, body: unknown, key = randomUUID()): Promise<ApiResponse> => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const live = apis.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
        const api = live[next++ % live.length]!;
        try {
          const response = await call(api.baseUrl, method, path, { token, body, headers: { 'idempotency-key': key } });
          // The killed process's transaction may hold the key until PostgreSQL notices the cut connection.
          if (response.status !== 409 || !String(response.body?.type).endsWith('idempotency-key-in-flight')) return response;
          resent += 1;
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          resent += 1;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error(`${method} ${path} failed on every API process`);
    };

    const all = await startWebhookReceiver();
    const adjusted = await startWebhookReceiver();
    receivers.push(all, adjusted);
    const subscribe = async (url: string, types: string[]) => {
      const created = await send('POST', '/v1/subscriptions', { url, types });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body as { id: string; secret: string };
    };
    const subAll = await subscribe(all.url, ['*']);
    const subAdjusted = await subscribe(adjusted.url, ['inventory.adjusted']);
    const before = new Set((await database.db.query<{ id: string }>('SELECT id FROM outbox_event')).rows.map((r) => r.id));

    const location = await send('POST', '/v1/locations', { code: 'WH-SCALE', name: 'Scale-out warehouse', kind: 'warehouse' });
    assert.equal(location.status, 201, JSON.stringify(location.body));

    // Four writers, five SKUs each, 75 receipts each: 300 requests, each an inventory.adjusted event
    // (and availability events from the workers). A worker and an API process die along the way.
    const skus = Array.from({ length: 20 }, (_, i) => `SCALE-${i}`);
    let written = 0;
    const writer = async (w: number) => {
      for (let round = 0; round < 75; round++) {
        const sku = skus[w * 5 + (round % 5)]!;
        const response = await send('POST', '/v1/inventory/movements', { movements: [{ type: 'receipt', sku, location: 'WH-SCALE', quantity: 1 + (round % 3) }] });
        assert.ok(response.status === 201 || response.status === 200, JSON.stringify(response.body));
        written += 1;
      }
    };
    const atWorkerKill = { delivered: 0, stream: 0 };
    let writtenAtApiKill = 0;
    const chaos = async () => {
      // Only once deliveries and publishing are under way, so the kill lands mid-flow.
      await waitFor('a third of the writes, delivered and published in part', async () => written >= 100 && all.received.length > 0 && (await probe.count(settings.stream)) > 0, 60_000, 10);
      atWorkerKill.delivered = all.received.length;
      atWorkerKill.stream = await probe.count(settings.stream);
      await kill(workers[0]!);
      // The replacement starts while the writes go on, so the API kill still comes mid-write.
      const replacement = startWorker().then((w) => workers.push(w));
      await waitFor('two thirds of the writes', async () => written >= 200, 60_000, 5);
      writtenAtApiKill = written;
      await kill(apis[0]!);
      apis.push(await startApi());
      await replacement;
    };
    await Promise.all([writer(0), writer(1), writer(2), writer(3), chaos()]);

    type Row = { id: string; type: string; subject: string };
    const committed = async () => (await database.db.query<Row>('SELECT id, type, subject FROM outbox_event ORDER BY tx_id, position')).rows;
    const ids = (r: WebhookReceiver) => new Set(r.received.map((d) => d.event.id));
    let events: Row[] = [];
    await waitFor(
      'every event at each subscription and in the stream',
      async () => {
        events = await committed();
        const seenAll = ids(all);
        const seenAdjusted = ids(adjusted);
        const stream = await probe.count(settings.stream);
        return (
          events.every((e) => before.has(e.id) || seenAll.has(e.id)) &&
          events.every((e) => before.has(e.id) || e.type !== 'inventory.adjusted' || seenAdjusted.has(e.id)) &&
          stream >= events.length
        );
      },
      60_000,
      200,
    );
    // Availability events trail the last write by one publishing interval: let them settle too.
    await waitFor(
      'no new event for a while',
      async () => {
        const count = events.length;
        await new Promise((r) => setTimeout(r, 600));
        events = await committed();
        const seen = ids(all);
        return events.length === count && events.every((e) => before.has(e.id) || seen.has(e.id)) && (await probe.count(settings.stream)) >= events.length;
      },
      30_000,
      0,
    );

    assert.ok(writtenAtApiKill < 300, 'the API process was killed while requests were being written');
    assert.ok(atWorkerKill.delivered < events.length && atWorkerKill.stream < events.length, 'the worker was killed mid-flow');
    const adjustedCount = events.filter((e) => e.type === 'inventory.adjusted').length;
    assert.equal(adjustedCount, 300, 'one inventory.adjusted event per receipt, a request sent again included');

    // Webhooks: signed, webhook-id is the event id, no event missing, first arrivals in commit order per subject.
    const checkSubscription = (r: WebhookReceiver, secret: string, wanted: Row[]) => {
      for (const d of r.received) {
        assert.equal(d.headers['webhook-id'], d.event.id, 'a duplicate carries the same webhook-id');
        assert.ok(verifyStandardWebhook(secret, d.headers, d.body), 'every delivery verifies');
      }
      const first = [...new Set(r.received.map((d) => d.event.id))];
      const known = new Set(wanted.map((e) => e.id));
      assert.deepEqual(first.filter((id) => !known.has(id)), [], 'nothing delivered that was not wanted');
      const subjects = new Set(wanted.map((e) => e.subject));
      for (const subject of subjects) {
        const arrived = first.filter((id) => wanted.find((e) => e.id === id)!.subject === subject);
        assert.deepEqual(arrived, wanted.filter((e) => e.subject === subject).map((e) => e.id), `order for subject ${subject}`);
      }
      return r.received.length - first.length;
    };
    const fresh = events.filter((e) => !before.has(e.id));
    const duplicatesAll = checkSubscription(all, subAll.secret, fresh);
    const duplicatesAdjusted = checkSubscription(adjusted, subAdjusted.secret, fresh.filter((e) => e.type === 'inventory.adjusted'));

    // The stream: exactly one message per event (the restarts are within the duplicate window), in commit order per subject.
    const stored = await probe.messages(settings.stream);
    const perId = new Map<string, number>();
    for (const m of stored) {
      assert.equal(m.msgId, m.event.id);
      assert.equal(m.subject, `${settings.subjectPrefix}.${m.event.type}`);
      perId.set(m.msgId!, (perId.get(m.msgId!) ?? 0) + 1);
    }
    assert.deepEqual([...perId.entries()].filter(([, k]) => k !== 1), [], 'no event twice in the stream');
    assert.equal(stored.length, events.length, 'every event in the stream');
    const subjectOf = new Map(events.map((e) => [e.id, e.subject]));
    for (const subject of new Set(events.map((e) => e.subject))) {
      assert.deepEqual(
        stored.filter((m) => subjectOf.get(m.event.id) === subject).map((m) => m.event.id),
        events.filter((e) => e.subject === subject).map((e) => e.id),
        `stream order for subject ${subject}`,
      );
    }
    t.diagnostic(
      `${events.length} events (${adjustedCount} inventory.adjusted) over ${new Set(events.map((e) => e.subject)).size} subjects; ` +
        `API killed after ${writtenAtApiKill} writes, ${resent} requests sent again after a connection cut by the API kill; at the worker kill ${atWorkerKill.delivered} delivered to '*' and ${atWorkerKill.stream} in the stream; ` +
        `duplicate deliveries: ${duplicatesAll} to '*', ${duplicatesAdjusted} to 'inventory.adjusted'; ` +
        `${workers.map((w) => w.output().match(/dropped as duplicates/g)?.length ?? 0).reduce((a, b) => a + b, 0)} relay batches re-published and dropped by JetStream`,
    );
  });
});
