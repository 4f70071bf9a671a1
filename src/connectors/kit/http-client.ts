import type { TargetCaller } from '../../runtime/runtime.ts';
import { inClientSpan } from '../../observability/tracing.ts';
import { classifyHttpStatus, parseRetryAfter, redactExcerpt, TargetError } from '../../runtime/targets/target-errors.ts';

/**
 * The one way connectors call out over HTTP. It sends each call in a client span whose W3C
 * trace context (traceparent, tracestate) the OpenTelemetry propagator adds, with the
 * correlation id, bounds every call with a timeout, and turns every failure into a
 * TargetError (a SynclineError) whose retry class tells the runtime what to do, by the
 * runtime's one mapping (src/runtime/targets/target-errors.ts):
 *
 *   transient  network error, timeout, 5xx, 408, 409, 425   retry with backoff (counts toward the circuit breaker)
 *   throttled  429, and 503 with Retry-After                 retry at `retryAt` (also in details.retryAfterMs)
 *   permanent  any other 4xx                                 do not retry; an operator or a code change must act
 */

/** Who is calling and why: carried to the external system as headers. */
export interface CallContext {
  /** Sent as X-Correlation-Id so the external system's logs can be joined with ours. */
  correlationId?: string;
  /**
   * The caller's stored W3C traceparent, for a call made outside any span; the call is a child
   * span of it. Inside a span (a request, a job) the active trace context is used.
   */
  traceparent?: string;
  /** Aborts the call early (for example when a worker shuts down). */
  signal?: AbortSignal;
  /**
   * The runtime's gate for this system (HandlerContext.target(name)): every HTTP request
   * the connector sends waits for its rate limit, concurrency slot and circuit breaker,
   * so a connector call that takes several requests (a Tryton posting takes about eight)
   * still never exceeds the system's quota.
   */
  target?: TargetCaller;
}

export interface HttpClientOptions {
  /** Name of the external system, used in error codes' details and logs (e.g. "tryton"). */
  system: string;
  baseUrl: string;
  /** Per-call timeout (default: 10000 ms). */
  timeoutMs?: number;
  /** Headers sent on every call (credentials, user agent). */
  headers?: Record<string, string>;
  /** Parses a JSON body (default: JSON.parse); Tryton's client revives its tagged Decimals here. */
  parseJson?: (text: string) => unknown;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** An object is sent as JSON; a URLSearchParams as a form; a string as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** HTTP statuses (besides 2xx) the caller handles itself instead of getting an error. */
  accept?: number[];
  timeoutMs?: number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text (empty string for no body). */
  body: T;
  durationMs: number;
}

/** A short excerpt of a body for error details (never a whole page). */
function excerpt(body: unknown): unknown {
  if (typeof body === 'string') return body.length > 500 ? `${body.slice(0, 500)}…` : body;
  return body;
}

const CODE_BY_CLASS = { throttled: 'connector.throttled', transient: 'connector.unavailable', permanent: 'connector.rejected' } as const;

/**
 * The error for an HTTP status that is not a success, classified by the runtime's one
 * mapping (classifyHttpStatus), carrying the Retry-After time both as `retryAt` (read by
 * the retry policy) and as `details.retryAfterMs`. Exported so that connectors whose
 * protocol reports errors inside a 200 (JSON-RPC) build theirs alike.
 */
export function errorForStatus(
  system: string,
  status: number,
  context: { method: string; path: string; body?: unknown; retryAfter?: string | null; now?: number },
): TargetError {
  const now = context.now ?? Date.now();
  const retryAt = parseRetryAfter(context.retryAfter, now);
  const retry = classifyHttpStatus(status, retryAt !== undefined);
  const details: Record<string, unknown> = { system, status, method: context.method, path: context.path };
  if (context.body !== undefined && context.body !== '') details.body = excerpt(context.body);
  if (retryAt) details.retryAfterMs = retryAt.getTime() - now;
  const code = status === 401 || status === 403 ? 'connector.unauthorized' : CODE_BY_CLASS[retry];
  const verb = retry === 'throttled' ? 'throttled' : retry === 'transient' ? 'failed' : 'rejected';
  const body = typeof context.body === 'string' ? context.body : context.body === undefined ? undefined : JSON.stringify(context.body);
  return new TargetError(code, `${system} ${verb} ${context.method} ${context.path} with ${status}`, {
    retry,
    target: system,
    retryAt,
    details,
    excerpt: redactExcerpt({ request: { method: context.method, url: context.path }, response: { status, ...(body === undefined ? {} : { body }) } }),
    remediation: retry === 'permanent' ? `${system} refused the request (${status}); correct the data, mapping or credentials it names, then replay.` : undefined,
  });
}

/** The error for a call that never got a response: refused, reset, DNS, timeout (all transient). */
export function errorForNetworkFailure(system: string, error: unknown, context: { method: string; path: string; timeoutMs: number }): TargetError {
  const details: Record<string, unknown> = { system, method: context.method, path: context.path };
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError') {
    details.timeoutMs = context.timeoutMs;
    return new TargetError('connector.timeout', `${system} did not answer ${context.method} ${context.path} within ${context.timeoutMs} ms`, {
      retry: 'transient',
      target: system,
      details,
      cause: error,
    });
  }
  // undici reports ECONNREFUSED, ECONNRESET, ENOTFOUND ... as TypeError("fetch failed") with a cause.
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) details.networkCode = cause.code;
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new TargetError('connector.unreachable', `${system} unreachable for ${context.method} ${context.path}: ${reason}`, {
    retry: 'transient',
    target: system,
    details,
    cause: error,
  });
}

export interface HttpClient {
  readonly system: string;
  readonly baseUrl: string;
  /** Sends a request; resolves for 2xx (and `accept`ed statuses), throws a classified SynclineError otherwise. */
  request<T = unknown>(request: HttpRequest, context?: CallContext): Promise<HttpResponse<T>>;
}

/** A client for one external system. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const defaultTimeout = options.timeoutMs ?? 10_000;
  const parseJson = options.parseJson ?? ((text: string) => JSON.parse(text) as unknown);

  return {
    system: options.system,
    baseUrl,
    async request<T>(request: HttpRequest, context: CallContext = {}): Promise<HttpResponse<T>> {
      const timeoutMs = request.timeoutMs ?? defaultTimeout;
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers, ...request.headers };
      if (context.correlationId) headers['x-correlation-id'] = context.correlationId;
      let body: string | undefined;
      if (request.body instanceof URLSearchParams) {
        body = request.body.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else if (typeof request.body === 'string') {
        body = request.body;
      } else if (request.body !== undefined) {
        body = JSON.stringify(request.body);
        headers['content-type'] ??= 'application/json';
      }
      const send = async (granted?: AbortSignal): Promise<HttpResponse<T>> => {
        const timeout = AbortSignal.timeout(timeoutMs);
        const outer = [context.signal, granted].filter((s): s is AbortSignal => s !== undefined);
        const signal = outer.length ? AbortSignal.any([timeout, ...outer]) : timeout;
        const started = performance.now();
        let response: Response;
        let text: string;
        try {
          response = await fetch(`${baseUrl}${request.path}`, { method: request.method, headers, body, signal });
          text = await response.text();
        } catch (error) {
          // Cancelled by the caller (worker shutdown, the job's own deadline): not the system's fault.
          const cancelled = outer.find((s) => s.aborted);
          if (cancelled && !timeout.aborted) throw cancelled.reason;
          throw errorForNetworkFailure(options.system, error, { method: request.method, path: request.path, timeoutMs });
        }
        const durationMs = Math.round(performance.now() - started);
        let parsed: unknown = text;
        if (text !== '' && /\bjson\b/.test(response.headers.get('content-type') ?? '')) {
          try {
            parsed = parseJson(text);
          } catch {
            // A body that claims JSON but is not: keep the text so the error shows it.
          }
        }
        const ok = (response.status >= 200 && response.status < 300) || (request.accept ?? []).includes(response.status);
        if (!ok) {
          throw errorForStatus(options.system, response.status, {
            method: request.method,
            path: request.path,
            body: parsed,
            retryAfter: response.headers.get('retry-after'),
          });
        }
        return { status: response.status, headers: response.headers, body: parsed as T, durationMs };
      };
      // Each HTTP request, not each connector call, passes the runtime's rate limit and
      // breaker; thrown inside the gate, a failure status feeds the breaker.
      const call = { system: options.system, method: request.method, path: request.path, url: `${baseUrl}${request.path}`, parent: { traceparent: context.traceparent } };
      return inClientSpan(call, headers, () => (context.target ? context.target.call((granted) => send(granted)) : send()));
    },
  };
}
