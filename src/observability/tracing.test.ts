import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context } from '@opentelemetry/api';
import { contextOf, currentCarrier, inClientSpan, inJobSpan } from './tracing.ts';

// No OTLP endpoint in this process: nothing is recorded, the caller's context is carried as is.
const parent = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', tracestate: 'vendor=abc,other=1' };

test('a stored trace context is carried whole: trace id, sampled flag and tracestate', () => {
  assert.deepEqual(context.with(contextOf(parent), () => currentCarrier()), parent);
  assert.deepEqual(currentCarrier(), {}, 'outside any trace, nothing');
});

test('a job run and its connector calls continue the trace stored with the job', async () => {
  const headers: Record<string, string> = {};
  const job = { id: '1', type: 't', attempt: 1, lane: 'normal', target: null, trace: parent };
  await inJobSpan(job, () => inClientSpan({ system: 's', method: 'GET', path: '/', url: 'http://s/' }, headers, async () => undefined));
  assert.equal(headers.traceparent, parent.traceparent);
  assert.equal(headers.tracestate, parent.tracestate);
});

test('a call outside any span uses the caller-given traceparent', async () => {
  const headers: Record<string, string> = {};
  await inClientSpan({ system: 's', method: 'GET', path: '/', url: 'http://s/', parent }, headers, async () => undefined);
  assert.equal(headers.traceparent, parent.traceparent);
});
