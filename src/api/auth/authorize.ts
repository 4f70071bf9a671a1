import type { FastifyReply, FastifyRequest, RouteOptions, preHandlerHookHandler } from 'fastify';
import { allows, isScope, type Scope } from '../../domain/clients/scopes.ts';
import { sendProblem } from '../problem.ts';
import { rateLimitHeaders } from '../rate-limit.ts';
import { specOf } from '../route-kit.ts';
import type { AccessClaims, TokenService } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: AccessClaims;
  }
}

const REALM = 'realm="syncline"';

/**
 * A preHandler that requires a valid bearer token carrying `scope` (or admin), within the
 * client's rate limit (429 with Retry-After and RateLimit headers when it is spent).
 * Callback-style: a token verified before is answered without a promise (TokenService.verifyKnown);
 * a refusal answers the request and does not call done().
 */
export function authorize(tokens: TokenService, scope: Scope): preHandlerHookHandler {
  /** Applies the verdict on the token; true when the request may go on. */
  const admit = (request: FastifyRequest, reply: FastifyReply, claims: AccessClaims | { error: string }): boolean => {
    if ('error' in claims) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}, error="invalid_token", error_description="${claims.error}"`);
      sendProblem(reply, 'unauthorized', `The access token was refused: ${claims.error}.`);
      return false;
    }
    const decision = tokens.admission?.admit(claims.clientId);
    if (decision) {
      reply.headers(rateLimitHeaders(decision));
      if (!decision.allowed) {
        reply.header('Retry-After', String(decision.resetSeconds));
        sendProblem(reply, 'rate-limited', `Client ${claims.clientId} has used its ${decision.limit} requests of this ${decision.windowSeconds} s window; retry in ${decision.resetSeconds} s.`, {
          limit: decision.limit,
          windowSeconds: decision.windowSeconds,
          retryAfterSeconds: decision.resetSeconds,
        });
        return false;
      }
    }
    if (!allows(claims.scopes, scope)) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`);
      sendProblem(reply, 'forbidden', `This operation needs the scope "${scope}".`, { requiredScope: scope });
      return false;
    }
    request.principal = claims;
    return true;
  };
  const requireScope: preHandlerHookHandler = function requireScope(request, reply, done) {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
    if (!match) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}`);
      sendProblem(reply, 'unauthorized', 'Send an access token from POST /oauth/token as "Authorization: Bearer <token>".');
      return;
    }
    const known = tokens.verifyKnown(match[1]!);
    if (known) {
      if (admit(request, reply, known)) done();
      return;
    }
    tokens.verify(match[1]!).then((claims) => {
      let admitted: boolean;
      try {
        admitted = admit(request, reply, claims);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (admitted) done();
    }, done);
  };
  AUTHORIZERS.add(requireScope);
  return requireScope;
}

const AUTHORIZERS = new WeakSet<object>();

/**
 * An onRoute hook: a route whose operation() names a scope is served behind authorize() for that
 * scope, put before its own preHandlers. The scope is declared once, in the operation the OpenAPI
 * document is generated from, so the document and the check cannot differ. A route that also
 * adds authorize() itself is refused at start.
 */
export function authorizeDeclaredScopes(tokens: TokenService): (route: RouteOptions) => void {
  return (route) => {
    const auth = specOf(route.schema)?.auth;
    const own = route.preHandler === undefined ? [] : [route.preHandler].flat();
    if (own.some((handler) => AUTHORIZERS.has(handler))) {
      throw new Error(`${String(route.method)} ${route.url} adds authorize() itself: its scope is declared by operation({ auth }) alone`);
    }
    if (auth === undefined || !isScope(auth)) return;
    route.preHandler = [authorize(tokens, auth), ...own];
  };
}
