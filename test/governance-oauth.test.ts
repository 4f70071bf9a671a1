import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../src/domain/clients/client.service.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { ADMIN_CLIENT, fetchToken, spawnSyncline, startTestServer, testEnvironment, type ChildServer, type TestServer } from './support/server.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

const FAILURE_LIMIT = 5;

/**
 * Failures are counted in one-minute windows aligned to the clock: a test that counts failures
 * and then expects the throttle must not straddle the start of a minute, so it waits for one
 * with at least 20 s left.
 */
async function startOfFreshWindow(): Promise<void> {
  const secondsLeft = () => 60 - (Math.floor(Date.now() / 1000) % 60);
  if (secondsLeft() >= 20) return;
  await waitFor('a fresh one-minute window', async () => secondsLeft() >= 40, 25_000);
}
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

interface FormAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  ms: number;
}

/** POSTs a form from a chosen loopback address (127.0.0.x), so each test has a source address of its own. */
function postForm(baseUrl: string, path: string, form: Record<string, string>, options: { authorization?: string; from?: string; headers?: Record<string, string> } = {}): Promise<FormAnswer> {
  const url = new URL(path, baseUrl);
  const body = new URLSearchParams(form).toString();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: options.from ?? '127.0.0.1',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...(options.authorization ? { authorization: options.authorization } : {}), ...options.headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

describe('OAuth endpoints', () => {
  let database: TestDatabase;
  let server: TestServer;
  let second: ChildServer;
  let reader: { id: string; secret: string };

  before(async () => {
    database = await createTestDatabase();
    const extra = { SYNCLINE_AUTH_FAILURE_LIMIT: String(FAILURE_LIMIT) };
    server = await startTestServer(database.url, extra);
    second = await spawnSyncline(['api'], testEnvironment(database.url, extra));
    const created = await createClient(database.db, { name: 'reporting', scopes: ['orders:read'] });
    reader = { id: created.clientId, secret: created.clientSecret };
  });
  after(async () => {
    second?.child.kill('SIGTERM');
    await second?.exited;
    await server?.close();
    await database?.drop();
  });

  test('access tokens carry the RFC 9068 claims and a kid', async () => {
    const token = await fetchToken(server.baseUrl, reader);
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part!, 'base64url').toString()));
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'HS256');
    assert.match(header.kid, /^k-/);
    assert.equal(payload.client_id, reader.id);
    assert.equal(payload.sub, reader.id);
    assert.equal(payload.iss, 'syncline');
    assert.equal(payload.aud, 'syncline-api');
    assert.equal(payload.scope, 'orders:read');
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.exp > payload.iat);
  });

  test('failed authentications are throttled per client id: 429 invalid_client with Retry-After, even with the right secret', async () => {
    await startOfFreshWindow();
    for (let i = 0; i < FAILURE_LIMIT; i++) {
      const wrong = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(reader.id, `wrong-${i}`), from: '127.0.0.2' });
      assert.equal(wrong.status, 401);
    }
    // Another address, the right secret: this client id is throttled for the rest of the minute, in every process.
    for (const baseUrl of [server.baseUrl, second.baseUrl]) {
      await waitFor('the failures to be shared', async () => (await postForm(baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(reader.id, reader.secret), from: '127.0.0.3' })).status === 429, 10_000);
    }
    const throttled = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(reader.id, reader.secret), from: '127.0.0.3' });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.error, 'invalid_client');
    assert.match(throttled.body.error_description, /Too many failed client authentications/);
    const retryAfter = Number(throttled.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(throttled.headers['cache-control'], 'no-store');
  });

  test('failed authentications are throttled per source address, whatever client id is tried', async () => {
    await startOfFreshWindow();
    for (let i = 0; i < FAILURE_LIMIT; i++) {
      const unknown = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials', client_id: `guess-${i}`, client_secret: 'x' }, { from: '127.0.0.4' });
      assert.equal(unknown.status, 401);
    }
    // X-Forwarded-For is not believed unless SYNCLINE_TRUST_PROXY says so: it cannot dodge the throttle.
    const fromThere = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(ADMIN_CLIENT.id, ADMIN_CLIENT.secret), from: '127.0.0.4', headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(fromThere.status, 429);
    const fromElsewhere = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(ADMIN_CLIENT.id, ADMIN_CLIENT.secret), from: '127.0.0.5' });
    assert.equal(fromElsewhere.status, 200);
  });

  test('an unknown client id gets the same answer as a wrong secret, without the cost of a password hash', async () => {
    const { clientId, clientSecret } = await createClient(database.db, { name: 'timing', scopes: ['orders:read'] });
    assert.ok(clientSecret);
    const unknownTimes: number[] = [];
    const wrongTimes: number[] = [];
    for (let i = 0; i < FAILURE_LIMIT - 1; i++) {
      // Each attempt from an address of its own, so no throttle interferes.
      const unknown = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(`cli_nobody${i}`, 'some-secret'), from: `127.0.1.${i + 1}` });
      const wrong = await postForm(server.baseUrl, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(clientId, 'some-secret'), from: `127.0.2.${i + 1}` });
      assert.equal(unknown.status, 401);
      assert.deepEqual(unknown.body, wrong.body, 'same content');
      assert.deepEqual(
        [unknown.headers['www-authenticate'], unknown.headers['content-type'], unknown.headers['cache-control']],
        [wrong.headers['www-authenticate'], wrong.headers['content-type'], wrong.headers['cache-control']],
      );
      unknownTimes.push(unknown.ms);
      wrongTimes.push(wrong.ms);
    }
    // A scrypt check (N=16384) costs tens of milliseconds; a lookup of an unknown id does not.
    assert.ok(median(unknownTimes) < median(wrongTimes), `unknown ${unknownTimes} vs wrong secret ${wrongTimes}`);
  });

  test('revocation (RFC 7009): a revoked token is refused at once here and in the other process', async () => {
    const admin = basic(ADMIN_CLIENT.id, ADMIN_CLIENT.secret);
    // A client of its own: `reader` is throttled by the test above.
    const created = await createClient(database.db, { name: 'revoker', scopes: ['orders:read'] });
    const holder = { id: created.clientId, secret: created.clientSecret };
    const token = await fetchToken(server.baseUrl, holder);
    assert.equal((await call(second.baseUrl, 'GET', '/v1/orders', { token })).status, 200);

    // Another client (not admin) may not revoke it.
    const stranger = await createClient(database.db, { name: 'stranger', scopes: ['orders:read'] });
    const refused = await postForm(server.baseUrl, '/oauth/revoke', { token }, { authorization: basic(stranger.clientId, stranger.clientSecret), from: '127.0.3.1' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'unauthorized_client');

    const revoked = await postForm(server.baseUrl, '/oauth/revoke', { token, token_type_hint: 'access_token' }, { authorization: basic(holder.id, holder.secret), from: '127.0.3.2' });
    assert.equal(revoked.status, 200);
    const here = await call(server.baseUrl, 'GET', '/v1/orders', { token });
    assert.equal(here.status, 401);
    assert.match(here.headers.get('www-authenticate')!, /error="invalid_token", error_description="token was revoked"/);
    await waitFor('the other process to refuse the revoked token', async () => (await call(second.baseUrl, 'GET', '/v1/orders', { token })).status === 401, 2000, 10);

    // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
    assert.equal((await postForm(server.baseUrl, '/oauth/revoke', { token }, { authorization: admin, from: '127.0.3.3' })).status, 200);
    assert.equal((await postForm(server.baseUrl, '/oauth/revoke', { token: 'not-a-token' }, { authorization: admin, from: '127.0.3.3' })).status, 200);
    const missing = await postForm(server.baseUrl, '/oauth/revoke', {}, { authorization: admin, from: '127.0.3.3' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_request');
    const unauthenticated = await postForm(server.baseUrl, '/oauth/revoke', { token }, { from: '127.0.3.4' });
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.body.error, 'invalid_client');
  });

  test('introspection (RFC 7662): the owner and admin clients see an active token; anything else is {active:false}', async () => {
    const admin = basic(ADMIN_CLIENT.id, ADMIN_CLIENT.secret);
    const owner = await createClient(database.db, { name: 'owner', scopes: ['orders:read', 'orders:write'] });
    const token = await fetchToken(server.baseUrl, { id: owner.clientId, secret: owner.clientSecret }, 'orders:read');

    const own = await postForm(second.baseUrl, '/oauth/introspect', { token }, { authorization: basic(owner.clientId, owner.clientSecret), from: '127.0.4.1' });
    assert.equal(own.status, 200);
    assert.equal(own.headers['cache-control'], 'no-store');
    assert.equal(own.body.active, true);
    assert.equal(own.body.client_id, owner.clientId);
    assert.equal(own.body.sub, owner.clientId);
    assert.equal(own.body.scope, 'orders:read');
    assert.equal(own.body.token_type, 'Bearer');
    assert.equal(own.body.iss, 'syncline');
    assert.equal(typeof own.body.exp, 'number');
    assert.equal(typeof own.body.jti, 'string');
    assert.equal((await postForm(server.baseUrl, '/oauth/introspect', { token }, { authorization: admin, from: '127.0.4.1' })).body.active, true);

    const other = await createClient(database.db, { name: 'other', scopes: ['orders:read'] });
    const stranger = await postForm(server.baseUrl, '/oauth/introspect', { token }, { authorization: basic(other.clientId, other.clientSecret), from: '127.0.4.2' });
    assert.equal(stranger.status, 200);
    assert.deepEqual(stranger.body, { active: false }, 'another client learns nothing about the token');
    assert.deepEqual((await postForm(server.baseUrl, '/oauth/introspect', { token: 'garbage' }, { authorization: admin, from: '127.0.4.1' })).body, { active: false });

    await postForm(server.baseUrl, '/oauth/revoke', { token }, { authorization: admin, from: '127.0.4.1' });
    assert.deepEqual((await postForm(server.baseUrl, '/oauth/introspect', { token }, { authorization: admin, from: '127.0.4.1' })).body, { active: false });
    await waitFor('the other process to see the revocation', async () => (await postForm(second.baseUrl, '/oauth/introspect', { token }, { authorization: admin, from: '127.0.4.1' })).body.active === false, 2000, 10);
  });
});

describe('SYNCLINE_JWT_SECRET as a configured signing key', () => {
  const SECRET = 'a-configured-signing-secret-of-at-least-32-chars';
  let database: TestDatabase;
  let server: TestServer;
  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database.url, { SYNCLINE_JWT_SECRET: SECRET });
  });
  after(async () => {
    await server?.close();
    await database?.drop();
  });

  test('signs with the configured secret (kid cfg-…, secret not stored) until a rotation; its tokens keep verifying after', async () => {
    const { jwtVerify } = await import('jose');
    const configured = await server.token();
    const { protectedHeader } = await jwtVerify(configured, new TextEncoder().encode(SECRET), { typ: 'at+jwt' });
    assert.match(protectedHeader.kid!, /^cfg-/);
    const stored = await database.db.query<{ secret: string | null; configured: boolean }>('SELECT secret, configured FROM api_signing_key WHERE kid = $1', [protectedHeader.kid]);
    assert.deepEqual(stored.rows, [{ secret: null, configured: true }]);
    assert.ok(!JSON.stringify((await database.db.query('SELECT * FROM api_signing_key')).rows).includes(SECRET));

    const rotated = await call(server.baseUrl, 'POST', '/v1/admin/keys/rotate', { token: configured });
    assert.equal(rotated.status, 201);
    const fresh = await server.token();
    assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, rotated.body.kid);
    assert.equal((await call(server.baseUrl, 'GET', '/v1/orders', { token: configured })).status, 200);
    assert.equal((await call(server.baseUrl, 'GET', '/v1/orders', { token: fresh })).status, 200);
  });
});
