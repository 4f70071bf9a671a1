import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { failSpan, recordingSpans } from './tracing.ts';
import { metrics } from './metrics.ts';

/**
 * The API's spans and request metrics (docs/adr/0022). Every request gets a server span that
 * continues an incoming `traceparent` (and `tracestate`) through the W3C propagator; the route
 * handler runs inside it, so the events, jobs and connector calls it causes join the trace.
 * While no span is recorded, a request without a traceparent gets no span (there is nothing to
 * continue), and costs only its metrics.
 * Hooks rather than an instrumentation package: no module loader hook is needed under ESM.
 */

const SPAN = Symbol('syncline.span');
const CONTEXT = Symbol('syncline.context');
const STARTED = Symbol('syncline.started');

type Traced = FastifyRequest & { [SPAN]?: Span; [CONTEXT]?: Context; [STARTED]?: bigint };

/** The route template of a request (`/v1/orders/:id`), or `unmatched`: never the raw URL, which may hold personal data. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions?.url ?? 'unmatched';
}

/** Adds the request span and metrics to every route registered after this call. */
export function registerRequestTelemetry(app: FastifyInstance): void {
  // Callback-style hooks: an async hook would cost a promise and a microtask turn per request.
  app.addHook('onRequest', (request: Traced, _reply, done) => {
    request[STARTED] = process.hrtime.bigint();
    // Nothing to record and no trace to continue: the span would be the API's invalid one, which
    // carries nothing to the events and jobs the request causes. The request runs without it.
    if (!recordingSpans() && request.headers.traceparent === undefined) {
      done();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = trace.getTracer('syncline').startSpan(
      `${request.method} ${routeOf(request)}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': routeOf(request), 'url.scheme': request.protocol } },
      parent,
    );
    request[SPAN] = span;
    request[CONTEXT] = trace.setSpan(parent, span);
    done();
  });
  // The handler runs in the request's context (body parsing may have left it).
  app.addHook('onRoute', (route) => {
    const handler = route.handler as (this: unknown, ...args: unknown[]) => unknown;
    route.handler = function (this: unknown, request: Traced, ...rest: unknown[]) {
      const active = request[CONTEXT];
      return active ? context.with(active, () => handler.call(this, request, ...rest)) : handler.call(this, request, ...rest);
    } as RouteHandlerMethod;
  });
  app.addHook('onError', (request: Traced, _reply, error, done) => {
    if (request[SPAN]) failSpan(request[SPAN], error);
    done();
  });
  app.addHook('onResponse', (request: Traced, reply, done) => {
    const span = request[SPAN];
    span?.setAttribute('http.response.status_code', reply.statusCode);
    span?.end();
    const started = request[STARTED];
    if (started !== undefined) metrics.observeRequest({
      method: request.method,
      route: routeOf(request),
      statusCode: reply.statusCode,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      clientId: request.principal?.clientId,
    });
    done();
  });
}
