import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { KeyRing } from './key-ring.ts';
import type { RateDecision } from '../rate-limit.ts';

const ISSUER = 'syncline';
const AUDIENCE = 'syncline-api';

export interface AccessClaims {
  clientId: string;
  scopes: string[];
}

/** Everything a verified token says (RFC 9068 claims), for revocation and introspection. */
export interface TokenDetails extends AccessClaims {
  jti: string;
  /** Epoch seconds. */
  issuedAt: number;
  /** Epoch seconds. */
  expiresAt: number;
  issuer: string;
  audience: string;
}

/** Checks that can refuse a correctly signed token: revoked, or its client disabled. */
export interface AccessChecks {
  isRevoked(jti: string): boolean;
  isDisabled(clientId: string): boolean;
}

/** The per-client request limit, asked once per authenticated request. */
export interface ClientAdmission {
  admit(clientId: string): RateDecision;
}

// Clients reuse a token for its whole life, so a verified signature is remembered until the
// token expires instead of being verified again on every request. Bounded, oldest evicted first.
// Revocation and disabled clients are checked on every use, cached or not.
const VERIFIED_CACHE_SIZE = 10_000;

/** Issues and verifies short-lived HS256 access tokens (RFC 9068 JWTs) signed by the key ring. */
export class TokenService {
  readonly #keys: KeyRing;
  readonly #ttlSeconds: number;
  readonly #checks: AccessChecks | undefined;
  readonly #verified = new Map<string, TokenDetails>();
  /** The per-client rate limit applied by authorize(); none when undefined. */
  readonly admission: ClientAdmission | undefined;

  constructor(keys: KeyRing, ttlSeconds: number, options: { checks?: AccessChecks; admission?: ClientAdmission } = {}) {
    this.#keys = keys;
    this.#ttlSeconds = ttlSeconds;
    this.#checks = options.checks;
    this.admission = options.admission;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  async issue(claims: AccessClaims): Promise<string> {
    const { kid, key } = this.#keys.signer();
    return new SignJWT({ scope: claims.scopes.join(' '), client_id: claims.clientId })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .setSubject(claims.clientId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(key);
  }

  /** The token's claims when it is acceptable now, or a reason it is not. */
  async verify(token: string): Promise<AccessClaims | { error: string }> {
    return this.#accept(await this.inspect(token));
  }

  /**
   * What verify() would answer, without waiting, for a token whose signature was verified before
   * and has not expired; undefined for any other token (call verify()). Revocation and disabled
   * clients are checked here as in verify().
   */
  verifyKnown(token: string): AccessClaims | { error: string } | undefined {
    const details = this.#remembered(token);
    return details && this.#accept(details);
  }

  #accept(details: TokenDetails | { error: string }): AccessClaims | { error: string } {
    if ('error' in details) return details;
    if (this.#checks?.isRevoked(details.jti)) return { error: 'token was revoked' };
    if (this.#checks?.isDisabled(details.clientId)) return { error: 'client is disabled' };
    return { clientId: details.clientId, scopes: details.scopes };
  }

  /** A verified token's details while it is unexpired; an expired one is forgotten. */
  #remembered(token: string): TokenDetails | undefined {
    const cached = this.#verified.get(token);
    if (cached === undefined || cached.expiresAt * 1000 > Date.now()) return cached;
    this.#verified.delete(token);
    return undefined;
  }

  /** The claims of a correctly signed, unexpired token, before revocation and client checks. */
  async inspect(token: string): Promise<TokenDetails | { error: string }> {
    const cached = this.#remembered(token);
    if (cached) return cached;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header) => this.#keys.verifier(header.kid) ?? Promise.reject(new joseErrors.JWKSNoMatchingKey()), {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        typ: 'at+jwt',
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return { error: 'token expired' };
      return { error: 'token is not valid' };
    }
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : payload.sub;
    if (typeof clientId !== 'string' || typeof payload.scope !== 'string' || typeof payload.exp !== 'number') return { error: 'token lacks subject, scope or expiry' };
    const details: TokenDetails = {
      clientId,
      scopes: payload.scope.split(' ').filter(Boolean),
      // Tokens from before RFC 9068 claims may lack a jti: they cannot be revoked one by one.
      jti: typeof payload.jti === 'string' ? payload.jti : '',
      issuedAt: payload.iat ?? 0,
      expiresAt: payload.exp,
      issuer: ISSUER,
      audience: AUDIENCE,
    };
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, details);
    return details;
  }
}
