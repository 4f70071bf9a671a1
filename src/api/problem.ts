import type { FastifyReply } from 'fastify';
import { SynclineError } from '../domain/errors.ts';

/**
 * RFC 9457 problem details. Every error response of the HTTP API goes through
 * here, so types, titles and statuses are defined once.
 */
/** Problem types are relative URIs; GET /problems/{type} describes each one. */
export const PROBLEM_BASE = '/problems/';

export const PROBLEMS = {
  'validation-failed': { status: 422, title: 'The request body is not valid' },
  'idempotency-key-missing': { status: 400, title: 'Idempotency-Key header is required' },
  'idempotency-key-invalid': { status: 400, title: 'Idempotency-Key header is not valid' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency-Key was already used with a different request' },
  'idempotency-key-in-flight': { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  'duplicate-order': { status: 409, title: 'This channel order was already submitted' },
  // Inventory
  'insufficient-stock': { status: 409, title: 'Not enough stock to reserve every line' },
  'location-code-taken': { status: 409, title: 'A location with this code already exists' },
  'movement-rejected': { status: 409, title: 'The movements cannot be applied to the current stock' },
  'reservation-not-active': { status: 409, title: 'The reservation is no longer active' },
  'not-held': { status: 409, title: 'The reservation does not hold what was to be consumed' },
  'snapshot-already-applied': { status: 409, title: 'This snapshot was already applied' },
  // Order lifecycle
  'order-shipped': { status: 409, title: 'The order has shipped; create a return instead' },
  'order-not-cancellable': { status: 409, title: 'The order can no longer be cancelled' },
  'order-not-on-hold': { status: 409, title: 'The order is not on hold' },
  'order-held-for-amendment': { status: 409, title: "The order waits for a decision on a channel's change" },
  'order-not-in-exception': { status: 409, title: 'The order has no open exception to retry' },
  'amendment-not-held': { status: 409, title: 'The change is not waiting for review any more' },
  'amendment-not-applicable': { status: 409, title: 'The change still cannot be applied' },
  'return-not-eligible': { status: 422, title: 'The return is not eligible' },
  // Customers
  'stewardship-decided': { status: 409, title: 'The stewardship pair was already decided' },
  'merge-already-undone': { status: 409, title: 'The merge was already undone' },
  'merge-not-undoable': { status: 409, title: 'The records of the merge have moved since; undo the later merge first' },
  'webhook-rejected': { status: 401, title: 'The webhook could not be verified' },
  'malformed-json': { status: 400, title: 'The request body is not well-formed JSON' },
  'json-too-deep': { status: 400, title: 'The request body is nested too deeply' },
  'invalid-path': { status: 400, title: 'The request path holds characters that are not allowed' },
  'secret-in-query': { status: 400, title: 'Credentials must not be sent in the query string' },
  'request-timeout': { status: 408, title: 'The request was not received in time' },
  'uri-too-long': { status: 414, title: 'The request URL is too long' },
  'header-fields-too-large': { status: 431, title: 'The request headers are too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'bad-request': { status: 400, title: 'Bad request' },
  'dead-letter-not-open': { status: 409, title: 'The dead letter was already replayed or discarded' },
  'console-user-exists': { status: 409, title: 'A console user with this e-mail address already exists' },
  'last-admin': { status: 409, title: 'The last admin who can sign in cannot lose the admin role' },
  'replay-preview-gone': { status: 409, title: 'The replay preview was used already or expired; preview again' },
  'invalid-query': { status: 400, title: 'The query parameters are not valid' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Insufficient scope' },
  'password-change-required': { status: 403, title: 'Choose your own password first: an admin set this one' },
  'csrf-token-invalid': { status: 403, title: 'The request lacks the console session\'s CSRF token or comes from another origin' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'service-unavailable': { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemType = keyof typeof PROBLEMS;

/** True for the names of PROBLEMS (own keys only: "constructor" is not a problem type). */
export function isProblemType(name: string): name is ProblemType {
  return Object.hasOwn(PROBLEMS, name);
}

/**
 * A problem lists at most this many errors, plus `errorCount` and `errorsTruncated`,
 * so an answer stays about as small as the request that caused it.
 */
export const MAX_LISTED_ERRORS = 50;

export interface FieldError {
  pointer: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  correlationId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** Thrown by route code to answer with a problem; caught by the error handler. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  readonly problemType: ProblemType;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(type: ProblemType, detail?: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(detail ?? PROBLEMS[type].title);
    this.problemType = type;
    this.extensions = extensions;
    this.headers = headers;
  }
}

/** A problem body; an `errors` list longer than MAX_LISTED_ERRORS is cut to it and counted. */
export function buildProblem(type: ProblemType, detail: string | undefined, extensions: Record<string, unknown> = {}): Problem {
  const { status, title } = PROBLEMS[type];
  const { errors } = extensions;
  const bounded =
    Array.isArray(errors) && errors.length > MAX_LISTED_ERRORS
      ? { errors: errors.slice(0, MAX_LISTED_ERRORS), errorCount: errors.length, errorsTruncated: true }
      : Array.isArray(errors)
        ? { errorCount: errors.length }
        : {};
  return { type: PROBLEM_BASE + type, title, status, ...(detail ? { detail } : {}), ...extensions, ...bounded };
}

/** Sends a problem+json response. */
export function sendProblem(
  reply: FastifyReply,
  type: ProblemType,
  detail?: string,
  extensions: Record<string, unknown> = {},
): FastifyReply {
  // The path only: a query string may hold what must not be echoed (a secret sent by mistake).
  const problem = buildProblem(type, detail, { instance: reply.request.url.split('?')[0], correlationId: reply.request.id, ...extensions });
  // The contract promises Retry-After on every 503: the condition is temporary by definition.
  if (problem.status === 503 && !reply.hasHeader('retry-after')) reply.header('Retry-After', '1');
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

/** Codes of a refused webhook whose sender sent a malformed delivery (400); every other `webhook.*` code is a refusal (401). */
const MALFORMED_WEBHOOK_CODES: ReadonlySet<string> = new Set(['webhook.body_invalid', 'webhook.payload_invalid', 'webhook.delivery_id_malformed']);

/** The problem for a `webhook.*` SynclineError an inbound connector threw; other errors are returned unchanged. */
export function webhookProblem(error: unknown): unknown {
  if (!(error instanceof SynclineError) || !error.code.startsWith('webhook.')) return error;
  return new ProblemError(MALFORMED_WEBHOOK_CODES.has(error.code) ? 'bad-request' : 'webhook-rejected', error.message, { code: error.code });
}
