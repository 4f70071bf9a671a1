import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SynclineError } from '../src/domain/errors.ts';
import { createHttpClient, type HttpClient } from '../src/connectors/kit/http-client.ts';
import { TargetError } from '../src/runtime/targets/target-errors.ts';
import { expectSynclineError } from '../src/connectors/kit/contract-fixtures.ts';
import { createSandboxApp, listenSandbox, sandboxAdmin, type RunningSandbox } from '../src/connectors/kit/sandbox-app.ts';

/** A minimal sandbox with the shared fault controls and an echo route, over real HTTP. */
async function startEchoSandbox(): Promise<RunningSandbox> {
  const { app, faults } = createSandboxApp('echo');
  app.get('/echo', async (request) => ({ headers: request.headers }));
  app.post('/echo', async (request, reply) => reply.code(422).send({ error: { code: 'invalid', message: 'no' } }));
  return listenSandbox('echo', app, faults);
}


describe('connector kit: HTTP client', () => {
  let sandbox: RunningSandbox;
  let client: HttpClient;
  let admin: ReturnType<typeof sandboxAdmin>;
  before(async () => {
    sandbox = await startEchoSandbox();
    client = createHttpClient({ system: 'echo', baseUrl: sandbox.url, timeoutMs: 2000 });
    admin = sandboxAdmin(sandbox.url);
  });
  after(async () => sandbox?.close());

  test('the correlation id and the trace of the caller (trace id, sampled flag) reach the system', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await client.request<{ headers: Record<string, string> }>(
      { method: 'GET', path: '/echo' },
      { correlationId: 'corr-123', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    assert.equal(response.body.headers['x-correlation-id'], 'corr-123');
    const sent = response.body.headers.traceparent!;
    // Nothing is exported in this process (no OTLP endpoint): the call carries the caller's
    // context as is; with export on it is a new span of the same trace (test/telemetry-traces.test.ts).
    assert.match(sent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const unsampled = await client.request<{ headers: Record<string, string> }>({ method: 'GET', path: '/echo' }, { traceparent: `00-${traceId}-00f067aa0ba902b7-00` });
    assert.match(unsampled.body.headers.traceparent!, /-00$/, 'the sampled flag is kept');
    const none = await client.request<{ headers: Record<string, string> }>({ method: 'GET', path: '/echo' });
    assert.equal(none.body.headers.traceparent, undefined, 'no trace, no traceparent');
  });

  test('added latency delays every answer', async () => {
    await admin.setFaults({ latencyMs: 150 });
    try {
      const started = performance.now();
      await client.request({ method: 'GET', path: '/echo' });
      assert.ok(performance.now() - started >= 140, 'the call took the added latency');
      assert.equal((await admin.faults()).latencyMs, 150);
    } finally {
      await admin.clearFaults();
    }
  });

  test('a call slower than the timeout fails as transient connector.timeout', async () => {
    await admin.setFaults({ latencyMs: 400 });
    try {
      const error = await expectSynclineError(client.request({ method: 'GET', path: '/echo', timeoutMs: 100 }));
      assert.equal(error.code, 'connector.timeout');
      assert.equal(error.retry, 'transient');
    } finally {
      await admin.clearFaults();
      // The abandoned request is still sleeping in the sandbox; let it finish before other tests count requests.
      await new Promise((resolve) => setTimeout(resolve, 350));
    }
  });

  test('an error rate fails exactly that share of requests, as transient', async () => {
    await admin.setFaults({ errorRate: 0.25, errorStatus: 500 });
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      try {
        await client.request({ method: 'GET', path: '/echo' });
        outcomes.push('ok');
      } catch (error) {
        assert.ok(error instanceof SynclineError);
        assert.equal(error.retry, 'transient');
        assert.equal(error.details?.status, 500);
        outcomes.push('failed');
      }
    }
    await admin.clearFaults();
    assert.equal(outcomes.filter((o) => o === 'failed').length, 3);
    assert.deepEqual(outcomes.slice(0, 4), ['ok', 'ok', 'ok', 'failed']);
  });

  test('forced 429 is throttled with the Retry-After delay, in seconds or as an HTTP-date', async () => {
    await admin.setFaults({ throttle: { retryAfterSeconds: 3, format: 'seconds' } });
    const seconds = await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    assert.equal(seconds.code, 'connector.throttled');
    assert.equal(seconds.retry, 'throttled');
    assert.equal(seconds.details?.retryAfterMs, 3000);
    // The runtime's retry policy reads the absolute time.
    assert.ok(seconds instanceof TargetError && seconds.retryAt && Math.abs(seconds.retryAt.getTime() - Date.now() - 3000) < 500);
    assert.equal(seconds instanceof TargetError && seconds.target, 'echo');

    await admin.setFaults({ throttle: { retryAfterSeconds: 5, format: 'http-date' } });
    const date = await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    assert.equal(date.retry, 'throttled');
    const ms = date.details?.retryAfterMs as number;
    // An HTTP-date has whole seconds: the delay is 4-5 s from now.
    assert.ok(ms > 3000 && ms <= 5000, `retryAfterMs ${ms}`);

    await admin.setFaults({ throttle: { retryAfterSeconds: 1, remaining: 2 } });
    await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    await client.request({ method: 'GET', path: '/echo' });
    await admin.clearFaults();
  });

  test('a quota per second is never exceeded at the receiving side; callers that honour Retry-After all get through', async () => {
    await admin.setFaults({ quotaPerSecond: 5 });
    await admin.resetStats();
    let throttled = 0;
    const callOnce = async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          return await client.request({ method: 'GET', path: '/echo' });
        } catch (error) {
          assert.ok(error instanceof SynclineError && error.retry === 'throttled', String(error));
          assert.equal(error.details?.retryAfterMs, 1000);
          throttled++;
          // Wait for the next second window rather than the full Retry-After, to keep the test short.
          await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
        }
      }
      assert.fail('never got through');
    };
    await Promise.all(Array.from({ length: 12 }, () => callOnce()));
    const stats = await admin.stats();
    await admin.clearFaults();
    assert.equal(stats.totals.accepted, 12);
    assert.ok(throttled > 0, 'some calls were throttled');
    assert.equal(stats.totals.throttled, throttled);
    assert.ok(stats.maxAcceptedPerSecond <= 5, `served ${stats.maxAcceptedPerSecond} in one second`);
    assert.ok(stats.perSecond.every((s) => s.accepted <= 5));
  });

  test('down answers 503 or drops the connection; both are transient; a stopped system is refused, also transient', async () => {
    await admin.setFaults({ down: true });
    const unavailable = await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    assert.equal(unavailable.code, 'connector.unavailable');
    assert.equal(unavailable.details?.status, 503);
    assert.equal(unavailable.retry, 'transient');

    await admin.setFaults({ down: true, downMode: 'reset' });
    const reset = await expectSynclineError(client.request({ method: 'GET', path: '/echo' }));
    assert.equal(reset.code, 'connector.unreachable');
    assert.equal(reset.retry, 'transient');
    await admin.clearFaults();
    await client.request({ method: 'GET', path: '/echo' });

    const stopped = await startEchoSandbox();
    const url = stopped.url;
    await stopped.close();
    const refused = await expectSynclineError(createHttpClient({ system: 'echo', baseUrl: url }).request({ method: 'GET', path: '/echo' }));
    assert.equal(refused.code, 'connector.unreachable');
    assert.equal(refused.details?.networkCode, 'ECONNREFUSED');
    assert.equal(refused.retry, 'transient');
  });

  test('other 4xx answers are permanent and keep the error body', async () => {
    const error = await expectSynclineError(client.request({ method: 'POST', path: '/echo', body: { a: 1 } }));
    assert.equal(error.code, 'connector.rejected');
    assert.equal(error.retry, 'permanent');
    assert.deepEqual(error.details?.body, { error: { code: 'invalid', message: 'no' } });
  });

  test('fault settings are validated and readable', async () => {
    await assert.rejects(admin.call('PUT', '/_sandbox/faults', { errorRate: 2 }), /400/);
    await assert.rejects(admin.call('PUT', '/_sandbox/faults', { surprise: true }), /400/);
    const settings = await admin.call<{ quotaPerSecond: number | null }>('PATCH', '/_sandbox/faults', { quotaPerSecond: 50 });
    assert.equal(settings.quotaPerSecond, 50);
    const cleared = await admin.clearFaults();
    assert.equal(cleared.quotaPerSecond, null);
  });
});
