import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { allows, type Scope } from '../../domain/clients/scopes.ts';
import { sendProblem } from '../problem.ts';
import type { AccessClaims, TokenService } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: AccessClaims;
  }
}

const REALM = 'realm="syncline"';

/** A preHandler that requires a valid bearer token carrying `scope` (or admin). */
export function authorize(tokens: TokenService, scope: Scope): preHandlerAsyncHookHandler {
  return async function requireScope(request: FastifyRequest, reply: FastifyReply) {
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
    if (!allows(claims.scopes, scope)) {
      reply.header('WWW-Authenticate', `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`);
      return sendProblem(reply, 'forbidden', `This operation needs the scope "${scope}".`, { requiredScope: scope });
    }
    request.principal = claims;
  };
}
