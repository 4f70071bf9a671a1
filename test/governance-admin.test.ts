import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { ADMIN_CLIENT, fetchToken, spawnSyncline, startTestServer, testEnvironment, type ChildServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';
import { runSyncline } from './support/cli.ts';
import { RUNTIME_TEST_TABLES } from './support/runtime-handlers.ts';
import { runUntilDeadLettered } from './support/runtime-dead-letters.ts';

const ADMIN_ACTOR = `client:${ADMIN_CLIENT.id}`;
// Shorter than the periodic reload (5 s): a change seen sooner came by NOTIFY.
const NOTIFY_DEADLINE_MS = 2000;

const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

/** Client lifecycle, key rotation and the audit trail, over the admin API and the CLI, with a second API process. */
describe('governance: clients, keys and audit', () => {
  let database: TestDatabase;
  let server: TestServer;
  let second: ChildServer;
  let admin: string;

  before(async () => {
    database = await createTestDatabase();
    await database.db.exec(RUNTIME_TEST_TABLES);
    server = await startTestServer(database.url);
    second = await spawnSyncline(['api'], testEnvironment(database.url));
    admin = await server.token();
  });
  after(async () => {
    second?.child.kill('SIGTERM');
    await second?.exited;
    await server?.close();
    await database?.drop();
  });

  const adminCall = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => call(server.baseUrl, method, path, { token: admin, body, headers });

  async function createApiClient(scopes: string[], name = 'web shop') {
    const created = await adminCall('POST', '/v1/admin/clients', { name, scopes });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.clientId as string, secret: created.body.clientSecret as string };
  }

  test('create, list, show and update clients; secrets are shown once and never again', async () => {
    const created = await adminCall('POST', '/v1/admin/clients', { name: 'web shop', scopes: ['orders:read', 'orders:write'], rateLimit: 500 }, { 'x-correlation-id': 'corr-create-1' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `/v1/admin/clients/${created.body.clientId}`);
    assert.equal(typeof created.body.clientSecret, 'string');
    assert.equal(created.body.rateLimit, 500);
    assert.equal(created.body.status, 'enabled');
    const id = created.body.clientId as string;
    assert.ok(await fetchToken(second.baseUrl, { id, secret: created.body.clientSecret }));

    const list = await adminCall('GET', '/v1/admin/clients');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((c: { clientId: string }) => c.clientId === id));
    assert.ok(list.body.items.some((c: { clientId: string }) => c.clientId === ADMIN_CLIENT.id));
    const shown = await adminCall('GET', `/v1/admin/clients/${id}`);
    assert.deepEqual(shown.body.scopes, ['orders:read', 'orders:write']);
    for (const text of [JSON.stringify(list.body), JSON.stringify(shown.body)]) {
      assert.doesNotMatch(text, /clientSecret|secretHash|scrypt/i, 'no secret and no hash');
      assert.ok(!text.includes(created.body.clientSecret));
    }

    const updated = await adminCall('PATCH', `/v1/admin/clients/${id}`, { scopes: ['orders:read'], rateLimit: null });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.scopes, ['orders:read']);
    assert.equal(updated.body.rateLimit, null);

    assert.equal((await adminCall('GET', '/v1/admin/clients/cli_doesnotexist')).status, 404);
    assert.equal((await adminCall('PATCH', `/v1/admin/clients/${id}`, {})).status, 422);
    assert.equal((await adminCall('PATCH', `/v1/admin/clients/${id}`, { scopes: ['orders:delete'] })).status, 422);
    assert.equal((await adminCall('POST', '/v1/admin/clients', { name: 'x', scopes: [], secretHash: 'x' })).status, 422);
    const notAdmin = await fetchToken(server.baseUrl, ADMIN_CLIENT, 'orders:read ops:write');
    const forbidden = await call(server.baseUrl, 'GET', '/v1/admin/clients', { token: notAdmin });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.requiredScope, 'admin');
  });

  test('a disabled client is refused at once in this process, and within moments in the other one; enabling restores it', async () => {
    const client = await createApiClient(['orders:read']);
    const token = await fetchToken(server.baseUrl, client);
    assert.equal((await call(second.baseUrl, 'GET', '/v1/orders', { token })).status, 200);

    const disabled = await adminCall('POST', `/v1/admin/clients/${client.id}/disable`);
    assert.equal(disabled.status, 200);
    assert.equal(disabled.body.status, 'disabled');
    const here = await call(server.baseUrl, 'GET', '/v1/orders', { token });
    assert.equal(here.status, 401, 'refused by the process that disabled it, on the very next request');
    assert.match(here.headers.get('www-authenticate')!, /client is disabled/);
    const startedAt = Date.now();
    await waitFor('the other process to refuse the disabled client', async () => (await call(second.baseUrl, 'GET', '/v1/orders', { token })).status === 401, NOTIFY_DEADLINE_MS, 5);
    assert.ok(Date.now() - startedAt < NOTIFY_DEADLINE_MS);
    await assert.rejects(fetchToken(second.baseUrl, client), /401/, 'no new token either');

    assert.equal((await adminCall('POST', `/v1/admin/clients/${client.id}/enable`)).body.status, 'enabled');
    assert.equal((await call(server.baseUrl, 'GET', '/v1/orders', { token })).status, 200);
    await waitFor('the other process to accept the client again', async () => (await call(second.baseUrl, 'GET', '/v1/orders', { token })).status === 200, NOTIFY_DEADLINE_MS, 5);
  });

  test('a rotated secret: the old one works within the grace period and stops after it', async () => {
    const client = await createApiClient(['orders:read']);
    const rotated = await adminCall('POST', `/v1/admin/clients/${client.id}/rotate-secret`, { grace: '5s' });
    assert.equal(rotated.status, 200);
    const rotatedAt = Date.now();
    const fresh = rotated.body.clientSecret as string;
    assert.notEqual(fresh, client.secret);
    assert.ok(Date.parse(rotated.body.previousSecretValidUntil) > rotatedAt);
    assert.ok(await fetchToken(server.baseUrl, { id: client.id, secret: fresh }));
    assert.ok(await fetchToken(second.baseUrl, client), 'the old secret still works in the grace period');
    await waitFor('the old secret to stop working', async () => {
      try {
        await fetchToken(server.baseUrl, client);
        return false;
      } catch {
        return true;
      }
    }, 15_000, 250);
    assert.ok(Date.now() - rotatedAt >= 4500, 'not before the grace period ran out');
    assert.ok(await fetchToken(second.baseUrl, { id: client.id, secret: fresh }), 'the new secret keeps working');
    const bad = await adminCall('POST', `/v1/admin/clients/${client.id}/rotate-secret`, { grace: 'forever' });
    assert.equal(bad.status, 422);
  });

  test('signing keys rotate: new tokens carry the new kid everywhere, tokens of the old key keep working', async () => {
    const before = await fetchToken(server.baseUrl);
    const rotated = await adminCall('POST', '/v1/admin/keys/rotate');
    assert.equal(rotated.status, 201);
    assert.notEqual(rotated.body.kid, kidOf(before));
    const after = await fetchToken(server.baseUrl);
    assert.equal(kidOf(after), rotated.body.kid);
    await waitFor('the other process to sign with the new key', async () => kidOf(await fetchToken(second.baseUrl)) === rotated.body.kid, NOTIFY_DEADLINE_MS, 20);
    for (const baseUrl of [server.baseUrl, second.baseUrl]) {
      assert.equal((await call(baseUrl, 'GET', '/v1/orders', { token: before })).status, 200, 'old key still verifies');
      assert.equal((await call(baseUrl, 'GET', '/v1/orders', { token: after })).status, 200, 'new key verifies');
    }
    admin = after;
  });

  test('the CLI manages clients and keys; running API processes follow its changes', async () => {
    const env = { DATABASE_URL: database.url };
    const created = await runSyncline(['clients', 'create', '--scopes', 'orders:read', '--name', 'cli shop', '--rate-limit', '300'], env);
    assert.equal(created.code, 0, created.stderr);
    const credentials = JSON.parse(created.stdout) as { clientId: string; clientSecret: string };
    const token = await fetchToken(second.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret });

    const listed = await runSyncline(['clients', 'list'], env);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, new RegExp(`${credentials.clientId}  enabled  300  orders:read  cli shop`));
    assert.ok(!listed.stdout.includes(credentials.clientSecret));
    const shown = await runSyncline(['clients', 'show', credentials.clientId], env);
    assert.equal(JSON.parse(shown.stdout).rateLimit, 300);
    assert.doesNotMatch(shown.stdout, /secret"|scrypt/);

    const updated = await runSyncline(['clients', 'update', credentials.clientId, '--scopes', 'orders:read,orders:write', '--rate-limit', 'default'], env);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /enabled {2}default {2}orders:read,orders:write/);

    const disabled = await runSyncline(['clients', 'disable', credentials.clientId], env);
    assert.equal(disabled.code, 0, disabled.stderr);
    await waitFor('both processes to refuse the client disabled from the CLI', async () => {
      const answers = await Promise.all([server.baseUrl, second.baseUrl].map((url) => call(url, 'GET', '/v1/orders', { token })));
      return answers.every((a) => a.status === 401);
    }, NOTIFY_DEADLINE_MS, 10);
    assert.equal((await runSyncline(['clients', 'enable', credentials.clientId], env)).code, 0);
    await waitFor('the client to be accepted again', async () => (await call(second.baseUrl, 'GET', '/v1/orders', { token })).status === 200, NOTIFY_DEADLINE_MS, 10);

    const rotated = await runSyncline(['clients', 'rotate-secret', credentials.clientId, '--grace', '1h'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = JSON.parse(rotated.stdout) as { clientSecret: string; previousSecretValidUntil: string };
    assert.ok(await fetchToken(server.baseUrl, { id: credentials.clientId, secret: fresh.clientSecret }));
    assert.ok(await fetchToken(server.baseUrl, { id: credentials.clientId, secret: credentials.clientSecret }), 'old secret within its hour of grace');

    const keys = await runSyncline(['keys', 'rotate'], env);
    assert.equal(keys.code, 0, keys.stderr);
    const kid = /new signing key (\S+);/.exec(keys.stdout)![1]!;
    await waitFor('the API processes to sign with the key made by the CLI', async () => kidOf(await fetchToken(second.baseUrl)) === kid && kidOf(await fetchToken(server.baseUrl)) === kid, NOTIFY_DEADLINE_MS, 20);

    const usage = [
      [['clients', 'update', credentials.clientId], /name what to change/],
      [['clients', 'rotate-secret', credentials.clientId, '--grace', 'soon'], /--grace must be a duration/],
      [['clients', 'create', '--scopes', 'orders:read', '--rate-limit', 'lots'], /--rate-limit must be/],
      [['clients', 'frobnicate'], /unknown clients command/],
      [['keys', 'spin'], /unknown keys command/],
    ] as const;
    const results = await Promise.all(usage.map(([args]) => runSyncline([...args], env)));
    usage.forEach(([args, message], i) => {
      assert.equal(results[i]!.code, 2, `${args.join(' ')}: ${results[i]!.stderr}`);
      assert.match(results[i]!.stderr, message);
    });
    const missing = await runSyncline(['clients', 'disable', 'cli_nobody'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no client with id cli_nobody/);
  });

  test('every administrative and operational action is in the audit trail, with filters and a cursor', async () => {
    const client = await createApiClient(['orders:read'], 'audited');
    await adminCall('POST', `/v1/admin/clients/${client.id}/disable`, undefined, { 'x-correlation-id': 'corr-disable-audit' });
    await adminCall('POST', `/v1/admin/clients/${client.id}/enable`);
    await adminCall('PATCH', `/v1/admin/clients/${client.id}`, { rateLimit: 99 });
    await adminCall('POST', `/v1/admin/clients/${client.id}/rotate-secret`, { grace: '1m' });

    const trail = await adminCall('GET', `/v1/admin/audit?targetType=client&targetId=${client.id}`);
    assert.equal(trail.status, 200);
    assert.deepEqual(trail.body.items.map((e: { action: string }) => e.action), ['client.secret_rotated', 'client.updated', 'client.enabled', 'client.disabled', 'client.created']);
    for (const event of trail.body.items) {
      assert.equal(event.actor, ADMIN_ACTOR);
      assert.ok(!Number.isNaN(Date.parse(event.occurredAt)));
    }
    const disable = trail.body.items.find((e: { action: string }) => e.action === 'client.disabled');
    assert.equal(disable.correlationId, 'corr-disable-audit');
    assert.deepEqual(trail.body.items.find((e: { action: string }) => e.action === 'client.updated').details, { rateLimit: 99 });
    assert.doesNotMatch(JSON.stringify(trail.body), /scrypt|clientSecret/);

    // Operational actions: dead letters (replay, discard) and orders (cancel).
    await runUntilDeadLettered(database.url, [1, 2, 3].map((n) => ({ type: 'test.needs-fix', payload: { n }, jobKey: `audit-${n}`, correlationId: `corr-audit-${n}` })));
    const letters = (await adminCall('GET', '/v1/ops/dead-letters')).body.items as { id: string }[];
    assert.equal(letters.length, 3);
    const discardedByCli = await runSyncline(['dlq', 'discard', letters[2]!.id, '--reason', 'sent twice by the shop'], { DATABASE_URL: database.url });
    assert.equal(discardedByCli.code, 0, discardedByCli.stderr);
    const cliDiscard = await adminCall('GET', `/v1/admin/audit?action=dead_letter.discarded&targetId=${letters[2]!.id}`);
    assert.equal(cliDiscard.body.items.length, 1);
    assert.match(cliDiscard.body.items[0].actor, /^cli:/);
    assert.equal((await adminCall('POST', `/v1/ops/dead-letters/${letters[0]!.id}/replay`)).status, 202);
    assert.equal((await adminCall('POST', `/v1/ops/dead-letters/${letters[1]!.id}/discard`, { reason: 'duplicate of another order' })).status, 200);
    const order = await submitOrder(server.baseUrl, admin, sampleOrder());
    assert.equal(order.status, 201);
    const cancel = await adminCall('POST', `/v1/orders/${order.body.id}/cancel`, { reason: 'customer called' }, { 'x-correlation-id': 'corr-cancel-audit' });
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));

    // An order an operator found on hold (put there directly: no workers run in this test) and released.
    const held = await submitOrder(server.baseUrl, admin, sampleOrder());
    await database.db.query("UPDATE sales_order SET status = 'on_hold' WHERE id = $1", [held.body.id]);
    const released = await adminCall('POST', `/v1/orders/${held.body.id}/hold/release`, { note: 'checked by phone' });
    assert.equal(released.status, 202, JSON.stringify(released.body));
    const releaseAudit = await adminCall('GET', `/v1/admin/audit?action=order.hold_released&targetId=${held.body.id}`);
    assert.equal(releaseAudit.body.items.length, 1);
    assert.equal(releaseAudit.body.items[0].actor, ADMIN_ACTOR);

    const replayed = await adminCall('GET', `/v1/admin/audit?action=dead_letter.replayed&targetId=${letters[0]!.id}`);
    assert.equal(replayed.body.items.length, 1);
    assert.ok(replayed.body.items[0].details.jobId, JSON.stringify(replayed.body));
    assert.equal((await adminCall('GET', `/v1/admin/audit?action=dead_letter.discarded&targetId=${letters[1]!.id}`)).body.items.length, 1);
    const cancelled = await adminCall('GET', `/v1/admin/audit?targetType=order&targetId=${order.body.id}`);
    assert.deepEqual(cancelled.body.items.map((e: { action: string; correlationId: string }) => [e.action, e.correlationId]), [['order.cancel_requested', 'corr-cancel-audit']]);

    // The CLI is audited as cli:<os user>.
    const cliActors = await adminCall('GET', '/v1/admin/audit?action=signing_key.rotated');
    assert.ok(cliActors.body.items.some((e: { actor: string }) => e.actor.startsWith('cli:')));
    assert.ok(cliActors.body.items.some((e: { actor: string }) => e.actor === ADMIN_ACTOR));
    const byCli = await adminCall('GET', `/v1/admin/audit?actor=${encodeURIComponent(cliActors.body.items.find((e: { actor: string }) => e.actor.startsWith('cli:')).actor)}`);
    assert.ok(byCli.body.items.length >= 5 && byCli.body.items.every((e: { actor: string }) => e.actor.startsWith('cli:')));

    // Time window and pages.
    const from = trail.body.items.at(-1).occurredAt;
    const to = new Date(Date.parse(trail.body.items[0].occurredAt) + 1).toISOString();
    const windowed = await adminCall('GET', `/v1/admin/audit?from=${from}&to=${to}&targetId=${client.id}`);
    assert.equal(windowed.body.items.length, 5);
    assert.equal((await adminCall('GET', `/v1/admin/audit?to=${from}&targetId=${client.id}`)).body.items.length, 0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await adminCall('GET', `/v1/admin/audit?targetId=${client.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((e: { id: string }) => e.id));
      cursor = page.body.next;
    } while (cursor);
    assert.deepEqual(seen, trail.body.items.map((e: { id: string }) => e.id));

    for (const bad of ['from=yesterday', 'limit=0', 'cursor=nope', 'colour=red']) {
      const refused = await adminCall('GET', `/v1/admin/audit?${bad}`);
      assert.equal(refused.status, 400, bad);
      assert.match(refused.body.type, /invalid-query$/);
    }
  });
});
