import { SynclineError, type RetryClass } from '../../domain/errors.ts';

/**
 * Classifying what a target answered. Every failure a handler throws ends up as a
 * SynclineError with a retry class; these helpers make that mapping the same for
 * every connector.
 */

/** A redacted excerpt of the last exchange with a target, kept on dead letters. */
export interface ExchangeExcerpt {
  request?: { method?: string; url?: string; headers?: Record<string, string>; body?: string };
  response?: { status?: number; headers?: Record<string, string>; body?: string };
}

/** A failure talking to a target. `retryAt` is set for throttled answers. */
export class TargetError extends SynclineError {
  override name = 'TargetError';
  readonly target: string | undefined;
  readonly retryAt: Date | undefined;
  readonly excerpt: ExchangeExcerpt | undefined;
  readonly remediation: string | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      retry: RetryClass;
      target?: string | undefined;
      retryAt?: Date | undefined;
      excerpt?: ExchangeExcerpt | undefined;
      remediation?: string | undefined;
      cause?: unknown;
      details?: Record<string, unknown>;
    },
  ) {
    super(code, message, { retry: options.retry, cause: options.cause, ...(options.details ? { details: options.details } : {}) });
    this.target = options.target;
    this.retryAt = options.retryAt;
    this.excerpt = options.excerpt;
    this.remediation = options.remediation;
  }
}

/**
 * The retry class of an HTTP status: 429 and 503-with-Retry-After are throttled; 408, 409,
 * 5xx are transient; any other 4xx is permanent (the same request will fail again).
 */
export function classifyHttpStatus(status: number, hasRetryAfter = false): RetryClass {
  if (status === 429) return 'throttled';
  if (status === 503 && hasRetryAfter) return 'throttled';
  if (status === 408 || status === 409 || status === 425) return 'transient';
  if (status >= 500) return 'transient';
  if (status >= 400) return 'permanent';
  return 'transient';
}

/**
 * Parses a Retry-After header (delta seconds or an HTTP date) or a rate-limit reset
 * (epoch seconds) into an absolute time; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): Date | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Large numbers are epoch seconds (X-RateLimit-Reset style), small ones a delay.
    return n > 1_000_000_000 ? new Date(n * 1000) : new Date(now + n * 1000);
  }
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : new Date(Math.max(date, now));
}

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|x-shopify-access-token|x-.*-(token|secret|signature|hmac.*))$/i;
const SECRET_FIELD = /("(?:[a-z_]*password|[a-z_]*secret|[a-z_]*token|api_?key|authorization|card_?number|cvv|iban)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)/gi;
const MAX_BODY = 2048;

/** Redacts credentials in headers and JSON-ish bodies, and truncates bodies. */
export function redactExcerpt(excerpt: ExchangeExcerpt): ExchangeExcerpt {
  const headers = (h: Record<string, string> | undefined) =>
    h && Object.fromEntries(Object.entries(h).map(([k, v]) => [k, SECRET_HEADER.test(k) ? '[redacted]' : v]));
  const body = (b: string | undefined) => {
    if (b === undefined) return undefined;
    const redacted = b.replace(SECRET_FIELD, '$1"[redacted]"');
    return redacted.length > MAX_BODY ? `${redacted.slice(0, MAX_BODY)}… (${redacted.length - MAX_BODY} more characters)` : redacted;
  };
  const url = (u: string | undefined) => u?.replace(/([?&](?:access_token|token|api_key|key|secret|signature)=)[^&]*/gi, '$1[redacted]');
  return {
    ...(excerpt.request
      ? { request: { ...excerpt.request, url: url(excerpt.request.url), headers: headers(excerpt.request.headers), body: body(excerpt.request.body) } }
      : {}),
    ...(excerpt.response ? { response: { ...excerpt.response, headers: headers(excerpt.response.headers), body: body(excerpt.response.body) } } : {}),
  };
}

/**
 * Turns a fetch Response that was not OK into a TargetError with the right class,
 * the Retry-After time and a redacted excerpt. Reads the body.
 */
export async function targetErrorFromResponse(
  target: string,
  response: Response,
  request?: { method?: string; url?: string; headers?: Record<string, string>; body?: string },
): Promise<TargetError> {
  const retryAfter = parseRetryAfter(response.headers.get('retry-after') ?? response.headers.get('x-ratelimit-reset'));
  const retry = classifyHttpStatus(response.status, retryAfter !== undefined);
  const body = await response.text().catch(() => '');
  const excerpt = redactExcerpt({
    ...(request ? { request } : {}),
    response: { status: response.status, headers: Object.fromEntries(response.headers), body },
  });
  return new TargetError(`TARGET_HTTP_${response.status}`, `${target} answered ${response.status} ${response.statusText}`.trim(), {
    retry,
    target,
    retryAt: retryAfter,
    excerpt,
    remediation:
      retry === 'permanent'
        ? `${target} refused the request as invalid; correct the data or the mapping, then replay.`
        : undefined,
  });
}
