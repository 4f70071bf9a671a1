import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import { metrics } from './metrics.ts';

/**
 * Traces, by the OpenTelemetry SDK (docs/adr/0022). Glossary:
 *   trace carrier  the W3C `traceparent` (and `tracestate`) stored with a job or an event, so
 *                  work that runs later, in another process, continues the same trace.
 *   span           one timed operation: a request, a job run, a flow step, a connector call.
 *
 * The context manager and the W3C propagator are always installed (they cost one
 * AsyncLocalStorage frame per span): an incoming `traceparent` is continued by every job,
 * event and outbound call even when nothing is exported. The SDK's tracer provider, which
 * records and exports spans, is started only when OTEL_EXPORTER_OTLP_ENDPOINT is set;
 * without it every span is the API's non-recording span that carries its parent's context.
 */

/** A stored W3C trace context. */
export interface TraceCarrier {
  traceparent?: string | null | undefined;
  tracestate?: string | null | undefined;
}

const TRACER_NAME = 'syncline';

// Installed once per process (a second registration is refused by the API and would warn).
if (!(globalThis as { __synclineTracingInstalled?: boolean }).__synclineTracingInstalled) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  (globalThis as { __synclineTracingInstalled?: boolean }).__synclineTracingInstalled = true;
}

let provider: TracerProvider | undefined;

/**
 * Starts exporting spans over OTLP/HTTP (JSON) when `endpoint` is set (the exporter reads
 * OTEL_EXPORTER_OTLP_ENDPOINT and appends /v1/traces; OTEL_EXPORTER_OTLP_HEADERS too).
 * Sampling follows the parent's sampled flag; a trace Syncline starts is sampled.
 */
export async function startTraceExport(options: { endpoint: string | undefined; serviceVersion?: string }): Promise<void> {
  if (!options.endpoint || provider) return;
  // Loaded only when exporting: a process that exports nothing does not pay for the SDK's start-up.
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, ParentBasedSampler, AlwaysOnSampler, TracerProvider }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }] =
    await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/semantic-conventions'),
    ]);
  if (provider) return;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? 'syncline', [ATTR_SERVICE_VERSION]: options.serviceVersion ?? '0.0.0' }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 1000 })],
  });
  trace.setGlobalTracerProvider(provider);
}

/** True while spans are recorded and exported (startTraceExport ran with an endpoint). */
export function recordingSpans(): boolean {
  return provider !== undefined;
}

/** Exports the spans still buffered and stops exporting. */
export async function stopTraceExport(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  if (!stopping) return;
  await stopping.shutdown();
  trace.disable();
}

/** The trace context carried by a stored carrier (an empty context when it has none). */
export function contextOf(carrier: TraceCarrier | undefined): Context {
  if (!carrier?.traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The carrier of the active span, to store with a job or an event; empty when there is no trace. */
export function currentCarrier(active: Context = context.active()): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(active, carrier);
  return carrier;
}

/** The trace context of the active span (what an event written now carries); empty fields are left out. */
export function currentTraceContext(): { traceparent?: string; tracestate?: string } {
  const { traceparent, tracestate } = currentCarrier();
  return { ...(traceparent ? { traceparent } : {}), ...(traceparent && tracestate ? { tracestate } : {}) };
}

/** Runs `work` in a new span, child of `parent` (default: the active context); ends it with the outcome. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), () => work(span));
    span.setStatus({ code: SpanStatusCode.UNSET });
    return result;
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks a span failed with the error's code (never its payload: errors may quote personal data). */
export function failSpan(span: Span, error: unknown): void {
  const code = (error as { code?: unknown })?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : error instanceof Error ? error.name : 'error' });
  if (typeof code === 'string') span.setAttribute('error.type', code);
}

// What a job without a stored trace runs in when no span is recorded: the empty context with the
// API's invalid (non-recording) span, exactly what starting a span under ROOT_CONTEXT gives then.
const UNTRACED_JOB = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(INVALID_SPAN_CONTEXT));

/**
 * Runs `work` (a worker's claiming and dispatch) in the context an untraced job runs in, so that
 * such jobs need no context frame of their own while nothing records spans.
 */
export function asJobRunner<T>(work: () => T): T {
  return context.with(UNTRACED_JOB, work);
}

/** A job run: continues the trace stored with the job, and is counted by outcome. */
export async function inJobSpan<T>(job: { type: string; id: string; attempt: number; lane: string; target: string | null; trace: TraceCarrier }, work: () => Promise<T>): Promise<T> {
  try {
    const result = await (provider ? recordedJobRun(job, work) : unrecordedJobRun(job.trace, work));
    metrics.observeJobRun(job.type, 'succeeded');
    return result;
  } catch (error) {
    metrics.observeJobRun(job.type, 'failed');
    throw error;
  }
}

function recordedJobRun<T>(job: { type: string; id: string; attempt: number; lane: string; target: string | null; trace: TraceCarrier }, work: () => Promise<T>): Promise<T> {
  return inSpan(
    `job ${job.type}`,
    {
      kind: SpanKind.CONSUMER,
      parent: contextOf(job.trace),
      attributes: { 'syncline.job.id': job.id, 'syncline.job.type': job.type, 'syncline.job.attempt': job.attempt, 'syncline.job.lane': job.lane, ...(job.target ? { 'syncline.job.target': job.target } : {}) },
    },
    () => work(),
  );
}

/**
 * A job run while nothing records spans: the span would be the API's non-recording one, carrying
 * its parent's span context (the stored trace's, else the invalid one) and nothing else, so the
 * job runs in that context directly, without a span object, and without a context frame of its
 * own when the worker already runs in it (`asJobRunner`).
 */
function unrecordedJobRun<T>(carrier: TraceCarrier, work: () => Promise<T>): Promise<T> {
  if (carrier.traceparent) {
    const parent = contextOf(carrier);
    // A traceparent that does not parse gives no span context: the job runs untraced, as under a span.
    if (trace.getSpan(parent)) return context.with(parent, work);
  }
  return context.active() === UNTRACED_JOB ? work() : context.with(UNTRACED_JOB, work);
}

/** Runs `work` in the stored trace context, without a span of its own (a job's failure hooks write events there). */
export function withTrace<T>(carrier: TraceCarrier, work: () => Promise<T>): Promise<T> {
  return context.with(contextOf(carrier), work);
}

/** A flow step (forward or compensation), inside its job's span. */
export function inStepSpan<T>(flow: string, step: { id: string; system: string }, work: () => Promise<T>): Promise<T> {
  return inSpan(`${flow} ${step.id}`, { attributes: { 'syncline.flow': flow, 'syncline.flow.step': step.id, 'syncline.system': step.system } }, () => work());
}

/**
 * An outbound HTTP call to an external system: a client span whose context the propagator
 * writes into `headers` (traceparent, tracestate). `parent` is a caller's stored carrier,
 * used when the call runs outside any span.
 */
export function inClientSpan<T>(
  call: { system: string; method: string; path: string; url: string; parent?: TraceCarrier | undefined },
  headers: Record<string, string>,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const active = context.active();
  const parent = trace.getSpanContext(active) || !call.parent ? active : contextOf(call.parent);
  return inSpan(
    `${call.method} ${call.system}`,
    {
      kind: SpanKind.CLIENT,
      parent,
      attributes: { 'http.request.method': call.method, 'url.full': call.url.split('?')[0]!, 'syncline.system': call.system, 'peer.service': call.system },
    },
    (span) => {
      propagation.inject(context.active(), headers);
      return work(span);
    },
  );
}

export { SpanKind };
