import { z } from 'zod';
import type { FastifySchema, RouteOptions, onSendHookHandler } from 'fastify';
import type { Scope } from '../domain/clients/scopes.ts';
import { PROBLEMS, buildProblem, type ProblemType } from './problem.ts';

/**
 * The route kit: each route describes its operation next to its handler with
 * `schema: operation({...})`, and the OpenAPI document is generated from those
 * descriptions (src/api/openapi.ts), so a route cannot be served without
 * appearing in it.
 *
 * Glossary:
 * - spec: what a route declares (OperationSpec). It rides on the route's fastify
 *   `schema` under a symbol, so fastify compiles nothing from it: request
 *   validation stays with zod in the handler (parseBody/parseQuery) and
 *   responses are serialised as sent, never stripped.
 * - standard responses: added to every operation from its spec: 401/403 when it
 *   needs a scope, 429 and 503 always, and the problems its body, query and
 *   Idempotency-Key can cause.
 */

/** Tags group operations in the reference. Only tags used by an operation are published. */
export const API_TAGS = {
  Orders: 'Order intake, lookup, timeline, cancellation, holds and the lifecycle view.',
  Returns: 'Returns of shipped goods and the customer timeline.',
  Inventory: 'Stock movements, the ledger, availability, reservations, policies and reconciliation.',
  Locations: 'Warehouses, stores and 3PLs that hold stock.',
  Products: 'The product catalogue, synced from the ERP that owns the item master.',
  Customers: 'Customers across channels, loyalty, CRM and ERP: identity resolution and stewardship.',
  Events: 'The event feed: every committed event in commit order.',
  Subscriptions: 'Webhook subscriptions: events pushed to a URL, signed per Standard Webhooks; delivery logs and replays.',
  Operations: 'Queues, targets and dead letters, for operators.',
  Connections: 'Configured connections (syncline.yaml and SYNCLINE_*_URL): health, activity and targets; never secrets.',
  Admin: 'API clients, signing keys and the audit log (scope admin).',
  OAuth: 'Access tokens (OAuth 2.0 client credentials grant).',
  Webhooks: 'Signed deliveries from external systems.',
  Health: 'Liveness, readiness and problem type descriptions.',
} as const;
export type ApiTag = keyof typeof API_TAGS;

/** How a caller authenticates: an OAuth scope, or one of the non-token schemes. */
export type Auth = Scope | 'none' | 'client-credentials' | 'wms-signature' | 'channel-signature';

export interface HeaderSpec {
  description: string;
  schema?: Record<string, unknown>;
}

export interface ResponseSpec {
  description: string;
  /** Body schema; absent: no body. */
  schema?: z.ZodType;
  /** Example body (required for the main success response). */
  example?: unknown;
  /** Media type of the body (default: application/json). */
  mediaType?: string;
  headers?: Record<string, HeaderSpec>;
}

export interface OperationSpec {
  operationId: string;
  tags: [ApiTag, ...ApiTag[]];
  summary: string;
  description?: string;
  auth: Auth;
  /** Idempotency-Key header: required on creating POSTs, optional where the method is idempotent by nature. */
  idempotencyKey?: 'required' | 'optional';
  /** Path parameters: name to description. */
  params?: Record<string, string>;
  /** Query parameters, as the zod schema parseQuery checks them with. */
  query?: z.ZodType;
  /**
   * Request body, as the zod schema parseBody checks it with, and an example.
   * raw: the route reads the bytes itself (no malformed-json or validation-failed answers).
   */
  body?: { schema: z.ZodType; example: unknown; required?: boolean; mediaType?: string; raw?: boolean };
  /**
   * Responses other than problems, by status; the lowest 2xx is the main success response.
   * At a status where the operation may also answer a problem, the document lists both bodies.
   */
  responses: Record<number, ResponseSpec>;
  /** Problems this route answers beyond the standard ones, with what they mean here. */
  problems?: Partial<Record<ProblemType, string>>;
  /**
   * Deprecation (RFC 9745) and sunset (RFC 8594): the route answers with `Deprecation`
   * and `Sunset` headers and the document marks it deprecated. Dates are ISO 8601.
   */
  deprecated?: { since: string; sunset: string; link?: string };
}

const SPEC = Symbol('syncline.operation');

type KitSchema = FastifySchema & { [SPEC]?: OperationSpec };

const SECURITY: Record<Exclude<Auth, Scope>, Array<Record<string, string[]>>> = {
  none: [],
  // HTTP Basic, or client_id and client_secret in the form ({}: no header needed then).
  'client-credentials': [{ clientBasic: [] }, {}],
  'wms-signature': [{ wmsSignature: [] }],
  'channel-signature': [{ channelSignature: [] }],
};

/** The OpenAPI security requirement for an auth kind. */
function securityOf(auth: Auth): Array<Record<string, string[]>> {
  return auth in SECURITY ? SECURITY[auth as keyof typeof SECURITY] : [{ oauth2: [auth] }];
}

/** The fastify `schema` option of a route: operation metadata fastify ignores and the document reads. */
export function operation(spec: OperationSpec): FastifySchema {
  const schema: KitSchema = {
    operationId: spec.operationId,
    tags: spec.tags,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: securityOf(spec.auth),
    ...(spec.deprecated ? { deprecated: true } : {}),
  };
  schema[SPEC] = spec;
  return schema;
}

/** The spec a route declared with operation(), if it did. */
export function specOf(schema: FastifySchema | undefined): OperationSpec | undefined {
  return (schema as KitSchema | undefined)?.[SPEC];
}

// ---------------------------------------------------------------------------
// Deprecation headers
// ---------------------------------------------------------------------------

function isoSeconds(date: string, what: string, url: string): number {
  const ms = Date.parse(date);
  if (Number.isNaN(ms)) throw new Error(`${url}: deprecated.${what} "${date}" is not an ISO 8601 date`);
  return ms;
}

/**
 * onRoute hook: a route whose operation is deprecated answers every request with
 * `Deprecation: @<unix seconds>` (RFC 9745) and `Sunset: <HTTP-date>` (RFC 8594),
 * plus `Link: <…>; rel="deprecation"` when the spec names a page.
 */
export function deprecationHeaders(route: RouteOptions): void {
  const schema = route.schema as KitSchema | undefined;
  if (!schema?.deprecated) return;
  const deprecation = schema[SPEC]?.deprecated;
  if (!deprecation) throw new Error(`${route.method} ${route.url} is deprecated but names no since and sunset dates: use operation({ deprecated })`);
  const since = isoSeconds(deprecation.since, 'since', route.url);
  const sunset = isoSeconds(deprecation.sunset, 'sunset', route.url);
  const headers: Record<string, string> = { Deprecation: `@${Math.floor(since / 1000)}`, Sunset: new Date(sunset).toUTCString() };
  if (deprecation.link) headers.Link = `<${deprecation.link}>; rel="deprecation"`;
  const addHeaders: onSendHookHandler = async (_request, reply, payload) => {
    reply.headers(headers);
    return payload;
  };
  const existing = route.onSend ? (Array.isArray(route.onSend) ? route.onSend : [route.onSend]) : [];
  route.onSend = [...existing, addHeaders];
}

// ---------------------------------------------------------------------------
// From a route to what @fastify/swagger reads
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Collects the named schemas (zod `.meta({ id })`) that converted schemas refer to. */
export type Components = Map<string, Json>;

const COMPONENTS = '#/components/schemas/';
const BODY = 'x-syncline-body';

/** JSON Schema (2020-12, as OpenAPI 3.1 uses it) of a zod schema; named sub-schemas become components. */
export function jsonSchemaOf(schema: z.ZodType, components: Components): Json {
  const converted = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const relink = (value: unknown): Json => JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as Json;
  const { $schema: _schema, $defs, ...root } = converted;
  for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, unknown>)) {
    const linked = relink(definition);
    const known = components.get(id);
    // Two different schemas under one id would silently replace each other in the document.
    if (known && JSON.stringify(known) !== JSON.stringify(linked)) throw new Error(`two different schemas are named ${id} (zod .meta({ id }))`);
    components.set(id, linked);
  }
  return relink(root);
}

/** The Problem schema every problem+json response refers to. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({ description: 'A relative URI; GET it for the title and status.', example: '/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    correlationId: z.string().optional(),
    errors: z
      .array(
        z.object({
          pointer: z.string().optional().meta({ description: 'RFC 6901 pointer into the body.', example: '/lines/0/quantity' }),
          parameter: z.string().optional().meta({ description: 'invalid-query: the query parameter.' }),
          detail: z.string(),
        }),
      )
      .optional()
      .meta({ description: 'One entry per failing field or parameter, at most 50 of them.' }),
    errorCount: z.number().int().optional().meta({ description: 'How many fields or parameters failed, listed or not.' }),
    errorsTruncated: z.boolean().optional().meta({ description: 'true when `errors` lists only the first 50.' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; extension members depend on the type.' });

const RATE_HEADERS: Record<string, HeaderSpec> = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Policy': {
    description:
      'The quota of this client (draft-ietf-httpapi-ratelimit-headers): policy "default" (the deployment default) or "client" (its own limit), q requests per window of w seconds. Sent on every answer to a bearer token.',
    schema: { type: 'string', examples: ['"default";q=100;w=60'] },
  },
  RateLimit: {
    description: 'What is left of the quota (draft-ietf-httpapi-ratelimit-headers): r requests remain, the window resets in t seconds. Sent on every answer to a bearer token.',
    schema: { type: 'string', examples: ['"default";r=0;t=45'] },
  },
};

const EXAMPLE_DETAILS: Partial<Record<ProblemType, Json>> = {
  'validation-failed': { detail: '1 field(s) failed validation.', errors: [{ pointer: '/lines/0/quantity', detail: 'must be greater than zero' }] },
  'invalid-query': { detail: 'limit must be at most 200', errors: [{ parameter: 'limit', detail: 'must be at most 200' }] },
};

function problemResponse(problems: Array<[ProblemType, string]>, headers: Record<string, HeaderSpec>): Json {
  const examples = Object.fromEntries(
    problems.map(([type, note]) => {
      const { detail, ...extensions } = EXAMPLE_DETAILS[type] ?? {};
      return [type, { summary: PROBLEMS[type].title, value: buildProblem(type, (detail as string | undefined) ?? note, extensions) }];
    }),
  );
  return {
    description: problems.map(([type, note]) => `${type}: ${note}`).join(' '),
    content: { 'application/problem+json': { schema: { $ref: `${COMPONENTS}Problem` }, examples } },
    ...(Object.keys(headers).length > 0 ? { headers: headerSchemas(headers) } : {}),
  };
}

function headerSchemas(headers: Record<string, HeaderSpec>): Json {
  return Object.fromEntries(Object.entries(headers).map(([name, h]) => [name, { type: 'string', ...h.schema, description: h.description }]));
}

/** The problems an operation can answer with, by status, each with what it means there. */
function problemsOf(spec: OperationSpec | undefined, security: unknown): Map<number, Array<[ProblemType, string]>> {
  const found = new Map<number, Array<[ProblemType, string]>>();
  const add = (type: ProblemType, note: string) => {
    const status = PROBLEMS[type].status;
    const list = found.get(status) ?? [];
    const at = list.findIndex(([t]) => t === type);
    if (at >= 0) list[at] = [type, note];
    else list.push([type, note]);
    found.set(status, list);
  };
  const oauth = Array.isArray(security) && security.some((s) => s && typeof s === 'object' && 'oauth2' in s);
  if (oauth) {
    add('unauthorized', 'No access token, or it was refused (see WWW-Authenticate).');
    add('forbidden', 'The token lacks the scope this operation needs.');
  }
  if (spec?.body) {
    add('payload-too-large', 'The body is larger than the configured limit.');
    const json = (spec.body.mediaType ?? 'application/json') === 'application/json';
    if (json) add('unsupported-media-type', 'The body is not application/json.');
    if (json && !spec.body.raw) {
      add('malformed-json', 'The body is not well-formed JSON.');
      add('validation-failed', 'errors names each failing field.');
    }
  }
  if (spec?.query) add('invalid-query', 'errors names each failing parameter.');
  if (spec?.idempotencyKey) {
    if (spec.idempotencyKey === 'required') add('idempotency-key-missing', 'Send an Idempotency-Key header.');
    add('idempotency-key-invalid', 'The Idempotency-Key is not 1-255 printable ASCII characters.');
    add('idempotency-key-in-flight', 'The first request with this key has not finished; retry after Retry-After.');
    add('idempotency-key-reused', 'The key was used with a different request.');
  }
  for (const [type, note] of Object.entries(spec?.problems ?? {}) as Array<[ProblemType, string]>) add(type, note);
  add('rate-limited', 'Too many requests from this client; retry after Retry-After.');
  add('service-unavailable', 'Shutting down, or a dependency is unavailable; retry after Retry-After.');
  return found;
}

const STANDARD_HEADERS: Partial<Record<number, Record<string, HeaderSpec>>> = {
  429: RATE_HEADERS,
  503: { 'Retry-After': RATE_HEADERS['Retry-After']! },
  409: { 'Retry-After': { description: 'idempotency-key-in-flight: seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } } },
};

function responseOf(response: ResponseSpec, components: Components, deprecation: Record<string, HeaderSpec> | undefined): Json {
  const headers = { ...response.headers, ...deprecation };
  return {
    description: response.description,
    ...(response.schema
      ? {
          content: {
            [response.mediaType ?? 'application/json']: {
              schema: jsonSchemaOf(response.schema, components),
              ...(response.example !== undefined ? { example: response.example } : {}),
            },
          },
        }
      : { type: 'null' }),
    ...(Object.keys(headers).length > 0 ? { headers: headerSchemas(headers) } : {}),
  };
}

/** The request headers every operation reads, and Idempotency-Key where the spec asks for it. */
function requestHeaders(idempotencyKey: OperationSpec['idempotencyKey']): Json {
  const properties: Json = {
    'X-Correlation-Id': {
      type: 'string',
      pattern: '^[A-Za-z0-9._:@/+=-]{1,128}$',
      description: 'Returned on the response and kept on what the request causes; generated when absent or not valid.',
    },
    traceparent: { type: 'string', description: 'W3C trace context; its trace id becomes the correlation id when X-Correlation-Id is absent.' },
  };
  if (idempotencyKey) {
    properties['Idempotency-Key'] = {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description:
        idempotencyKey === 'required'
          ? 'Unique per request; resend the same key to retry safely (the first answer is replayed with Idempotent-Replayed: true).'
          : 'Optional: the method is idempotent by nature; a key makes retries replay the first answer.',
    };
  }
  return { type: 'object', properties, ...(idempotencyKey === 'required' ? { required: ['Idempotency-Key'] } : {}) };
}

/**
 * What @fastify/swagger reads for one route: the spec's parameters, body and
 * responses as JSON Schema, plus the standard responses. A route without a spec
 * (declared with plain metadata fields) keeps them and gets the standard responses.
 */
export function swaggerSchemaOf(schema: FastifySchema | undefined, components: Components): FastifySchema {
  const base = { ...(schema ?? {}) } as KitSchema & Json;
  const spec = base[SPEC];
  if (base.hide) return base;
  const responses: Json = {};
  const deprecation = spec?.deprecated
    ? {
        Deprecation: { description: `RFC 9745: deprecated since ${spec.deprecated.since}.`, schema: { type: 'string', examples: ['@1767225600'] } },
        Sunset: { description: `RFC 8594: removed after ${spec.deprecated.sunset}.`, schema: { type: 'string', examples: ['Wed, 30 Jun 2027 00:00:00 GMT'] } },
      }
    : undefined;
  if (spec) {
    if (spec.params) {
      base.params = {
        type: 'object',
        properties: Object.fromEntries(Object.entries(spec.params).map(([name, description]) => [name, { type: 'string', description }])),
        required: Object.keys(spec.params),
      };
    }
    if (spec.query) base.querystring = jsonSchemaOf(spec.query, components);
    base.headers = requestHeaders(spec.idempotencyKey);
    if (spec.body) {
      base.body = jsonSchemaOf(spec.body.schema, components);
      if (spec.body.mediaType) base.consumes = [spec.body.mediaType];
      // @fastify/swagger marks every body required and drops an example beside a $ref: finishOperations sets both.
      base[BODY] = { required: spec.body.required ?? true, example: spec.body.example };
    }
    for (const [status, response] of Object.entries(spec.responses)) responses[status] = responseOf(response, components, deprecation);
    if (spec.deprecated) {
      base.description = `${base.description ? base.description + '\n\n' : ''}**Deprecated** since ${spec.deprecated.since}; removed after ${spec.deprecated.sunset}.`;
    }
  }
  for (const [status, problems] of problemsOf(spec, base.security)) {
    const problem = problemResponse(problems, { ...STANDARD_HEADERS[status], ...deprecation });
    const own = responses[status] as Json | undefined;
    // A status the route answers both ways (the OAuth endpoints' RFC 6749 errors beside the problems every operation may answer) documents both media types.
    const headers = { ...(problem.headers as Json | undefined), ...(own?.headers as Json | undefined) };
    responses[status] = own
      ? {
          description: `${own.description as string} ${problem.description as string}`,
          content: { ...(problem.content as Json), ...(own.content as Json | undefined) },
          ...(Object.keys(headers).length > 0 ? { headers } : {}),
        }
      : problem;
  }
  base.response = responses;
  delete base[SPEC];
  return base;
}

/** Last touches on the generated document that @fastify/swagger cannot express: optional request bodies and their examples. */
export function finishOperations(paths: Record<string, Record<string, unknown> | undefined>): void {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item ?? {}) as Array<Json & { requestBody?: { required?: boolean; content?: Record<string, Json> } }>) {
      if (!op || typeof op !== 'object' || !(BODY in op)) continue;
      const body = op[BODY] as { required: boolean; example: unknown };
      if (op.requestBody) {
        op.requestBody.required = body.required;
        for (const media of Object.values(op.requestBody.content ?? {})) media.example = body.example;
      }
      delete op[BODY];
    }
  }
}
