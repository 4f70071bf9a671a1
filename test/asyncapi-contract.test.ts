import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { EMITTED_EVENT_TYPES, buildAsyncApiDocument, eventName, eventSchema } from '../src/api/asyncapi.ts';
import { EVENT_TYPES } from '../src/model/cloud-event.ts';
import { ORDER_EVENT_TYPES } from '../src/flows/order-events.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { call, sampleOrder, submitOrder } from './support/orders.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { flowApi, startFlowRig, type FlowRig } from './support/flows.ts';
import { waitFor } from './support/runtime.ts';

/**
 * The event contract matches the code: /asyncapi.json is a valid AsyncAPI 3.0 document
 * for the official parser, it names every event type the writers' constants hold (on
 * NATS and on webhooks), its examples satisfy the payload schemas, and events the real
 * code writes to the outbox satisfy them too.
 */

type Json = Record<string, any>;

let database: TestDatabase;
let server: TestServer;
let served: Json;

before(async () => {
  database = await createTestDatabase();
  server = await startTestServer(database.url);
  const response = await call(server.baseUrl, 'GET', '/asyncapi.json');
  assert.equal(response.status, 200, 'GET /asyncapi.json needs no token');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  served = response.body;
});
after(async () => {
  await server?.close();
  await database?.drop();
});

/** The NATS message of every event type, by type, from the document alone (webhook messages are `<Name>Webhook`). */
function messageTypes(doc: Json): Map<string, Json> {
  const nats = Object.entries(doc.components.messages as Json).filter(([key]) => !key.endsWith('Webhook'));
  return new Map(nats.map(([, m]: [string, Json]) => [m.name as string, m]));
}

describe('the AsyncAPI document', () => {
  test('is served as built from the code', () => {
    assert.deepEqual(served, buildAsyncApiDocument());
    assert.equal(served.asyncapi, '3.0.0');
  });

  test('the official parser finds no error and no warning', async () => {
    const diagnostics = await new Parser().validate(JSON.stringify(served));
    // Severity 0 is an error, 1 a warning; 2 and 3 are information and hints (such as "3.1.0 exists").
    const problems = diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code} at ${d.path.join('/')}: ${d.message}`);
    assert.deepEqual(problems, []);
    const { document } = await new Parser().parse(JSON.stringify(served));
    assert.ok(document, 'the parser builds a document model');
    assert.equal(document.channels().length, EMITTED_EVENT_TYPES.length + 1);
  });

  test('the parser does report a broken document (the check above can fail)', async () => {
    const broken = structuredClone(served);
    broken.operations['deliver-webhook'].channel = { $ref: '#/channels/no-such-channel' };
    const diagnostics = await new Parser().validate(JSON.stringify(broken));
    assert.ok(diagnostics.some((d) => d.severity === 0));
  });

  test('every event type the code can emit is in it, on NATS and on webhooks, and nothing else', () => {
    const emitted = [...Object.values(EVENT_TYPES), ...Object.values(ORDER_EVENT_TYPES)].sort();
    assert.ok(emitted.length >= 16);
    const messages = messageTypes(served);
    assert.deepEqual([...messages.keys()].sort(), emitted);
    const natsSubjects = Object.values(served.channels as Json)
      .map((c: Json) => c.address)
      .filter((a): a is string => typeof a === 'string')
      .sort();
    assert.deepEqual(natsSubjects, emitted.map((t) => `syncline.${t}`));
    const webhook = served.channels.webhook;
    assert.equal(webhook.address, null);
    const webhookTypes = Object.values(webhook.messages as Json).map((ref: Json) => {
      const name = (ref.$ref as string).replace('#/components/messages/', '');
      return served.components.messages[name].name as string;
    });
    assert.deepEqual(webhookTypes.sort(), emitted);
    for (const type of emitted) {
      const nats = served.components.messages[eventName(type)];
      const hook = served.components.messages[`${eventName(type)}Webhook`];
      assert.deepEqual(nats.headers.required, ['Nats-Msg-Id'], type);
      assert.deepEqual(hook.headers.required, ['webhook-id', 'webhook-timestamp', 'webhook-signature'], type);
      assert.equal(served.components.schemas[`${eventName(type)}Event`].properties.type.const, type);
    }
  });

  test('every event type has an example that satisfies its schema, with headers that name the event', () => {
    for (const [type, message] of messageTypes(served)) {
      assert.equal(message.examples.length, 1, type);
      const [example] = message.examples;
      const parsed = eventSchema(type).safeParse(example.payload);
      assert.ok(parsed.success, `${type}: ${parsed.error?.message}`);
      assert.deepEqual(parsed.data, example.payload, `${type}: the example has members its schema does not describe`);
      assert.equal(example.headers['Nats-Msg-Id'], example.payload.id);
      const hook = served.components.messages[`${eventName(type)}Webhook`].examples[0];
      assert.equal(hook.headers['webhook-id'], hook.payload.id);
      assert.match(hook.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
    }
  });

  test('a payload that breaks its schema is refused (the example check can fail)', () => {
    const message = messageTypes(served).get('order.shipped')!;
    const payload = structuredClone(message.examples[0].payload);
    delete payload.data.shipmentId;
    assert.equal(eventSchema('order.shipped').safeParse(payload).success, false);
  });
});

describe('events the code writes satisfy the document', () => {
  test('order.created and the inventory events from the API', async () => {
    const token = await server.token();
    const post = (path: string, body: unknown) => call(server.baseUrl, 'POST', path, { token, body, headers: { 'idempotency-key': randomUUID() } });
    const order = await submitOrder(server.baseUrl, token, sampleOrder());
    assert.equal(order.status, 201, JSON.stringify(order.body));
    assert.equal((await post('/v1/locations', { code: 'WH-EAST', name: 'East warehouse', kind: 'warehouse' })).status, 201);
    const moved = await post('/v1/inventory/movements', {
      movements: [
        { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 10, reference: 'PO-1' },
        { type: 'adjustment', sku: 'MUG', location: 'WH-EAST', quantity: 4, reason: 'found in the back' },
      ],
    });
    assert.equal(moved.status, 201, JSON.stringify(moved.body));
    const reserved = await post('/v1/inventory/reservations', { reference: order.body.id, channel: 'shopify-us', lines: [{ sku: 'TEE-M', quantity: 2 }] });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const released = await call(server.baseUrl, 'DELETE', `/v1/inventory/reservations/${reserved.body.id}`, { token });
    assert.equal(released.status, 200, JSON.stringify(released.body));
    const kept = await post('/v1/inventory/reservations', { reference: order.body.id, channel: 'shopify-us', lines: [{ sku: 'MUG', quantity: 1 }] });
    const consumed = await post(`/v1/inventory/reservations/${kept.body.id}/consume`, { reference: 'SHP-1' });
    assert.equal(consumed.status, 200, JSON.stringify(consumed.body));

    const feedToken = await server.token('events:read');
    // Availability is announced by a background round (every 250 ms), not by the request.
    await waitFor(
      'an inventory.availability.changed event',
      async () => (await readFeed(server.baseUrl, feedToken)).some((e) => e.type === EVENT_TYPES.inventoryAvailabilityChanged),
      10_000,
      100,
    );
    await assertEventsMatch(server.baseUrl, feedToken, [
      EVENT_TYPES.inventoryAvailabilityChanged,
      EVENT_TYPES.orderCreated,
      EVENT_TYPES.inventoryAdjusted,
      EVENT_TYPES.inventoryReserved,
      EVENT_TYPES.inventoryReleased,
    ]);
  });

  test('the order lifecycle events from the flows, against the sandboxes', async () => {
    const rig: FlowRig = await startFlowRig();
    try {
      const f = flowApi(rig);
      await f.location('WH-EAST', 'warehouse');
      await f.stock([
        { type: 'receipt', sku: 'TEE-M', location: 'WH-EAST', quantity: 20 },
        { type: 'receipt', sku: 'MUG', location: 'WH-EAST', quantity: 20 },
        { type: 'count', sku: 'SOCKS', location: 'WH-EAST', quantity: 0 },
        // In stock, but unknown to the ERP: posting the order fails for good.
        { type: 'receipt', sku: 'GHOST', location: 'WH-EAST', quantity: 5 },
      ]);
      // Shipped in two parts, invoiced, completed, then one unit returned.
      const shipped = await f.submit();
      await f.waitForStatus(shipped, 'released');
      const [fulfilment] = await f.fulfilments(shipped);
      await f.ship(fulfilment.id, { lines: [{ lineNumber: 1, quantity: 2 }] });
      await f.waitForStatus(shipped, 'partially_shipped');
      await f.ship(fulfilment.id, { lines: [{ lineNumber: 2, quantity: 1 }] });
      await f.waitForStatus(shipped, 'completed');
      const accepted = await f.api('POST', '/v1/returns', { orderId: shipped, location: 'WH-EAST', lines: [{ lineNumber: 2, quantity: 1, condition: 'resellable' }] }, { 'idempotency-key': randomUUID() });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      await waitFor('the return to complete', async () => (await f.api('GET', `/v1/returns/${accepted.body.id}`)).body.status === 'completed', 30_000, 100);
      // Cancelled after release; waiting for stock; held by validation (a US address without a state).
      const cancelled = await f.submit();
      await f.waitForStatus(cancelled, 'released');
      await f.cancelAndWait(cancelled);
      const backordered = await f.submit({ lines: [{ sku: 'SOCKS', quantity: 1, unitPrice: '48.48' }] });
      await f.waitForStatus(backordered, 'pending_allocation');
      const { region: _region, ...noRegion } = sampleOrder().shippingAddress as Record<string, unknown>;
      const held = await f.submit({ shippingAddress: noRegion });
      await f.waitForStatus(held, 'on_hold');
      const rejected = await f.submit({ lines: [{ sku: 'GHOST', quantity: 1, unitPrice: '12.00' }], payments: [] });
      await f.waitForStatus(rejected, 'on_hold');
      const payment = sandboxAdmin(rig.sandboxes.urls.payment);
      await payment.call('PUT', '/_sandbox/config', { failCapturesFor: ['*'] });
      const declined = await f.submit();
      await f.waitForStatus(declined, 'payment_failed');

      await assertEventsMatch(rig.baseUrl, rig.token, [
        ORDER_EVENT_TYPES.released,
        ORDER_EVENT_TYPES.partiallyShipped,
        ORDER_EVENT_TYPES.shipped,
        ORDER_EVENT_TYPES.invoiced,
        ORDER_EVENT_TYPES.completed,
        ORDER_EVENT_TYPES.returned,
        ORDER_EVENT_TYPES.cancelled,
        ORDER_EVENT_TYPES.backordered,
        ORDER_EVENT_TYPES.onHold,
        ORDER_EVENT_TYPES.paymentFailed,
      ]);
      const holds = (await f.api('GET', '/v1/events?limit=1000')).body.events.filter((e: Json) => e.type === ORDER_EVENT_TYPES.onHold).map((e: Json) => e.data.reason);
      assert.deepEqual(holds.sort(), ['exception', 'validation']);
    } finally {
      await rig.close();
    }
  });
});

/** Every event of the feed, page after page. */
async function readFeed(baseUrl: string, token: string): Promise<Json[]> {
  const events: Json[] = [];
  for (let cursor: string | null = null, page = 0; page < 100; page++) {
    const response = await call(baseUrl, 'GET', `/v1/events?limit=200${cursor ? `&after=${cursor}` : ''}`, { token });
    assert.equal(response.status, 200);
    if (response.body.events.length === 0) break;
    events.push(...response.body.events);
    cursor = response.body.nextCursor;
  }
  return events;
}

/** Checks that `expected` types were written, and parses every event of the feed with its type's schema. */
async function assertEventsMatch(baseUrl: string, token: string, expected: readonly string[]): Promise<void> {
  const events = await readFeed(baseUrl, token);
  const seen = new Set(events.map((e) => e.type));
  for (const type of expected) assert.ok(seen.has(type), `no ${type} event was written; seen: ${[...seen].join(', ')}`);
  for (const event of events) {
    const parsed = eventSchema(event.type).safeParse(event);
    assert.ok(parsed.success, `${event.type}: ${parsed.error?.message}\n${JSON.stringify(event.data)}`);
    // zod drops members a schema does not name: equal means the schema names everything the writer wrote.
    assert.deepEqual(parsed.data, event, `${event.type} carries members its schema does not describe`);
  }
}
