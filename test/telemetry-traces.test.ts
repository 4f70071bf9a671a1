import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { readmeQuickStart, startEmbedded, type EmbeddedSyncline } from './support/first-hour.ts';
import { call } from './support/orders.ts';
import { waitFor } from './support/runtime.ts';

/** A span as the OTLP/HTTP JSON exporter sends it (ids in hex, kind 2 server, 3 client). */
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

/** A test OTLP/HTTP receiver: collects the spans POSTed to /v1/traces (JSON protocol). */
async function startReceiver(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces' && /json/.test(request.headers['content-type'] ?? '')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[] };
        for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const hex = (bytes: number) => Array.from({ length: bytes }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join('');

describe('traces: one order, one trace, from the API through jobs, flow steps and connector calls', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let syncline: EmbeddedSyncline;
  let token: string;
  const quick = readmeQuickStart();
  const [location, receipt, order] = quick.bodies as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];

  before(async () => {
    receiver = await startReceiver();
    syncline = await startEmbedded({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    token = await syncline.token(quick.scopes);
    const post = (path: string, key: string, body: unknown) => call(syncline.baseUrl, 'POST', path, { token, body, headers: { 'idempotency-key': key } });
    assert.equal((await post('/v1/locations', 'trace-location', location)).status, 201);
    assert.equal((await post('/v1/inventory/movements', 'trace-receipt', receipt)).status, 201);
  });
  after(async () => {
    if (syncline?.child.exitCode === null) syncline.child.kill('SIGKILL');
    await receiver?.close();
  });

  /** Places an order with the given trace context; resolves with its id once released. */
  async function placeReleased(channelOrderId: string, headers: Record<string, string>): Promise<string> {
    const body = { ...order, channelOrderId };
    const created = await call(syncline.baseUrl, 'POST', '/v1/orders', { token, body, headers: { 'idempotency-key': channelOrderId, ...headers } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitFor(`order ${id} released`, async () => (await call(syncline.baseUrl, 'GET', `/v1/orders/${id}`, { token })).body.status === 'released', 90_000, 200);
    return id;
  }

  /** Every event of the feed about one order. */
  async function eventsOf(orderId: string): Promise<{ type: string; traceparent?: string; tracestate?: string }[]> {
    const found: { type: string; traceparent?: string; tracestate?: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await call(syncline.baseUrl, 'GET', `/v1/events?limit=500${after ? `&after=${after}` : ''}`, { token });
      assert.equal(page.status, 200);
      const events = page.body.events as { type: string; subject: string; traceparent?: string }[];
      found.push(...events.filter((e) => e.subject === orderId));
      if (events.length === 0 || page.body.nextCursor === after) return found;
      after = page.body.nextCursor as string;
    }
  }

  test('a sampled traceparent: the API, job, step and client spans share its trace; every order event carries it', async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    const orderId = await placeReleased(`trace-${traceId.slice(0, 8)}`, { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'vendor=abc' });
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const wanted = ['erp.post', 'payment.authorize', 'wms.fulfil'];
    await waitFor('the flow step spans exported', async () => wanted.every((step) => inTrace().some((s) => s.name.endsWith(` ${step}`))), 30_000, 200);
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));

    const api = spans.find((s) => s.kind === 2 && s.name === 'POST /v1/orders');
    assert.ok(api, `an API span for the order (got ${spans.map((s) => s.name).join(', ')})`);
    assert.equal(api.parentSpanId, callerSpan, 'the API span continues the incoming traceparent');
    assert.ok(spans.some((s) => s.name.startsWith('job ')), 'job spans');
    const clients = spans.filter((s) => s.kind === 3);
    for (const system of ['payment', 'tryton', 'fraud']) assert.ok(clients.some((s) => s.name.endsWith(` ${system}`)), `a client span calling ${system}`);
    // One tree: every span but the API's has its parent in the trace, and all lead to the API span.
    for (const span of spans) {
      if (span === api) continue;
      let at: ExportedSpan | undefined = span;
      for (let hops = 0; at && at !== api && hops < 20; hops++) at = byId.get(at.parentSpanId ?? '');
      assert.equal(at, api, `${span.name} descends from the API span`);
    }
    for (const step of wanted) {
      const stepSpan = spans.find((s) => s.name.endsWith(` ${step}`))!;
      assert.ok(clients.some((c) => c.parentSpanId === stepSpan.spanId), `the ${step} step's connector call is its child`);
    }

    const events = await eventsOf(orderId);
    assert.ok(events.some((e) => e.type === 'order.created') && events.some((e) => e.type === 'order.released'), JSON.stringify(events));
    for (const event of events) {
      assert.match(event.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), `${event.type} carries the trace`);
      assert.equal(event.tracestate, 'vendor=abc', `${event.type} keeps the caller's tracestate`);
    }
  });

  test('an unsampled traceparent is propagated to every event but nothing of it is exported', async () => {
    const traceId = hex(16);
    const orderId = await placeReleased(`untraced-${traceId.slice(0, 8)}`, { traceparent: `00-${traceId}-${hex(8)}-00` });
    const events = await eventsOf(orderId);
    assert.ok(events.length >= 2, JSON.stringify(events));
    for (const event of events) assert.match(event.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`), `${event.type} carries the unsampled trace`);
    // A sampled order placed after it is exported; by then the batch holding the first would be too.
    const marker = hex(16);
    await placeReleased(`marker-${marker.slice(0, 8)}`, { traceparent: `00-${marker}-${hex(8)}-01` });
    await waitFor('the later sampled order exported', async () => receiver.spans.some((s) => s.traceId === marker && s.name.endsWith(' wms.fulfil')), 30_000, 200);
    assert.equal(receiver.spans.filter((s) => s.traceId === traceId).length, 0, 'no span of the unsampled trace');
  });
});
