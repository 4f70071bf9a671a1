import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SynclineError } from '../src/domain/errors.ts';
import { ShipmentConfirmation } from '../src/model/shipment.ts';
import { sandboxAdmin } from '../src/connectors/kit/sandbox-app.ts';
import { startWmsSandbox, type RunningWmsSandbox } from '../src/connectors/wms/sandbox/wms.sandbox.ts';
import { createWmsClient, type WmsClient } from '../src/connectors/wms/outbound/wms.client.ts';
import { mapWmsDelivery, verifyWmsWebhook } from '../src/connectors/wms/inbound/wms.inbound.ts';
import { wmsSignatureHeader } from '../src/connectors/wms/wms-wire.ts';

const SECRET = 'wms-test-secret-0123456789';

interface Received {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
}

/** A stand-in for Syncline's webhook endpoint: keeps raw bytes and headers, answers with a programmable status. */
async function startReceiver(): Promise<{ url: string; received: Received[]; failNext: (n: number) => void; waitFor: (count: number) => Promise<void>; close: () => Promise<void> }> {
  const received: Received[] = [];
  let failures = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (failures > 0) {
        failures--;
        response.writeHead(500).end();
        return;
      }
      received.push({ rawBody: Buffer.concat(chunks), headers: request.headers });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/wms`,
    received,
    failNext: (n) => (failures = n),
    waitFor: async (count) => {
      for (let i = 0; i < 200 && received.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(received.length >= count, `expected ${count} webhook(s), got ${received.length}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const shipTo = { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'Springfield', postalCode: '12345', country: 'US' };

describe('WMS sandbox, client and inbound webhooks', () => {
  let wms: RunningWmsSandbox;
  let client: WmsClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: ReturnType<typeof sandboxAdmin>;

  before(async () => {
    receiver = await startReceiver();
    wms = await startWmsSandbox({ callbackUrl: receiver.url, webhookSecret: SECRET });
    client = createWmsClient({ url: wms.url });
    admin = sandboxAdmin(wms.url);
    await admin.call('PUT', '/_sandbox/config', { webhookRetryDelayMs: 20 });
  });
  after(async () => {
    await wms?.close();
    await receiver?.close();
  });
  beforeEach(() => {
    receiver.received.length = 0;
  });

  test('fulfilment requests are created once per order and location, and found by order', async () => {
    const input = { orderId: 'ord_wms_1', locationId: 'loc_dc_east', shipTo, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 2 }] };
    const first = await client.createFulfilment(input);
    assert.equal(first.created, true);
    assert.equal(first.fulfilment.status, 'open');
    const again = await client.createFulfilment(input);
    assert.equal(again.created, false);
    assert.equal(again.fulfilment.id, first.fulfilment.id);
    const store = await client.createFulfilment({ ...input, locationId: 'loc_store_12' });
    assert.notEqual(store.fulfilment.id, first.fulfilment.id);
    assert.equal((await client.findFulfilments('ord_wms_1')).length, 2);
    assert.equal((await client.getFulfilment(first.fulfilment.id))?.orderId, 'ord_wms_1');
    assert.equal(await client.getFulfilment('fo_missing'), undefined);
  });

  test('nothing ships until the operator confirms; partial then full shipments arrive as signed webhooks mapped to confirmations', async () => {
    const { fulfilment } = await client.createFulfilment({
      orderId: 'ord_wms_2',
      locationId: 'loc_dc_east',
      shipTo,
      lines: [
        { lineNumber: 1, sku: 'SKU-RED', quantity: 2 },
        { lineNumber: 2, sku: 'SKU-BLUE', quantity: 1 },
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(receiver.received.length, 0, 'the WMS does not ship on its own');

    const partial = await admin.call<{ shipment: { id: string } }>('POST', `/v1/fulfillment-orders/${fulfilment.id}/ship`, {
      lines: [{ lineNumber: 1, quantity: 1 }],
      carrier: 'UPS',
      trackingNumbers: ['1Z999AA10123456784'],
    });
    await receiver.waitFor(1);
    const delivery = verifyWmsWebhook(receiver.received[0]!.rawBody, receiver.received[0]!.headers, { secret: SECRET });
    const event = mapWmsDelivery(delivery);
    assert.equal(event.kind, 'shipment');
    if (event.kind !== 'shipment') return;
    ShipmentConfirmation.parse(event.confirmation);
    assert.equal(event.confirmation.orderId, 'ord_wms_2');
    assert.equal(event.confirmation.locationId, 'loc_dc_east');
    assert.deepEqual(event.confirmation.lines, [{ lineNumber: 1, sku: 'SKU-RED', quantity: 1 }]);
    assert.deepEqual(event.confirmation.trackingNumbers, ['1Z999AA10123456784']);
    assert.equal(event.confirmation.carrier, 'UPS');
    assert.equal(event.confirmation.fulfilmentComplete, false);
    assert.equal(event.confirmation.source.shipmentId, partial.shipment.id);
    assert.equal(event.confirmation.source.deliveryId, delivery.deliveryId);
    assert.equal((await client.getFulfilment(fulfilment.id))?.status, 'partially_shipped');

    await admin.call('POST', `/v1/fulfillment-orders/${fulfilment.id}/ship`, { trackingNumbers: ['1Z999AA10123456785'] });
    await receiver.waitFor(2);
    const rest = mapWmsDelivery(verifyWmsWebhook(receiver.received[1]!.rawBody, receiver.received[1]!.headers, { secret: SECRET }));
    assert.equal(rest.kind === 'shipment' && rest.confirmation.fulfilmentComplete, true);
    assert.deepEqual(rest.kind === 'shipment' && rest.confirmation.lines.map((l) => [l.sku, l.quantity]), [
      ['SKU-RED', 1],
      ['SKU-BLUE', 1],
    ]);
    await assert.rejects(admin.call('POST', `/v1/fulfillment-orders/${fulfilment.id}/ship`, {}), /409/);
  });

  test('cancel succeeds before shipment and reports already_shipped after', async () => {
    const open = await client.createFulfilment({ orderId: 'ord_wms_3', locationId: 'loc_dc_east', shipTo, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 1 }] });
    const cancelled = await client.cancelFulfilment(open.fulfilment.id);
    assert.equal(cancelled.outcome, 'cancelled');
    assert.equal((await client.cancelFulfilment(open.fulfilment.id)).outcome, 'cancelled', 'cancelling twice is fine');
    await assert.rejects(admin.call('POST', `/v1/fulfillment-orders/${open.fulfilment.id}/ship`, {}), /409/);

    const shipped = await client.createFulfilment({ orderId: 'ord_wms_4', locationId: 'loc_dc_east', shipTo, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 1 }] });
    await admin.call('POST', `/v1/fulfillment-orders/${shipped.fulfilment.id}/ship`, {});
    const refused = await client.cancelFulfilment(shipped.fulfilment.id);
    assert.equal(refused.outcome, 'already_shipped');
    assert.equal(refused.outcome === 'already_shipped' && refused.fulfilment.status, 'shipped');
    assert.equal((await client.cancelFulfilment('fo_missing')).outcome, 'not_found');
  });

  test('with an auto-ship delay the WMS ships by itself; failed deliveries are retried with the same delivery id', async () => {
    receiver.failNext(2);
    await admin.call('PUT', '/_sandbox/config', { autoShipDelayMs: 30 });
    try {
      await client.createFulfilment({ orderId: 'ord_wms_5', locationId: 'loc_dc_west', shipTo, lines: [{ lineNumber: 1, sku: 'SKU-RED', quantity: 3 }] });
      await receiver.waitFor(1);
    } finally {
      await admin.call('PUT', '/_sandbox/config', { autoShipDelayMs: null });
    }
    const event = mapWmsDelivery(verifyWmsWebhook(receiver.received[0]!.rawBody, receiver.received[0]!.headers, { secret: SECRET }));
    assert.equal(event.kind === 'shipment' && event.confirmation.fulfilmentComplete, true);
    const log = await admin.call<{ data: { id: string; attempts: number; status: string }[] }>('GET', '/_sandbox/webhooks');
    const entry = log.data.find((d) => d.id === receiver.received[0]!.headers['wms-delivery-id']);
    assert.equal(entry?.attempts, 3);
    assert.equal(entry?.status, 'delivered');
  });

  test('WMS faults are classified like every other system', async () => {
    await admin.setFaults({ throttle: { retryAfterSeconds: 4 } });
    await assert.rejects(client.findFulfilments('ord_x'), (error: unknown) => error instanceof SynclineError && error.retry === 'throttled' && error.details?.retryAfterMs === 4000);
    await admin.setFaults({ down: true });
    await assert.rejects(client.findFulfilments('ord_x'), (error: unknown) => error instanceof SynclineError && error.retry === 'transient');
    await admin.clearFaults();
  });
});

describe('WMS webhook verification', () => {
  const body = Buffer.from(JSON.stringify({ id: 'whd_1', topic: 'shipment.created', data: {} }));
  const now = Date.parse('2026-11-22T12:00:00Z');
  const t = Math.floor(now / 1000);
  const headers = (signature: string) => ({ 'wms-signature': signature, 'wms-delivery-id': 'whd_1', 'wms-topic': 'shipment.created' });
  const code = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof SynclineError);
      assert.equal(error.retry, 'permanent');
      return error.code;
    }
    return 'accepted';
  };

  test('a valid signature is accepted', () => {
    const verified = verifyWmsWebhook(body, headers(wmsSignatureHeader(SECRET, t, body)), { secret: SECRET, now });
    assert.equal(verified.deliveryId, 'whd_1');
    assert.equal(verified.topic, 'shipment.created');
  });

  test('a tampered body, a wrong secret or a missing or malformed header is refused', () => {
    const signature = wmsSignatureHeader(SECRET, t, body);
    const tampered = Buffer.from(body.toString().replace('whd_1', 'whd_2'));
    assert.equal(code(() => verifyWmsWebhook(tampered, headers(signature), { secret: SECRET, now })), 'webhook.signature_invalid');
    // One changed byte of whitespace is a different body too: verification is on raw bytes.
    assert.equal(code(() => verifyWmsWebhook(Buffer.concat([body, Buffer.from(' ')]), headers(signature), { secret: SECRET, now })), 'webhook.signature_invalid');
    assert.equal(code(() => verifyWmsWebhook(body, headers(signature), { secret: 'another-secret-entirely', now })), 'webhook.signature_invalid');
    assert.equal(code(() => verifyWmsWebhook(body, {}, { secret: SECRET, now })), 'webhook.signature_missing');
    assert.equal(code(() => verifyWmsWebhook(body, headers('sha256=abc'), { secret: SECRET, now })), 'webhook.signature_malformed');
    // A signature moved to another timestamp does not verify: the timestamp is signed.
    const v1 = signature.split('v1=')[1]!;
    assert.equal(code(() => verifyWmsWebhook(body, headers(`t=${t + 1},v1=${v1}`), { secret: SECRET, now })), 'webhook.signature_invalid');
  });

  test('a stale (or far future) timestamp is refused even with a valid signature', () => {
    const old = t - 301;
    assert.equal(code(() => verifyWmsWebhook(body, headers(wmsSignatureHeader(SECRET, old, body)), { secret: SECRET, now })), 'webhook.timestamp_stale');
    const future = t + 301;
    assert.equal(code(() => verifyWmsWebhook(body, headers(wmsSignatureHeader(SECRET, future, body)), { secret: SECRET, now })), 'webhook.timestamp_stale');
    assert.equal(code(() => verifyWmsWebhook(body, headers(wmsSignatureHeader(SECRET, t - 299, body)), { secret: SECRET, now })), 'accepted');
  });

  test('during a secret rotation either secret verifies', () => {
    const signed = headers(wmsSignatureHeader('old-secret-0123456789', t, body));
    assert.equal(code(() => verifyWmsWebhook(body, signed, { secret: [SECRET, 'old-secret-0123456789'], now })), 'accepted');
  });

  test('an unknown topic maps to an explicit unsupported result', () => {
    const verified = verifyWmsWebhook(body, { ...headers(wmsSignatureHeader(SECRET, t, body)), 'wms-topic': 'inventory.counted' }, { secret: SECRET, now });
    assert.deepEqual(mapWmsDelivery(verified), { kind: 'unsupported', topic: 'inventory.counted' });
  });
});
