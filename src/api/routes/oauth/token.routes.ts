import { z } from 'zod';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { authenticateClient } from '../../../domain/clients/client.service.ts';
import { parseScopes } from '../../../domain/clients/scopes.ts';
import type { ApiContext } from '../../api-context.ts';
import { operation } from '../../route-kit.ts';

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

const TokenRequest = z
  .object({
    grant_type: z.literal('client_credentials'),
    scope: z.string().optional().meta({ description: 'Space-separated subset of the client scopes; absent: all of them.' }),
    client_id: z.string().optional().meta({ description: 'With client_secret, instead of HTTP Basic.' }),
    client_secret: z.string().optional(),
  })
  .meta({ id: 'TokenRequest', description: 'RFC 6749 §4.4.2 access token request.' });
const TokenResponse = z
  .object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), scope: z.string() })
  .meta({ id: 'TokenResponse', description: 'RFC 6749 §5.1 access token response.' });
const OAuthError = z
  .object({
    error: z.enum(['invalid_request', 'invalid_client', 'invalid_scope', 'unsupported_grant_type']),
    error_description: z.string(),
  })
  .meta({ id: 'OAuthError', description: 'RFC 6749 §5.2 error response (OAuth errors are not problem+json).' });
const noStore = { 'Cache-Control': { description: 'no-store: tokens are never cached.' } };

const issueToken = operation({
  operationId: 'issueToken',
  tags: ['OAuth'],
  summary: 'Issue an access token (OAuth 2.0 client credentials grant)',
  description:
    'Authenticate with HTTP Basic (client id and secret, form-encoded) or with client_id and client_secret in the form, not both. ' +
    'Errors are RFC 6749 JSON, except a form that repeats a parameter (400 bad-request) and the problems every operation may answer.',
  auth: 'client-credentials',
  body: {
    schema: TokenRequest,
    mediaType: 'application/x-www-form-urlencoded',
    example: { grant_type: 'client_credentials', scope: 'orders:write orders:read' },
  },
  responses: {
    200: {
      description: 'An access token.',
      schema: TokenResponse,
      example: { access_token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzY29wZSI6Im9yZGVyczp3cml0ZSJ9.c2lnbmF0dXJl', token_type: 'Bearer', expires_in: 900, scope: 'orders:write orders:read' },
      headers: noStore,
    },
    400: {
      description: 'invalid_request, invalid_scope or unsupported_grant_type.',
      schema: OAuthError,
      example: { error: 'invalid_scope', error_description: 'Unknown scope(s): orders:delete.' },
      headers: noStore,
    },
    401: {
      description: 'invalid_client: unknown client, wrong secret or no client authentication.',
      schema: OAuthError,
      example: { error: 'invalid_client', error_description: 'Unknown client or wrong secret.' },
      headers: { ...noStore, 'WWW-Authenticate': { description: 'Basic realm="syncline"' } },
    },
  },
});

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

  app.post('/oauth/token', { schema: issueToken }, async (request, reply) => {
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
