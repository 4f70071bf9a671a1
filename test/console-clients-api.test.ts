import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addConsoleUser, type ConsoleRole } from '../src/domain/console-users/console-user.service.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, startTestServer, type TestServer } from './support/server.ts';

/**
 * API clients managed through the console's JSON routes, without a browser (ADR 0037): only
 * admins, only with the CSRF token, a generated secret in one answer (never cached, never listed,
 * never in the audit), bad input as problem+json, every action audited as the console user, and
 * the domain's rules seen through the real token endpoint (rotation grace, disable and enable).
 * test/console-clients-browser.test.ts drives the page.
 */
const PASSWORD = 'console clients passphrase';

describe('console API clients', () => {
  let database: TestDatabase;
  let server: TestServer;
  const sessions: Partial<Record<ConsoleRole, { cookie: string; csrf: string }>> = {};

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url);
    const who = { actor: 'test:console-clients', correlationId: null };
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      assert.equal((await addConsoleUser(server.running.db, who, { email: `${role}@example.com`, name: role, role, password: PASSWORD })).kind, 'created');
      const response = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `${role}@example.com`, password: PASSWORD }) });
      assert.equal(response.status, 201);
      sessions[role] = { cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: ((await response.json()) as { csrfToken: string }).csrfToken };
    }
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  /** A console call as one role, with its CSRF token unless `csrf` is false. */
  async function call(role: ConsoleRole, method: string, path: string, body?: unknown, options: { csrf?: boolean; headers?: Record<string, string>; raw?: string } = {}) {
    const session = sessions[role]!;
    const headers: Record<string, string> = { cookie: session.cookie, ...(options.csrf === false ? {} : { 'x-csrf-token': session.csrf }), ...options.headers };
    if (body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.baseUrl}/console/api${path}`, { method, headers, body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text ? (JSON.parse(text) as any) : undefined };
  }
  const admin = (method: string, path: string, body?: unknown) => call('admin', method, path, body);
  const listText = async () => (await admin('GET', '/admin/clients')).text;
  const token = (id: string, secret: string) => fetchToken(server.baseUrl, { id, secret }).then(
    (value) => ({ ok: true as const, value }),
    (error: Error) => ({ ok: false as const, error: error.message }),
  );
  const orders = async (accessToken: string) => (await fetch(`${server.baseUrl}/v1/orders`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

  test('viewers and operators get 403 problem+json on every client route, and nothing changes', async () => {
    const created = await admin('POST', '/admin/clients', { name: 'role probe', scopes: ['orders:read'] });
    assert.equal(created.status, 201, created.text);
    const id = created.body.client.clientId as string;
    for (const role of ['viewer', 'operator'] as const) {
      for (const [method, path, body] of [
        ['GET', '/admin/clients', undefined],
        ['POST', '/admin/clients', { name: 'mallory', scopes: ['admin'] }],
        ['POST', `/admin/clients/${id}/rotate-secret`, {}],
        ['POST', `/admin/clients/${id}/disable`, {}],
        ['POST', `/admin/clients/${id}/enable`, {}],
      ] as const) {
        const answer = await call(role, method, path, body);
        assert.equal(answer.status, 403, `${role} ${method} ${path}`);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(answer.body.type, '/problems/forbidden');
        assert.ok(!answer.text.includes('clientSecret'));
      }
    }
    const anonymous = await fetch(`${server.baseUrl}/console/api/admin/clients`);
    assert.equal(anonymous.status, 401);
    const list = JSON.parse(await listText()) as { items: Array<{ name: string; status: string; clientId: string }> };
    assert.ok(!list.items.some((c) => c.name === 'mallory'), 'no client made by a non-admin');
    assert.equal(list.items.find((c) => c.clientId === id)?.status, 'enabled');
    const rotations = await database.db.query(`SELECT 1 FROM audit_event WHERE action = 'client.secret_rotated' AND target_id = $1`, [id]);
    assert.equal(rotations.rowCount, 0, 'no rotation by a non-admin');
  });

  test('an admin POST without the CSRF token, or from another origin, is refused before anything happens', async () => {
    const before = await database.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_client`);
    const noToken = await call('admin', 'POST', '/admin/clients', { name: 'forged', scopes: ['admin'] }, { csrf: false });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.type, '/problems/csrf-token-invalid');
    const wrongToken = await call('admin', 'POST', '/admin/clients', { name: 'forged', scopes: ['admin'] }, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(sessions.admin!.csrf.length) } });
    assert.equal(wrongToken.status, 403);
    assert.equal(wrongToken.body.type, '/problems/csrf-token-invalid');
    const foreign = await call('admin', 'POST', '/admin/clients', { name: 'forged', scopes: ['admin'] }, { headers: { origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.type, '/problems/csrf-token-invalid');
    const after = await database.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_client`);
    assert.equal(after.rows[0]!.n, before.rows[0]!.n, 'no client was created');
  });

  test('bad input is a problem+json naming the field, never a 500', async () => {
    const created = await admin('POST', '/admin/clients', { name: 'input probe', scopes: ['orders:read'] });
    const id = created.body.client.clientId as string;
    const cases: Array<[string, unknown, number, string, string?]> = [
      ['/admin/clients', { name: 'x', scopes: ['orders:delete'] }, 422, '/problems/validation-failed', '/scopes/0'],
      ['/admin/clients', { name: '', scopes: ['orders:read'] }, 422, '/problems/validation-failed', '/name'],
      ['/admin/clients', { name: '   ', scopes: ['orders:read'] }, 422, '/problems/validation-failed', '/name'],
      ['/admin/clients', { name: 'x', scopes: [] }, 422, '/problems/validation-failed', '/scopes'],
      ['/admin/clients', { name: 'x' }, 422, '/problems/validation-failed', '/scopes'],
      ['/admin/clients', { name: 'x', scopes: ['orders:read'], rateLimit: 0 }, 422, '/problems/validation-failed', '/rateLimit'],
      ['/admin/clients', { name: 'x', scopes: ['orders:read'], rateLimit: 1.5 }, 422, '/problems/validation-failed', '/rateLimit'],
      ['/admin/clients', { name: 'x', scopes: ['orders:read'], clientSecret: 'chosen' }, 422, '/problems/validation-failed', '/clientSecret'],
      [`/admin/clients/${id}/rotate-secret`, { grace: 'forever' }, 422, '/problems/validation-failed', '/grace'],
      [`/admin/clients/${id}/rotate-secret`, { grace: '31d' }, 422, '/problems/validation-failed', '/grace'],
      [`/admin/clients/${id}/disable`, { now: true }, 422, '/problems/validation-failed', '/now'],
      ['/admin/clients/cli_doesnotexist/rotate-secret', {}, 404, '/problems/not-found'],
      ['/admin/clients/cli_doesnotexist/disable', {}, 404, '/problems/not-found'],
      ['/admin/clients/not%20an%20id/enable', {}, 404, '/problems/not-found'],
    ];
    for (const [path, body, status, type, pointer] of cases) {
      const answer = await admin('POST', path, body);
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${answer.text}`);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(answer.body.type, type);
      if (pointer) assert.ok((answer.body.errors as Array<{ pointer: string }>).some((e) => e.pointer === pointer), `${pointer} in ${answer.text}`);
      assert.equal(answer.body.clientSecret, undefined, 'no secret in a refusal');
    }
    const malformed = await call('admin', 'POST', '/admin/clients', undefined, { raw: '{"name": "x", "scopes": [' });
    assert.equal(malformed.status, 400);
    assert.match(malformed.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(malformed.body.type, '/problems/malformed-json');
    assert.ok(!JSON.parse(await listText()).items.some((c: { name: string }) => c.name === 'x'), 'nothing was created by a refused request');
  });

  test('the secret is in the creating answer only (no-store), works at the token endpoint, and is never listed, shown or audited', async () => {
    const created = await admin('POST', '/admin/clients', { name: 'storefront', scopes: ['orders:read', 'orders:read'], rateLimit: 600 });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const secret = created.body.clientSecret as string;
    const id = created.body.client.clientId as string;
    assert.match(secret, /^[A-Za-z0-9_-]{40,}$/);
    assert.deepEqual(created.body.client.scopes, ['orders:read'], 'duplicates dropped');
    assert.equal(created.body.client.rateLimit, 600);
    assert.deepEqual(Object.keys(created.body).sort(), ['client', 'clientSecret']);

    const issued = await token(id, secret);
    assert.ok(issued.ok, !issued.ok ? issued.error : '');
    assert.equal(await orders(issued.value), 200, 'the new client calls the API with its scope');

    // Never again: the console list, the API's list and show, the stored row and the audit.
    const v1Token = await server.token();
    const elsewhere = [
      await listText(),
      await (await fetch(`${server.baseUrl}/v1/admin/clients`, { headers: { authorization: `Bearer ${v1Token}` } })).text(),
      await (await fetch(`${server.baseUrl}/v1/admin/clients/${id}`, { headers: { authorization: `Bearer ${v1Token}` } })).text(),
      JSON.stringify((await database.db.query(`SELECT * FROM api_client WHERE id = $1`, [id])).rows),
      JSON.stringify((await database.db.query(`SELECT * FROM audit_event`)).rows),
      (await admin('GET', `/audit?targetId=${id}`)).text,
    ];
    for (const text of elsewhere) assert.ok(!text.includes(secret), 'the secret appears once, in the creating answer');
    // The HTTP answers hold neither a secret field nor the hash (the stored row holds only the hash).
    for (const text of [elsewhere[0]!, elsewhere[1]!, elsewhere[2]!, elsewhere[5]!]) assert.doesNotMatch(text, /clientSecret|secretHash|scrypt\$/);
    assert.match(elsewhere[3]!, /scrypt\$/, 'stored as an scrypt hash');
    const listed = (JSON.parse(elsewhere[0]!) as { items: Array<Record<string, unknown>>; scopeCatalogue: string[] }).items.find((c) => c.clientId === id)!;
    assert.equal(listed.keySetAt, created.body.client.createdAt);
    assert.ok(JSON.parse(elsewhere[0]!).scopeCatalogue.includes('orders:write'), 'the page gets the scope catalogue');

    // Rotation: a new secret once; the old one keeps working for the grace, as the domain says.
    const rotated = await admin('POST', `/admin/clients/${id}/rotate-secret`, { grace: '1h' });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.headers.get('cache-control'), 'no-store');
    const newSecret = rotated.body.clientSecret as string;
    assert.notEqual(newSecret, secret);
    const until = Date.parse(rotated.body.client.previousKeyValidUntil);
    assert.ok(Math.abs(until - (Date.now() + 3_600_000)) < 60_000, 'the old secret works for one hour');
    assert.ok((await token(id, newSecret)).ok, 'the new secret works');
    assert.ok((await token(id, secret)).ok, 'the old secret works within the grace');
    assert.ok(!(await listText()).includes(newSecret));
    const ended = await admin('POST', `/admin/clients/${id}/rotate-secret`, { grace: '0s' });
    assert.equal(ended.body.client.previousKeyValidUntil, null);
    assert.ok((await token(id, ended.body.clientSecret)).ok, 'the newest secret works');
    const old = await token(id, newSecret);
    assert.ok(!old.ok && /401/.test(old.error), 'with no grace, the previous secret is refused at once');
  });

  test('disable refuses new tokens and the tokens already issued; enable accepts them again; every action audited as the console user', async () => {
    const created = await admin('POST', '/admin/clients', { name: 'warehouse feed', scopes: ['orders:read'] });
    const id = created.body.client.clientId as string;
    const secret = created.body.clientSecret as string;
    const live = await token(id, secret);
    assert.ok(live.ok);
    assert.equal(await orders(live.value), 200);

    const disabled = await admin('POST', `/admin/clients/${id}/disable`, {});
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.body.status, 'disabled');
    assert.equal(await orders(live.value), 401, 'a token issued before is refused at once');
    const refused = await token(id, secret);
    assert.ok(!refused.ok && /401/.test(refused.error) && /invalid_client/.test(refused.error), 'no new token');

    const enabled = await admin('POST', `/admin/clients/${id}/enable`, {});
    assert.equal(enabled.status, 200, enabled.text);
    assert.equal(enabled.body.status, 'enabled');
    assert.equal(await orders(live.value), 200, 'an unexpired token is accepted again');
    assert.ok((await token(id, secret)).ok);
    await admin('POST', `/admin/clients/${id}/rotate-secret`, {});

    const adminId = (await database.db.query<{ id: string }>(`SELECT id FROM console_user WHERE email = 'admin@example.com'`)).rows[0]!.id;
    // The console's audit page reads /console/api/audit: the same trail, any signed-in role.
    const trail = await call('viewer', 'GET', `/audit?targetId=${id}`);
    assert.equal(trail.status, 200, trail.text);
    const actions = (trail.body.items as Array<{ action: string; actor: string; details: Record<string, unknown> }>).map((e) => [e.action, e.actor]);
    assert.deepEqual(actions.reverse(), [
      ['client.created', `console:${adminId}`],
      ['client.disabled', `console:${adminId}`],
      ['client.enabled', `console:${adminId}`],
      ['client.secret_rotated', `console:${adminId}`],
    ]);
    const rotation = (trail.body.items as Array<{ action: string; details: Record<string, unknown> }>).find((e) => e.action === 'client.secret_rotated')!;
    assert.deepEqual(rotation.details, { graceSeconds: 86_400 }, 'the default grace is the CLI’s, 24 hours');
    assert.ok(!trail.text.includes(secret));
  });
});
