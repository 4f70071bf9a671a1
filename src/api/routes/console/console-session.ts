import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { consoleActor } from '../../../domain/audit/audit.ts';
import { resumeSession, roleAllows, type ConsoleRole, type ConsoleSession } from '../../../domain/console-users/console-user.service.ts';
import type { Queryable } from '../../../store/database.ts';
import { ProblemError } from '../../problem.ts';

/**
 * The console's session cookie and its CSRF defence (ADR 0025).
 *
 * - The cookie holds an opaque token: HttpOnly (no script reads it), SameSite=Strict (no other
 *   site's page sends it), Path=/console, and Secure whenever the request came over TLS (directly
 *   or, with SYNCLINE_TRUST_PROXY, through a proxy that says so). On plain-http localhost it
 *   cannot be Secure: a browser would not send it back.
 * - State-changing requests must carry the session's CSRF token in X-CSRF-Token (synchronizer
 *   token, compared in constant time) and, when the browser sends Origin, come from this origin.
 */
export const SESSION_COOKIE = 'syncline_console';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in console user (set by requireConsole). */
    consoleSession?: ConsoleSession;
  }
}

/** The value of one cookie in the request's Cookie header, if present. */
export function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

const cookieAttributes = (request: FastifyRequest) => `Path=/console; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`;

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.header('Set-Cookie', `${SESSION_COOKIE}=${token}; ${cookieAttributes(request)}`);
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('Set-Cookie', `${SESSION_COOKIE}=; Max-Age=0; ${cookieAttributes(request)}`);
}

/** True when the request's Origin (if the browser sent one) is this server's own. */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  return origin === `${request.protocol}://${request.host}`;
}

const isSafeMethod = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

function csrfMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * preHandler: a live console session with at least `role`; on state-changing methods also the
 * CSRF token and the same origin. Answers 401, 403 forbidden or 403 csrf-token-invalid; and
 * 403 password-change-required while an admin-chosen password has not been replaced, unless the
 * route is one of the few such a session may use (`beforePasswordChange`: the session itself,
 * sign-out, the change of password).
 */
export function requireConsole(db: Queryable, idleSeconds: number, role: ConsoleRole, options: { beforePasswordChange?: boolean } = {}): preHandlerAsyncHookHandler {
  return async (request) => {
    const token = cookieValue(request, SESSION_COOKIE);
    const session = token ? await resumeSession(db, token, idleSeconds) : undefined;
    if (!session) throw new ProblemError('unauthorized', 'Sign in to the console first (your session ended or was never opened).');
    if (!isSafeMethod(request.method)) {
      if (!sameOrigin(request)) throw new ProblemError('csrf-token-invalid', 'The request comes from another origin.');
      if (!csrfMatches(request.headers[CSRF_HEADER], session.csrfToken)) throw new ProblemError('csrf-token-invalid', 'Send the CSRF token of your session in the X-CSRF-Token header.');
    }
    if (session.passwordChangeRequired && !options.beforePasswordChange) throw new ProblemError('password-change-required', 'An admin chose your password: choose your own before anything else.');
    if (!roleAllows(session.role, role)) throw new ProblemError('forbidden', `This needs the ${role} role; you are signed in as ${session.role}.`, { role: session.role, needed: role });
    request.consoleSession = session;
  };
}

/** Who acts in an audited console action: the signed-in user, under the request's correlation id. */
export const consoleAuditContext = (request: FastifyRequest) => ({ actor: consoleActor(request.consoleSession!.userId), correlationId: request.id });

/** True when the answer must mask personal data (viewers). */
export const masksPersonalData = (request: FastifyRequest) => request.consoleSession!.role === 'viewer';
