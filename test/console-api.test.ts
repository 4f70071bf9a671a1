import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addConsoleUser } from '../src/domain/console-users/console-user.service.ts';
import { runSyncline } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { sampleOrder, submitOrder } from './support/orders.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/**
 * The console's users (CLI) and sessions (HTTP) without a browser: bad input, the session's life
 * (idle expiry, role change, removal), the sign-in throttle and the static files' policy.
 * test/console-browser.test.ts drives the pages themselves.
 */
describe('console users and sessions', () => {
  let database: TestDatabase;
  let server: TestServer;
  let env: Record<string, string>;
  const users = (...args: string[]) => runSyncline(['console-users', ...args], env);

  before(async () => {
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    server = await startTestServer(database.url, { SYNCLINE_AUTH_FAILURE_LIMIT: '3' });
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  /** Signs in over HTTP; returns the cookie pair and the CSRF token. */
  async function signIn(email: string, password: string): Promise<{ cookie: string; csrf: string; status: number; body: any }> {
    const response = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    const body = (await response.json()) as any;
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!;
    return { cookie, csrf: body.csrfToken, status: response.status, body };
  }
  const session = (cookie: string) => fetch(`${server.baseUrl}/console/api/session`, { headers: { cookie } });

  test('the CLI refuses bad input with one clear line and exit code 2, and never prints a hash', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['add', 'not-an-email', '--role', 'admin'], /"not-an-email" is not an e-mail address/],
      [['add', 'a@example.com', '--role', 'boss'], /unknown role "boss"; roles: viewer, operator, admin/],
      [['frobnicate'], /unknown console-users command "frobnicate"/],
      [['add', 'a@example.com', '--role', 'admin', '--colour', 'red'], /Unknown option '--colour'/],
    ];
    for (const [args, message] of cases) {
      const result = await users(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    const added = await users('add', 'Ana.Admin@Example.com', '--role', 'admin');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /console user ana\.admin@example\.com created with role admin/);
    assert.match(added.stdout, /password \(shown once\): \S{20,}/);
    const again = await users('add', 'ana.admin@example.com', '--role', 'viewer');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const demote = await users('set-role', 'ana.admin@example.com', 'viewer');
    assert.equal(demote.code, 1);
    assert.match(demote.stderr, /last admin/);
    const listed = await users('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((u: any) => [u.email, u.role]), [['ana.admin@example.com', 'admin']]);
    assert.doesNotMatch(listed.stdout, /scrypt|password/i);
  });

  test('a session ends on sign-out, on a role change, on removal and when idle; the cookie is HttpOnly and SameSite=Strict', async () => {
    const piped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      // --password-stdin reads the password from a pipe.
      import('node:child_process').then(({ spawn }) => {
        const child = spawn(process.execPath, [new URL('../src/cli/main.ts', import.meta.url).pathname, 'console-users', 'add', 'otto@example.com', '--role', 'operator', '--password-stdin'], { env: { PATH: process.env.PATH ?? '', ...env } });
        let stderr = '';
        child.stderr.on('data', (c) => (stderr += c));
        child.on('exit', (code) => resolve({ code, stderr }));
        child.stdin.end('otto-password-123\n');
      });
    });
    assert.equal(piped.code, 0, piped.stderr);

    const first = await signIn('otto@example.com', 'otto-password-123');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.user.role, 'operator');
    const header = (await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'otto@example.com', password: 'otto-password-123' }) })).headers.get('set-cookie') ?? '';
    assert.match(header, /HttpOnly/);
    assert.match(header, /SameSite=Strict/);
    assert.match(header, /Path=\/console/);
    assert.doesNotMatch(header, /Secure/, 'plain http: the browser would not send a Secure cookie back');
    assert.equal((await session(first.cookie)).status, 200);

    // Sign-out needs the CSRF token; with it, the session is gone.
    const noToken = await fetch(`${server.baseUrl}/console/api/sign-out`, { method: 'POST', headers: { cookie: first.cookie } });
    assert.equal(noToken.status, 403);
    assert.equal(((await noToken.json()) as any).type, '/problems/csrf-token-invalid');
    const out = await fetch(`${server.baseUrl}/console/api/sign-out`, { method: 'POST', headers: { cookie: first.cookie, 'x-csrf-token': first.csrf } });
    assert.equal(out.status, 204);
    const gone = await session(first.cookie);
    assert.equal(gone.status, 401);
    assert.match(gone.headers.get('content-type') ?? '', /^application\/problem\+json/);

    // A role change ends the sessions: the next request must sign in again, and gets the new role.
    const second = await signIn('otto@example.com', 'otto-password-123');
    assert.equal((await users('set-role', 'otto@example.com', 'viewer')).code, 0);
    assert.equal((await session(second.cookie)).status, 401);
    const third = await signIn('otto@example.com', 'otto-password-123');
    assert.equal(third.body.user.role, 'viewer');

    // Idle past the limit: refused (the session's last use is moved back instead of waiting 30 minutes).
    await database.db.query(`UPDATE console_session SET last_seen_at = now() - interval '31 minutes'`);
    assert.equal((await session(third.cookie)).status, 401);

    // Removal ends everything.
    const fourth = await signIn('otto@example.com', 'otto-password-123');
    assert.equal((await users('remove', 'otto@example.com')).code, 0);
    assert.equal((await session(fourth.cookie)).status, 401);
    assert.equal((await signIn('otto@example.com', 'otto-password-123')).status, 401);

    const audit = await database.db.query<{ action: string }>(`SELECT action FROM audit_event WHERE action LIKE 'console%' ORDER BY id`);
    const actions = audit.rows.map((r) => r.action);
    for (const action of ['console_user.created', 'console.signed_in', 'console.signed_out', 'console_user.role_changed', 'console_user.removed']) assert.ok(actions.includes(action), `${action} audited`);
  });

  test('overview series and ERP quota answer a viewer; bad input is a problem; order actions need a session, the CSRF token and the operator role', async () => {
    // A viewer with a known password, added through the service the CLI uses.
    await addConsoleUser(database.db, { actor: 'test', correlationId: null }, { email: 'vi@example.com', role: 'viewer', name: 'Vi', password: 'viewer-password-1' });
    // (before the throttle test: its refused sign-ins from this address would refuse this one too)
    const { cookie, csrf, status } = await signIn('vi@example.com', 'viewer-password-1');
    assert.equal(status, 201);
    const get = async (path: string) => {
      const response = await fetch(server.baseUrl + path, { headers: { cookie } });
      return { status: response.status, body: (await response.json()) as any };
    };
    for (const window of ['hour', 'day']) {
      const series = await get(`/console/api/overview/series?window=${window}`);
      assert.equal(series.status, 200, JSON.stringify(series.body));
      assert.equal(series.body.window, window);
      assert.equal(series.body.series.orders.length, window === 'hour' ? 12 : 24);
      assert.ok(series.body.series.orders.every((v: number) => v === 0), 'no order yet');
      assert.ok(series.body.series.erp_posting.every((v: number | null) => v === null), 'nothing measured yet');
    }
    const bad = await get('/console/api/overview/series?window=week');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.type, '/problems/invalid-query');
    const quota = await get('/console/api/overview/erp-quota');
    assert.equal(quota.status, 200);
    assert.deepEqual(quota.body.items.map((q: any) => [q.name, q.target, q.used, q.called]), [['erp', 'erp', 0, false]]);
    assert.equal((await get('/console/api/orders/not-an-order')).status, 404);
    assert.equal((await get('/console/api/orders/ord_01jd5q8x7m2v3k4n5p6r7s8t9v')).body.type, '/problems/not-found');

    const post = (path: string, headers: Record<string, string>) => fetch(server.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const order = '/console/api/orders/ord_01jd5q8x7m2v3k4n5p6r7s8t9v';
    for (const action of ['cancel', 'retry']) {
      assert.equal((await post(`${order}/${action}`, {})).status, 401, `${action} without a session`);
      const noToken = await post(`${order}/${action}`, { cookie });
      assert.equal(noToken.status, 403);
      assert.equal(((await noToken.json()) as any).type, '/problems/csrf-token-invalid');
      const asViewer = await post(`${order}/${action}`, { cookie, 'x-csrf-token': csrf });
      assert.equal(asViewer.status, 403);
      assert.equal(((await asViewer.json()) as any).type, '/problems/forbidden');
    }
  });

  test('orders are found by the days they were received (UTC), alone or with the other filters; a bad range is a problem', async () => {
    await addConsoleUser(database.db, { actor: 'test', correlationId: null }, { email: 'dates@example.com', role: 'operator', name: 'Di', password: 'operator-password-1' });
    const { cookie } = await signIn('dates@example.com', 'operator-password-1');
    const token = await server.token();
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const created = await submitOrder(server.baseUrl, token, sampleOrder({ channelOrderId: `DATES-${n}-${Date.now()}` }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      ids.push(created.body.id);
    }
    const search = async (query: string) => {
      const response = await fetch(`${server.baseUrl}/console/api/orders?${query}`, { headers: { cookie } });
      return { status: response.status, body: (await response.json()) as any };
    };
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const found = async (query: string) => ((await search(query)).body.items as Array<{ id: string }>).map((o) => o.id).filter((id) => ids.includes(id));
    assert.deepEqual(await found(`from=${day(0)}&to=${day(0)}`), [...ids].reverse(), 'both, newest first');
    assert.deepEqual(await found(`from=${day(-3)}`), [...ids].reverse());
    assert.deepEqual(await found(`to=${day(-1)}`), [], 'none received before today');
    assert.deepEqual(await found(`from=${day(1)}`), [], 'none received after today');
    assert.deepEqual(await found(`q=${ids[0]}&to=${day(-1)}`), [], 'an order id outside the range is not shown');
    assert.deepEqual(await found(`from=${day(0)}&limit=1`), [ids[1]]);
    assert.deepEqual(await found(`from=${day(0)}&limit=1&before=${ids[1]}`), [ids[0]], 'paging stays within the range');
    for (const bad of [`from=${day(0)}&to=${day(-1)}`, 'from=2026-13-01', 'to=yesterday']) {
      const refused = await search(bad);
      assert.equal(refused.status, 400, bad);
      assert.equal(refused.body.type, '/problems/invalid-query');
    }
  });

  test('a user an admin made (or reset) in the console must choose their own password before anything else; the CLI\'s users need not', async () => {
    const who = { actor: 'test', correlationId: null };
    await addConsoleUser(database.db, who, { email: 'first.admin@example.com', role: 'admin', name: 'Fi', password: 'first-admin-password' });
    const admin = await signIn('first.admin@example.com', 'first-admin-password');
    assert.equal(admin.body.passwordChangeRequired, false, 'made on the CLI side: no change required');
    const post = (who: { cookie: string; csrf?: string }, path: string, body: unknown) =>
      fetch(`${server.baseUrl}/console/api${path}`, { method: 'POST', headers: { cookie: who.cookie, 'content-type': 'application/json', ...(who.csrf ? { 'x-csrf-token': who.csrf } : {}) }, body: JSON.stringify(body) });
    const added = await post(admin, '/admin/users', { email: 'temp@example.com', role: 'operator', password: 'told-by-the-admin' });
    assert.equal(added.status, 201);

    const first = await signIn('temp@example.com', 'told-by-the-admin');
    assert.equal(first.status, 201);
    assert.equal(first.body.passwordChangeRequired, true);
    const other = await signIn('temp@example.com', 'told-by-the-admin');
    const blocked = await fetch(`${server.baseUrl}/console/api/orders`, { headers: { cookie: first.cookie } });
    assert.equal(blocked.status, 403);
    assert.match(blocked.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(((await blocked.json()) as any).type, '/problems/password-change-required');
    assert.equal((await post(first, '/dead-letters/dlq_x/replay', {})).status, 403, 'no action either');
    const own = await fetch(`${server.baseUrl}/console/api/session`, { headers: { cookie: first.cookie } });
    assert.equal(own.status, 200, 'the session itself answers');
    assert.equal(((await own.json()) as any).passwordChangeRequired, true);

    const change = (body: unknown, csrf = first.csrf) => post({ cookie: first.cookie, csrf }, '/session/password', body);
    assert.equal((await change({ currentPassword: 'told-by-the-admin', newPassword: 'temp chose this one' }, '')).status, 403, 'the CSRF token is needed');
    for (const [body, pointer] of [
      [{ currentPassword: 'not-the-password', newPassword: 'temp chose this one' }, '/currentPassword'],
      [{ currentPassword: 'told-by-the-admin', newPassword: 'short' }, '/newPassword'],
      [{ currentPassword: 'told-by-the-admin', newPassword: 'told-by-the-admin' }, '/newPassword'],
      [{ currentPassword: 'told-by-the-admin' }, '/newPassword'],
    ] as const) {
      const refused = await change(body);
      assert.equal(refused.status, 422, JSON.stringify(body));
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.ok(((await refused.json()) as any).errors.some((e: { pointer: string }) => e.pointer === pointer), pointer);
    }
    const done = await change({ currentPassword: 'told-by-the-admin', newPassword: 'temp chose this one' });
    assert.equal(done.status, 204);
    assert.equal((await fetch(`${server.baseUrl}/console/api/orders`, { headers: { cookie: first.cookie } })).status, 200, 'the same session goes on');
    assert.equal((await session(other.cookie)).status, 401, 'the other session, opened with the admin\'s password, ended');
    // (The old password's refusal is checked in the browser test: a failed sign-in here would use up this address's throttle.)
    const mine = await signIn('temp@example.com', 'temp chose this one');
    assert.equal(mine.body.passwordChangeRequired, false);

    // An admin's reset makes it temporary again.
    const id = (await database.db.query<{ id: string }>(`SELECT id FROM console_user WHERE email = 'temp@example.com'`)).rows[0]!.id;
    assert.equal((await post(admin, `/admin/users/${id}/password`, { password: 'reset-by-the-admin' })).status, 204);
    assert.equal((await signIn('temp@example.com', 'reset-by-the-admin')).body.passwordChangeRequired, true);
    const audit = await database.db.query<{ action: string; actor: string }>(`SELECT action, actor FROM audit_event WHERE target_id = $1 AND action LIKE 'console_user.%' ORDER BY id`, [id]);
    assert.deepEqual(audit.rows.map((r) => r.action), ['console_user.created', 'console_user.password_changed', 'console_user.password_reset']);
    assert.equal(audit.rows[1]!.actor, `console:${id}`, 'changed by the user themselves');
  });

  test('wrong passwords are throttled per e-mail (429 problem with Retry-After), and answers never say which part was wrong', async () => {
    assert.equal((await users('add', 'tess@example.com', '--role', 'viewer')).code, 0);
    const unknown = await signIn('nobody@example.com', 'whatever-password');
    const wrong = await signIn('tess@example.com', 'wrong-password-1');
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.body.detail, wrong.body.detail);
    await signIn('tess@example.com', 'wrong-password-2');
    await signIn('tess@example.com', 'wrong-password-3');
    const response = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'tess@example.com', password: 'wrong-password-4' }) });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get('retry-after')) >= 1);
    assert.equal(((await response.json()) as any).type, '/problems/rate-limited');
  });

  test('console routes refuse without a session, bad bodies get problems, and the page carries a strict policy', async () => {
    for (const path of ['/console/api/overview', '/console/api/orders', '/console/api/exceptions']) {
      const response = await fetch(server.baseUrl + path);
      assert.equal(response.status, 401, path);
      assert.equal(((await response.json()) as any).type, '/problems/unauthorized');
    }
    const bad = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'x@example.com' }) });
    assert.equal(bad.status, 422);
    const foreign = await fetch(`${server.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ email: 'x@example.com', password: 'y' }) });
    assert.equal(foreign.status, 403);

    const page = await fetch(`${server.baseUrl}/console/`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script>(?!<\/script>)|<script [^>]*>[^<]+<\/script>|style=/, 'no inline script or style');
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'the page loads its module from /console/assets');
    const js = await fetch(server.baseUrl + asset);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    for (const path of ['/console/assets/..%2F..%2Fpackage.json', '/console/assets/nothing.js', '/console/assets/.env']) {
      const response = await fetch(server.baseUrl + path);
      assert.equal(response.status, 404, path);
    }
  });
});
