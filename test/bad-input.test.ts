import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { wmsSignatureHeader } from '../src/connectors/wms/wms-wire.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder, type ApiResponse } from './support/orders.ts';

// A configured WMS (never reached): its webhooks are verified with this secret.
const WMS = { SYNCLINE_WMS_URL: 'http://127.0.0.1:9', SYNCLINE_WMS_WEBHOOK_SECRET: 'bad-input-wms-webhook-secret' };

/** Bad input of every kind gets a clear 4xx problem+json, never a 500. */

let database: TestDatabase;
let server: TestServer;
let token: string;
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 3000;

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url, { ...WMS, SYNCLINE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), SYNCLINE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  token = await server.token();
});
after(async () => {
  await server?.close();
  await database?.drop();
});

function assertProblem(response: ApiResponse, status: number, type: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(response.body.type, `/problems/${type}`);
}

/** POST a JSON text as sent (JSON.stringify would escape or refuse what these tests send). */
function postRaw(path: string, raw: string, headers: Record<string, string> = {}) {
  return call(server.baseUrl, 'POST', path, { token, rawBody: raw, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers } });
}

describe('text PostgreSQL cannot store', () => {
  test('a NUL character in any text field is a 422 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ notes: 'gift\u0000wrap' }, '/notes'],
      [{ customer: { email: 'ada@example.com', name: 'Ada\u0000' } }, '/customer/name'],
      [{ metadata: { 'gift\u0000': 'yes' } }, '/metadata/gift\u0000'],
      [{ shippingAddress: { name: 'Ada', line1: '1 Main\u0000St', city: 'Springfield', postalCode: '62701', country: 'US' } }, '/shippingAddress/line1'],
    ];
    for (const [overrides, pointer] of cases) {
      const response = await submitOrder(server.baseUrl, token, sampleOrder(overrides));
      assertProblem(response, 422, 'validation-failed');
      assert.ok(response.body.errors.some((e: { pointer: string }) => e.pointer === pointer), JSON.stringify(response.body.errors));
    }
    const location = await call(server.baseUrl, 'POST', '/v1/locations', { token, body: { code: 'NUL-1', name: 'Dock\u0000', kind: 'store' }, headers: { 'idempotency-key': randomUUID() } });
    assertProblem(location, 422, 'validation-failed');
    assert.deepEqual(location.body.errors.map((e: { pointer: string }) => e.pointer), ['/name']);
  });

  test('a lone UTF-16 surrogate in JSON is a 422 naming the field', async () => {
    const raw = JSON.stringify(sampleOrder({ metadata: { note: 'SURROGATE' } })).replace('SURROGATE', 'x\\ud800y');
    const response = await postRaw('/v1/orders', raw);
    assertProblem(response, 422, 'validation-failed');
    assert.equal(response.body.errors[0].pointer, '/metadata/note');
    assert.match(response.body.errors[0].detail, /surrogate/);
  });

  test('%00 in a path or query is a 400, on every kind of route', async () => {
    for (const path of ['/v1/orders/ord_%00', '/v1/locations/%00', '/v1/customers/ada%00@example.com/timeline', '/v1/inventory/reservations/res%00']) {
      assertProblem(await call(server.baseUrl, 'GET', path, { token }), 400, 'invalid-path');
    }
    assertProblem(await call(server.baseUrl, 'POST', '/v1/orders/ord_%00/cancel', { token, body: {}, headers: { 'idempotency-key': randomUUID() } }), 400, 'invalid-path');
    assertProblem(await call(server.baseUrl, 'GET', '/v1/orders?channel=%00', { token }), 400, 'invalid-query');
    assertProblem(await call(server.baseUrl, 'GET', '/v1/orders/%ED%A0%80', { token }), 400, 'invalid-path');
  });
});

describe('shape and size', () => {
  test('a 10,000-level nested body with an Idempotency-Key is a 400, on every write route tried', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    for (const path of ['/v1/orders', '/v1/locations', '/v1/inventory/movements', '/v1/inventory/reservations']) {
      assertProblem(await postRaw(path, `{"a":${deep}}`), 400, 'json-too-deep');
    }
    // Nesting a real model needs is far below the limit.
    assert.equal((await submitOrder(server.baseUrl, token, sampleOrder())).status, 201);
  });

  test('a 422 lists at most 50 errors, counts them all, and stays smaller than the request', async () => {
    const lines = Array.from({ length: 500 }, () => ({ sku: '', quantity: -1, unitPrice: 'x', extra: true }));
    const request = sampleOrder({ lines, payments: [] });
    const response = await submitOrder(server.baseUrl, token, request);
    assertProblem(response, 422, 'validation-failed');
    assert.equal(response.body.errors.length, 50);
    assert.ok(response.body.errorCount >= 2000, String(response.body.errorCount));
    assert.equal(response.body.errorsTruncated, true);
    assert.ok(JSON.stringify(response.body).length < JSON.stringify(request).length);
  });

  test('unknown paths are 404, wrong methods 405 with Allow, over-long URLs 414, all problem+json', async () => {
    assertProblem(await call(server.baseUrl, 'GET', '/v2/nothing', { token }), 404, 'not-found');
    const wrong = await call(server.baseUrl, 'DELETE', '/v1/orders', { token });
    assertProblem(wrong, 405, 'method-not-allowed');
    assert.equal(wrong.headers.get('allow'), 'GET, HEAD, POST');
    const patch = await call(server.baseUrl, 'PATCH', '/v1/orders/ord_123/', { token });
    assertProblem(patch, 405, 'method-not-allowed');
    assert.equal(patch.headers.get('allow'), 'GET, HEAD');
    // Within Node's header limit: the configured 8 KiB URL limit answers.
    const long = await call(server.baseUrl, 'GET', `/v1/orders?channel=${'a'.repeat(9000)}`, { token, headers: { 'x-correlation-id': 'long-url-1' } });
    assertProblem(long, 414, 'uri-too-long');
    assert.equal(long.headers.get('x-correlation-id'), 'long-url-1');
    // Beyond Node's 16 KiB header limit: answered before Fastify, still problem+json.
    assertProblem(await call(server.baseUrl, 'GET', `/v1/orders?channel=${'a'.repeat(20_000)}`, { token }), 414, 'uri-too-long');
    assertProblem(await call(server.baseUrl, 'GET', '/v1/orders', { token, headers: { 'x-filler': 'a'.repeat(20_000) } }), 431, 'header-fields-too-large');
    assertProblem(await call(server.baseUrl, 'GET', `/v1/orders/${'a'.repeat(600)}`, { token }), 414, 'uri-too-long');
  });

  test('/problems/{type} describes known types and is 404 for others', async () => {
    const known = await call(server.baseUrl, 'GET', '/problems/json-too-deep');
    assert.equal(known.status, 200);
    assert.equal(known.body.status, 400);
    for (const name of ['constructor', 'toString', '__proto__', 'no-such-problem']) {
      assertProblem(await call(server.baseUrl, 'GET', `/problems/${name}`), 404, 'not-found');
    }
  });
});

describe('credentials in the query string', () => {
  test('client_secret in the URL is refused and not echoed', async () => {
    const secret = 'leaked-secret-0123456789';
    const response = await call(server.baseUrl, 'POST', `/oauth/token?client_secret=${secret}&client_id=test-admin`, {
      rawBody: 'grant_type=client_credentials',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assertProblem(response, 400, 'secret-in-query');
    assert.ok(!JSON.stringify(response.body).includes(secret));
    assertProblem(await call(server.baseUrl, 'GET', `/v1/orders?access_token=${token}`), 400, 'secret-in-query');
  });
});

describe('nonsense values', () => {
  test('placedAt more than 24 h ahead is refused; a channel clock a few hours fast is not', async () => {
    const far = await submitOrder(server.baseUrl, token, sampleOrder({ placedAt: new Date(Date.now() + 25 * 3600_000).toISOString() }));
    assertProblem(far, 422, 'validation-failed');
    assert.deepEqual(far.body.errors.map((e: { pointer: string }) => e.pointer), ['/placedAt']);
    assert.equal((await submitOrder(server.baseUrl, token, sampleOrder({ placedAt: new Date(Date.now() + 3 * 3600_000).toISOString() }))).status, 201);
    assertProblem(await submitOrder(server.baseUrl, token, sampleOrder({ placedAt: '0000-01-01T00:00:00Z' })), 422, 'validation-failed');
  });

  test('an unknown country code is refused with a pointer', async () => {
    for (const country of ['ZZ', 'XX', 'UK']) {
      const response = await submitOrder(
        server.baseUrl,
        token,
        sampleOrder({ shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'Springfield', postalCode: '62701', country } }),
      );
      assertProblem(response, 422, 'validation-failed');
      assert.deepEqual(response.body.errors.map((e: { pointer: string }) => e.pointer), ['/shippingAddress/country']);
    }
  });

  test('a SKU inventory cannot store is refused at intake', async () => {
    for (const sku of ['TEE M', 'TÉE', 'A'.repeat(65)]) {
      const response = await submitOrder(server.baseUrl, token, sampleOrder({ lines: [{ sku, quantity: 1, unitPrice: '1.00' }], payments: [] }));
      assertProblem(response, 422, 'validation-failed');
      assert.deepEqual(response.body.errors.map((e: { pointer: string }) => e.pointer), ['/lines/0/sku']);
    }
  });

  test('the same SKU twice in one reservation is merged into one line', async () => {
    const key = () => ({ 'idempotency-key': randomUUID() });
    assert.equal((await call(server.baseUrl, 'POST', '/v1/locations', { token, body: { code: 'DUP-WH', name: 'Dup', kind: 'warehouse' }, headers: key() })).status, 201);
    const receipt = { movements: [{ type: 'receipt', sku: 'DUP-SKU', location: 'DUP-WH', quantity: 10 }] };
    assert.equal((await call(server.baseUrl, 'POST', '/v1/inventory/movements', { token, body: receipt, headers: key() })).status, 201);
    const reservation = await call(server.baseUrl, 'POST', '/v1/inventory/reservations', {
      token,
      body: { reference: 'dup-1', channel: 'web', lines: [{ sku: 'DUP-SKU', quantity: 2 }, { sku: 'DUP-SKU', quantity: 3 }] },
      headers: key(),
    });
    assert.equal(reservation.status, 201, JSON.stringify(reservation.body));
    assert.deepEqual(
      reservation.body.lines.map((l: { lineNumber: number; sku: string; quantity: number }) => [l.lineNumber, l.sku, l.quantity]),
      [[1, 'DUP-SKU', 5]],
    );
    const tooMuch = await call(server.baseUrl, 'POST', '/v1/inventory/reservations', {
      token,
      body: { reference: 'dup-2', channel: 'web', lines: [{ sku: 'DUP-SKU', quantity: 3 }, { sku: 'DUP-SKU', quantity: 3 }] },
      headers: key(),
    });
    assertProblem(tooMuch, 409, 'insufficient-stock');
  });
});

describe('signed WMS webhooks with malformed payloads', () => {
  test('every malformed payload is a 400, never a 500', async () => {
    const bodies = ['null', '[]', '"x"', '7', '{"data":null}', '{"data":{"shipment":{"lines":"x"}}}', '{"data":{"shipment":{"lines":[null,5,{"sku":{}}]}}}', '{"data":{"shipment":{"orderId":"a\\u0000b"}}}'];
    for (const body of bodies) {
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await call(server.baseUrl, 'POST', '/webhooks/wms/default', {
        rawBody: body,
        headers: { 'content-type': 'application/json', 'wms-signature': wmsSignatureHeader(WMS.SYNCLINE_WMS_WEBHOOK_SECRET, timestamp, body), 'wms-topic': 'shipment.created' },
      });
      assertProblem(response, 400, 'bad-request');
      assert.equal(response.body.code, 'webhook.payload_invalid', body);
    }
  });
});

describe('slow clients', () => {
  /** Opens a raw connection, sends head, then drips one line every 100 ms; resolves with when the server closed it and what it sent. */
  async function dripUntilClosed(head: string, drip: () => string): Promise<{ closedAfter: number; received: string }> {
    const socket = connect(Number(new URL(server.baseUrl).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const started = Date.now();
    socket.write(head);
    // One line every 100 ms keeps the socket busy, so only the deadline under test can end it.
    const timer = setInterval(() => socket.writable && socket.write(drip()), 100);
    try {
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error('the slow client was not cut off within 10 s')), 10_000);
        socket.once('close', () => {
          clearTimeout(deadline);
          resolve(Date.now() - started);
        });
      });
      return { closedAfter, received };
    } finally {
      clearInterval(timer);
      socket.destroy();
    }
  }

  test('a client that sends its headers slowly is cut off within the headers timeout', async () => {
    const { closedAfter, received } = await dripUntilClosed('GET /healthz HTTP/1.1\r\nHost: localhost\r\n', () => `X-Drip-${Date.now()}: a\r\n`);
    assert.ok(closedAfter >= HEADERS_TIMEOUT_MS - 50, `closed after ${closedAfter} ms, before the timeout`);
    // Node checks deadlines once per checking interval (at most 1 s here).
    assert.ok(closedAfter < HEADERS_TIMEOUT_MS + 2000, `closed after ${closedAfter} ms`);
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.match(received, /application\/problem\+json/);
  });

  test('a client that sends its body slowly is cut off within the request timeout', async () => {
    const head = 'POST /v1/locations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"name":"';
    const { closedAfter, received } = await dripUntilClosed(head, () => 'a');
    assert.ok(closedAfter >= REQUEST_TIMEOUT_MS - 50 && closedAfter < REQUEST_TIMEOUT_MS + 2000, `closed after ${closedAfter} ms`);
    assert.match(received, /^HTTP\/1\.1 408 /);
  });
});
