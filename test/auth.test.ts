import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { ADMIN_CLIENT, fetchToken, startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { createClient } from '../src/domain/clients/client.service.ts';

let database: TestDatabase;
let server: TestServer;
let reader: { id: string; secret: string };

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url, { SYNCLINE_TOKEN_TTL_SECONDS: '30' });
  const created = await createClient(database.db, { name: 'reporting', scopes: ['orders:read', 'ops:read'] });
  reader = { id: created.clientId, secret: created.clientSecret };
});
after(async () => {
  await server?.close();
  await database?.drop();
});

function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}) {
  return call(server.baseUrl, 'POST', '/oauth/token', {
    rawBody: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('POST /oauth/token', () => {
  test('client credentials by HTTP Basic and by form fields issue a short-lived bearer token', async () => {
    const byBasic = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(reader.id, reader.secret) });
    assert.equal(byBasic.status, 200);
    assert.equal(byBasic.body.token_type, 'Bearer');
    assert.equal(byBasic.body.expires_in, 30);
    assert.equal(byBasic.body.scope, 'orders:read ops:read');
    assert.equal(byBasic.headers.get('cache-control'), 'no-store');
    const [, payload] = byBasic.body.access_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.equal(claims.sub, reader.id);
    assert.equal(claims.exp - claims.iat, 30);

    const byForm = await tokenRequest({ grant_type: 'client_credentials', client_id: reader.id, client_secret: reader.secret });
    assert.equal(byForm.status, 200);
  });

  test('a subset of scopes can be requested; more than the client has is invalid_scope', async () => {
    const narrow = await tokenRequest({ grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basic(reader.id, reader.secret) });
    assert.equal(narrow.status, 200);
    assert.equal(narrow.body.scope, 'orders:read');
    const wider = await tokenRequest({ grant_type: 'client_credentials', scope: 'orders:read orders:write' }, { authorization: basic(reader.id, reader.secret) });
    assert.equal(wider.status, 400);
    assert.equal(wider.body.error, 'invalid_scope');
    const unknown = await tokenRequest({ grant_type: 'client_credentials', scope: 'orders:delete' }, { authorization: basic(reader.id, reader.secret) });
    assert.equal(unknown.body.error, 'invalid_scope');
  });

  test('wrong secret, unknown client, wrong grant type and wrong content type are refused per RFC 6749', async () => {
    const wrong = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(reader.id, 'not-the-secret') });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    assert.match(wrong.headers.get('www-authenticate')!, /^Basic/);
    const unknown = await tokenRequest({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' });
    assert.equal(unknown.status, 401);
    const noAuth = await tokenRequest({ grant_type: 'client_credentials' });
    assert.equal(noAuth.status, 401);
    const grant = await tokenRequest({ grant_type: 'password' }, { authorization: basic(reader.id, reader.secret) });
    assert.equal(grant.body.error, 'unsupported_grant_type');
    const json = await call(server.baseUrl, 'POST', '/oauth/token', { body: { grant_type: 'client_credentials' } });
    assert.equal(json.status, 400);
    assert.equal(json.body.error, 'invalid_request');
  });

  test('client secrets are stored hashed', async () => {
    const rows = await database.db.query<{ secret_hash: string }>('SELECT secret_hash FROM api_client WHERE id = $1', [reader.id]);
    assert.match(rows.rows[0]!.secret_hash, /^scrypt\$/);
    assert.ok(!rows.rows[0]!.secret_hash.includes(reader.secret));
  });
});

describe('bearer tokens on /v1', () => {
  test('no token: 401 with WWW-Authenticate', async () => {
    const response = await call(server.baseUrl, 'GET', '/v1/orders');
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate')!, /^Bearer realm="syncline"/);
    assert.match(response.body.type, /unauthorized$/);
  });

  test('a forged, tampered or expired token: 401 invalid_token', async () => {
    const forged = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(ADMIN_CLIENT.id)
      .setIssuer('syncline')
      .setAudience('syncline-api')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a-secret-that-is-not-the-servers-secret-0123456789'));
    const valid = await fetchToken(server.baseUrl);
    const [header, , signature] = valid.split('.');
    const widened = `${header}.${Buffer.from(JSON.stringify({ sub: reader.id, scope: 'admin', iss: 'syncline', aud: 'syncline-api', exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    for (const token of [forged, widened, 'not.a.jwt']) {
      const response = await call(server.baseUrl, 'GET', '/v1/orders', { token });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate')!, /error="invalid_token"/);
    }
  });

  test('a token without the route scope: 403 insufficient_scope', async () => {
    const readOnly = await fetchToken(server.baseUrl, reader);
    const response = await submitOrder(server.baseUrl, readOnly, sampleOrder());
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate')!, /error="insufficient_scope", scope="orders:write"/);
    assert.equal(response.body.requiredScope, 'orders:write');
    assert.equal((await call(server.baseUrl, 'GET', '/v1/orders', { token: readOnly })).status, 200);

    const ordersOnly = await fetchToken(server.baseUrl, ADMIN_CLIENT, 'orders:read');
    assert.equal((await call(server.baseUrl, 'GET', '/v1/events', { token: ordersOnly })).status, 403);
  });
});
