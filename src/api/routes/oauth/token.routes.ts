import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../../../domain/clients/client.service.ts';
import { allows, parseScopes } from '../../../domain/clients/scopes.ts';
import { revokeToken } from '../../../domain/clients/revocation.ts';
import { clientActor } from '../../../domain/audit/audit.ts';
import type { ClientRecord } from '../../../store/clients/client-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { operation, type ResponseSpec } from '../../route-kit.ts';
import type { SharedWindowCounter } from '../../rate-limit.ts';

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

// Client authentication in the form (RFC 6749 §2.3.1), the alternative to HTTP Basic.
const clientFields = {
  client_id: z.string().optional().meta({ description: 'With client_secret, instead of HTTP Basic.' }),
  client_secret: z.string().optional(),
};
const TokenRequest = z
  .object({
    grant_type: z.literal('client_credentials'),
    scope: z.string().optional().meta({ description: 'Space-separated subset of the client scopes; absent: all of them.' }),
    ...clientFields,
  })
  .meta({ id: 'TokenRequest', description: 'RFC 6749 §4.4.2 access token request.' });
const tokenFields = {
  token: z.string().min(1).meta({ description: 'The access token.' }),
  token_type_hint: z.string().optional().meta({ description: 'access_token, the only type this server issues; ignored.' }),
  ...clientFields,
};
const RevocationRequest = z.object(tokenFields).meta({ id: 'RevocationRequest', description: 'RFC 7009 §2.1 revocation request.' });
const IntrospectionRequest = z.object(tokenFields).meta({ id: 'IntrospectionRequest', description: 'RFC 7662 §2.1 introspection request.' });
const Introspection = z
  .object({
    active: z.boolean().meta({ description: "false for an invalid, expired or revoked token and for another client's token (unless the caller has the admin scope)." }),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    sub: z.string().optional(),
    token_type: z.literal('Bearer').optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    iss: z.string().optional(),
    aud: z.string().optional(),
    jti: z.string().optional(),
  })
  .meta({ id: 'Introspection', description: 'RFC 7662 §2.2 introspection response; an inactive token has only active: false.' });
const TokenResponse = z
  .object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), scope: z.string() })
  .meta({ id: 'TokenResponse', description: 'RFC 6749 §5.1 access token response.' });
const OAuthError = z
  .object({
    error: z.enum(['invalid_request', 'invalid_client', 'invalid_scope', 'unsupported_grant_type', 'unauthorized_client']),
    error_description: z.string(),
  })
  .meta({ id: 'OAuthError', description: 'RFC 6749 §5.2 error response (OAuth errors are not problem+json).' });
const noStore = { 'Cache-Control': { description: 'no-store: tokens are never cached.' } };
// Every endpoint that authenticates a client answers these two the same way (see authenticate below).
const unauthenticated: ResponseSpec = {
  description: 'invalid_client: unknown or disabled client, wrong secret or no client authentication.',
  schema: OAuthError,
  example: { error: 'invalid_client', error_description: 'Unknown client or wrong secret.' },
  headers: { ...noStore, 'WWW-Authenticate': { description: 'Basic realm="syncline"' } },
};
const throttled: ResponseSpec = {
  description: 'invalid_client: too many failed client authentications from this client id or address in the last minute.',
  schema: OAuthError,
  example: { error: 'invalid_client', error_description: 'Too many failed client authentications; retry in 42 s.' },
  headers: noStore,
};

/** A 400 RFC 6749 error response of an OAuth endpoint. */
function invalidRequest(description: string, error: z.infer<typeof OAuthError>['error'], errorDescription: string): ResponseSpec {
  return { description, schema: OAuthError, example: { error, error_description: errorDescription }, headers: noStore };
}

/**
 * The operation of an OAuth endpoint: the client authenticates with HTTP Basic or in the form,
 * the body is form-encoded, and the errors are RFC 6749 JSON (401, 429 and the spec's 400) beside
 * the problems every operation may answer.
 */
function oauthOperation(spec: {
  operationId: string;
  summary: string;
  description: string;
  body: { schema: z.ZodType; example: Record<string, string> };
  success: ResponseSpec;
  invalid: ResponseSpec;
}) {
  return operation({
    operationId: spec.operationId,
    tags: ['OAuth'],
    summary: spec.summary,
    description: `Authenticate with HTTP Basic (client id and secret, form-encoded) or with client_id and client_secret in the form, not both. ${spec.description}`,
    auth: 'client-credentials',
    body: { ...spec.body, mediaType: 'application/x-www-form-urlencoded' },
    responses: { 200: { ...spec.success, headers: noStore }, 400: spec.invalid, 401: unauthenticated, 429: throttled },
    problems: { 'bad-request': 'A form parameter is repeated (RFC 6749 §3.2).' },
  });
}

const exampleToken = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzY29wZSI6Im9yZGVyczpyZWFkIn0.c2lnbmF0dXJl';
const exampleClientId = 'cli_01jd5q8x7m2v3k4n5p6r7s8t9w';

const issueToken = oauthOperation({
  operationId: 'issueToken',
  summary: 'Issue an access token (OAuth 2.0 client credentials grant)',
  description: 'Errors are RFC 6749 JSON, except a form that repeats a parameter (400 bad-request) and the problems every operation may answer.',
  body: { schema: TokenRequest, example: { grant_type: 'client_credentials', scope: 'orders:write orders:read' } },
  success: {
    description: 'An access token.',
    schema: TokenResponse,
    example: { access_token: exampleToken, token_type: 'Bearer', expires_in: 900, scope: 'orders:write orders:read' },
  },
  invalid: invalidRequest('invalid_request, invalid_scope or unsupported_grant_type.', 'invalid_scope', 'Unknown scope(s): orders:delete.'),
});

const revokeTokenOperation = oauthOperation({
  operationId: 'revokeToken',
  summary: 'Revoke an access token (RFC 7009)',
  description:
    'A client may revoke its own tokens, a client with the admin scope any token; every API process refuses a revoked token once notified (this one before answering). ' +
    'An invalid, expired or already revoked token needs no revoking and is answered 200 too (RFC 7009 §2.2). Audited as token.revoked.',
  body: { schema: RevocationRequest, example: { token: exampleToken, token_type_hint: 'access_token' } },
  success: { description: 'Revoked, or nothing to revoke. No body.' },
  invalid: invalidRequest(
    "invalid_request (not a form, no token, or both ways of client authentication) or unauthorized_client (another client's token).",
    'unauthorized_client',
    'A client may revoke only the tokens issued to it.',
  ),
});

const introspectTokenOperation = oauthOperation({
  operationId: 'introspectToken',
  summary: 'Introspect an access token (RFC 7662)',
  description: 'A client sees its own tokens, a client with the admin scope any token; any other token is reported inactive, so that introspection reveals nothing about it.',
  body: { schema: IntrospectionRequest, example: { token: exampleToken } },
  success: {
    description: 'What the token is, or active: false.',
    schema: Introspection,
    example: {
      active: true,
      scope: 'orders:read',
      client_id: exampleClientId,
      sub: exampleClientId,
      token_type: 'Bearer',
      exp: 1795349700,
      iat: 1795348800,
      iss: 'syncline',
      aud: 'syncline-api',
      jti: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
    },
  },
  invalid: invalidRequest('invalid_request: not a form, no token, or both ways of client authentication.', 'invalid_request', 'token is required.'),
});

// Failed client authentications are counted per client id and per source address over one
// minute, shared by every API process; at the limit the endpoint answers 429 without checking.
const FAILURE_WINDOW_SECONDS = 60;

/** Bucket names stay short whatever id an attacker sends. */
function failureBuckets(clientId: string, address: string): string[] {
  const id = /^[A-Za-z0-9_.-]{1,64}$/.test(clientId) ? clientId : `#${createHash('sha256').update(clientId).digest('base64url').slice(0, 22)}`;
  return [`auth-fail:id:${id}`, `auth-fail:ip:${address}`];
}

/**
 * The client authenticated by a request to /oauth/token, /oauth/revoke or /oauth/introspect, or
 * undefined once the refusal is sent (a reply is thenable, so it is not returned): 401
 * invalid_client (unknown client, wrong secret, disabled), or 429 invalid_client with Retry-After
 * once failures from this id or address reach the limit.
 */
async function authenticate(
  request: FastifyRequest,
  reply: FastifyReply,
  { db, counters, limit }: { db: ApiContext['db']; counters: SharedWindowCounter; limit: number },
): Promise<ClientRecord | undefined> {
  const body = (request.body ?? {}) as Record<string, string>;
  const credentials = clientCredentials(request.headers.authorization, body);
  if (credentials === 'conflict') {
    oauthError(reply, 400, 'invalid_request', 'Authenticate with HTTP Basic or with form fields, not both.');
    return undefined;
  }
  if (!credentials) {
    oauthError(reply, 401, 'invalid_client', 'Client authentication is required.');
    return undefined;
  }
  const buckets = failureBuckets(credentials.id, request.ip);
  const throttle = (bucket: string) => {
    const { count, resetAt } = counters.current(bucket, FAILURE_WINDOW_SECONDS);
    return count >= limit ? Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)) : 0;
  };
  const wait = Math.max(...buckets.map(throttle));
  if (wait > 0) {
    reply.header('Retry-After', String(wait));
    oauthError(reply, 429, 'invalid_client', `Too many failed client authentications; retry in ${wait} s.`);
    return undefined;
  }
  const client = await authenticateClient(db, credentials.id, credentials.secret);
  if (!client) {
    for (const bucket of buckets) counters.add(bucket, FAILURE_WINDOW_SECONDS);
    oauthError(reply, 401, 'invalid_client', 'Unknown client or wrong secret.');
    return undefined;
  }
  return client;
}

/** Refuses a request that is not form-encoded (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1); undefined when it is. */
function requireForm(request: FastifyRequest, reply: FastifyReply, what: string): FastifyReply | undefined {
  if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
    return oauthError(reply, 400, 'invalid_request', `Send the ${what} request as application/x-www-form-urlencoded.`);
  }
  return undefined;
}

/**
 * OAuth 2.0 endpoints: the client credentials grant (POST /oauth/token), token revocation
 * (RFC 7009, POST /oauth/revoke) and introspection (RFC 7662, POST /oauth/introspect).
 * Revocation and introspection authenticate the client like the token endpoint; a client may
 * revoke or introspect its own tokens, a client with the admin scope any token.
 */
export async function tokenRoutes(app: FastifyInstance, { db, tokens, access, counters, config }: ApiContext): Promise<void> {
  const auth = { db, counters, limit: config.authFailureLimit };
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
    const notForm = requireForm(request, reply, 'token');
    if (notForm) return notForm;
    if (body.grant_type !== 'client_credentials') {
      return body.grant_type === undefined
        ? oauthError(reply, 400, 'invalid_request', 'grant_type is required.')
        : oauthError(reply, 400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
    }
    const client = await authenticate(request, reply, auth);
    if (!client) return reply;

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

  /** The authenticated client and the form's token of a revocation or introspection request; undefined once a refusal is sent. */
  async function clientAndToken(
    request: FastifyRequest,
    reply: FastifyReply,
    what: string,
    schema: typeof RevocationRequest,
  ): Promise<{ client: ClientRecord; token: string } | undefined> {
    if (requireForm(request, reply, what)) return undefined;
    const client = await authenticate(request, reply, auth);
    if (!client) return undefined;
    // Form values are strings, so only a missing or empty token fails the schema.
    const form = schema.safeParse(request.body ?? {});
    if (form.success) return { client, token: form.data.token };
    oauthError(reply, 400, 'invalid_request', 'token is required.');
    return undefined;
  }

  app.post('/oauth/revoke', { schema: revokeTokenOperation }, async (request, reply) => {
    const asked = await clientAndToken(request, reply, 'revocation', RevocationRequest);
    if (!asked) return reply;
    const { client, token } = asked;
    const details = await tokens.inspect(token);
    // RFC 7009 §2.2: an invalid or expired token needs no revoking, and the answer is still 200.
    if (!('error' in details) && details.jti && !access.isRevoked(details.jti)) {
      if (details.clientId !== client.id && !allows(client.scopes, 'admin')) {
        return oauthError(reply, 400, 'unauthorized_client', 'A client may revoke only the tokens issued to it.');
      }
      await revokeToken(db, { jti: details.jti, clientId: details.clientId, expiresAt: new Date(details.expiresAt * 1000) }, { actor: clientActor(client.id), correlationId: request.id });
      access.markRevoked(details.jti, details.expiresAt * 1000);
    }
    return reply.header('Cache-Control', 'no-store').code(200).send();
  });

  app.post('/oauth/introspect', { schema: introspectTokenOperation }, async (request, reply) => {
    const asked = await clientAndToken(request, reply, 'introspection', IntrospectionRequest);
    if (!asked) return reply;
    const { client, token } = asked;
    reply.header('Cache-Control', 'no-store');
    const details = await tokens.inspect(token);
    const verdict = await tokens.verify(token);
    // Another client's token is reported inactive, so introspection reveals nothing about it.
    if ('error' in details || 'error' in verdict || (details.clientId !== client.id && !allows(client.scopes, 'admin'))) return { active: false };
    return {
      active: true,
      scope: details.scopes.join(' '),
      client_id: details.clientId,
      sub: details.clientId,
      token_type: 'Bearer',
      exp: details.expiresAt,
      iat: details.issuedAt,
      iss: details.issuer,
      aud: details.audience,
      jti: details.jti,
    };
  });
}
