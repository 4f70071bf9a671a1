import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Credentials and personal data are redacted at the
 * logger, so a careless log call cannot leak them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.client_secret',
  '*.clientSecret',
  '*.access_token',
  '*.password',
  '*.secret',
  '*.email',
  '*.phone',
  '*.customer',
  '*.shippingAddress',
  '*.billingAddress',
  // Customer records, golden records and consent proofs (docs/customers.md).
  '*.givenName',
  '*.familyName',
  '*.emails',
  '*.phones',
  '*.addresses',
  '*.golden',
  '*.proof',
];

/** A PostgreSQL error (it carries a five-character SQLSTATE and a severity). */
function isDatabaseError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((error as unknown as { code: string }).code) && 'severity' in error;
}

/**
 * Database errors carry row values: the statement's parameters, `detail` ("Key (email)=(ada@…)
 * already exists") and, for data exceptions (SQLSTATE classes 22 and 23), quoted values in
 * the message. Keep the code, table, column and constraint; drop or mask the values.
 */
function serializeError(error: Error): Record<string, unknown> {
  const { params: _params, query: _query, detail: _detail, where: _where, internalQuery: _internal, ...rest } = pino.stdSerializers.err(error) as Record<string, unknown>;
  let cause: unknown = error;
  for (let hops = 0; cause instanceof Error && hops < 5; hops++, cause = cause.cause) {
    if (isDatabaseError(cause) && /^2[23]/.test(cause.code)) {
      for (const field of ['message', 'stack'] as const) {
        if (typeof rest[field] === 'string') rest[field] = (rest[field] as string).replace(/"[^"\n]*"/g, '"[redacted]"');
      }
      break;
    }
  }
  return rest;
}

/** A path segment that looks like an e-mail address or a phone number. */
function looksPersonal(segment: string): boolean {
  let text = segment;
  try {
    text = decodeURIComponent(segment);
  } catch {
    // not percent-encoded text: judge it as sent
  }
  return text.includes('@') || (/^\+?[\d\s().-]+$/.test(text) && text.replace(/\D/g, '').length >= 7);
}

/** Longest URL written to a log line. */
const MAX_LOGGED_URL = 512;

/**
 * The URL as logged: query values are dropped (they can carry secrets and personal data),
 * path segments that look like an e-mail address or phone number are masked.
 */
export function loggableUrl(url: string): string {
  const at = url.indexOf('?');
  const path = (at < 0 ? url : url.slice(0, at))
    .split('/')
    .map((segment) => (looksPersonal(segment) ? '[redacted]' : segment))
    .join('/');
  const query = at < 0 ? '' : '?' + url.slice(at + 1).split('&').map((pair) => `${pair.split('=')[0]}=[redacted]`).join('&');
  const logged = path + query;
  return logged.length > MAX_LOGGED_URL ? `${logged.slice(0, MAX_LOGGED_URL)}…` : logged;
}

/** Requests are logged by method, URL (see loggableUrl) and route; never headers or body. */
function serializeRequest(request: { method?: string; url?: string; routeOptions?: { url?: string } }): Record<string, unknown> {
  return {
    method: request.method,
    url: typeof request.url === 'string' ? loggableUrl(request.url) : undefined,
    ...(request.routeOptions?.url ? { route: request.routeOptions.url } : {}),
  };
}

/** The process logger: JSON lines, secrets and personal data redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'syncline', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, req: serializeRequest },
    },
    destination,
  );
}
