import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnWorker, waitFor } from './support/runtime.ts';
import { startSubscriptionRig, type SubscriptionRig } from './support/subscriptions.ts';
import { startWebhookReceiver, verifyStandardWebhook, type WebhookReceiver } from './support/webhook-receiver.ts';

/** Deliveries to real local receivers: signatures, order per subject, outages, 410, isolation, rotation, replay. */
describe('webhook deliveries', () => {
  let rig: SubscriptionRig;
  const receivers: WebhookReceiver[] = [];
  before(async () => {
    rig = await startSubscriptionRig();
  });
  after(async () => {
    await rig?.close();
    for (const r of receivers) await r.close();
  });

  async function subscribe(receiver: WebhookReceiver, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
    const created = await rig.api('POST', '/v1/subscriptions', { url: receiver.url, ...body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.id, secret: created.body.secret };
  }
  async function receiver(mode?: Parameters<typeof startWebhookReceiver>[0]) {
    const r = await startWebhookReceiver(mode);
    receivers.push(r);
    return r;
  }
  const bySubject = (r: WebhookReceiver, subjects: readonly string[]) =>
    Object.fromEntries(subjects.map((s) => [s, r.received.filter((d) => d.event.subject === s).map((d) => d.event.id)]));

  test('a delivery is the CloudEvent, structured mode, and passes a Standard Webhooks verifier; types and channel filter', async () => {
    const r = await receiver();
    const { secret } = await subscribe(r, { types: ['order.*'], channel: 'web' });
    const [wanted] = await rig.emit('order.noted', ['ord-sig-1'], { channel: 'web' });
    await rig.emit('order.noted', ['ord-sig-2'], { channel: 'store' });
    await rig.emit('inventory.counted', ['sku-sig'], { channel: 'web' });
    const [last] = await rig.emit('order.noted', ['ord-sig-3'], { channel: 'web' });
    await waitFor('two deliveries', async () => r.received.length >= 2, 15_000);
    await waitFor('the relay passed the last event', async () => r.received.some((d) => d.event.id === last), 15_000);
    // Two subjects: no order between them is promised.
    assert.deepEqual(r.received.map((d) => d.event.id).sort(), [wanted, last].sort(), 'only order.* events of channel web');
    const delivery = r.received.find((d) => d.event.id === wanted)!;
    assert.equal(delivery.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    assert.equal(delivery.headers['webhook-id'], wanted);
    assert.equal(delivery.event.type, 'order.noted');
    assert.equal((delivery.event as any).specversion, '1.0');
    assert.ok(verifyStandardWebhook(secret, delivery.headers, delivery.body), 'the signature verifies');
    assert.ok(!verifyStandardWebhook(secret, delivery.headers, delivery.body.replace('ord-sig-1', 'ord-sig-X')), 'a changed body does not');
    assert.ok(!verifyStandardWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, delivery.headers, delivery.body), 'another secret does not');
  });

  test('during a rotation both secrets sign; after a zero overlap only the new one', async () => {
    const r = await receiver();
    const { id, secret: old } = await subscribe(r, { types: ['rotation.*'] });
    const rotated = await rig.api('POST', `/v1/subscriptions/${id}/rotate-secret`, { overlap: '1h' });
    const fresh = rotated.body.secret as string;
    await rig.emit('rotation.tested', ['rot-1']);
    await waitFor('a delivery', async () => r.received.length === 1, 15_000);
    const first = r.received[0]!;
    assert.equal((first.headers['webhook-signature'] as string).split(' ').length, 2);
    assert.ok(verifyStandardWebhook(old, first.headers, first.body), 'the old secret still verifies');
    assert.ok(verifyStandardWebhook(fresh, first.headers, first.body), 'the new secret verifies');
    const again = await rig.api('POST', `/v1/subscriptions/${id}/rotate-secret`, { overlap: '0s' });
    await rig.emit('rotation.tested', ['rot-2']);
    await waitFor('a second delivery', async () => r.received.length === 2, 15_000);
    const second = r.received[1]!;
    assert.equal((second.headers['webhook-signature'] as string).split(' ').length, 1);
    assert.ok(verifyStandardWebhook(again.body.secret, second.headers, second.body));
    assert.ok(!verifyStandardWebhook(fresh, second.headers, second.body));
  });

  test('a subscriber down for a while gets everything, in order per subject, when it comes back; the log shows the attempts', async () => {
    const r = await receiver({ status: 500 });
    const { id } = await subscribe(r, { types: ['outage.*'], maxConcurrency: 4 });
    const subjects = ['out-a', 'out-b', 'out-c'];
    const expected: Record<string, string[]> = { 'out-a': [], 'out-b': [], 'out-c': [] };
    for (let round = 0; round < 5; round++) {
      for (const s of subjects) expected[s]!.push(...(await rig.emit('outage.step', [s], { round })));
    }
    await waitFor('failed attempts', async () => r.requests >= 8, 15_000);
    r.mode = { status: 200 };
    await waitFor('all 15 delivered', async () => new Set(r.received.map((d) => d.event.id)).size === 15, 30_000);
    assert.deepEqual(bySubject(r, subjects), expected, 'in commit order per subject, each once');
    // The last attempt is logged when its job commits, just after the subscriber has the event.
    let log = await rig.api('GET', `/v1/subscriptions/${id}/deliveries?limit=500`);
    await waitFor('every delivery in the log', async () => {
      log = await rig.api('GET', `/v1/subscriptions/${id}/deliveries?limit=500`);
      return log.status !== 200 || log.body.items.filter((a: any) => a.outcome === 'delivered').length >= 15;
    }, 10_000);
    assert.equal(log.status, 200);
    const failed = log.body.items.filter((a: any) => a.outcome === 'failed');
    const delivered = log.body.items.filter((a: any) => a.outcome === 'delivered');
    assert.ok(failed.length >= 1 && failed.every((a: any) => a.statusCode === 500 && typeof a.latencyMs === 'number' && a.error), JSON.stringify(failed[0]));
    assert.equal(delivered.length, 15);
    assert.ok(delivered.every((a: any) => a.statusCode === 200));
    const one = await rig.api('GET', `/v1/subscriptions/${id}/deliveries?eventId=${expected['out-a']![0]}`);
    assert.ok(one.body.items.length >= 2 && one.body.items.every((a: any) => a.eventId === expected['out-a']![0]));
    const page = await rig.api('GET', `/v1/subscriptions/${id}/deliveries?limit=5`);
    assert.equal(page.body.items.length, 5);
    const next = await rig.api('GET', `/v1/subscriptions/${id}/deliveries?limit=5&before=${page.body.next}`);
    assert.ok(BigInt(next.body.items[0].id) < BigInt(page.body.items[4].id));
    assert.equal((await rig.api('GET', `/v1/subscriptions/${id}`)).body.failingSince, null, 'healthy again');
  });

  test('a subscriber that answers 410 is disabled, announced and audited', async () => {
    const r = await receiver({ status: 410 });
    const { id } = await subscribe(r, { types: ['gone.*'] });
    await rig.emit('gone.tested', ['gone-1', 'gone-2', 'gone-3']);
    await waitFor('disabled', async () => (await rig.api('GET', `/v1/subscriptions/${id}`)).body.status === 'disabled', 15_000);
    const shown = await rig.api('GET', `/v1/subscriptions/${id}`);
    assert.match(shown.body.statusReason, /410/);
    const events = await rig.database.db.query<{ type: string }>('SELECT type FROM outbox_event WHERE subject = $1', [id]);
    assert.deepEqual(events.rows.map((e) => e.type), ['subscription.disabled']);
    const audit = await rig.database.db.query<{ actor: string }>("SELECT actor FROM audit_event WHERE action = 'subscription.disabled' AND target_id = $1", [id]);
    assert.deepEqual(audit.rows.map((a) => a.actor), ['system:webhooks']);
    await waitFor('its queue drained', async () => (await rig.database.db.query("SELECT 1 FROM runtime_job WHERE target = $1", [`webhook:${id}`])).rowCount === 0, 15_000);
    const requests = r.requests;
    await rig.emit('gone.tested', ['gone-4']);
    const marker = await receiver();
    await subscribe(marker, { types: ['gone.*'] });
    const [probe] = await rig.emit('gone.tested', ['gone-5']);
    await waitFor('a healthy subscriber saw the later event', async () => marker.received.some((d) => d.event.id === probe), 15_000);
    assert.equal(r.requests, requests, 'a disabled subscription gets nothing');
  });

  test('a dead subscriber does not delay another', async () => {
    const hanging = await receiver('hang');
    const healthy = await receiver();
    await subscribe(hanging, { types: ['iso.*'], maxConcurrency: 2 });
    await subscribe(healthy, { types: ['iso.*'] });
    const subjects = Array.from({ length: 30 }, (_, i) => `iso-${i}`);
    const started = Date.now();
    const ids = await rig.emit('iso.tested', subjects);
    await waitFor('the healthy subscriber got all 30', async () => new Set(healthy.received.map((d) => d.event.id)).size === 30, 20_000);
    assert.deepEqual([...new Set(healthy.received.map((d) => d.event.id))].sort(), [...ids].sort());
    assert.ok(Date.now() - started < 20_000);
    assert.ok(hanging.requests >= 1, 'the dead one was tried');
    assert.ok(hanging.maxInFlight <= 2, `at most maxConcurrency (2) requests at once, saw ${hanging.maxInFlight}`);
  });

  test("a subscription's rate limit spaces its deliveries", async () => {
    const r = await receiver();
    await subscribe(r, { types: ['rate.*'], rateLimitPerSecond: 5 });
    await rig.emit('rate.tested', Array.from({ length: 15 }, (_, i) => `rate-${i}`));
    await waitFor('15 deliveries', async () => r.received.length === 15, 20_000);
    // A call counts against the limit from its grant to its answer, so arrivals 5 apart are a second apart (less clock slack).
    for (let i = 5; i < r.arrivals.length; i++) assert.ok(r.arrivals[i]! - r.arrivals[i - 5]! >= 900, `deliveries ${i - 5} and ${i} arrived ${r.arrivals[i]! - r.arrivals[i - 5]!} ms apart`);
  });

  test('replay from an event id and from a time delivers again, in order, with the same webhook-id', async () => {
    const r = await receiver();
    const { id } = await subscribe(r, { types: ['replay.*'] });
    const ids = await rig.emit('replay.tested', ['rep-1', 'rep-1', 'rep-1', 'rep-1']);
    await waitFor('four deliveries', async () => r.received.length === 4, 15_000);
    const fromEvent = await rig.api('POST', `/v1/subscriptions/${id}/replay`, { fromEventId: ids[2] });
    assert.equal(fromEvent.status, 202, JSON.stringify(fromEvent.body));
    assert.equal(fromEvent.body.events, 2);
    await waitFor('two replayed', async () => r.received.length === 6, 15_000);
    assert.deepEqual(r.received.slice(4).map((d) => d.headers['webhook-id']), [ids[2], ids[3]]);
    const first = await rig.database.db.query<{ time: Date }>('SELECT time FROM outbox_event WHERE id = $1', [ids[1]]);
    const fromTime = await rig.api('POST', `/v1/subscriptions/${id}/replay`, { fromTime: new Date(first.rows[0]!.time).toISOString() });
    assert.equal(fromTime.body.events, 3);
    await waitFor('three more', async () => r.received.length === 9, 15_000);
    assert.deepEqual(r.received.slice(6).map((d) => d.event.id), ids.slice(1));
    const audit = await rig.database.db.query("SELECT 1 FROM audit_event WHERE action = 'subscription.replayed' AND target_id = $1", [id]);
    assert.equal(audit.rowCount, 2);
  });
});

describe('webhook pause after a failing period', () => {
  let rig: SubscriptionRig;
  let r: WebhookReceiver;
  before(async () => {
    rig = await startSubscriptionRig({ SYNCLINE_WEBHOOK_PAUSE_AFTER_MS: '1500' });
    r = await startWebhookReceiver({ status: 503 });
  });
  after(async () => {
    await rig?.close();
    await r?.close();
  });

  test('a subscriber failing for longer than the period is paused with a subscription.paused event; resume delivers what waited', async () => {
    const created = await rig.api('POST', '/v1/subscriptions', { url: r.url, types: ['pause.*'] });
    const id = created.body.id as string;
    const ids = await rig.emit('pause.tested', ['p-1', 'p-1', 'p-2']);
    await waitFor('paused', async () => (await rig.api('GET', `/v1/subscriptions/${id}`)).body.status === 'paused', 20_000);
    const shown = await rig.api('GET', `/v1/subscriptions/${id}`);
    assert.match(shown.body.statusReason, /failed for longer than/);
    assert.ok(shown.body.failingSince);
    const events = await rig.database.db.query<{ type: string; data: any }>('SELECT type, data FROM outbox_event WHERE subject = $1', [id]);
    assert.deepEqual(events.rows.map((e) => e.type), ['subscription.paused']);
    assert.equal(events.rows[0]!.data.subscriptionId, id);
    const requests = r.requests;
    r.mode = { status: 200 };
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(r.requests, requests, 'nothing is sent while paused');
    const resumed = await rig.api('POST', `/v1/subscriptions/${id}/resume`);
    assert.equal(resumed.body.status, 'active');
    await waitFor('all three delivered after resume', async () => new Set(r.received.map((d) => d.event.id)).size === 3, 15_000);
    assert.deepEqual(r.received.filter((d) => d.event.subject === 'p-1').map((d) => d.event.id), ids.slice(0, 2));
  });
});

describe('webhook deliveries across a worker killed mid-delivery', () => {
  let rig: SubscriptionRig;
  let r: WebhookReceiver;
  before(async () => {
    rig = await startSubscriptionRig({}, { workers: false });
    r = await startWebhookReceiver('hang');
  });
  after(async () => {
    await rig?.close();
    await r?.close();
  });

  test('SIGKILL while a delivery is in flight: a new worker delivers every event, in order per subject', async () => {
    const created = await rig.api('POST', '/v1/subscriptions', { url: r.url, types: ['crash.*'] });
    const id = created.body.id as string;
    const env = { ...rig.env, SYNCLINE_HANDLER_MODULES: '', SYNCLINE_WORKER_LEASE_MS: '1000', SYNCLINE_WEBHOOK_TIMEOUT_MS: '60000' };
    const first = await spawnWorker(env);
    const ids = await rig.emit('crash.tested', ['crash-1', 'crash-1', 'crash-1', 'crash-2']);
    await waitFor('a delivery in flight', async () => r.requests >= 1, 20_000);
    first.child.kill('SIGKILL');
    await first.exited;
    r.mode = { status: 200 };
    const second = await spawnWorker(env);
    try {
      await waitFor('every event delivered', async () => new Set(r.received.map((d) => d.event.id)).size === 4, 30_000);
      const firstSeen = (subject: string) => [...new Set(r.received.filter((d) => d.event.subject === subject).map((d) => d.event.id))];
      assert.deepEqual(firstSeen('crash-1'), ids.slice(0, 3));
      assert.deepEqual(firstSeen('crash-2'), ids.slice(3));
      // An attempt's log entry is written once its answer is in, just after the receiver counted it: wait for the last.
      const delivered = async () => (await rig.api('GET', `/v1/subscriptions/${id}/deliveries?limit=100`)).body.items.filter((a: any) => a.outcome === 'delivered').length;
      await waitFor('every delivery logged', async () => (await delivered()) >= r.received.length, 10_000);
      assert.equal(await delivered(), r.received.length);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
