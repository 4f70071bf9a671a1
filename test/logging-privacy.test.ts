import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSyncline, type RunningSyncline } from '../src/syncline.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { fetchToken, testEnvironment } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';

/**
 * A server logging at debug into a buffer: requests that carry a customer's
 * e-mail, phone, address and a client secret in every place a request can
 * carry them, then the log is searched for each of them.
 */

const EMAIL = 'grace.private@example.com';
const PHONE = '+1 555 0199';
const STREET = '42 Hidden Lane';
const SECRET = 'query-secret-9876543210';

let database: TestDatabase;
let running: RunningSyncline;
let baseUrl: string;
const logLines: string[] = [];

before(async () => {
  database = await createTestDatabase();
  const config = loadConfig(testEnvironment(database.url, { LOG_LEVEL: 'debug' }));
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  running = await startSyncline(config, createLogger('debug', sink), { api: true });
  baseUrl = running.url!;
});
after(async () => {
  await running?.close();
  await database?.drop();
});

test('e-mail, phone, address and secrets sent to the API never reach the log', async () => {
  const token = await fetchToken(baseUrl);
  const customer = { email: EMAIL, name: 'Grace Private', phone: PHONE };
  const shippingAddress = { name: 'Grace Private', line1: STREET, city: 'Springfield', postalCode: '62701', country: 'US', phone: PHONE };
  // In the URL path and query string.
  await call(baseUrl, 'GET', `/v1/customers/${encodeURIComponent(EMAIL)}/timeline`, { token });
  await call(baseUrl, 'GET', `/v1/customers/${EMAIL}/timeline`, { token });
  await call(baseUrl, 'GET', `/v1/customers/${encodeURIComponent(PHONE)}/timeline`, { token });
  await call(baseUrl, 'GET', `/v1/orders?channel=web&email=${encodeURIComponent(EMAIL)}`, { token });
  await call(baseUrl, 'GET', `/v1/no-such-route/${EMAIL}?phone=${encodeURIComponent(PHONE)}`, { token });
  // Secrets in the query string (refused) and in a form body.
  const refused = await call(baseUrl, 'POST', `/oauth/token?client_secret=${SECRET}`, {
    rawBody: 'grant_type=client_credentials',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(refused.status, 400);
  await call(baseUrl, 'POST', '/oauth/token', {
    rawBody: `grant_type=client_credentials&client_id=test-admin&client_secret=${SECRET}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  // In bodies: accepted, refused by validation, and with unstorable text.
  assert.equal((await submitOrder(baseUrl, token, sampleOrder({ customer, shippingAddress }))).status, 201);
  assert.equal((await submitOrder(baseUrl, token, sampleOrder({ customer: { ...customer, email: `${EMAIL}\u0000` }, shippingAddress }))).status, 422);
  assert.equal((await submitOrder(baseUrl, token, sampleOrder({ customer, shippingAddress, placedAt: 'soon' }))).status, 422);
  await call(baseUrl, 'POST', '/v1/orders', { token, rawBody: `{"customer":{"email":"${EMAIL}"`, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() } });

  const log = logLines.join('');
  assert.ok(log.includes('incoming request'), 'the server logged requests at all');
  for (const leak of [EMAIL, encodeURIComponent(EMAIL), PHONE, encodeURIComponent(PHONE), '5550199', STREET, SECRET]) {
    assert.ok(!log.includes(leak), `${leak} reached the log`);
  }
  // Still useful: the route pattern and the query's parameter names are logged.
  assert.ok(log.includes('"route":"/v1/customers/:email/timeline"'));
  assert.ok(log.includes('email=[redacted]'));
});

test('a real PostgreSQL error is logged without the row values in its detail or message', async () => {
  await database.db.query('CREATE TABLE privacy_probe (email text PRIMARY KEY, born date)');
  await database.db.query('INSERT INTO privacy_probe (email) VALUES ($1)', [EMAIL]);
  const errors: unknown[] = [];
  for (const [sql, params] of [
    ['INSERT INTO privacy_probe (email) VALUES ($1)', [EMAIL]],
    ['INSERT INTO privacy_probe (email, born) VALUES ($1, $2)', ['x@example.org', EMAIL]],
  ] as const) {
    await database.db.query(sql, [...params]).then(
      () => assert.fail(`${sql} should fail`),
      (error: unknown) => errors.push(error),
    );
  }
  assert.match(String((errors[0] as { detail?: string }).detail), new RegExp(EMAIL), 'the driver error carries the row value (what this test guards against)');
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) }));
  for (const error of errors) logger.error({ err: error }, 'query failed');
  const log = lines.join('');
  assert.ok(!log.includes(EMAIL), log);
  assert.ok(log.includes('"code":"23505"') && log.includes('"code":"22007"'), log);
});
