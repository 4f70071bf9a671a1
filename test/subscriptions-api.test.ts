import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fetchToken } from './support/server.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';
import { startSubscriptionRig, type SubscriptionRig } from './support/subscriptions.ts';
import { startWebhookReceiver, verifyStandardWebhook } from './support/webhook-receiver.ts';

/** Webhook subscriptions over the API: scopes, the secret shown once (also under an Idempotency-Key), SSRF refusals, bad input, changes, lifecycle and audit. */
describe('subscriptions API', () => {
  let rig: SubscriptionRig;
  before(async () => {
    rig = await startSubscriptionRig();
  });
  after(async () => {
    await rig?.close();
  });

  test('scopes: the feed needs events:read (not ops:read); subscriptions need events:manage', async () => {
    const reader = await fetchToken(rig.baseUrl, undefined, 'events:read');
    const ops = await fetchToken(rig.baseUrl, undefined, 'ops:read');
    assert.equal((await call(rig.baseUrl, 'GET', '/v1/events', { token: reader })).status, 200);
    const refused = await call(rig.baseUrl, 'GET', '/v1/events', { token: ops });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.requiredScope, 'events:read');
    assert.equal((await call(rig.baseUrl, 'GET', '/v1/subscriptions')).status, 401);
    const forbidden = await call(rig.baseUrl, 'GET', '/v1/subscriptions', { token: reader });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.requiredScope, 'events:manage');
    assert.equal((await rig.api('GET', '/v1/subscriptions')).status, 200);
  });

  test('create returns a whsec_ secret once; list and show never do', async () => {
    const created = await rig.api('POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/hooks', types: ['order.*', 'inventory.adjusted'], channel: 'web' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.id, /^sub_/);
    assert.equal(created.headers.get('location'), `/v1/subscriptions/${created.body.id}`);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const keyBytes = Buffer.from(created.body.secret.slice(6), 'base64').length;
    assert.ok(keyBytes >= 24 && keyBytes <= 64, `${keyBytes} key bytes`);
    assert.equal(created.body.status, 'active');
    const shown = await rig.api('GET', `/v1/subscriptions/${created.body.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.secret, undefined);
    assert.ok(!JSON.stringify(shown.body).includes(created.body.secret.slice(6)));
    const listed = await rig.api('GET', '/v1/subscriptions');
    assert.ok(listed.body.items.some((s: any) => s.id === created.body.id));
    assert.ok(!JSON.stringify(listed.body).includes(created.body.secret.slice(6)));
    const stored = await rig.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE action = 'subscription.created' AND target_id = $1", [created.body.id]);
    assert.equal(stored.rows[0]!.n, 1);
    assert.ok(!JSON.stringify((await rig.database.db.query('SELECT details FROM audit_event')).rows).includes(created.body.secret.slice(6)), 'the audit trail holds no secret');
  });

  test('URLs that reach private, link-local or reserved networks, or plain http to a public host, are refused', async () => {
    for (const url of [
      'http://10.1.2.3/hooks',
      'https://192.168.1.10/hooks',
      'https://172.20.0.1/hooks',
      'http://169.254.169.254/latest/meta-data',
      'https://[fe80::1]/hooks',
      'https://[fd00::1]/hooks',
      'https://[::ffff:10.0.0.1]/hooks',
      'https://0.0.0.0/hooks',
      'http://93.184.215.14/hooks',
      'ftp://127.0.0.1/hooks',
      'https://user:pass@127.0.0.1/hooks',
      'not a url',
    ]) {
      const response = await rig.api('POST', '/v1/subscriptions', { url, types: ['*'] });
      assert.equal(response.status, 422, `${url}: ${JSON.stringify(response.body)}`);
      assert.match(response.headers.get('content-type')!, /application\/problem\+json/);
      assert.equal(response.body.errors[0].pointer, '/url', url);
    }
    assert.equal((await rig.api('POST', '/v1/subscriptions', { url: 'https://[::1]:9/hooks', types: ['*'] })).status, 201, 'loopback is allowed by default');
  });

  test('bad input gives problem+json, never a 500', async () => {
    const cases: [string, string, unknown, number][] = [
      ['POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: [] }, 422],
      ['POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: ['Order Created'] }, 422],
      ['POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: ['*'], extra: 1 }, 422],
      ['POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: ['*'], maxConcurrency: 0 }, 422],
      ['GET', '/v1/subscriptions/sub_nope', undefined, 404],
      ['GET', '/v1/subscriptions/sub_01jd5q8x7m2v3k4n5p6r7s8t9w', undefined, 404],
      ['POST', '/v1/subscriptions/sub_01jd5q8x7m2v3k4n5p6r7s8t9w/pause', undefined, 404],
      ['DELETE', '/v1/subscriptions/sub_01jd5q8x7m2v3k4n5p6r7s8t9w', undefined, 404],
      ['GET', '/v1/subscriptions/sub_01jd5q8x7m2v3k4n5p6r7s8t9w/deliveries?limit=0', undefined, 400],
    ];
    for (const [method, path, body, status] of cases) {
      const response = await rig.api(method, path, body);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      assert.match(response.headers.get('content-type')!, /application\/problem\+json/);
    }
    const created = await rig.api('POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: ['*'] });
    for (const body of [{}, { fromEventId: 'evt_x' }, { fromTime: 'yesterday' }, { fromTime: '2026-01-01T00:00:00Z', fromEventId: 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x' }]) {
      const response = await rig.api('POST', `/v1/subscriptions/${created.body.id}/replay`, body);
      assert.equal(response.status, 422, JSON.stringify(body));
    }
    const unknownEvent = await rig.api('POST', `/v1/subscriptions/${created.body.id}/replay`, { fromEventId: 'evt_01jd5q8x7m2v3k4n5p6r7s8t9x' });
    assert.equal(unknownEvent.status, 422);
    assert.equal(unknownEvent.body.errors[0].pointer, '/fromEventId');
    assert.equal((await rig.api('POST', `/v1/subscriptions/${created.body.id}/rotate-secret`, { overlap: 'forever' })).status, 422);
  });

  test('pause, resume, rotate and delete are audited; delete removes it', async () => {
    const created = await rig.api('POST', '/v1/subscriptions', { url: 'http://127.0.0.1:9/', types: ['order.*'] });
    const id = created.body.id as string;
    const paused = await rig.api('POST', `/v1/subscriptions/${id}/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.status, 'paused');
    const resumed = await rig.api('POST', `/v1/subscriptions/${id}/resume`, {});
    assert.equal(resumed.body.status, 'active');
    const rotated = await rig.api('POST', `/v1/subscriptions/${id}/rotate-secret`, { overlap: '1h' });
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, created.body.secret);
    assert.ok(Date.parse(rotated.body.previousSecretValidUntil) > Date.now() + 50 * 60_000);
    assert.equal((await rig.api('DELETE', `/v1/subscriptions/${id}`)).status, 204);
    assert.equal((await rig.api('GET', `/v1/subscriptions/${id}`)).status, 404);
    assert.equal((await rig.database.db.query('SELECT 1 FROM runtime_target WHERE name = $1', [`webhook:${id}`])).rowCount, 0);
    const audit = await rig.database.db.query<{ action: string; actor: string }>('SELECT action, actor FROM audit_event WHERE target_id = $1 ORDER BY id', [id]);
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['subscription.created', 'subscription.paused', 'subscription.resumed', 'subscription.secret_rotated', 'subscription.deleted'],
    );
    assert.ok(audit.rows.every((r) => r.actor === 'client:test-admin'));
  });
  test('Idempotency-Key: a retry answers the same subscription without its secret; the record holds no secret; another body is a 422', async () => {
    const key = `create-${Date.now()}`;
    const body = { url: 'http://127.0.0.1:9/idem', types: ['order.*'], description: 'idempotent' };
    const create = (b: unknown, k = key) => call(rig.baseUrl, 'POST', '/v1/subscriptions', { token: rig.token, body: b, headers: { 'idempotency-key': k } });
    const first = await create(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.match(first.body.secret, /^whsec_/);
    const replay = await create(body);
    assert.equal(replay.status, 201, JSON.stringify(replay.body));
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.headers.get('location'), `/v1/subscriptions/${first.body.id}`);
    assert.equal(replay.headers.get('cache-control'), 'no-store');
    assert.equal(replay.body.secret, null, 'the secret is shown once, never in a replay');
    const { secret: _secret, ...firstWithoutSecret } = first.body;
    const { secret: _none, ...replayWithoutSecret } = replay.body;
    assert.deepEqual(replayWithoutSecret, firstWithoutSecret);
    const rows = await rig.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM webhook_subscription WHERE description = 'idempotent'");
    assert.equal(rows.rows[0]!.n, 1, 'one subscription for two requests');
    const audit = await rig.database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE action = 'subscription.created' AND target_id = $1", [first.body.id]);
    assert.equal(audit.rows[0]!.n, 1);
    const record = await rig.database.db.query<{ result: unknown }>('SELECT result FROM idempotency_record WHERE key = $1', [key]);
    assert.equal(record.rowCount, 1);
    assert.deepEqual(record.rows[0]!.result, { subscriptionId: first.body.id });
    assert.ok(!JSON.stringify(record.rows).includes(first.body.secret.slice(6)), 'the idempotency record holds no secret');

    const reused = await create({ ...body, types: ['return.*'] });
    assert.equal(reused.status, 422, JSON.stringify(reused.body));
    assert.match(reused.headers.get('content-type')!, /application\/problem\+json/);
    assert.match(reused.body.type, /idempotency-key-reused/);
    const invalid = await create(body, 'has spaces in it');
    assert.equal(invalid.status, 400, JSON.stringify(invalid.body));
    assert.match(invalid.body.type, /idempotency-key-invalid/);

    // The secret of a lost first answer is recovered by rotating it.
    const rotated = await rig.api('POST', `/v1/subscriptions/${first.body.id}/rotate-secret`, { overlap: '0s' });
    assert.match(rotated.body.secret, /^whsec_/);
    assert.equal((await rig.api('DELETE', `/v1/subscriptions/${first.body.id}`)).status, 204);
    const gone = await create(body);
    assert.equal(gone.status, 404, 'a replay after the subscription was deleted');
    assert.match(gone.headers.get('content-type')!, /application\/problem\+json/);
    const without = await rig.api('POST', '/v1/subscriptions', body);
    assert.equal(without.status, 201, 'the key is optional');
    assert.notEqual(without.body.id, first.body.id);
  });

  test('PATCH changes settings with merge-patch meaning, validated like creation, audited; deliveries follow', async () => {
    const oldReceiver = await startWebhookReceiver();
    const newReceiver = await startWebhookReceiver();
    try {
      const created = await rig.api('POST', '/v1/subscriptions', { url: oldReceiver.url, types: ['patchold.*'], channel: 'web', description: 'before', rateLimitPerSecond: 5, maxConcurrency: 2 });
      const id = created.body.id as string;
      const patched = await rig.api('PATCH', `/v1/subscriptions/${id}`, { url: newReceiver.url, types: ['patchnew.*', 'patchnew.*'], channel: null, rateLimitPerSecond: null, maxConcurrency: 7 });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.url, newReceiver.url);
      assert.deepEqual(patched.body.types, ['patchnew.*']);
      assert.equal(patched.body.channel, null, 'null clears');
      assert.equal(patched.body.description, 'before', 'absent keeps');
      assert.equal(patched.body.rateLimitPerSecond, 50, 'null restores the default');
      assert.equal(patched.body.maxConcurrency, 7);
      assert.equal(patched.body.secret, undefined);
      assert.ok(Date.parse(patched.body.updatedAt) >= Date.parse(created.body.updatedAt));
      assert.deepEqual((await rig.api('GET', `/v1/subscriptions/${id}`)).body, patched.body);
      const second = await rig.api('PATCH', `/v1/subscriptions/${id}`, { description: null, rateLimitPerSecond: 0 });
      assert.equal(second.body.description, null);
      assert.equal(second.body.rateLimitPerSecond, 0);
      assert.equal(second.body.url, newReceiver.url);

      await rig.emit('patchold.noted', ['sub-patch-1'], { channel: 'store' });
      const [wanted] = await rig.emit('patchnew.noted', ['sub-patch-2'], { channel: 'store' });
      await waitFor('the delivery to the new URL', async () => newReceiver.received.length >= 1, 15_000);
      assert.deepEqual(newReceiver.received.map((d) => d.event.id), [wanted], 'the new types, any channel');
      assert.equal(oldReceiver.received.length, 0);
      assert.ok(verifyStandardWebhook(created.body.secret, newReceiver.received[0]!.headers, newReceiver.received[0]!.body), 'the secret is unchanged');

      const audit = await rig.database.db.query<{ action: string; actor: string; details: any }>(
        "SELECT action, actor, details FROM audit_event WHERE target_id = $1 AND action = 'subscription.updated' ORDER BY id",
        [id],
      );
      assert.deepEqual(
        audit.rows.map((r) => r.details.fields),
        [
          ['channel', 'maxConcurrency', 'rateLimitPerSecond', 'types', 'url'],
          ['description', 'rateLimitPerSecond'],
        ],
      );
      assert.equal(audit.rows[0]!.details.host, new URL(newReceiver.url).host);
      assert.ok(audit.rows.every((r) => r.actor === 'client:test-admin'));

      const reader = await fetchToken(rig.baseUrl, undefined, 'events:read');
      assert.equal((await rig.api('PATCH', `/v1/subscriptions/${id}`, { description: 'x' }, reader)).status, 403);
      const cases: [string, unknown, number, string?][] = [
        [id, {}, 422],
        [id, { url: null }, 422, '/url'],
        [id, { types: null }, 422, '/types'],
        [id, { types: [] }, 422, '/types'],
        [id, { types: ['Not A Type'] }, 422],
        [id, { url: 'http://10.1.2.3/hooks' }, 422, '/url'],
        [id, { url: 'http://169.254.169.254/latest' }, 422, '/url'],
        [id, { maxConcurrency: 0 }, 422, '/maxConcurrency'],
        [id, { rateLimitPerSecond: 1.5 }, 422, '/rateLimitPerSecond'],
        [id, { channel: '' }, 422, '/channel'],
        [id, { secret: 'whsec_AAAA' }, 422],
        [id, { status: 'active' }, 422],
        [id, [{ op: 'replace', path: '/url', value: 'x' }], 422],
        ['sub_01jd5q8x7m2v3k4n5p6r7s8t9w', { description: 'x' }, 404],
        ['sub_nope', { description: 'x' }, 404],
      ];
      for (const [target, body, status, pointer] of cases) {
        const response = await rig.api('PATCH', `/v1/subscriptions/${target}`, body);
        assert.equal(response.status, status, `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
        assert.match(response.headers.get('content-type')!, /application\/problem\+json/);
        if (pointer) assert.ok(response.body.errors.some((e: any) => e.pointer === pointer), `${JSON.stringify(body)}: ${JSON.stringify(response.body.errors)}`);
      }
      const unchanged = await rig.api('GET', `/v1/subscriptions/${id}`);
      assert.equal(unchanged.body.url, newReceiver.url, 'a refused change changes nothing');
      assert.equal(unchanged.body.maxConcurrency, 7);
    } finally {
      await oldReceiver.close();
      await newReceiver.close();
    }
  });
});
