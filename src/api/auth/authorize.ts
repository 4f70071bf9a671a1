import type { FastifyReply, FastifyRequest, RouteOptions, preHandlerAsyncHookHandler } from 'fastify';
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
 */
export function authorize(tokens: TokenService, scope: Scope): preHandlerAsyncHookHandler {
  const requireScope = async function requireScope(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
    if (!match) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}`);
      return sendProblem(reply, 'unauthorized', 'Send an access token from POST /oauth/token as "Authorization: Bearer <token>".');
    }
    const claims = await tokens.verify(match[1]!);
    if ('error' in claims) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}, error="invalid_token", error_description="${claims.error}"`);
      return sendProblem(reply, 'unauthorized', `The access token was refused: ${claims.error}.`);
    }
    const decision = tokens.admission?.admit(claims.clientId);
    if (decision) {
      reply.headers(rateLimitHeaders(decision));
      if (!decision.allowed) {
        reply.header('Retry-After', String(decision.resetSeconds));
        return sendProblem(reply, 'rate-limited', `Client ${claims.clientId} has used its ${decision.limit} requests of this ${decision.windowSeconds} s window; retry in ${decision.resetSeconds} s.`, {
          limit: decision.limit,
          windowSeconds: decision.windowSeconds,
          retryAfterSeconds: decision.resetSeconds,
        });
      }
    }
    if (!allows(claims.scopes, scope)) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`);
      return sendProblem(reply, 'forbidden', `This operation needs the scope "${scope}".`, { requiredScope: scope });
    }
    request.principal = claims;
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
