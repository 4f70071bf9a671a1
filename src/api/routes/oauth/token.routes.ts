import type { FastifyInstance, FastifyReply } from 'fastify';
import { authenticateClient } from '../../../domain/clients/client.service.ts';
import { parseScopes } from '../../../domain/clients/scopes.ts';
import type { ApiContext } from '../../api-context.ts';

/** RFC 6749 §5.2 error response (OAuth errors are not problem+json by design of the spec). */
function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  if (status === 401) reply.header('WWW-Authenticate', 'Basic realm="syncline"');
  return reply.code(status).header('Cache-Control', 'no-store').send({ error, error_description: description });
}

/** Client id and secret from HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or from the body. */
function clientCredentials(authorization: string | undefined, body: Record<string, string>): { id: string; secret: string } | 'conflict' | undefined {
  const basic = authorization && /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    if (body.client_id !== undefined || body.client_secret !== undefined) return 'conflict';
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replaceAll('+', ' '));
      } catch {
        return part;
      }
    };
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  }
  if (body.client_id && body.client_secret) return { id: body.client_id, secret: body.client_secret };
  return undefined;
}

/** OAuth 2.0 client credentials grant at POST /oauth/token. */
export async function tokenRoutes(app: FastifyInstance, { db, tokens }: ApiContext): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const params = new URLSearchParams(body as string);
    const fields: Record<string, string> = {};
    for (const [name, value] of params) {
      // RFC 6749 §3.2: parameters must not be repeated.
      if (name in fields) {
        done(Object.assign(new Error(`parameter ${name} is repeated`), { statusCode: 400, code: 'OAUTH_REPEATED_PARAMETER' }));
        return;
      }
      fields[name] = value;
    }
    done(null, fields);
  });

  app.post('/oauth/token', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, string>;
    if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      return oauthError(reply, 400, 'invalid_request', 'Send the token request as application/x-www-form-urlencoded.');
    }
    if (body.grant_type !== 'client_credentials') {
      return body.grant_type === undefined
        ? oauthError(reply, 400, 'invalid_request', 'grant_type is required.')
        : oauthError(reply, 400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
    }
    const credentials = clientCredentials(request.headers.authorization, body);
    if (credentials === 'conflict') {
      return oauthError(reply, 400, 'invalid_request', 'Authenticate with HTTP Basic or with form fields, not both.');
    }
    if (!credentials) return oauthError(reply, 401, 'invalid_client', 'Client authentication is required.');
    const client = await authenticateClient(db, credentials.id, credentials.secret);
    if (!client) return oauthError(reply, 401, 'invalid_client', 'Unknown client or wrong secret.');

    let granted = client.scopes;
    if (body.scope !== undefined) {
      const requested = parseScopes(body.scope);
      if (requested.unknown.length > 0) {
        return oauthError(reply, 400, 'invalid_scope', `Unknown scope(s): ${requested.unknown.join(' ')}.`);
      }
      const beyond = requested.scopes.filter((scope) => !client.scopes.includes(scope) && !client.scopes.includes('admin'));
      if (beyond.length > 0) {
        return oauthError(reply, 400, 'invalid_scope', `The client is not allowed: ${beyond.join(' ')}.`);
      }
      if (requested.scopes.length > 0) granted = requested.scopes;
    }
    const accessToken = await tokens.issue({ clientId: client.id, scopes: granted });
    return reply
      .header('Cache-Control', 'no-store')
      .header('Pragma', 'no-cache')
      .send({ access_token: accessToken, token_type: 'Bearer', expires_in: tokens.ttlSeconds, scope: granted.join(' ') });
  });
}
