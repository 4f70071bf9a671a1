import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';

let database: TestDatabase;
let server: TestServer;
let token: string;

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url, { SYNCLINE_MAX_BODY_BYTES: String(64 * 1024) });
  token = await server.token();
});
after(async () => {
  await server?.close();
  await database?.drop();
});

describe('POST /v1/orders', () => {
  test('accepts an order: 201, Location, stored order with computed totals', async () => {
    const order = sampleOrder({ shippingTotal: '5.00', taxTotal: '3.10', discountTotal: '1.00' });
    const response = await submitOrder(server.baseUrl, token, order);
    assert.equal(response.status, 201);
    assert.match(response.body.id, /^ord_[0-9a-z]{26}$/);
    assert.equal(response.headers.get('location'), `/v1/orders/${response.body.id}`);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(response.body.status, 'received');
    assert.ok(!Number.isNaN(Date.parse(response.body.createdAt)));
    assert.deepEqual(response.body.lines.map((l: any) => l.lineTotal), ['39.98', '8.50']);
    assert.deepEqual(response.body.totals, { subtotal: '48.48', shipping: '5.00', tax: '3.10', discount: '1.00', grandTotal: '55.58', paid: '48.48' });

    const fetched = await call(server.baseUrl, 'GET', `/v1/orders/${response.body.id}`, { token });
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.body, response.body);
  });

  test('same key and body replays the first response with Idempotent-Replayed', async () => {
    const order = sampleOrder();
    const key = randomUUID();
    const first = await submitOrder(server.baseUrl, token, order, key);
    const again = await submitOrder(server.baseUrl, token, order, key);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.deepEqual(again.body, first.body);
    const listed = await call(server.baseUrl, 'GET', `/v1/orders?channel=shopify-us&channelOrderId=${order.channelOrderId}`, { token });
    assert.equal(listed.body.data.length, 1);
  });

  test('the same order resent with its keys in another order replays: the fingerprint is of what was asked, not of the bytes', async () => {
    const order = sampleOrder();
    const key = randomUUID();
    const first = await submitOrder(server.baseUrl, token, order, key);
    const reordered = Object.fromEntries(Object.entries(order).reverse());
    const again = await submitOrder(server.baseUrl, token, reordered, key);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    // A changed value under the same key is still a different request.
    const changed = await submitOrder(server.baseUrl, token, { ...reordered, notes: 'gift wrap' }, key);
    assert.equal(changed.status, 422);
    assert.match(changed.body.type, /idempotency-key-reused$/);
  });

  test('same key with a different body is 422 idempotency-key-reused', async () => {
    const key = randomUUID();
    assert.equal((await submitOrder(server.baseUrl, token, sampleOrder(), key)).status, 201);
    const reused = await submitOrder(server.baseUrl, token, sampleOrder(), key);
    assert.equal(reused.status, 422);
    assert.match(reused.headers.get('content-type')!, /^application\/problem\+json/);
    assert.match(reused.body.type, /idempotency-key-reused$/);
  });

  test('the same channel order under another key is 409 duplicate-order with existingOrderId', async () => {
    const order = sampleOrder();
    const first = await submitOrder(server.baseUrl, token, order);
    const second = await submitOrder(server.baseUrl, token, { ...order, notes: 'resent by the channel' });
    assert.equal(second.status, 409);
    assert.match(second.body.type, /duplicate-order$/);
    assert.equal(second.body.existingOrderId, first.body.id);
  });

  test('Idempotency-Key is required', async () => {
    const response = await call(server.baseUrl, 'POST', '/v1/orders', { token, body: sampleOrder() });
    assert.equal(response.status, 400);
    assert.match(response.body.type, /idempotency-key-missing$/);
  });

  test('an invalid body lists every failing field with a JSON pointer, unknown fields included', async () => {
    const order = sampleOrder({
      channel: 'Shopify US',
      currency: 'XYZ',
      placedAt: 'yesterday',
      customer: { email: 'not-an-email', name: '' },
      lines: [{ sku: 'A', quantity: 0, unitPrice: '1.999' }, { sku: 'B', quantity: 1.5, unitPrice: 2 }],
      payments: [{ method: 'card', amount: '1.00', status: 'settled', reference: 'x' }],
      giftWrap: true,
    });
    (order.shippingAddress as Record<string, unknown>).country = 'USA';
    const response = await submitOrder(server.baseUrl, token, order);
    assert.equal(response.status, 422);
    assert.match(response.body.type, /validation-failed$/);
    const pointers = response.body.errors.map((e: { pointer: string }) => e.pointer).sort();
    for (const pointer of [
      '/channel',
      '/currency',
      '/placedAt',
      '/customer/email',
      '/customer/name',
      '/shippingAddress/country',
      '/lines/0/quantity',
      '/lines/1/quantity',
      '/lines/1/unitPrice',
      '/payments/0/status',
      '/giftWrap',
    ]) {
      assert.ok(pointers.includes(pointer), `expected an error at ${pointer}; got ${pointers.join(', ')}`);
    }
    for (const error of response.body.errors) assert.equal(typeof error.detail, 'string');
  });

  test('too many decimal places for the currency is refused at the field', async () => {
    const response = await submitOrder(server.baseUrl, token, sampleOrder({ lines: [{ sku: 'A', quantity: 1, unitPrice: '1.999' }] }));
    assert.equal(response.status, 422);
    assert.deepEqual(response.body.errors.map((e: { pointer: string }) => e.pointer), ['/lines/0/unitPrice']);
  });

  test('malformed JSON is 400, a non-JSON body 415, an oversized body 413, all problem+json without internals', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const malformed = await call(server.baseUrl, 'POST', '/v1/orders', { token, rawBody: '{"channel": ', headers: { ...headers, 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.type, /malformed-json$/);

    const text = await call(server.baseUrl, 'POST', '/v1/orders', { token, rawBody: 'channel=web', headers: { ...headers, 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    const form = await call(server.baseUrl, 'POST', '/v1/orders', { token, rawBody: 'channel=web', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);

    const big = sampleOrder({ notes: 'x'.repeat(70 * 1024) });
    const tooLarge = await submitOrder(server.baseUrl, token, big);
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.body.type, /payload-too-large$/);

    for (const response of [malformed, text, form, tooLarge]) {
      assert.match(response.headers.get('content-type')!, /^application\/problem\+json/);
      assert.doesNotMatch(JSON.stringify(response.body), /at .*\.(ts|js):\d+|node_modules|FST_/);
    }
  });
});

describe('reading orders', () => {
  test('GET by channel and channel order id, and an unknown id is a 404 problem', async () => {
    const order = sampleOrder({ channel: 'pos-store-12' });
    const created = await submitOrder(server.baseUrl, token, order);
    const found = await call(server.baseUrl, 'GET', `/v1/orders?channel=pos-store-12&channelOrderId=${order.channelOrderId}`, { token });
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.data.map((o: { id: string }) => o.id), [created.body.id]);

    const missing = await call(server.baseUrl, 'GET', '/v1/orders/ord_00000000000000000000000000', { token });
    assert.equal(missing.status, 404);
    assert.match(missing.body.type, /not-found$/);

    const badLimit = await call(server.baseUrl, 'GET', '/v1/orders?limit=0', { token });
    assert.equal(badLimit.status, 400);
  });

  test('the timeline records the intake with the correlation id', async () => {
    const created = await submitOrder(server.baseUrl, token, sampleOrder(), randomUUID(), { 'x-correlation-id': 'corr-timeline-1' });
    assert.equal(created.headers.get('x-correlation-id'), 'corr-timeline-1');
    assert.equal(created.body.correlationId, 'corr-timeline-1');
    const timeline = await call(server.baseUrl, 'GET', `/v1/orders/${created.body.id}/timeline`, { token });
    assert.equal(timeline.status, 200);
    assert.equal(timeline.body.entries.length, 1);
    assert.deepEqual(
      { action: timeline.body.entries[0].action, outcome: timeline.body.entries[0].outcome, correlationId: timeline.body.entries[0].correlationId },
      { action: 'order.received', outcome: 'succeeded', correlationId: 'corr-timeline-1' },
    );
  });
});

describe('correlation', () => {
  test('traceparent supplies the correlation id and travels with the event; a fresh id is generated otherwise', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const created = await submitOrder(server.baseUrl, token, sampleOrder(), randomUUID(), { traceparent });
    assert.equal(created.headers.get('x-correlation-id'), '4bf92f3577b34da6a3ce929d0e0e4736');
    // No span is recorded here (no exporter): one without a traceparent runs with no span at all.
    const untraced = await submitOrder(server.baseUrl, token, sampleOrder(), randomUUID());
    const events = await readAllEvents(server.baseUrl, await server.token('events:read'));
    const event = events.find((e) => e.subject === created.body.id);
    assert.equal(event.correlationid, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(event.traceparent, traceparent);
    const untracedEvent = events.find((e) => e.subject === untraced.body.id);
    assert.equal(untracedEvent.traceparent, undefined);
    assert.equal(untracedEvent.correlationid, untraced.headers.get('x-correlation-id'));

    const plain = await call(server.baseUrl, 'GET', '/healthz');
    assert.match(plain.headers.get('x-correlation-id')!, /^[0-9a-f-]{36}$/);
    const unsafe = await call(server.baseUrl, 'GET', '/healthz', { headers: { 'x-correlation-id': 'bad id with spaces' } });
    assert.notEqual(unsafe.headers.get('x-correlation-id'), 'bad id with spaces');
  });
});

async function readAllEvents(baseUrl: string, opsToken: string): Promise<any[]> {
  const events: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const response = await call(baseUrl, 'GET', `/v1/events?limit=100${cursor ? `&after=${cursor}` : ''}`, { token: opsToken });
    assert.equal(response.status, 200);
    events.push(...response.body.events);
    if (response.body.events.length === 0) return events;
    cursor = response.body.nextCursor;
  }
  throw new Error('feed did not end');
}

describe('GET /v1/events', () => {
  test('each accepted order has exactly one order.created CloudEvent; a follower sees no gaps or repeats under concurrent writes', async () => {
    const opsToken = await server.token('events:read');
    const seen: string[] = [];
    let cursor: string | null = null;
    let writing = true;
    const follower = (async () => {
      // Follow the feed while orders are being written, as a consumer would.
      // Stops at the first empty page after the writers are done.
      for (let round = 0; round < 5000; round++) {
        const stillWriting = writing;
        const response = await call(server.baseUrl, 'GET', `/v1/events?limit=50${cursor ? `&after=${cursor}` : ''}`, { token: opsToken });
        seen.push(...response.body.events.map((e: { id: string }) => e.id));
        cursor = response.body.nextCursor ?? cursor;
        if (response.body.events.length === 0) {
          if (!stillWriting) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
    const created = await Promise.all(Array.from({ length: 120 }, () => submitOrder(server.baseUrl, token, sampleOrder())));
    writing = false;
    await follower;
    const all = await readAllEvents(server.baseUrl, opsToken);
    assert.equal(new Set(seen).size, seen.length, 'the follower saw an event twice');
    assert.deepEqual(seen, all.map((e) => e.id), 'the follower saw a different sequence than a full read');
    for (const response of created) {
      assert.equal(response.status, 201);
      const matching = all.filter((e) => e.type === 'order.created' && e.subject === response.body.id);
      assert.equal(matching.length, 1);
      assert.equal(matching[0].specversion, '1.0');
      assert.equal(matching[0].source, '/syncline/orders');
      assert.equal(matching[0].datacontenttype, 'application/json');
      assert.deepEqual(matching[0].data, response.body);
    }
  });

  test('a cursor that was not issued by the feed is a 400 problem; an empty page keeps the cursor', async () => {
    const opsToken = await server.token('events:read');
    const bad = await call(server.baseUrl, 'GET', '/v1/events?after=garbage', { token: opsToken });
    assert.equal(bad.status, 400);
    const all = await readAllEvents(server.baseUrl, opsToken);
    const tail = await call(server.baseUrl, 'GET', '/v1/events?limit=1000', { token: opsToken });
    const end = tail.body.nextCursor;
    const empty = await call(server.baseUrl, 'GET', `/v1/events?after=${end}`, { token: opsToken });
    assert.equal(empty.body.events.length, 0);
    assert.equal(empty.body.nextCursor, end);
    assert.ok(all.length > 0);
  });
});

describe('health and documents', () => {
  test('healthz, readyz, openapi.json and docs', async () => {
    assert.deepEqual((await call(server.baseUrl, 'GET', '/healthz')).body, { status: 'ok' });
    const ready = await call(server.baseUrl, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.database, 'postgres');
    const openapi = await call(server.baseUrl, 'GET', '/openapi.json');
    assert.equal(openapi.body.openapi, '3.1.0');
    assert.ok(openapi.body.paths['/v1/orders'].post);
    const submission = openapi.body.components.schemas.OrderSubmission;
    assert.deepEqual([...submission.required].sort(), ['channel', 'channelOrderId', 'currency', 'customer', 'lines', 'placedAt', 'shippingAddress']);
    assert.equal(submission.additionalProperties, false);
    const docs = await fetch(`${server.baseUrl}/docs`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger-ui-bundle\.js/);
    const asset = await fetch(`${server.baseUrl}/docs/assets/swagger-ui-bundle.js`);
    assert.equal(asset.status, 200);
    const problemType = await call(server.baseUrl, 'GET', '/problems/duplicate-order');
    assert.equal(problemType.body.status, 409);
  });
});
