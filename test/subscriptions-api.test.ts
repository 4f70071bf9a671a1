import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fetchToken } from './support/server.ts';
import { call } from './support/orders.ts';
import { startSubscriptionRig, type SubscriptionRig } from './support/subscriptions.ts';

/** Webhook subscriptions over the API: scopes, the secret shown once, SSRF refusals, bad input, lifecycle and audit. */
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
});
