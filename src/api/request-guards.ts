import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { markStorable, unstorableReason } from '../model/text.ts';
import { buildProblem, ProblemError, sendProblem, type ProblemType } from './problem.ts';

/**
 * Guards every request passes before a route sees it: URL length, secrets in the
 * query string, characters the database cannot store in path and query, JSON
 * nesting depth, and problem+json answers for unknown routes, wrong methods and
 * malformed or slow HTTP (which Node answers before Fastify sees a request).
 */

/** Deepest JSON nesting accepted (objects and arrays); deeper bodies get 400 json-too-deep. */
export const MAX_JSON_DEPTH = 64;

/** Query parameters that carry credentials: refused, because URLs end up in logs and proxies. */
const SECRET_PARAMETERS = new Set(['client_secret', 'client_assertion', 'access_token', 'refresh_token', 'password', 'secret', 'api_key']);

/** True when a JSON text nests objects and arrays deeper than limit (a linear scan; strings are skipped). */
export function jsonNestsDeeperThan(text: string, limit: number): boolean {
  return scanJson(text, limit).tooDeep;
}

/**
 * One linear pass over a JSON text: whether it nests objects and arrays deeper than limit, and
 * whether any string holds a \u escape of NUL or of a surrogate. Only such an escape can give
 * the parsed value text PostgreSQL cannot store: JSON.parse refuses raw control characters, and
 * a body decoded from UTF-8 holds no unpaired surrogate of its own.
 */
export function scanJson(text: string, limit: number): { tooDeep: boolean; unstorableEscape: boolean } {
  let depth = 0;
  let inString = false;
  let unstorableEscape = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        // A backslash: \u0000 or \uD800-\uDFFF is noted; the escaped character is skipped.
        if (text.charCodeAt(i + 1) === 0x75 && !unstorableEscape) unstorableEscape = isUnstorableEscape(text, i + 2);
        i++;
      } else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return { tooDeep: true, unstorableEscape };
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return { tooDeep: false, unstorableEscape };
}

/** Whether the four hex digits at `at` are 0000 or a surrogate (D800-DFFF). */
function isUnstorableEscape(text: string, at: number): boolean {
  const hex = text.slice(at, at + 4).toLowerCase();
  return hex === '0000' || (hex[0] === 'd' && '89abcdef'.includes(hex[1] ?? ''));
}

/** The methods served for each route pattern, matched against concrete paths for 405 answers. */
export class RouteTable {
  readonly #routes: { url: string; pattern: RegExp; methods: Set<string> }[] = [];

  /** Records a route (call from an onRoute hook). */
  add(route: Pick<RouteOptions, 'method' | 'url'>): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let entry = this.#routes.find((r) => r.url === route.url);
    if (!entry) {
      const source = route.url
        .replace(/\/+$/, '')
        .split('/')
        .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { url: route.url, pattern: new RegExp(`^${source}/?$`), methods: new Set() };
      this.#routes.push(entry);
    }
    for (const method of methods) entry.methods.add(method.toUpperCase());
  }

  /** Every route pattern with its methods, in registration order. */
  list(): { url: string; methods: string[] }[] {
    return this.#routes.map((r) => ({ url: r.url, methods: [...r.methods] }));
  }

  /** The methods some route serves at this concrete path (none: the path is unknown). */
  methodsAt(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.#routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The routes this server serves (filled by an onRoute hook as routes register). */
    routeTable: RouteTable;
  }
}

/** Registers the guards on the root instance; call before any route is registered. */
export function registerRequestGuards(app: FastifyInstance, options: { maxUrlBytes: number }): void {
  const table = new RouteTable();
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => table.add(route));

  // Replaces Fastify's JSON parser with the same parser behind a depth check: a deeply
  // nested body would otherwise overflow the stack of whatever walks it next
  // (the idempotency fingerprint did).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // The same pass notes whether the body can hold text PostgreSQL cannot store: when it cannot,
  // the parsed body is marked so, and validation does not walk it again (findUnstorableText).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const scan = typeof body === 'string' ? scanJson(body, MAX_JSON_DEPTH) : undefined;
    if (scan?.tooDeep) {
      done(new ProblemError('json-too-deep', `The body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`), undefined);
      return;
    }
    parseJson(request, body as string, (error: Error | null, parsed?: unknown) => {
      if (!error && scan && !scan.unstorableEscape) markStorable(parsed);
      done(error, parsed);
    });
  });

  // Callback-style hooks (no promise per request); one that answers does not call done().
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.raw.url ?? '';
    if (Buffer.byteLength(url) > options.maxUrlBytes) {
      sendProblem(reply, 'uri-too-long', `The URL exceeds ${options.maxUrlBytes} bytes.`, { instance: undefined });
      return;
    }
    const query = url.indexOf('?');
    if (query >= 0) {
      const names = [...new URLSearchParams(url.slice(query + 1)).keys()].filter((name) => SECRET_PARAMETERS.has(name.toLowerCase()));
      if (names.length > 0) {
        sendProblem(reply, 'secret-in-query', `Send ${names.join(', ')} in the request body or the Authorization header, never in the URL; rotate the secret if it was real.`);
        return;
      }
    }
    done();
  });

  // After routing, before authentication: path and query values reach SQL as text.
  app.addHook('preValidation', (request, reply, done) => {
    for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
      const reason = typeof value === 'string' ? unstorableReason(value) : undefined;
      if (reason) {
        sendProblem(reply, 'invalid-path', `The path segment ${name} ${reason}.`, { parameter: name });
        return;
      }
    }
    for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
      const values = Array.isArray(value) ? value : [value];
      const reason = unstorableReason(name) ?? values.map((v) => (typeof v === 'string' ? unstorableReason(v) : undefined)).find(Boolean);
      if (reason) {
        sendProblem(reply, 'invalid-query', `The query parameter ${name} ${reason}.`, { errors: [{ parameter: name, detail: reason }] });
        return;
      }
    }
    done();
  });
}

/** Not found: 405 with Allow when the path exists for other methods, else 404. */
export function answerNoRoute(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0]!;
  const allowed = app.routeTable.methodsAt(path);
  if (allowed.length > 0) {
    reply.header('Allow', allowed.join(', '));
    return sendProblem(reply, 'method-not-allowed', `${request.method} is not served at this path; use ${allowed.join(', ')}.`, { allowed });
  }
  return sendProblem(reply, 'not-found', `No route for ${request.method} ${path}.`);
}

/** Errors Fastify's router raises before a route runs (undecodable or over-long path segments). */
export function answerFrameworkError(error: { code?: string; message: string }, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = (request.url ?? '').split('?')[0]!;
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendProblem(reply, 'uri-too-long', 'A path segment is longer than 512 characters.', { instance: shown });
  }
  if (error.code === 'FST_ERR_BAD_URL') return sendProblem(reply, 'invalid-path', 'The path is not valid percent-encoded UTF-8.', { instance: shown });
  return sendProblem(reply, 'bad-request', 'The request could not be routed.', { instance: shown });
}

/**
 * Answers HTTP errors Node detects before any request exists (malformed requests,
 * headers too large, slow clients) with problem+json, then closes the connection.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket, maxUrlBytes: number): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let type: ProblemType = 'bad-request';
  let detail = 'The request is not valid HTTP/1.1.';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    type = 'request-timeout';
    detail = 'The request headers or body were not received in time.';
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    // The request line is the first line; when it alone is too long, the URL is at fault.
    const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : Buffer.alloc(0);
    const lineEnd = packet.indexOf('\r\n');
    const tooLongUrl = lineEnd < 0 || lineEnd > maxUrlBytes;
    type = tooLongUrl ? 'uri-too-long' : 'header-fields-too-large';
    detail = tooLongUrl ? `The URL exceeds ${maxUrlBytes} bytes.` : 'The request headers exceed the size this server accepts.';
  }
  const problem = JSON.stringify(buildProblem(type, detail));
  if (socket.writable) {
    const status = buildProblem(type, undefined).status;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(problem)}\r\nConnection: close\r\n\r\n${problem}`,
    );
  }
  socket.destroy();
}
